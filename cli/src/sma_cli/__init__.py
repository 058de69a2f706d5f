"""sma_cli: the `sma` operator command."""

__version__ = "0.1.0"
