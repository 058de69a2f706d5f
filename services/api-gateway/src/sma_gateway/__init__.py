"""sma_gateway: the HTTP API of SMA (jobs, executions, accounts, metrics) behind bearer API keys,
reading through a Redis cache and writing to Postgres. `app.build()` is the composition root."""

__version__ = "0.1.0"
