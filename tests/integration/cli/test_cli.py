"""The `sma` command as an operator runs it, against a real database and a running service."""

import asyncio
import json
import os
import sys

import asyncpg

from sma_common.api_keys import parse_token
from sma_common.db import migrations
from sma_maintenance.app import build
from sma_maintenance.settings import MaintenanceSettings
from tests.fixtures.services import running


async def sma(*args: str, database_url: str = "") -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMA_")}
    if database_url:
        env["SMA_DATABASE_URL"] = database_url
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sma_cli", *args, env={**env, "COLUMNS": "200"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_db_upgrade_current_downgrade(empty_database_url: str) -> None:
    code, out, _ = await sma("db", "current", database_url=empty_database_url)
    assert code == 0 and "base (empty)" in out
    code, out, _ = await sma("db", "upgrade", database_url=empty_database_url)
    assert code == 0 and f"schema at {migrations.head()}" in out
    code, out, _ = await sma("db", "current", database_url=empty_database_url)
    assert code == 0 and f"{migrations.head()} (head)" in out
    code, out, _ = await sma("db", "downgrade", "base", database_url=empty_database_url)
    assert code == 0 and "base (empty)" in out


async def test_keys_create_list_revoke(database_url: str, db: asyncpg.Pool) -> None:
    code, out, _ = await sma("keys", "create", "--name", "grafana", "--scopes", "read", "--json",
                             database_url=database_url)
    assert code == 0
    created = json.loads(out)
    parsed = parse_token(created["token"])
    assert parsed is not None and parsed[0] == created["prefix"] and created["scopes"] == ["read"]
    stored = await db.fetchrow("SELECT secret_hash FROM api_keys WHERE prefix = $1", created["prefix"])
    assert stored is not None and parsed[1].encode() not in bytes(stored["secret_hash"])

    code, out, _ = await sma("keys", "list", "--json", database_url=database_url)
    listed = json.loads(out)
    assert code == 0 and [k["name"] for k in listed] == ["grafana"] and "token" not in listed[0]

    code, _, _ = await sma("keys", "revoke", created["prefix"], database_url=database_url)
    assert code == 0
    code, _, err = await sma("keys", "revoke", created["prefix"], database_url=database_url)
    assert code == 1 and "no active key" in err
    code, _, err = await sma("keys", "create", "--name", "x", "--scopes", "root", database_url=database_url)
    assert code == 2 and "unknown scope" in err


async def test_health_exit_code_follows_the_services(database_url: str) -> None:
    service = build(MaintenanceSettings(database_url=database_url, http_host="127.0.0.1", http_port=0))
    async with running(service) as url:
        code, out, _ = await sma("health", "--url", url, "--json")
        assert code == 0
        assert json.loads(out)[0]["status"] == "ok"
    code, out, _ = await sma("health", "--url", url, "--json", "--timeout", "1")
    assert code == 1 and json.loads(out)[0]["status"] == "unreachable"


async def test_unreachable_database_is_a_clear_error_not_a_traceback() -> None:
    code, _, err = await sma("keys", "list", database_url="postgresql://postgres@127.0.0.1:1/none")
    assert code == 1 and "cannot reach" in err and "Traceback" not in err
