"""X API v2 user lookup as X serves it: `GET /2/users?ids=..` and `GET /2/users/by?usernames=..`
(at most 100 each) and `GET /2/users/by/username/:username`, with `user.fields=public_metrics`
for the counts (without it only `id`, `name` and `username` come back).

Auth is an app-only `Authorization: Bearer` token; a missing or wrong one is a problem+json 401
with no rate-limit headers. Each endpoint has a 15-minute fixed window per token, reported in
`x-rate-limit-limit/-remaining/-reset` (epoch seconds); past it a problem+json 429. Unknown or
suspended users are a partial result: HTTP 200 with `data` for the users found (left out when
none is) and a top-level `errors[]` entry per user that is not. Protected simulated accounts
serve no `listed_count`.
"""

from __future__ import annotations

import hmac
import math
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from http import HTTPStatus

import orjson
from aiohttp import web

from sma_common.platforms import Platform
from sma_simulator.context import SimContext
from sma_simulator.platforms.wire import iso_z, json_response
from sma_simulator.profiles.x import is_protected
from sma_simulator.ratelimit import Budget, FixedWindow
from sma_simulator.state import SimAccount, World

PLATFORM = Platform.X
MAX_IDS = 100
WINDOW_SECONDS = 900
NOT_FOUND_TYPE = "https://api.twitter.com/2/problems/resource-not-found"
INVALID_TYPE = "https://api.twitter.com/2/problems/invalid-request"
# Accounts X knows but has suspended: a Forbidden entry in `errors[]`, never data.
SUSPENDED = {"1319287761048723458": "sma_suspended"}
_ID = re.compile(r"[0-9]{1,19}")
_USERNAME = re.compile(r"[A-Za-z0-9_]{1,15}")
Responder = Callable[[web.Request, datetime], web.Response]


def problem(status: int, title: str | None = None, kind: str = "about:blank") -> web.Response:
    """RFC 7807 problem JSON, as X sends top-level 401, 429 and 5xx errors."""
    phrase = title or HTTPStatus(status).phrase
    body = {"title": phrase, "type": kind, "status": status, "detail": phrase}
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/problem+json")


def invalid_request(parameter: str, values: Sequence[str], message: str) -> web.Response:
    body = {"errors": [{"parameters": {parameter: list(values)}, "message": message}], "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.", "type": INVALID_TYPE}
    return json_response(body, 400)


def lookup_error(value: str, parameter: str) -> dict[str, object]:
    """The `errors[]` entry for a user a lookup did not find (or found suspended)."""
    if value in SUSPENDED or value.lower() in {u.lower() for u in SUSPENDED.values()}:
        title, detail = "Forbidden", f"User has been suspended: [{value}]."
    else:
        title, detail = "Not Found Error", f"Could not find user with {parameter}: [{value}]."
    return {"value": value, "detail": detail, "title": title, "resource_type": "user", "parameter": parameter,
            "resource_id": value, "type": NOT_FOUND_TYPE}


class XSimulator:
    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx
        self._window = FixedWindow(ctx.settings.simulator_x_rate_limit, WINDOW_SECONDS)
        self._names: tuple[World, dict[str, SimAccount]] | None = None

    def add_routes(self, app: web.Application) -> None:
        add = self.ctx.add_route
        add(app, "GET", "/2/users", PLATFORM, "users", self.users)
        add(app, "GET", "/2/users/by", PLATFORM, "users/by", self.users_by)
        add(app, "GET", "/2/users/by/username/{username}", PLATFORM, "users/by/username", self.by_username)

    async def users(self, request: web.Request) -> web.Response:
        return await self._serve(request, "users", self._by_ids)

    async def users_by(self, request: web.Request) -> web.Response:
        return await self._serve(request, "users/by", self._by_usernames)

    async def by_username(self, request: web.Request) -> web.Response:
        return await self._serve(request, "users/by/username", self._one_username)

    @staticmethod
    def _headers(budget: Budget) -> dict[str, str]:
        return {"x-rate-limit-limit": str(budget.limit), "x-rate-limit-remaining": str(budget.remaining),
                "x-rate-limit-reset": str(budget.reset_epoch)}

    async def _serve(self, request: web.Request, endpoint: str, respond: Responder) -> web.Response:
        """Faults, the token, the 15-minute window, then the lookup, in the order X applies them."""
        fault = await self.ctx.take_fault(PLATFORM, endpoint)
        now, token = self.ctx.now(), request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        expected = self.ctx.settings.simulator_x_bearer_token.get_secret_value().encode()
        kind = fault.spec.kind if fault is not None else None
        if not hmac.compare_digest(token.encode(), expected) or kind == "unauthorized":
            return problem(401)
        key = f"{token}:{endpoint}"
        if fault is not None and kind == "rate_limit":
            budget = self._window.peek(key, now)
            reset = math.ceil(now.timestamp() + fault.spec.reset_after)
            return self._with(problem(429), Budget(False, budget.limit, 0, reset))
        budget = self._window.take(key, now)
        if fault is not None and kind == "server_error":
            response = problem(fault.spec.status)
            response.headers.update(fault.spec.retry_after_header())
            return self._with(response, budget)
        if not budget.allowed:
            return self._with(problem(429), budget)
        return self._with(respond(request, now), budget)

    def _with(self, response: web.Response, budget: Budget) -> web.Response:
        response.headers.update(self._headers(budget))
        return response

    def _by_ids(self, request: web.Request, now: datetime) -> web.Response:
        ids = [i for i in request.query.get("ids", "").split(",") if i]
        if rejected := _check(ids, "ids", _ID):
            return rejected
        found = [self.ctx.world.by_id(PLATFORM, i) for i in ids]
        return self._lookup(request, now, ids, found, "ids")

    def _by_usernames(self, request: web.Request, now: datetime) -> web.Response:
        names = [n for n in request.query.get("usernames", "").split(",") if n]
        if rejected := _check(names, "usernames", _USERNAME):
            return rejected
        return self._lookup(request, now, names, [self._find_name(n) for n in names], "usernames")

    def _one_username(self, request: web.Request, now: datetime) -> web.Response:
        name = request.match_info["username"]
        if rejected := _check([name], "username", _USERNAME):
            return rejected
        account = self._find_name(name)
        if account is None:
            return json_response({"errors": [lookup_error(name, "username")]})
        return json_response({"data": self._user(account, _fields(request), now)})

    def _lookup(
        self, request: web.Request, now: datetime, asked: list[str], found: list[SimAccount | None], parameter: str
    ) -> web.Response:
        fields, body = _fields(request), dict[str, object]()
        served = {a.id: a for a in found if a is not None}
        if served:
            body["data"] = [self._user(a, fields, now) for a in served.values()]
        errors = [lookup_error(value, parameter) for value, a in zip(asked, found, strict=True) if a is None]
        if errors:
            body["errors"] = errors
        return json_response(body)

    def _find_name(self, name: str) -> SimAccount | None:
        world = self.ctx.world
        if self._names is None or self._names[0] is not world:
            self._names = (world, {a.handle.lower(): a for a in world.accounts(PLATFORM)})
        return self._names[1].get(name.lower())

    def _user(self, account: SimAccount, fields: set[str], now: datetime) -> dict[str, object]:
        user: dict[str, object] = {"id": account.id, "name": account.display_name, "username": account.handle}
        if "created_at" in fields:
            user["created_at"] = iso_z(account.created_at, millis=True)
        if "protected" in fields:
            user["protected"] = is_protected(account)
        if "public_metrics" in fields:
            figures = self.ctx.world.metrics(account, now)
            self.ctx.ledger.record(PLATFORM, account.id, figures, now)
            user["public_metrics"] = _public_metrics(figures)
        return user


def _fields(request: web.Request) -> set[str]:
    return {f.strip() for f in request.query.get("user.fields", "").split(",") if f.strip()}


def _check(values: list[str], parameter: str, pattern: re.Pattern[str]) -> web.Response | None:
    """X's 400 for an empty, oversized or malformed list (a single username is in the path)."""
    if not values:
        return invalid_request(parameter, [], f"The `{parameter}` query parameter can not be empty")
    if len(values) > MAX_IDS:
        return invalid_request(parameter, [str(len(values))], f"The number of values in the `{parameter}` query "
                               f"parameter list [{len(values)}] is not between 1 and {MAX_IDS}")
    bad = [v for v in values if pattern.fullmatch(v) is None]
    if bad:
        return invalid_request(parameter, bad, f"The `{parameter}` query parameter value [{bad[0]}] is not valid")
    return None


def _public_metrics(figures: dict[str, float]) -> dict[str, int]:
    metrics = {"followers_count": int(figures["followers"]), "following_count": int(figures["following"]),
               "tweet_count": int(figures["posts"])}
    if "listed" in figures:
        metrics["listed_count"] = int(figures["listed"])
    return metrics
