"""Alembic migrations (raw SQL) for the whole schema, and the functions that run them.

The schema is a shared contract, so it lives here and runs as one Kubernetes Job from the
single image (`sma db upgrade`). Every revision has a working downgrade.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

_HERE = Path(__file__).parent


def sqlalchemy_url(database_url: str) -> str:
    scheme, sep, rest = database_url.partition("://")
    return f"postgresql+asyncpg{sep}{rest}" if scheme in ("postgres", "postgresql") else database_url


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE))
    # Alembic's config is ConfigParser-based: a literal % must be doubled.
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


async def _current(database_url: str) -> str | None:
    engine = create_async_engine(sqlalchemy_url(database_url))
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
    finally:
        await engine.dispose()


def current(database_url: str) -> str | None:
    """The applied revision, or None for an empty database."""
    return asyncio.run(_current(database_url))


def head() -> str:
    from alembic.script import ScriptDirectory

    rev = ScriptDirectory.from_config(alembic_config("postgresql://unused")).get_current_head()
    assert rev is not None
    return rev
