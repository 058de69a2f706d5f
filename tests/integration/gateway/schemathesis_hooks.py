"""Schemathesis hooks for the gateway suite (loaded by the CLI through SCHEMATHESIS_HOOKS).

Random ids name nothing, so without help every `/{id}` operation would only ever answer 404. These
hooks swap about half of the well-formed ids and account handles schemathesis generates for ones
the test seeded (read from SMA_SCHEMATHESIS_SEED), so the success paths run too. The choice is a
function of the generated value, which keeps hypothesis's replay deterministic, and values that
are malformed on purpose (negative testing) are left alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from typing import Any

import schemathesis

SEED_ENV = "SMA_SCHEMATHESIS_SEED"
_MAX_BIGINT = 2**63 - 1
_MAX_ACCOUNT_LENGTH = 512


def _seed() -> dict[str, Any]:
    seeded: dict[str, Any] = json.loads(os.environ.get(SEED_ENV, "{}"))
    return seeded


_SEEDED = _seed()


def _pick(choices: list[Any], value: object) -> Any | None:
    """A seeded choice for about half of the values, always the same one for the same value."""
    if not choices:
        return None
    digest = int.from_bytes(hashlib.blake2b(repr(value).encode(), digest_size=8).digest(), "big")
    return None if digest % 2 else choices[(digest // 2) % len(choices)]


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def _swap_id(path: str, value: object) -> object:
    if path.startswith("/api/keys/") and isinstance(value, int):
        # Never the key the run itself authenticates with: revoking it would turn the rest of the
        # run into 401s. Seeded spare keys are revoked instead.
        if value in _SEEDED.get("protected_keys", []):
            return _SEEDED.get("spare_keys", [value + 1])[0]
        return _pick(_SEEDED.get("spare_keys", []), value) or value
    if path.startswith("/api/jobs/") and _is_uuid(value):
        return _pick(_SEEDED.get("jobs", []), value) or value
    if path.startswith("/api/accounts/") and isinstance(value, int) and 1 <= value <= _MAX_BIGINT:
        return _pick(_SEEDED.get("accounts", []), value) or value
    return value


@schemathesis.hook
def map_path_parameters(ctx: schemathesis.HookContext, path_parameters: dict[str, Any] | None) -> Any:
    if not path_parameters or ctx.operation is None or "id" not in path_parameters:
        return path_parameters
    return {**path_parameters, "id": _swap_id(ctx.operation.path, path_parameters["id"])}


@schemathesis.hook
def map_query(ctx: schemathesis.HookContext, query: dict[str, Any] | None) -> Any:
    """Seeded account ids in filters, so bulk changes and filtered lists match jobs."""
    account_id = (query or {}).get("account_id")
    if not isinstance(account_id, int) or not 1 <= account_id <= _MAX_BIGINT:
        return query
    return {**(query or {}), "account_id": _pick(_SEEDED.get("accounts", []), account_id) or account_id}


@schemathesis.hook
def map_body(ctx: schemathesis.HookContext, body: Any) -> Any:
    """Accounts the platform simulator knows, so creating a job can succeed (and then repeat)."""
    if ctx.operation is None or ctx.operation.path != "/api/jobs" or ctx.operation.method.upper() != "POST":
        return body
    if not isinstance(body, dict) or not isinstance(body.get("account"), str):
        return body
    if not 1 <= len(body["account"]) <= _MAX_ACCOUNT_LENGTH:
        return body  # malformed on purpose: keep it so
    handles = _SEEDED.get("handles", {}).get(body.get("platform"), [])
    handle = _pick(handles, body["account"])
    return {**body, "account": handle} if handle else body
