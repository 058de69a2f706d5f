"""How a revision runs: a list of single SQL statements, one `op.execute` each (asyncpg prepares
every statement, so a revision never sends several in one string)."""

from __future__ import annotations

from collections.abc import Iterable

from alembic import op


def execute_all(statements: Iterable[str]) -> None:
    for statement in statements:
        op.execute(statement)
