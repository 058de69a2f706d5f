import asyncio

import asyncpg

from sma_common.platforms import Platform
from sma_gateway.repositories import jobs
from sma_platforms import ResolvedAccount

ALICE = ResolvedAccount(Platform.BLUESKY, "did:plc:alice", "alice.bsky.social", "Alice")


async def test_create_is_idempotent_per_account(db: asyncpg.Pool) -> None:
    job, created = await jobs.create_job(db, ALICE, 15)
    assert created
    assert (job.platform, job.external_id, job.handle, job.interval_minutes) == (
        Platform.BLUESKY, "did:plc:alice", "alice.bsky.social", 15,
    )
    # The first run falls on the job's own slot within its interval (spread, not all at once).
    assert await db.fetchval(
        "SELECT next_run_at = sma_job_slot(id, 15, created_at) AND next_run_at <= now() + interval '15 minutes' "
        "FROM monitoring_jobs WHERE id = $1", job.id)

    renamed = ResolvedAccount(Platform.BLUESKY, "did:plc:alice", "alice.example.com", "Alice B.")
    again, created_again = await jobs.create_job(db, renamed, 60)
    assert not created_again
    assert again.id == job.id and again.interval_minutes == 15
    assert again.handle == "alice.example.com"  # the account follows the platform's current handle
    assert await db.fetchval("SELECT count(*) FROM accounts") == 1


async def test_concurrent_creates_make_one_job(db: asyncpg.Pool) -> None:
    results = await asyncio.gather(*(jobs.create_job(db, ALICE, 15) for _ in range(4)))
    assert sum(created for _, created in results) == 1
    assert len({job.id for job, _ in results}) == 1
    assert await db.fetchval("SELECT count(*) FROM monitoring_jobs") == 1


async def test_same_external_id_on_another_platform_is_another_account(db: asyncpg.Pool) -> None:
    first, _ = await jobs.create_job(db, ALICE, 15)
    other = ResolvedAccount(Platform.TWITCH, "did:plc:alice", "alice", None)
    second, created = await jobs.create_job(db, other, 15)
    assert created and second.account_id != first.account_id
