"""Jobs created or re-timed together spread over their interval: each has its own slot, taken
from its id, and keeps it."""

from collections import Counter

import asyncpg

JOBS = 100_000
INTERVAL_MINUTES = 15


async def test_100000_jobs_created_in_one_statement_spread_over_their_interval(db: asyncpg.Pool) -> None:
    # One INSERT, as the gateway creates a job: the first run is the job's slot after now.
    await db.execute(
        """
        WITH a AS (
            INSERT INTO accounts (platform, external_id, handle)
            SELECT 'bluesky', 'did:plc:spread' || n, 'spread' || n FROM generate_series(1, $1) AS n
            RETURNING id
        )
        INSERT INTO monitoring_jobs (id, account_id, platform, interval_minutes, next_run_at)
        SELECT n.id, n.account_id, 'bluesky', $2, sma_job_slot(n.id, $2, now())
        FROM (SELECT gen_random_uuid() AS id, a.id AS account_id FROM a) AS n
        """,
        JOBS, INTERVAL_MINUTES,
    )
    rows = await db.fetch("SELECT floor(extract(epoch FROM next_run_at - created_at))::int AS s FROM monitoring_jobs")
    seconds = Counter(r["s"] for r in rows)
    assert min(seconds) >= 0 and max(seconds) <= INTERVAL_MINUTES * 60
    mean = JOBS / (INTERVAL_MINUTES * 60)
    assert max(seconds.values()) <= 2 * mean, (max(seconds.values()), mean)
    assert len(seconds) >= INTERVAL_MINUTES * 60 - 1  # every second of the interval has some


async def test_a_job_keeps_its_slot(db: asyncpg.Pool) -> None:
    rows = await db.fetch(
        """
        SELECT sma_job_slot(id, 15, t0) AS a, sma_job_slot(id, 15, t0 + interval '7 hours 3 minutes') AS b
        FROM (SELECT gen_random_uuid() AS id, now() AS t0 FROM generate_series(1, 200)) AS j
        """
    )
    for r in rows:
        gap = (r["b"] - r["a"]).total_seconds()
        assert gap % 900 == 0 and gap > 0  # the same phase, whole intervals later
    # At the slot itself, the slot is now (not one interval later).
    assert await db.fetchval(
        "SELECT bool_and(sma_job_slot(id, 15, s) = s) FROM "
        "(SELECT id, sma_job_slot(id, 15, now()) AS s FROM (SELECT gen_random_uuid() AS id "
        "FROM generate_series(1, 50)) AS g) AS x"
    )
