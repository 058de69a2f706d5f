"""Reddit as www.reddit.com and oauth.reddit.com speak it, under `/reddit-auth` (token:
`POST /reddit-auth/api/v1/access_token`) and `/reddit` (API: `GET /reddit/api/info`,
`GET /reddit/api/user_data_by_account_ids`, `GET /reddit/r/{name}/about`,
`GET /reddit/user/{name}/about`).

Tokens are application-only (client credentials with HTTP Basic app credentials) and live an
hour. Every request needs a User-Agent; a missing or generic one (python-requests, curl,
aiohttp) gets the HTML "whoa there, pardner!" 429. Each client id has 600 requests per fixed
10-minute window, reported as `x-ratelimit-used`, `x-ratelimit-remaining` (a decimal, "598.0")
and `x-ratelimit-reset` (seconds until the window ends). Things come as `{"kind": "t5", "data"}`
and `/api/info` as a Listing that omits unknown (and private) subreddits.
`/api/user_data_by_account_ids?ids=t2_…,…` (up to 100) answers an object keyed by fullname with
name, link and comment karma (no total karma), omitting unknown ids, and a 404 when none
exists. Errors use
`{"message": <reason>, "error": <status>}`, plus `reason` for a private subreddit's 403.
A `rate_limit` fault answers the JSON 429 without headers, or, when it gives
`retry_after_seconds`, the HTML page with only `Retry-After`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import secrets
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from http import HTTPStatus

from aiohttp import web

from sma_common.platforms import Platform
from sma_simulator.context import SimContext
from sma_simulator.faults import Fault
from sma_simulator.platforms.wire import json_response
from sma_simulator.profiles.reddit import is_private, is_user
from sma_simulator.ratelimit import Budget, FixedWindow
from sma_simulator.state import SimAccount

PLATFORM = Platform.REDDIT
AUTH_ENDPOINT = "api/v1/access_token"
USER_DATA_ENDPOINT = "api/user_data_by_account_ids"
MAX_NAMES = 100
TOKEN_TTL_SECONDS = 3600
WINDOW_SECONDS = 600
MAX_GRANTS = 10_000
_GENERIC_AGENTS = ("python-requests", "curl/", "python/", "python-urllib", "aiohttp")
WHOA_PAGE = """
<!doctype html>
<html>
  <head><title>Too Many Requests</title></head>
  <body>
    <h1>whoa there, pardner!</h1>
<p>we're sorry, but you appear to be a bot and we've seen too many requests
from you lately. we enforce a hard speed limit on requests that appear to come
from bots to prevent abuse.</p>
<p>please wait {seconds} second(s) and try again.</p>
  </body>
</html>
"""
Responder = Callable[[web.Request, datetime], web.Response]


def reddit_error(status: int, headers: dict[str, str] | None = None, **extra: object) -> web.Response:
    return json_response({"message": HTTPStatus(status).phrase, "error": status, **extra}, status, headers)


def whoa(retry_after: int) -> web.Response:
    """The HTML 429 with only `Retry-After`, as Reddit answers bots and generic User-Agents."""
    return web.Response(text=WHOA_PAGE.format(seconds=retry_after), status=429, content_type="text/html",
                        headers={"Retry-After": str(retry_after)})


def _rate_headers(budget: Budget, now: datetime) -> dict[str, str]:
    return {
        "x-ratelimit-used": str(budget.limit - budget.remaining),
        "x-ratelimit-remaining": f"{float(budget.remaining):.1f}",
        "x-ratelimit-reset": str(max(0, budget.reset_epoch - math.floor(now.timestamp()))),
    }


def _good_agent(request: web.Request) -> bool:
    agent = request.headers.get("User-Agent", "").strip().lower()
    return bool(agent) and not agent.startswith(_GENERIC_AGENTS)


class RedditSimulator:
    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx
        self._grants: OrderedDict[str, tuple[str, datetime]] = OrderedDict()
        self._window = FixedWindow(ctx.settings.simulator_reddit_rate_limit, WINDOW_SECONDS)

    def add_routes(self, app: web.Application) -> None:
        add = self.ctx.add_route
        add(app, "POST", "/reddit-auth/api/v1/access_token", PLATFORM, AUTH_ENDPOINT, self.token)
        add(app, "GET", "/reddit/api/info", PLATFORM, "api/info", self.info)
        add(app, "GET", "/reddit/api/user_data_by_account_ids", PLATFORM, USER_DATA_ENDPOINT, self.user_data)
        add(app, "GET", "/reddit/r/{name}/about", PLATFORM, "r/about", self.subreddit_about)
        add(app, "GET", "/reddit/user/{name}/about", PLATFORM, "user/about", self.user_about)

    # -- www.reddit.com -------------------------------------------------------------------------
    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        fault = await self.ctx.take_fault(PLATFORM, AUTH_ENDPOINT)
        if not _good_agent(request):
            return whoa(4)
        if fault is not None and fault.spec.kind != "timeout":
            status = {"rate_limit": 429, "unauthorized": 401}.get(fault.spec.kind, fault.spec.status)
            return reddit_error(status)
        if not self._basic_ok(request):
            return reddit_error(401)
        if form.get("grant_type") != "client_credentials":
            return json_response({"error": "unsupported_grant_type"}, 400)
        now = self.ctx.now()
        for stale in [t for t, (_, expires) in self._grants.items() if expires <= now]:
            del self._grants[stale]
        while len(self._grants) >= MAX_GRANTS:
            self._grants.popitem(last=False)
        value = "-" + secrets.token_urlsafe(20)
        self._grants[value] = (self.ctx.settings.simulator_reddit_client_id, now + timedelta(seconds=TOKEN_TTL_SECONDS))
        return json_response({"access_token": value, "token_type": "bearer", "expires_in": TOKEN_TTL_SECONDS,
                              "scope": "*"})

    def _basic_ok(self, request: web.Request) -> bool:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            client_id, _, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        settings = self.ctx.settings
        expected = settings.simulator_reddit_client_secret.get_secret_value().encode()
        return (scheme.lower() == "basic" and client_id == settings.simulator_reddit_client_id
                and hmac.compare_digest(secret.encode(), expected))

    # -- oauth.reddit.com -----------------------------------------------------------------------
    async def info(self, request: web.Request) -> web.Response:
        return await self._api(request, "api/info", self._info)

    async def user_data(self, request: web.Request) -> web.Response:
        return await self._api(request, USER_DATA_ENDPOINT, self._user_data)

    async def subreddit_about(self, request: web.Request) -> web.Response:
        return await self._api(request, "r/about", self._subreddit_about)

    async def user_about(self, request: web.Request) -> web.Response:
        return await self._api(request, "user/about", self._user_about)

    async def _api(self, request: web.Request, endpoint: str, respond: Responder) -> web.Response:
        """Faults, User-Agent, token and the rate window, in the order Reddit applies them."""
        fault = await self.ctx.take_fault(PLATFORM, endpoint)
        now = self.ctx.now()
        if not _good_agent(request):
            return whoa(4)
        client_id = self._client_for(request, now)
        if client_id is None or (fault is not None and fault.spec.kind == "unauthorized"):
            return reddit_error(401, {"www-authenticate": 'Bearer realm="reddit", error="invalid_token"'})
        if fault is not None and fault.spec.kind == "rate_limit":
            return _rate_limit_fault(fault)
        budget = self._window.take(client_id, now)
        headers = _rate_headers(budget, now)
        if fault is not None and fault.spec.kind == "server_error":
            return reddit_error(fault.spec.status, headers | fault.spec.retry_after_header())
        if not budget.allowed:
            return reddit_error(429, headers)
        response = respond(request, now)
        response.headers.update(headers)
        return response

    def _client_for(self, request: web.Request, now: datetime) -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        grant = self._grants.get(token.strip()) if scheme.lower() == "bearer" else None
        return grant[0] if grant is not None and now < grant[1] else None

    def _info(self, request: web.Request, now: datetime) -> web.Response:
        names = [n.strip() for n in request.query.get("sr_name", "").split(",") if n.strip()]
        ids = [i.strip() for i in request.query.get("id", "").split(",") if i.strip()]
        if len(names) > MAX_NAMES or len(ids) > MAX_NAMES:
            return reddit_error(400)
        world = self.ctx.world
        found = [world.by_handle(PLATFORM, n) for n in names] + [world.by_id(PLATFORM, i) for i in ids]
        visible = {a.id: a for a in found if a is not None and not is_user(a) and not is_private(a)}
        children = [{"kind": "t5", "data": self._subreddit(a, now)} for a in visible.values()]
        return json_response({"kind": "Listing", "data": {"after": None, "dist": len(children), "modhash": None,
                                                          "geo_filter": "", "children": children, "before": None}})

    def _user_data(self, request: web.Request, now: datetime) -> web.Response:
        """Users by fullname; only link and comment karma are served (and recorded)."""
        ids = list(dict.fromkeys(i.strip() for i in request.query.get("ids", "").split(",") if i.strip()))
        if not ids or len(ids) > MAX_NAMES:
            return reddit_error(400)
        found = [self.ctx.world.by_id(PLATFORM, i) for i in ids]
        users: dict[str, object] = {}
        for account in (a for a in found if a is not None and is_user(a)):
            all_figures = self.ctx.world.metrics(account, now)
            figures = {m: all_figures[m] for m in ("karma_link", "karma_comment")}
            self.ctx.ledger.record(PLATFORM, account.id, figures, now)
            users[account.id] = {
                "name": account.display_name, "created_utc": account.created_at.timestamp(),
                "link_karma": int(figures["karma_link"]), "comment_karma": int(figures["karma_comment"]),
                "profile_img": "https://www.redditstatic.com/avatars/defaults/v2/avatar_default_1.png",
                "profile_color": "", "profile_over_18": False,
            }
        return json_response(users) if users else reddit_error(404)

    def _subreddit_about(self, request: web.Request, now: datetime) -> web.Response:
        account = self.ctx.world.by_handle(PLATFORM, request.match_info["name"])
        if account is None or is_user(account):
            return reddit_error(404)
        if is_private(account):
            return reddit_error(403, reason="private")
        return json_response({"kind": "t5", "data": self._subreddit(account, now)})

    def _user_about(self, request: web.Request, now: datetime) -> web.Response:
        account = self.ctx.world.by_handle(PLATFORM, "u/" + request.match_info["name"])
        if account is None:
            return reddit_error(404)
        figures = self.ctx.world.metrics(account, now)
        self.ctx.ledger.record(PLATFORM, account.id, figures, now)
        data = {"is_employee": False, "id": account.id.removeprefix("t2_"), "name": account.display_name,
                "created_utc": account.created_at.timestamp(), "verified": True, "has_verified_email": True,
                "link_karma": int(figures["karma_link"]), "comment_karma": int(figures["karma_comment"]),
                "total_karma": int(figures["karma_total"]), "awardee_karma": 0, "awarder_karma": 0}
        return json_response({"kind": "t2", "data": data})

    def _subreddit(self, account: SimAccount, now: datetime) -> dict[str, object]:
        figures = self.ctx.world.metrics(account, now)
        self.ctx.ledger.record(PLATFORM, account.id, figures, now)
        data: dict[str, object] = {
            "display_name": account.handle, "display_name_prefixed": f"r/{account.handle}",
            "title": account.display_name, "name": account.id, "id": account.id.removeprefix("t5_"),
            "url": f"/r/{account.handle}/", "subreddit_type": "public", "over18": False, "quarantine": False,
            "created_utc": account.created_at.timestamp(), "public_description": "",
            "subscribers": int(figures["subscribers"]),
        }
        if "active_users" in figures:
            data["active_user_count"] = data["accounts_active"] = int(figures["active_users"])
        return data


def _rate_limit_fault(fault: Fault) -> web.Response:
    """The HTML page with `Retry-After` when the fault names one, else the bare JSON 429."""
    if fault.spec.retry_after_seconds is not None:
        return whoa(math.ceil(fault.spec.retry_after_seconds))
    return reddit_error(429)
