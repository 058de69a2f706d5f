"""Twitch as id.twitch.tv and Helix speak it: `POST /oauth2/token` (client credentials),
`GET /helix/users`, `GET /helix/streams` and `GET /helix/channels/followers`.

Helix calls need `Client-Id` and a bearer app token minted here for that client; tokens expire
after `simulator_token_ttl_seconds`. Each client id has an 800-point-a-minute bucket reported
in `Ratelimit-*` headers (reset as epoch seconds); an empty bucket answers 429. Errors use
Helix's envelope `{"error": <reason>, "status": <code>, "message": <text>}`.
"""

from __future__ import annotations

import base64
import hmac
import math
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus

import orjson
from aiohttp import web

from sma_common.platforms import Platform
from sma_simulator.context import SimContext
from sma_simulator.platforms.wire import iso_z, json_response
from sma_simulator.ratelimit import Budget, TokenBucket
from sma_simulator.state import GAMES, LiveStream, SimAccount

PLATFORM = Platform.TWITCH
MAX_IDS = 100
MAX_GRANTS = 10_000
Responder = Callable[[web.Request, datetime], web.Response]


def helix_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": HTTPStatus(status).phrase, "status": status, "message": message}
    return json_response(body, status, headers)


def _rate_headers(budget: Budget) -> dict[str, str]:
    return {
        "Ratelimit-Limit": str(budget.limit),
        "Ratelimit-Remaining": str(budget.remaining),
        "Ratelimit-Reset": str(budget.reset_epoch),
    }


@dataclass(frozen=True, slots=True)
class _Grant:
    client_id: str
    expires_at: datetime


class TwitchSimulator:
    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx
        self._grants: OrderedDict[str, _Grant] = OrderedDict()
        self._bucket = TokenBucket(ctx.settings.simulator_twitch_points_per_minute, 60.0)

    def add_routes(self, app: web.Application) -> None:
        add = self.ctx.add_route
        add(app, "POST", "/oauth2/token", PLATFORM, "oauth2/token", self.token)
        add(app, "GET", "/helix/users", PLATFORM, "users", self.users)
        add(app, "GET", "/helix/streams", PLATFORM, "streams", self.streams)
        add(app, "GET", "/helix/channels/followers", PLATFORM, "channels/followers", self.followers)

    # -- id.twitch.tv ---------------------------------------------------------------------------
    async def token(self, request: web.Request) -> web.Response:
        fields = {k: str(v) for k, v in request.query.items()}
        fields.update({k: str(v) for k, v in (await request.post()).items()})
        fault = await self.ctx.take_fault(PLATFORM, "oauth2/token")
        if fault is not None and fault.spec.kind != "timeout":
            status = {"rate_limit": 429, "unauthorized": 403}.get(fault.spec.kind, fault.spec.status)
            message = "invalid client secret" if status == 403 else HTTPStatus(status).phrase
            return json_response({"status": status, "message": message}, status)
        settings = self.ctx.settings
        if fields.get("grant_type") != "client_credentials":
            return json_response({"status": 400, "message": "unsupported grant type"}, 400)
        if fields.get("client_id") != settings.simulator_twitch_client_id:
            return json_response({"status": 400, "message": "invalid client"}, 400)
        expected = settings.simulator_twitch_client_secret.get_secret_value().encode()
        if not hmac.compare_digest(fields.get("client_secret", "").encode(), expected):
            return json_response({"status": 403, "message": "invalid client secret"}, 403)
        return json_response(self._issue(fields["client_id"]))

    def _issue(self, client_id: str) -> dict[str, object]:
        now, ttl = self.ctx.now(), self.ctx.settings.simulator_token_ttl_seconds
        for stale in [t for t, g in self._grants.items() if g.expires_at <= now]:
            del self._grants[stale]
        while len(self._grants) >= MAX_GRANTS:
            self._grants.popitem(last=False)
        value = secrets.token_hex(15)
        self._grants[value] = _Grant(client_id, now + timedelta(seconds=ttl))
        return {"access_token": value, "expires_in": ttl, "token_type": "bearer"}

    # -- Helix ----------------------------------------------------------------------------------
    async def users(self, request: web.Request) -> web.Response:
        return await self._helix(request, "users", self._users)

    async def streams(self, request: web.Request) -> web.Response:
        return await self._helix(request, "streams", self._streams)

    async def followers(self, request: web.Request) -> web.Response:
        return await self._helix(request, "channels/followers", self._followers)

    async def _helix(self, request: web.Request, endpoint: str, respond: Responder) -> web.Response:
        """Faults, auth and the rate bucket, in the order Helix applies them, then the answer."""
        fault = await self.ctx.take_fault(PLATFORM, endpoint)
        now = self.ctx.now()
        client_id = request.headers.get("Client-Id", "")
        peek = _rate_headers(self._bucket.peek(client_id, now)) if client_id else None
        refusal = self._authorize(request, client_id, now)
        if refusal is not None or (fault is not None and fault.spec.kind == "unauthorized"):
            return helix_error(401, refusal or "Invalid OAuth token", peek)
        if fault is not None and fault.spec.kind == "rate_limit":
            reset = math.ceil(now.timestamp() + fault.spec.reset_after)
            empty = Budget(False, self._bucket.capacity, 0, reset)
            return helix_error(429, "Request limit exceeded", _rate_headers(empty))
        budget = self._bucket.take(client_id, now)
        headers = _rate_headers(budget)
        if fault is not None and fault.spec.kind == "server_error":
            return helix_error(fault.spec.status, "", headers | fault.spec.retry_after_header())
        if not budget.allowed:
            return helix_error(429, "Request limit exceeded", headers)
        response = respond(request, now)
        response.headers.update(headers)
        return response

    def _authorize(self, request: web.Request, client_id: str, now: datetime) -> str | None:
        """Why Helix refuses the caller (the 401 message), or None when the caller may proceed."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "OAuth token is missing"
        if not client_id:
            return "Client ID is missing"
        grant = self._grants.get(token.strip())
        if grant is None or grant.expires_at <= now:
            return "Invalid OAuth token"
        if grant.client_id != client_id:
            return "Client ID and OAuth token do not match"
        return None

    def _users(self, request: web.Request, now: datetime) -> web.Response:
        ids, logins = request.query.getall("id", []), request.query.getall("login", [])
        if not ids and not logins:
            return helix_error(400, "Must provide an ID, Login or OAuth Token")
        if len(ids) + len(logins) > MAX_IDS:
            return helix_error(400, f"The id and login parameters combined must not exceed {MAX_IDS}")
        found = [self.ctx.world.by_id(PLATFORM, i) for i in ids]
        found += [self.ctx.world.by_handle(PLATFORM, login) for login in logins]
        unique = {a.id: a for a in found if a is not None}
        return json_response({"data": [self._user_json(a) for a in unique.values()]})

    def _streams(self, request: web.Request, now: datetime) -> web.Response:
        user_ids, logins = request.query.getall("user_id", []), request.query.getall("user_login", [])
        first, after = _first(request.query.get("first")), _offset(request.query.get("after"))
        if isinstance(first, str) or isinstance(after, str):
            return helix_error(400, first if isinstance(first, str) else str(after))
        if len(user_ids) > MAX_IDS or len(logins) > MAX_IDS:
            return helix_error(400, f"The user_id and user_login parameters may each be given at most {MAX_IDS} times")
        world = self.ctx.world
        requested = [world.by_id(PLATFORM, i) for i in user_ids] + [world.by_handle(PLATFORM, n) for n in logins]
        wanted = list({a.id: a for a in requested if a is not None}.values())
        candidates = wanted if (user_ids or logins) else list(world.accounts(PLATFORM))
        live = [(a, s) for a in candidates if (s := world.stream(a, now)) is not None]
        live.sort(key=lambda pair: (-pair[1].viewers, pair[0].id))
        page = live[after : after + first]
        for account, stream in page:
            self.ctx.ledger.record(PLATFORM, account.id, {"is_live": 1.0, "live_viewers": float(stream.viewers)}, now)
        live_ids = {a.id for a, _ in live}
        if after == 0:
            for account in (a for a in wanted if a.id not in live_ids):
                self.ctx.ledger.record(PLATFORM, account.id, {"is_live": 0.0}, now)
        more = after + first < len(live)
        pagination = {"cursor": _cursor(after + first)} if more else {}
        return json_response({"data": [self._stream_json(a, s) for a, s in page], "pagination": pagination})

    def _followers(self, request: web.Request, now: datetime) -> web.Response:
        broadcaster_id = request.query.get("broadcaster_id")
        if not broadcaster_id:
            return helix_error(400, 'Missing required parameter "broadcaster_id"')
        first = _first(request.query.get("first"))
        if isinstance(first, str):
            return helix_error(400, first)
        account = self.ctx.world.by_id(PLATFORM, broadcaster_id)
        total = self.ctx.world.followers(account, now) if account is not None else 0
        if account is not None:
            self.ctx.ledger.record(PLATFORM, account.id, {"followers": float(total)}, now)
        # An app token may not list followers (moderator:read:followers): only the total comes back.
        return json_response({"total": total, "data": [], "pagination": {}})

    def _user_json(self, account: SimAccount) -> dict[str, object]:
        return {
            "id": account.id,
            "login": account.handle,
            "display_name": account.display_name,
            "type": "",
            "broadcaster_type": self.ctx.world.broadcaster_type(account),
            "description": f"{account.display_name} is a simulated channel.",
            "profile_image_url": f"https://static-cdn.jtvnw.net/jtv_user_pictures/{account.handle}-profile_image-300x300.png",
            "offline_image_url": "",
            "view_count": 0,
            "created_at": iso_z(account.created_at),
        }

    @staticmethod
    def _stream_json(account: SimAccount, stream: LiveStream) -> dict[str, object]:
        return {
            "id": stream.id,
            "user_id": account.id,
            "user_login": account.handle,
            "user_name": account.display_name,
            "game_id": str(509_658 + GAMES.index(stream.game_name)),
            "game_name": stream.game_name,
            "type": "live",
            "title": stream.title,
            "viewer_count": stream.viewers,
            "started_at": iso_z(stream.started_at),
            "language": "en",
            "thumbnail_url": f"https://static-cdn.jtvnw.net/previews-ttv/live_user_{account.handle}-{{width}}x{{height}}.jpg",
            "tag_ids": [],
            "tags": ["English"],
            "is_mature": False,
        }


def _first(value: str | None) -> int | str:
    """Helix's `first` page size (default 20, 1..100), or the 400 message for a bad one."""
    if value is None:
        return 20
    try:
        first = int(value)
    except ValueError:
        return 'The parameter "first" was malformed: the value must be a number'
    if first > MAX_IDS:
        return 'The parameter "first" was malformed: the value must be less than or equal to 100'
    if first < 1:
        return 'The parameter "first" was malformed: the value must be greater than or equal to 1'
    return first


def _cursor(offset: int) -> str:
    # Helix cursors are opaque base64 JSON; this mirrors their shape.
    return base64.b64encode(orjson.dumps({"b": None, "a": {"Offset": offset}})).decode().rstrip("=")


def _offset(cursor: str | None) -> int | str:
    """The offset an `after` cursor encodes, or the 400 message for a cursor we did not issue."""
    if not cursor:
        return 0
    try:
        decoded = orjson.loads(base64.b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset = decoded["a"]["Offset"]
    except (ValueError, TypeError, KeyError, orjson.JSONDecodeError):
        return "Invalid cursor"
    return offset if isinstance(offset, int) and offset >= 0 else "Invalid cursor"
