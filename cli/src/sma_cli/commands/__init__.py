"""One module per `sma` command group; each registers its sub-parsers."""
