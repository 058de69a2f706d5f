"""SQL of the gateway, one module per table family. Every query is parameterised; handlers never
hold SQL."""
