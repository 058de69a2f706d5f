"""`sma jobs …` as an operator runs it: a subprocess talking to a running gateway."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest

from sma_gateway.app import build
from tests.integration.gateway.harness import Gateway, RunService, Seeder, create_api_key, gateway_settings


@pytest.fixture
async def gateway(
    database_url: str, redis_url: str, redis_prefix: str, run_service: RunService, db: asyncpg.Pool
) -> AsyncIterator[Gateway]:
    service = build(gateway_settings(database_url, redis_url, redis_key_prefix=redis_prefix))
    async with run_service(service) as url, aiohttp.ClientSession() as http:
        gateway = Gateway(url, http, service)
        for scope in ("read", "write"):
            gateway.tokens[scope] = await create_api_key(db, [scope], name=f"{scope}-key")
        yield gateway


@pytest.fixture
def seed(db: asyncpg.Pool) -> Seeder:
    return Seeder(db)


async def sma(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SMA_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sma_cli", *args, env={**clean, **(env or {}), "COLUMNS": "220"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def connection(gateway: Gateway, scope: str = "write") -> list[str]:
    return ["--url", gateway.url, "--token", gateway.tokens[scope]]


async def test_list_follows_every_page_and_filters(gateway: Gateway, seed: Seeder) -> None:
    twitch = [await seed.job("twitch") for _ in range(3)]
    bluesky = await seed.job("bluesky", status="paused")
    # More jobs than one page holds, so the CLI has to follow the Link header.
    await seed.db.execute(
        """
        WITH a AS (INSERT INTO accounts (platform, external_id, handle)
                   SELECT 'youtube', 'ext-' || n, 'yt_' || n FROM generate_series(1, 520) AS n RETURNING id)
        INSERT INTO monitoring_jobs (account_id, platform, interval_minutes, next_run_at)
        SELECT id, 'youtube', 60, now() FROM a
        """
    )

    code, out, err = await sma("jobs", "list", "--json", *connection(gateway, "read"))
    assert code == 0, err
    listed = json.loads(out)
    assert len(listed) == 524 and len({job["id"] for job in listed}) == 524

    code, out, _ = await sma("jobs", "list", "--platform", "twitch", "--json", *connection(gateway, "read"))
    assert [job["id"] for job in json.loads(out)] == [str(j) for j in twitch]

    code, out, _ = await sma("jobs", "list", "--status", "paused", *connection(gateway, "read"))
    assert code == 0
    assert str(bluesky) in out and "bluesky" in out and "paused" in out and "1 job" in out
    for column in ("id", "platform", "handle", "interval", "status", "next_run_at", "last_status"):
        assert column in out


async def test_pause_resume_and_set_interval_print_what_changed(
    gateway: Gateway, seed: Seeder, db: asyncpg.Pool
) -> None:
    for _ in range(2):
        await seed.job("twitch")
    await seed.job("bluesky")

    code, out, err = await sma("jobs", "set-interval", "120", "--platform", "twitch", *connection(gateway))
    assert code == 0, err
    assert "2 of 2" in out
    assert await db.fetchval("SELECT count(*) FROM monitoring_jobs WHERE interval_minutes = 120") == 2

    code, out, _ = await sma("jobs", "pause", "--platform", "twitch", "--json", *connection(gateway))
    assert code == 0 and json.loads(out) == {"matched": 2, "changed": 2}
    code, out, _ = await sma("jobs", "pause", "--platform", "twitch", "--json", *connection(gateway))
    assert json.loads(out) == {"matched": 2, "changed": 0}

    # URL and key from the environment, as in the runbook.
    env = {"SMA_GATEWAY_URL": gateway.url, "SMA_API_TOKEN": gateway.tokens["write"]}
    code, out, err = await sma("jobs", "resume", "--all", "--json", env=env)
    assert code == 0, err
    assert json.loads(out) == {"matched": 3, "changed": 2}
    assert await db.fetchval("SELECT count(*) FROM monitoring_jobs WHERE status = 'active'") == 3


async def test_errors_are_clear_messages_with_exit_code_1(gateway: Gateway, seed: Seeder) -> None:
    await seed.job("twitch")

    code, _, err = await sma("jobs", "pause", "--platform", "twitch", *connection(gateway, "read"))
    assert code == 1 and "HTTP 403" in err and "lacks the 'write' scope" in err and "Traceback" not in err

    code, _, err = await sma("jobs", "set-interval", "0", "--platform", "twitch", *connection(gateway))
    assert code == 1 and "HTTP 422" in err and "interval_minutes" in err and "Traceback" not in err

    code, _, err = await sma("jobs", "list", "--platform", "myspace", *connection(gateway))
    assert code == 1 and "HTTP 422" in err and "platform" in err

    code, _, err = await sma("jobs", "list", "--url", gateway.url, "--token", "sma_nothing_here")
    assert code == 1 and "HTTP 401" in err

    code, _, err = await sma("jobs", "pause", *connection(gateway))
    assert code == 2 and "--all" in err

    code, _, err = await sma("jobs", "list", "--url", gateway.url)
    assert code == 2 and "SMA_API_TOKEN" in err

    code, _, err = await sma("jobs", "list", "--url", "http://127.0.0.1:1", "--token", gateway.tokens["read"])
    assert code == 1 and "cannot reach the gateway" in err and "Traceback" not in err
