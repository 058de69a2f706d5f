"""Bluesky as the public AppView speaks it: `GET /xrpc/app.bsky.actor.getProfile?actor=` and
`GET /xrpc/app.bsky.actor.getProfiles?actors=..` (at most 25, unknown actors silently omitted).

No auth. Each caller (by address) has a fixed-window budget reported in `ratelimit-*` headers
with a `ratelimit-policy` of `<limit>;w=<window>`; errors use the XRPC envelope
`{"error": <Code>, "message": <text>}`, and an unknown actor on getProfile is a 400.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime
from http import HTTPStatus

from aiohttp import web

from sma_common.platforms import Platform
from sma_simulator.context import SimContext
from sma_simulator.platforms.wire import iso_z, json_response
from sma_simulator.ratelimit import Budget, FixedWindow
from sma_simulator.state import SimAccount

PLATFORM = Platform.BLUESKY
MAX_ACTORS = 25
_DID = re.compile(r"did:[a-z]+:[a-zA-Z0-9._:%-]+")
_HANDLE = re.compile(r"([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")
_FAULT_ERRORS = {
    "rate_limit": (429, "RateLimitExceeded", "Rate Limit Exceeded"),
    "unauthorized": (401, "AuthenticationRequired", "Authentication Required"),
}
Responder = Callable[[web.Request, datetime], web.Response]


def xrpc_error(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return json_response({"error": error, "message": message}, status, headers)


def _is_actor(value: str) -> bool:
    return _DID.fullmatch(value) is not None or (len(value) <= 253 and _HANDLE.fullmatch(value) is not None)


class BlueskySimulator:
    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx
        limit, window = ctx.settings.simulator_bluesky_rate_limit, ctx.settings.simulator_bluesky_rate_window_seconds
        self._window = FixedWindow(limit, window)

    def add_routes(self, app: web.Application) -> None:
        add = self.ctx.add_route
        add(app, "GET", "/xrpc/app.bsky.actor.getProfile", PLATFORM, "app.bsky.actor.getProfile", self.get_profile)
        add(app, "GET", "/xrpc/app.bsky.actor.getProfiles", PLATFORM, "app.bsky.actor.getProfiles", self.get_profiles)

    async def get_profile(self, request: web.Request) -> web.Response:
        return await self._xrpc(request, "app.bsky.actor.getProfile", self._profile)

    async def get_profiles(self, request: web.Request) -> web.Response:
        return await self._xrpc(request, "app.bsky.actor.getProfiles", self._profiles)

    def _headers(self, budget: Budget) -> dict[str, str]:
        return {
            "ratelimit-limit": str(budget.limit),
            "ratelimit-remaining": str(budget.remaining),
            "ratelimit-reset": str(budget.reset_epoch),
            "ratelimit-policy": f"{budget.limit};w={self._window.window_seconds}",
        }

    async def _xrpc(self, request: web.Request, endpoint: str, respond: Responder) -> web.Response:
        fault = await self.ctx.take_fault(PLATFORM, endpoint)
        now, caller = self.ctx.now(), request.remote or "unknown"
        if fault is not None and fault.spec.kind in _FAULT_ERRORS:
            status, error, message = _FAULT_ERRORS[fault.spec.kind]
            budget = self._window.peek(caller, now)
            if status == 429:
                budget = Budget(False, budget.limit, 0, math.ceil(now.timestamp() + fault.spec.reset_after))
            return xrpc_error(status, error, message, self._headers(budget))
        budget = self._window.take(caller, now)
        headers = self._headers(budget)
        if fault is not None and fault.spec.kind == "server_error":
            status = fault.spec.status
            phrase = HTTPStatus(status).phrase
            return xrpc_error(status, phrase.replace(" ", ""), phrase, headers | fault.spec.retry_after_header())
        if not budget.allowed:
            return xrpc_error(429, "RateLimitExceeded", "Rate Limit Exceeded", headers)
        response = respond(request, now)
        response.headers.update(headers)
        return response

    def _profile(self, request: web.Request, now: datetime) -> web.Response:
        actor = request.query.get("actor")
        if not actor:
            return xrpc_error(400, "InvalidRequest", 'Error: Params must have the property "actor"')
        if not _is_actor(actor):
            return xrpc_error(400, "InvalidRequest", "Error: actor must be a valid did or a handle")
        account = self._find(actor)
        if account is None:
            return xrpc_error(400, "InvalidRequest", "Profile not found")
        return json_response(self._serve(account, now))

    def _profiles(self, request: web.Request, now: datetime) -> web.Response:
        actors = request.query.getall("actors", [])
        if not actors:
            return xrpc_error(400, "InvalidRequest", 'Error: Params must have the property "actors"')
        if len(actors) > MAX_ACTORS:
            return xrpc_error(400, "InvalidRequest", f"Error: actors must not have more than {MAX_ACTORS} elements")
        for index, actor in enumerate(actors):
            if not _is_actor(actor):
                return xrpc_error(400, "InvalidRequest", f"Error: actors/{index} must be a valid did or a handle")
        found = {a.id: a for a in map(self._find, actors) if a is not None}
        return json_response({"profiles": [self._serve(a, now) for a in found.values()]})

    def _find(self, actor: str) -> SimAccount | None:
        world = self.ctx.world
        return world.by_id(PLATFORM, actor) if actor.startswith("did:") else world.by_handle(PLATFORM, actor)

    def _serve(self, account: SimAccount, now: datetime) -> dict[str, object]:
        figures = self.ctx.world.metrics(account, now)
        self.ctx.ledger.record(PLATFORM, account.id, figures, now)
        return {
            "did": account.id,
            "handle": account.handle,
            "displayName": account.display_name,
            "description": f"{account.display_name}, a simulated Bluesky account.",
            "avatar": f"https://cdn.bsky.app/img/avatar/plain/{account.id}/simulated@jpeg",
            "associated": {"lists": 0, "feedgens": 0, "starterPacks": 0, "labeler": False},
            "viewer": {"muted": False, "blockedBy": False},
            "labels": [],
            "createdAt": iso_z(account.created_at, millis=True),
            "indexedAt": iso_z(now, millis=True),
            "followersCount": int(figures["followers"]),
            "followsCount": int(figures["following"]),
            "postsCount": int(figures["posts"]),
        }
