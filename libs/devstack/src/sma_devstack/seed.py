"""Demo data for `make run`: an admin API key and 1-minute jobs for the simulator's demo accounts."""

from __future__ import annotations

import aiohttp
import asyncpg

from sma_common.api_keys import create_key

DEMO_KEY_NAME = "demo-admin"
DEMO_ACCOUNTS = {
    "twitch": ("twitchdev", "sma_demo_speedrun", "sma_demo_music"),
    "youtube": ("@smademo", "@smamusic"),
    "x": ("@sma_demo", "@sma_news"),
    "bluesky": ("bsky.app", "sma-demo.bsky.social", "sma-news.bsky.social"),
    "mastodon": ("@smademo@mastodon.social", "@smaold@legacy.example"),
    "reddit": ("r/smademo", "r/smanews"),
}


async def create_admin_key(database_url: str) -> str:
    """A fresh admin key for this run; the previous run's demo key is revoked."""
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.execute(
                "UPDATE api_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL", DEMO_KEY_NAME
            )
            _, token = await create_key(conn, DEMO_KEY_NAME, ["admin"])
    finally:
        await conn.close()
    return token


async def create_demo_jobs(gateway_url: str, token: str) -> list[dict[str, object]]:
    """POST /api/jobs for each demo account (idempotent: an existing job is returned as is)."""
    jobs = []
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=15)) as session:
        for platform, handles in DEMO_ACCOUNTS.items():
            for handle in handles:
                body = {"platform": platform, "account": handle, "interval_minutes": 1}
                async with session.post(f"{gateway_url}/api/jobs", json=body) as resp:
                    if resp.status not in (200, 201):
                        raise RuntimeError(f"seeding {platform}/{handle} failed: {resp.status} {await resp.text()}")
                    jobs.append(await resp.json())
    return jobs
