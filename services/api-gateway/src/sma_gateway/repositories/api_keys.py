"""SQL for API keys: the lookup by public prefix on every request, and the throttled last-use stamp."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True, slots=True)
class StoredKey:
    id: int
    name: str
    secret_hash: bytes
    scopes: tuple[str, ...]


async def find_active_key(pool: asyncpg.Pool, prefix: str) -> StoredKey | None:
    row = await pool.fetchrow(
        "SELECT id, name, secret_hash, scopes FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL",
        prefix,
    )
    if row is None:
        return None
    return StoredKey(row["id"], row["name"], bytes(row["secret_hash"]), tuple(row["scopes"]))


async def touch_last_used(pool: asyncpg.Pool, key_id: int, min_interval_seconds: float) -> None:
    # The WHERE clause also keeps several gateway replicas from rewriting the same row each minute.
    await pool.execute(
        """
        UPDATE api_keys SET last_used_at = now()
        WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))
        """,
        key_id,
        min_interval_seconds,
    )
