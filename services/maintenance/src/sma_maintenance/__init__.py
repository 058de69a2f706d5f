"""sma_maintenance: keeps the database healthy (partitions ahead, rollups, retention, analyze,
vacuum, statistics and checks), each operation on its own interval. One active instance, chosen
by an advisory lock; the `sma` CLI runs the same operations on demand."""

__version__ = "0.1.0"
