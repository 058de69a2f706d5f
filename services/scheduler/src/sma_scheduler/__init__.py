"""sma_scheduler: finds due monitoring jobs and emits batched fetch commands onto Kafka."""

__version__ = "0.1.0"
