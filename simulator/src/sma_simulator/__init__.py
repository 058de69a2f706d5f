"""sma_simulator: a fake of the social platforms' APIs speaking their real wire formats, with
deterministic accounts, scripted faults and a ledger of what it served. Dev and test only."""

__version__ = "0.1.0"
