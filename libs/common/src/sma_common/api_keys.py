"""API keys: `sma_<prefix>_<secret>`, shown once, stored as a SHA-256 hash of the secret.

The secret carries 256 bits of randomness, so a fast hash is the right tool (a slow KDF is for
low-entropy passwords) and lookups stay cheap on every request. The prefix is public and
indexes the row; the secret is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import asyncpg

SCOPES = ("read", "write", "admin")
PREFIX_LENGTH = 8
SECRET_LENGTH = 43  # secrets.token_urlsafe(32)
_KEY_RE = re.compile(rf"^sma_([a-z0-9]{{{PREFIX_LENGTH}}})_([A-Za-z0-9_-]{{{SECRET_LENGTH}}})$")


@dataclass(frozen=True, slots=True)
class NewKey:
    prefix: str
    secret_hash: bytes
    token: str  # shown once to whoever created it; never stored or logged


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def generate_key() -> NewKey:
    prefix = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(PREFIX_LENGTH))
    secret = secrets.token_urlsafe(32)
    return NewKey(prefix, hash_secret(secret), f"sma_{prefix}_{secret}")


def parse_token(token: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed token, else None."""
    match = _KEY_RE.match(token)
    return (match.group(1), match.group(2)) if match else None


def secret_matches(secret: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def normalise_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    # admin implies write implies read
    if "admin" in scopes:
        return list(SCOPES)
    if "write" in scopes:
        return ["read", "write"]
    return ["read"]


INSERT_KEY = """
INSERT INTO api_keys (name, prefix, secret_hash, scopes) VALUES ($1, $2, $3, $4)
RETURNING id, name, prefix, scopes, created_at
"""


async def create_key(conn: asyncpg.Connection, name: str, scopes: list[str]) -> tuple[asyncpg.Record, str]:
    """Insert a new key; returns its row and the token, which is shown once and never stored."""
    key = generate_key()
    row = await conn.fetchrow(INSERT_KEY, name, key.prefix, key.secret_hash, normalise_scopes(scopes))
    assert row is not None
    return row, key.token


LIST_KEYS = """
SELECT id, name, prefix, scopes, created_at, last_used_at, revoked_at FROM api_keys ORDER BY id
"""


async def list_keys(conn: asyncpg.Connection | asyncpg.Pool) -> list[asyncpg.Record]:
    """Every key, revoked ones included, never a secret or its hash."""
    return list(await conn.fetch(LIST_KEYS))


async def revoke_key(
    conn: asyncpg.Connection | asyncpg.Pool, *, key_id: int | None = None, prefix: str | None = None
) -> str | None:
    """Revoke the active key with this id or prefix; its prefix, or None when no active key matched."""
    if (key_id is None) == (prefix is None):
        raise ValueError("name a key by exactly one of key_id, prefix")
    found: str | None = await conn.fetchval(
        """
        UPDATE api_keys SET revoked_at = now()
        WHERE revoked_at IS NULL AND (id = $1 OR prefix = $2)
        RETURNING prefix
        """,
        key_id, prefix,
    )
    return found
