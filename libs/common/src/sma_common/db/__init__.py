"""Postgres plumbing: the pool resource, heartbeats, advisory locks and the schema migrations."""

from sma_common.db.errors import TRANSIENT_DB_ERRORS
from sma_common.db.heartbeat import HeartbeatWriter
from sma_common.db.pool import DatabasePool

__all__ = ["TRANSIENT_DB_ERRORS", "DatabasePool", "HeartbeatWriter"]
