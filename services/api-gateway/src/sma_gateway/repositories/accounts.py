"""SQL for accounts: listing, one account with its job, and its latest value per metric."""

from __future__ import annotations

import asyncpg

from sma_common.platforms import Platform, is_rounded
from sma_gateway.repositories.analytics import at_or_before
from sma_gateway.schemas import AccountDetail, AccountOut, LatestValue

_SELECT = """
    SELECT a.id, a.platform, a.external_id, a.handle, a.display_name, j.id AS job_id,
           a.created_at, a.updated_at
    FROM accounts a LEFT JOIN monitoring_jobs j ON j.account_id = a.id
"""


async def list_accounts(
    pool: asyncpg.Pool, platform: Platform | None, after_id: int | None, limit: int
) -> list[AccountOut]:
    rows = await pool.fetch(
        f"""{_SELECT}
        WHERE ($1::text IS NULL OR a.platform = $1) AND ($2::bigint IS NULL OR a.id > $2)
        ORDER BY a.id
        LIMIT $3""",
        platform, after_id, limit,
    )
    return [AccountOut.model_validate(dict(row)) for row in rows]


# Index probes per catalogue metric, in both layouts of the points (an account whose last points
# were compacted still has latest values), instead of scanning the account's history.
_LATEST = f"""
SELECT m.name, p.ts, p.value
FROM metrics m
CROSS JOIN LATERAL {at_or_before("$1", "m.id", "'infinity'::timestamptz")} p
ORDER BY m.id
"""


async def account_platform(pool: asyncpg.Pool, account_id: int) -> Platform | None:
    """The account's platform, or None when there is no such account."""
    platform = await pool.fetchval("SELECT platform FROM accounts WHERE id = $1", account_id)
    return None if platform is None else Platform(platform)


async def get_account(pool: asyncpg.Pool, account_id: int) -> AccountDetail | None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(f"{_SELECT} WHERE a.id = $1", account_id)
        if row is None:
            return None
        latest = await conn.fetch(_LATEST, account_id)
    platform = Platform(row["platform"])
    values = {
        r["name"]: LatestValue(ts=r["ts"], value=r["value"], rounded=is_rounded(platform, r["name"]))
        for r in latest
    }
    return AccountDetail.model_validate({**dict(row), "latest": values})
