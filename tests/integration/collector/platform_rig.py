"""The collector's real `CommandHandler` wired to the real platform adapters, a simulator of its
own, Redis budgets and the test's database, without Kafka: `Rig.run(command)` handles one
command and reports what it did (execution rows, new points, what the simulator served, the
requests that reached it).

The simulator serves every Bluesky count; `Rig.leave_out_bluesky_counts` makes its getProfiles
answers omit some (the lexicon marks every count optional), as a response filter on our side.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import asyncpg
import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

from sma_collector.handler import CommandHandler
from sma_collector.metrics import CollectorMetrics
from sma_collector.repository import record_commands
from sma_collector.settings import CollectorSettings
from sma_collector.writer import GroupWriter
from sma_common.clock import SystemClock
from sma_common.messages import FetchCommand, FetchItem, command_id_for
from sma_common.metrics import create_registry
from sma_common.platforms import METRIC_IDS, Platform
from sma_common.rate_limit import SharedRateLimiter
from sma_common.redis import RedisClient
from sma_common.settings import RedisSettings
from sma_platforms import build_adapters
from sma_platforms.budget import build_gates
from sma_simulator.app import create_app
from sma_simulator.context import SIM_CONTEXT
from sma_simulator.profiles import PROFILES
from sma_simulator.settings import SimulatorSettings
from sma_simulator.state import SimAccount, World
from tests.fixtures.data import insert_account, insert_job
from tests.fixtures.simulator import SimServer

# Enough accounts for full batches everywhere (80 generated on mastodon.social alone).
ACCOUNTS_PER_PLATFORM = 200
TOKEN_ENDPOINTS = frozenset({"oauth2/token", "api/v1/access_token"})
METRIC_NAMES = {v: k for k, v in METRIC_IDS.items()}
BLUESKY_FIELDS = {"followers": "followersCount", "following": "followsCount", "posts": "postsCount"}
Key = tuple[str, str]  # (external id, metric)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Run:
    """What handling one command did."""

    statuses: dict[str, str]  # external id → job_executions.status
    api_calls: set[int]  # job_executions.api_calls of the command's rows (all carry the command's count)
    points_written: dict[str, int]  # external id → job_executions.points_written
    points: dict[Key, float]  # metric_points written by this command
    served: dict[Key, float]  # observations the simulator handed out meanwhile (its ledger)
    calls: dict[str, int]  # API requests that reached the simulator, by endpoint (token requests apart)
    token_requests: int

    def metrics_of(self, external_id: str) -> set[str]:
        return {metric for ext, metric in self.points if ext == external_id}

    def with_status(self, status: str) -> set[str]:
        return {ext for ext, s in self.statuses.items() if s == status}


class Rig:
    def __init__(self, db: asyncpg.Pool, sim: SimServer, handler: CommandHandler,
                 hidden: dict[str, set[str]]) -> None:
        self.db, self.sim, self._handler, self._hidden = db, sim, handler, hidden

    @property
    def world(self) -> World:
        return self.sim.ctx.world

    def generated(self, platform: Platform, where: Callable[[SimAccount], bool] | None = None) -> list[SimAccount]:
        """The platform's generated accounts (demo accounts have special behaviours of their own)."""
        demo = {d.handle for d in PROFILES[platform].demo_accounts}
        return [a for a in self.world.accounts(platform) if a.handle not in demo and (where is None or where(a))]

    def demo(self, platform: Platform, handle: str) -> SimAccount:
        account = self.world.by_handle(platform, handle)
        assert account is not None, handle
        return account

    def leave_out_bluesky_counts(self, did: str, *metrics: str) -> None:
        self._hidden.setdefault(did, set()).update(metrics)

    async def command(self, platform: Platform, accounts: Iterable[SimAccount | tuple[str, str]]) -> FetchCommand:
        """A command for new jobs on new accounts: (external id, handle) pairs or simulated accounts."""
        items = []
        for account in accounts:
            external_id, handle = (account.id, account.handle) if isinstance(account, SimAccount) else account
            account_id = await insert_account(self.db, platform.value, external_id, handle)
            job_id = await insert_job(self.db, account_id, platform.value)
            items.append(FetchItem(job_id=job_id, account_id=account_id, external_id=external_id, handle=handle))
        return _dispatch(platform, items, datetime.now(UTC))

    @staticmethod
    def again(command: FetchCommand) -> FetchCommand:
        """The same jobs' next dispatch."""
        return _dispatch(command.platform, list(command.items), command.scheduled_for + timedelta(seconds=1))

    async def run(self, command: FetchCommand) -> Run:
        platform = command.platform.value
        points_before, ledger_before = await self._points(), await self._ledger(platform)
        await self._handler.handle(command)
        points_after, ledger_after = await self._points(), await self._ledger(platform)
        rows = await self.db.fetch(
            "SELECT a.external_id, e.status, e.api_calls, e.points_written FROM job_executions e "
            "JOIN accounts a ON a.id = e.account_id WHERE e.command_id = $1", command.command_id,
        )
        requests = Counter(ledger_after["requests_by_endpoint"]) - Counter(ledger_before["requests_by_endpoint"])
        served = {
            (o["account_id"], o["metric"]): float(o["value"])
            for o in ledger_after["observations"][len(ledger_before["observations"]):]
            if o["metric"] not in self._hidden.get(o["account_id"], ())
        }
        return Run(
            statuses={r["external_id"]: r["status"] for r in rows},
            api_calls={r["api_calls"] for r in rows},
            points_written={r["external_id"]: r["points_written"] for r in rows},
            points={key[:2]: v for key, v in points_after.items() if key not in points_before},
            served=served,
            calls={e: n for e, n in requests.items() if e not in TOKEN_ENDPOINTS},
            token_requests=sum(n for e, n in requests.items() if e in TOKEN_ENDPOINTS),
        )

    async def fault(self, platform: Platform, kind: str, **spec: object) -> None:
        await self.sim.fault(platform=platform.value, kind=kind, **spec)

    async def _points(self) -> dict[tuple[str, str, datetime], float]:
        rows = await self.db.fetch(
            "SELECT a.external_id, p.metric, p.ts, p.value FROM metric_points p JOIN accounts a ON a.id = p.account_id"
        )
        # Keyed with the timestamp so the next dispatch's points are new; reported without it.
        return {(r["external_id"], METRIC_NAMES[r["metric"]], r["ts"]): r["value"] for r in rows}

    async def _ledger(self, platform: str) -> dict[str, object]:
        ledger = (await self.sim.ledger(platform))[platform]
        assert isinstance(ledger, dict)
        return ledger


def _dispatch(platform: Platform, items: Sequence[FetchItem], scheduled_for: datetime) -> FetchCommand:
    return FetchCommand(
        command_id=command_id_for(platform, [i.job_id for i in items], scheduled_for), platform=platform,
        items=tuple(items), scheduled_for=scheduled_for, deadline=scheduled_for + timedelta(minutes=5),
    )


def _bluesky_count_filter(hidden: dict[str, set[str]]) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def leave_out_counts(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if (hidden and request.path.endswith("/app.bsky.actor.getProfiles") and response.status == 200
                and isinstance(response, web.Response) and isinstance(response.body, bytes)):
            body = orjson.loads(response.body)
            for profile in body["profiles"]:
                for metric in hidden.get(profile["did"], ()):
                    del profile[BLUESKY_FIELDS[metric]]
            response.body = orjson.dumps(body)
        return response

    return leave_out_counts


@asynccontextmanager
async def open_rig(db: asyncpg.Pool, redis_url: str, redis_prefix: str) -> AsyncIterator[Rig]:
    hidden: dict[str, set[str]] = {}
    app = create_app(SimulatorSettings(simulator_accounts_per_platform=ACCOUNTS_PER_PLATFORM))
    app.middlewares.append(_bluesky_count_filter(hidden))
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    sim = SimServer(str(server.make_url("")).rstrip("/"), app[SIM_CONTEXT])
    settings = CollectorSettings(redis_url=redis_url, redis_key_prefix=redis_prefix, **sim.platform_env())
    redis = RedisClient(RedisSettings(redis_url=redis_url, redis_key_prefix=redis_prefix), required=True)
    await redis.start()
    clock = SystemClock()
    adapters = build_adapters(settings, gates=build_gates(SharedRateLimiter(redis), settings, clock=clock, max_wait=0))
    writer = GroupWriter(lambda batch: record_commands(db, batch), max_batch=32)

    async def invalidate(_account_ids: Iterable[int]) -> None:
        return None

    metrics = CollectorMetrics.create(create_registry("collector", "test"))
    handler = CommandHandler(SimpleNamespace(pool=db), adapters, metrics, clock,  # type: ignore[arg-type]
                             f"acceptance-{uuid.uuid4().hex[:6]}", invalidate, writer.write)
    try:
        yield Rig(db, sim, handler, hidden)
    finally:
        for adapter in adapters.values():
            await adapter.close()
        await redis.stop()
        await server.close()
