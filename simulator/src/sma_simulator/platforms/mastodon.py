"""Mastodon as its instances serve it, several instances under one server: each instance at
`/mastodon/<instance>`, so that `SMA_MASTODON_API_BASE=http://HOST:PORT/mastodon/{instance}`.

Per instance: `GET /api/v1/accounts/lookup?acct=user` (local accounts only: no WebFinger),
`GET /api/v1/accounts/:id`, and on 4.3+ instances `GET /api/v1/accounts?id[]=…&id[]=…`
(unknown ids silently omitted; more than 40 ids is a 422, the simulator's assumption, since
the real cap was not established). Older instances have no batch route and answer 404.
No auth for public accounts. Each instance throttles each caller address on its own
(300 requests per 5 minutes by default) and reports it in `X-RateLimit-Limit/-Remaining/-Reset`,
the reset an ISO-8601 timestamp with microseconds, on errors too; a 429 is
`{"error": "Too many requests"}`. Errors use `{"error": "<text>"}`: an unknown account is 404
`{"error": "Record not found"}`. A suspended account is served with `suspended: true` and
emptied fields; a moved account carries the new account in `moved`; a server that hides
counts leaves `followers_count` and `following_count` out.

Request labels (and fault endpoints) name the instance: `mastodon.social/api/v1/accounts`,
`legacy.example/api/v1/accounts/:id`, `mastodon.social/api/v1/accounts/lookup`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from http import HTTPStatus

from aiohttp import web

from sma_common.platforms import Platform
from sma_simulator.context import SimContext
from sma_simulator.platforms.wire import iso_z, json_response
from sma_simulator.profiles.mastodon import (
    HIDDEN_COUNTS,
    INSTANCES,
    MOVED,
    SUSPENDED,
    has_batch_route,
    instance_of,
    local_id,
)
from sma_simulator.ratelimit import Budget, FixedWindow
from sma_simulator.state import SimAccount

PLATFORM = Platform.MASTODON
MAX_IDS = 40
NOT_FOUND = "Record not found"
_SERVER_ERROR = "We're sorry, but something went wrong on our end."
_FAULT_ERRORS = {
    "rate_limit": (429, "Too many requests"),
    "unauthorized": (401, "This API requires an authenticated user"),
}
Responder = Callable[[web.Request, str, datetime], web.Response]


def mastodon_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return json_response({"error": message}, status, headers)


def iso_reset(epoch: float) -> str:
    """`2026-04-11T23:15:00.000000Z`: Mastodon writes the reset with microseconds."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class MastodonSimulator:
    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx
        limit, window = ctx.settings.simulator_mastodon_rate_limit, ctx.settings.simulator_mastodon_rate_window_seconds
        self._window = FixedWindow(limit, window)
        self._by_id: dict[tuple[str, str], SimAccount] = {}
        self._by_username: dict[tuple[str, str], SimAccount] = {}
        for account in ctx.world.accounts(PLATFORM):
            instance = instance_of(account)
            self._by_id[(instance, local_id(account))] = account
            self._by_username[(instance, account.handle.rpartition("@")[0].lower())] = account

    def add_routes(self, app: web.Application) -> None:
        for instance in INSTANCES:
            base, add = f"/mastodon/{instance}/api/v1/accounts", self.ctx.add_route
            for path, endpoint, respond in (
                (f"{base}/lookup", f"{instance}/api/v1/accounts/lookup", self._lookup),
                (base, f"{instance}/api/v1/accounts", self._batch),
                (f"{base}/{{id}}", f"{instance}/api/v1/accounts/:id", self._show),
            ):
                add(app, "GET", path, PLATFORM, endpoint, partial(self._serve, instance, endpoint, respond))

    def _headers(self, budget: Budget) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(budget.limit), "X-RateLimit-Remaining": str(max(0, budget.remaining)),
                "X-RateLimit-Reset": iso_reset(budget.reset_epoch)}

    async def _serve(self, instance: str, endpoint: str, respond: Responder, request: web.Request) -> web.Response:
        """Faults, then the instance's throttle (which counts errors too), then the answer."""
        fault = await self.ctx.take_fault(PLATFORM, endpoint)
        now, caller = self.ctx.now(), f"{instance}|{request.remote or 'unknown'}"
        if fault is not None and fault.spec.kind in _FAULT_ERRORS:
            status, message = _FAULT_ERRORS[fault.spec.kind]
            budget = self._window.peek(caller, now)
            if status == 429:
                budget = Budget(False, budget.limit, 0, math.ceil(now.timestamp() + fault.spec.reset_after))
            return mastodon_error(status, message, self._headers(budget))
        budget = self._window.take(caller, now)
        headers = self._headers(budget)
        if fault is not None and fault.spec.kind == "server_error":
            status = fault.spec.status
            message = _SERVER_ERROR if status == 500 else HTTPStatus(status).phrase
            return mastodon_error(status, message, headers | fault.spec.retry_after_header())
        if not budget.allowed:
            return mastodon_error(429, "Too many requests", headers)
        response = respond(request, instance, now)
        response.headers.update(headers)
        return response

    def _lookup(self, request: web.Request, instance: str, now: datetime) -> web.Response:
        username, _, domain = request.query.get("acct", "").strip().removeprefix("@").partition("@")
        if domain and domain.lower() != instance:
            return mastodon_error(404, NOT_FOUND)  # a remote account this instance has never seen
        account = self._by_username.get((instance, username.lower()))
        return json_response(self._entity(account, now)) if account else mastodon_error(404, NOT_FOUND)

    def _show(self, request: web.Request, instance: str, now: datetime) -> web.Response:
        account = self._by_id.get((instance, request.match_info["id"]))
        return json_response(self._entity(account, now)) if account else mastodon_error(404, NOT_FOUND)

    def _batch(self, request: web.Request, instance: str, now: datetime) -> web.Response:
        if not has_batch_route(instance):
            return mastodon_error(404, "Not Found")  # before 4.3.0 there is no such route
        ids = list(dict.fromkeys(request.query.getall("id[]", [])))
        if len(ids) > MAX_IDS:
            return mastodon_error(422, "Validation failed")
        found = [a for i in ids if (a := self._by_id.get((instance, i))) is not None]
        return json_response([self._entity(a, now) for a in found])

    def _entity(self, account: SimAccount, now: datetime) -> dict[str, object]:
        """The account entity as Mastodon serializes it."""
        figures = self.ctx.world.metrics(account, now)
        if figures:
            self.ctx.ledger.record(PLATFORM, account.id, figures, now)
        entity = _profile(account)
        if account.handle in SUSPENDED:
            return entity | {"display_name": "", "note": "", "followers_count": 0, "following_count": 0,
                             "statuses_count": 0, "last_status_at": None, "fields": [], "suspended": True}
        world = self.ctx.world
        entity |= {"followers_count": int(world.followers(account, now)),
                   "following_count": int(world.following(account, now)),
                   "statuses_count": int(world.posts(account, now)), "last_status_at": now.date().isoformat()}
        if account.handle in HIDDEN_COUNTS:
            del entity["followers_count"], entity["following_count"]
        if (target := MOVED.get(account.handle)) is not None:
            moved_to = next(a for a in world.accounts(PLATFORM) if a.handle == target)
            entity["moved"] = self._entity(moved_to, now) | {"acct": moved_to.handle}  # remote: user@domain
        return entity


def _profile(account: SimAccount) -> dict[str, object]:
    instance, (username, _, _) = instance_of(account), account.handle.partition("@")
    url = f"https://{instance}/@{username}"
    avatar = f"https://{instance}/avatars/original/missing.png"
    return {
        "id": local_id(account), "username": username, "acct": username, "display_name": account.display_name,
        "locked": False, "bot": False, "discoverable": True, "indexable": True, "group": False,
        "created_at": iso_z(account.created_at.replace(hour=0, minute=0, second=0, microsecond=0), millis=True),
        "note": f"<p>{account.display_name}, a simulated Mastodon account.</p>",
        "url": url, "uri": f"https://{instance}/users/{username}", "avatar": avatar, "avatar_static": avatar,
        "header": f"https://{instance}/headers/original/missing.png",
        "header_static": f"https://{instance}/headers/original/missing.png",
        "hide_collections": account.handle in HIDDEN_COUNTS, "emojis": [], "fields": [],
    }
