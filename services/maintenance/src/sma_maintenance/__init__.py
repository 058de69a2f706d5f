"""sma_maintenance: keeps the database healthy (partitions ahead; rollups, retention and
vacuum come with the maintenance issue). One active instance, chosen by an advisory lock."""

__version__ = "0.1.0"
