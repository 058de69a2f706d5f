"""The API's route table, one module per resource."""

from __future__ import annotations

from aiohttp import web

from sma_gateway.routes import accounts, executions, jobs, keys, leaderboard, metrics, platforms, summary


def api_routes() -> list[web.RouteDef]:
    return [
        *jobs.routes(), *executions.routes(), *accounts.routes(), *metrics.routes(), *summary.routes(),
        *leaderboard.routes(), *platforms.routes(), *keys.routes(),
    ]
