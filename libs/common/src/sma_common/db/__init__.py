"""Postgres plumbing: the pool resource, heartbeats, advisory locks and the schema migrations."""

from sma_common.db.heartbeat import HeartbeatWriter
from sma_common.db.pool import DatabasePool

__all__ = ["DatabasePool", "HeartbeatWriter"]
