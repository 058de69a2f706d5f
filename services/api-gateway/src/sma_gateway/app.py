"""The gateway's composition root: `build(settings)` constructs every resource, the aiohttp app
(typed keys, middlewares, routes) and the readiness checks, and returns the `Service` to run.
Nothing else in the package constructs clients."""

from __future__ import annotations

from aiohttp import web

from sma_common.cache_versions import RedisBreaker
from sma_common.clock import Clock, SystemClock
from sma_common.db import DatabasePool, HeartbeatWriter
from sma_common.metrics import create_registry
from sma_common.rate_limit import SharedRateLimiter
from sma_common.redis import RedisClient
from sma_common.service import Service
from sma_gateway import __version__, state
from sma_gateway.adapters import Adapters
from sma_gateway.auth import KeyAuthenticator, KeyCache, KeyRevocations, LastUsedThrottle, auth_middleware
from sma_gateway.budgets import BudgetReader
from sma_gateway.cache import ReadThroughCache
from sma_gateway.coherence import Coherence
from sma_gateway.hot_path import HotReads
from sma_gateway.http_policies import RequestDeadlines, ResponsePolicies
from sma_gateway.local_cache import LocalTier
from sma_gateway.metrics import GatewayMetrics
from sma_gateway.openapi.docs import docs_routes
from sma_gateway.rate_limit import KeyLimits, KeyRateLimiter, rate_limit_middleware
from sma_gateway.readiness import scheduler_check
from sma_gateway.routes import api_routes
from sma_gateway.settings import GatewaySettings
from sma_platforms import AdapterSet, build_adapters
from sma_platforms.budget import build_gates

SERVICE_NAME = "api-gateway"
RESOLVE_MAX_BUDGET_WAIT_SECONDS = 2.0


def install_api(
    app: web.Application, settings: GatewaySettings, db: DatabasePool, cache: ReadThroughCache, adapters: Adapters,
    budgets: BudgetReader, clock: Clock, key_events: KeyRevocations, hot_reads: HotReads,
) -> None:
    """Typed state and the API routes, on the Service's app (set once, before it starts)."""
    app[state.SETTINGS] = settings
    app[state.DATABASE] = db
    app[state.CACHE] = cache
    app[state.ADAPTERS] = adapters
    app[state.CLOCK] = clock
    app[state.BUDGETS] = budgets
    app[state.KEY_EVENTS] = key_events
    app[state.HOT_READS] = hot_reads
    app.add_routes(api_routes())
    app.add_routes(docs_routes())  # /openapi.json and /docs: open, outside /api


def build(settings: GatewaySettings) -> Service:
    """Everything the gateway runs, wired once. Tests call this with their own settings."""
    db = DatabasePool(settings, application_name=f"sma-{SERVICE_NAME}")
    # Not required: without Redis the gateway serves from Postgres and reports itself degraded.
    redis = RedisClient(settings, required=False, check_severity="degraded")
    clock = SystemClock()
    limiter = SharedRateLimiter(redis)
    # Resolving a handle spends the same shared budgets as collecting, but a client's request
    # waits at most a moment for it.
    gates = build_gates(limiter, settings, clock=clock,
                        max_wait=min(settings.platform_budget_max_wait_seconds, RESOLVE_MAX_BUDGET_WAIT_SECONDS))
    adapters = build_adapters(settings, gates=gates)
    cache_breaker = RedisBreaker(settings.cache_redis_retry_seconds)
    local = LocalTier(settings.cache_local_max_bytes, settings.cache_metrics_ttl_seconds)
    coherence = Coherence(redis, cache_breaker, local)
    keys = KeyCache(settings.api_key_cache_seconds, live=lambda: coherence.subscribed)
    coherence.on_key_event(keys.forget)
    registry = create_registry(SERVICE_NAME, __version__)
    metrics = GatewayMetrics(registry)
    throttle = LastUsedThrottle(settings.api_key_last_used_interval_seconds)
    authenticator = KeyAuthenticator(
        db, throttle, settings.api_key_last_used_interval_seconds, keys,
        metrics.record_auth_failure,
    )
    limits = KeyLimits(settings.api_rate_limit_per_minute, settings.api_rate_limit_burst,
                       settings.api_rate_limit_overrides)
    key_limiter = KeyRateLimiter(limiter, limits, RedisBreaker(settings.cache_redis_retry_seconds), clock,
                                 metrics.record_rate_limited)
    cache = ReadThroughCache(
        redis,
        ttl_seconds=settings.cache_metrics_ttl_seconds,
        breaker=cache_breaker,
        record=metrics.record_cache,
        local=local,
    )
    hot_reads = HotReads(cache, authenticator, key_limiter)
    deadlines = RequestDeadlines(settings.request_timeout_seconds)
    policies = ResponsePolicies(settings.cors_allow_origins)
    # The request metrics every service has first offer the request to the hot read path (a
    # repeated cached read answered from memory, finished by the response policies). Otherwise,
    # outermost first: the response policies (problems, conditional GETs, CORS, the access log)
    # see every final response; then the deadline, auth, and the per-key rate limit (it needs the
    # authenticated key).
    service = Service.from_settings(
        SERVICE_NAME, __version__, settings,
        middlewares=[
            policies.middleware(), deadlines.middleware(),
            auth_middleware(authenticator), rate_limit_middleware(key_limiter),
        ],
        client_max_size=settings.max_request_body_bytes,
        metrics_namespace="sma_gateway",
        registry=registry,
        fast_path=policies.fast(hot_reads.serve),
    )
    budgets = BudgetReader(limiter, gates, adapters, RedisBreaker(settings.cache_redis_retry_seconds), clock)
    install_api(service.app, settings, db, cache, adapters, budgets, clock, KeyRevocations(keys, redis), hot_reads)
    for resource in (db, redis, AdapterSet(adapters)):
        service.add_resource(resource)
    service.add_check(db.check())
    service.add_check(redis.check())
    service.add_check(scheduler_check(db, settings.scheduler_heartbeat_max_age_seconds))
    heartbeat = HeartbeatWriter(db, SERVICE_NAME, settings.instance, lambda: {"version": __version__})
    service.add_loop("heartbeat", heartbeat.run)
    service.add_loop("cache-coherence", coherence.run)
    service.add_loop("request-deadlines", deadlines.run)
    service.add_details("postgres", db.details)
    service.add_details("cache", cache.details)
    service.add_details("cache_coherence", coherence.details)
    service.add_details("hot_reads", hot_reads.details)
    return service
