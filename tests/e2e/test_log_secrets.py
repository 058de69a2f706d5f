"""No secret reaches a log: a full `make up` run (at DEBUG, the most talkative level) exercised
with the admin key, a bad key, a key created, used, revoked and tried again, a job resolved through
each platform and fetched by the collector; then every file the run wrote under its run directory
that is a log is searched for every secret the run knew: the API tokens (whole and their secret
part), the platforms' client secrets, API key and bearer token the stack configured, any password
in the database or Redis URL, and any bearer token at all (the access tokens the platforms issued
at run time are not known to the test, so their shape is searched for instead).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import pytest

from sma_devstack.stack import (
    SIMULATOR_REDDIT_CLIENT,
    SIMULATOR_TWITCH_CLIENT,
    SIMULATOR_X_BEARER_TOKEN,
    SIMULATOR_YOUTUBE_API_KEY,
)
from tests.fixtures.stack import running_stack

pytestmark = pytest.mark.e2e
PLATFORM_SECRETS = {
    "twitch client secret": SIMULATOR_TWITCH_CLIENT[1],
    "youtube API key": SIMULATOR_YOUTUBE_API_KEY,
    "x bearer token": SIMULATOR_X_BEARER_TOKEN,
    "reddit client secret": SIMULATOR_REDDIT_CLIENT[1],
}
# A bearer credential written out in a log line, whatever issued it.
BEARER = re.compile(r"(?i)\b(?:bearer\s+|access_token[\"']?\s*[:=]\s*[\"']?)([A-Za-z0-9._~+/-]{12,})")
LOG_SUFFIXES = (".log", ".out", ".err", ".txt", ".json")


@pytest.fixture
async def debug_stack(tmp_path: Path) -> AsyncIterator[tuple[dict[str, str], Path]]:
    """`python -m sma_devstack up` with every service at DEBUG; `down` must leave nothing behind."""
    async with running_stack(tmp_path / "run", SMA_LOG_LEVEL="DEBUG") as (env, _, run_dir):
        yield env, run_dir


def secret_part(token: str) -> str:
    """`sma_<prefix>_<secret>` → `<secret>` (the prefix is public: it names the key in lists)."""
    return token.split("_", 2)[2]


def log_files(run_dir: Path) -> list[Path]:
    """Every log the run wrote: the services' and the supervisor's (logs/) and the embedded servers'."""
    return sorted(p for p in run_dir.rglob("*") if p.is_file() and p.suffix in LOG_SUFFIXES
                  and p.name not in ("children.json",) and "pg_wal" not in p.parts)


def leaks(files: list[Path], secrets: dict[str, str]) -> list[str]:
    found = []
    for path in files:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            for name, secret in secrets.items():
                if secret in line:
                    found.append(f"{path}:{number}: {name}")
            if match := BEARER.search(line):
                found.append(f"{path}:{number}: a bearer token ({match.group(1)[:4]}...)")
    return found


async def test_no_secret_appears_in_any_log(debug_stack: tuple[dict[str, str], Path]) -> None:
    env, run_dir = debug_stack
    gateway, admin = env["SMA_GATEWAY_URL"], env["SMA_API_TOKEN"]
    prefix = admin.split("_", 2)[1]
    secrets = {"admin API token": admin, "admin API token's secret": secret_part(admin), **PLATFORM_SECRETS}
    for url_var in ("SMA_DATABASE_URL", "SMA_REDIS_URL"):
        if password := urlsplit(env[url_var]).password:
            secrets[f"{url_var} password"] = password

    async with aiohttp.ClientSession() as http:
        async def call(method: str, path: str, token: str | None, **kwargs: object) -> tuple[int, object]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with http.request(method, f"{gateway}{path}", headers=headers, **kwargs) as resp:  # type: ignore[arg-type]
                return resp.status, await resp.json(content_type=None)

        assert (await call("GET", "/api/jobs", admin))[0] == 200
        # Bad keys: a right prefix with a wrong secret, a made-up one, garbage.
        wrong = f"sma_{prefix}_{'x' * 43}"
        secrets["a refused API token"] = wrong
        for bad in (wrong, "sma_zzzzzzzz_" + "y" * 43, "not-a-key"):
            assert (await call("GET", "/api/jobs", bad))[0] == 401
        # A key created by the admin: its token is in this response only.
        status, created = await call("POST", "/api/keys", admin, json={"name": "log-test", "scopes": ["write"]})
        assert status == 201 and isinstance(created, dict)
        new = created["token"]
        secrets |= {"created API token": new, "created API token's secret": secret_part(new)}
        assert (await call("GET", "/api/jobs", new))[0] == 200
        assert (await call("POST", "/api/keys", new, json={"name": "x", "scopes": ["admin"]}))[0] == 403
        assert (await call("DELETE", f"/api/keys/{created['id']}", admin))[0] == 204
        assert (await call("GET", "/api/jobs", new))[0] == 401
        # A job on every platform the simulator serves: resolution spends each credential once.
        async with http.get(f"{env['SMA_SIMULATOR_URL']}/_sim/accounts") as resp:
            accounts = await resp.json()
        for platform, listed in accounts.items():
            status, body = await call("POST", "/api/jobs", admin, json={
                "platform": platform, "account": listed[-1]["handle"], "interval_minutes": 1})
            assert status in (201, 409), (platform, status, body)

    # Wait until the collector has fetched on every platform with the credentials above.
    conn = await asyncpg.connect(env["SMA_DATABASE_URL"])
    try:
        deadline = asyncio.get_running_loop().time() + 150
        while True:
            done = {r["platform"] for r in await conn.fetch(
                "SELECT DISTINCT platform FROM job_executions WHERE status = 'success'")}
            if done >= set(accounts):
                break
            assert asyncio.get_running_loop().time() < deadline, f"only {done} fetched"
            await asyncio.sleep(2)
    finally:
        await conn.close()

    files = log_files(run_dir)
    names = {p.name for p in files}
    assert {"gateway.log", "collector.log", "scheduler.log", "maintenance.log", "simulator.log",
            "stack.log"} <= names, names
    # The logs did record the run (so an empty log cannot pass): the refused keys and the fetches.
    gateway_log = (run_dir / "logs" / "gateway.log").read_text()
    assert "401" in gateway_log or "unauthorized" in gateway_log.lower()
    assert (run_dir / "logs" / "collector.log").stat().st_size > 0
    found = leaks(files, secrets)
    assert not found, "secrets in logs:\n" + "\n".join(found)
