"""sma_collector: consumes fetch commands, calls the platforms, writes points and executions."""

__version__ = "0.1.0"
