"""Adaptive polling: a job with a live interval is polled at it while the collector sees the
account live, and at its normal interval otherwise."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from sma_common.platforms import Platform
from tests.integration.collector.platform_rig import Rig, open_rig


@pytest.fixture
async def rig(db: asyncpg.Pool, redis_url: str, redis_prefix: str) -> AsyncIterator[Rig]:
    async with open_rig(db, redis_url, redis_prefix) as r:
        yield r


async def test_a_live_channel_is_next_due_within_its_live_interval(rig: Rig) -> None:
    now = datetime.now(UTC)
    accounts = rig.generated(Platform.TWITCH)
    live = [a for a in accounts if rig.world.stream(a, now) is not None][:2]
    offline = [a for a in accounts if rig.world.stream(a, now) is None][:2]
    assert live and offline
    command = await rig.command(Platform.TWITCH, live + offline)
    # Every job: hourly, every 5 minutes while live, next due in an hour.
    await rig.db.execute("UPDATE monitoring_jobs SET interval_minutes = 60, live_interval_minutes = 5, "
                         "next_run_at = now() + interval '1 hour'")
    run = await rig.run(command)
    assert run.with_status("success") == {a.id for a in live + offline}
    rows = {r["external_id"]: r for r in await rig.db.fetch(
        "SELECT a.external_id, j.is_live, extract(epoch FROM j.next_run_at - now()) AS due_in "
        "FROM monitoring_jobs j JOIN accounts a ON a.id = j.account_id")}
    for account in live:
        assert rows[account.id]["is_live"] is True
        assert rows[account.id]["due_in"] <= 5 * 60
    for account in offline:
        assert rows[account.id]["is_live"] is False
        assert rows[account.id]["due_in"] > 50 * 60
