"""YouTube Data API v3 as Google serves it: `GET /youtube/v3/channels?part=..&id=UC..,UC..&key=`
(at most 50 ids) or `forHandle=@handle`.

Public reads need only an API key in `key=`. Every call costs 1 unit of a daily quota per key
that resets at midnight America/Los_Angeles; no rate-limit headers are sent. Unknown channels
are simply absent from `items`, and when none is found the `items` key is left out entirely.
Items do not come back in the order of the `id=` list. Counts are JSON strings; subscriber
counts are rounded to three significant figures and some channels hide them
(`hiddenSubscriberCount: true`, no `subscriberCount`). Errors use Google's envelope
`{"error": {"code", "message", "errors": [{"message", "domain", "reason"}], "status"?}}`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from http import HTTPStatus

from aiohttp import web

from sma_common.platforms import Platform
from sma_simulator.context import SimContext
from sma_simulator.platforms.wire import iso_z, json_response
from sma_simulator.ratelimit import DailyQuota
from sma_simulator.state import SimAccount

PLATFORM = Platform.YOUTUBE
ENDPOINT = "channels"
MAX_IDS = 50
DEFAULT_PAGE_SIZE = 5
_QUOTA_MESSAGE = (
    'The request cannot be completed because you have exceeded your <a href="/youtube/v3/getting-started#quota">'
    "quota</a>."
)
_NO_FILTER = "No filter selected. Expected one of: forUsername, managedByMe, mine, mySubscribers, id, forHandle"


def google_error(
    status: int, reason: str, domain: str, message: str, *, api_status: str | None = None,
    details: list[dict[str, object]] | None = None,
) -> web.Response:
    error: dict[str, object] = {
        "code": status, "message": message, "errors": [{"message": message, "domain": domain, "reason": reason}],
    }
    if api_status is not None:
        error["status"] = api_status
    if details:
        error["details"] = details
    return json_response({"error": error}, status)


def quota_exceeded() -> web.Response:
    return google_error(403, "quotaExceeded", "youtube.quota", _QUOTA_MESSAGE)


def key_invalid() -> web.Response:
    """Today's answer to a bad key (400 badRequest plus an `API_KEY_INVALID` detail)."""
    detail: dict[str, object] = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
        "domain": "googleapis.com", "metadata": {"service": "youtube.googleapis.com"},
    }
    return google_error(400, "badRequest", "global", "API key not valid. Please pass a valid API key.",
                        api_status="INVALID_ARGUMENT", details=[detail])


def key_missing() -> web.Response:
    message = ("Method doesn't allow unregistered callers (callers without established identity). "
               "Please use API Key or other form of API consumer identity to call this API.")
    return google_error(403, "forbidden", "global", message, api_status="PERMISSION_DENIED")


def server_error(status: int) -> web.Response:
    reason = "backendError" if status in (500, 503) else "internalError"
    return google_error(status, reason, "global", HTTPStatus(status).phrase)


def _etag(*parts: object) -> str:
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=20).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class YouTubeSimulator:
    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx
        self._quota = DailyQuota(ctx.settings.simulator_youtube_daily_quota)

    def add_routes(self, app: web.Application) -> None:
        self.ctx.add_route(app, "GET", "/youtube/v3/channels", PLATFORM, ENDPOINT, self.channels)

    async def channels(self, request: web.Request) -> web.Response:
        """Faults, the key, the quota and the parameters, in the order Google applies them."""
        fault = await self.ctx.take_fault(PLATFORM, ENDPOINT)
        now, key = self.ctx.now(), request.query.get("key", "")
        if not key:
            return key_missing()
        expected = self.ctx.settings.simulator_youtube_api_key.get_secret_value().encode()
        if not hmac.compare_digest(key.encode(), expected) or (fault is not None and fault.spec.kind == "unauthorized"):
            return key_invalid()
        if fault is not None and fault.spec.kind == "rate_limit":
            return quota_exceeded()
        if fault is not None and fault.spec.kind == "server_error":
            return server_error(fault.spec.status)
        # Invalid requests cost quota too (at least one unit each).
        if not self._quota.take(key, now).allowed:
            return quota_exceeded()
        return self._list(request, now)

    def _list(self, request: web.Request, now: datetime) -> web.Response:
        query = request.query
        parts = {p.strip() for p in query.get("part", "").split(",") if p.strip()}
        if not parts:
            return google_error(400, "required", "global", "Required parameter: part")
        filters = [f for f in ("id", "forHandle", "forUsername", "mine") if f in query]
        if len(filters) != 1:
            return google_error(400, "missingRequiredParameter", "youtube.parameter", _NO_FILTER)
        if filters[0] == "mine":
            return google_error(401, "authError", "global", "Login Required.", api_status="UNAUTHENTICATED")
        page_size = query.get("maxResults", str(DEFAULT_PAGE_SIZE))
        if not page_size.isdigit() or int(page_size) > MAX_IDS:
            return google_error(400, "invalidParameter", "youtube.parameter",
                                f"Invalid value '{page_size}'. Values must be within the range: [0, {MAX_IDS}]")
        found = self._find(filters[0], query.get(filters[0], ""))
        if isinstance(found, web.Response):
            return found
        items = [self._channel(a, parts, now) for a in sorted(found, key=lambda a: a.id)]
        body: dict[str, object] = {
            "kind": "youtube#channelListResponse",
            "etag": _etag(self.ctx.world.seed, *(a.id for a in found)),
            "pageInfo": {"totalResults": len(items), "resultsPerPage": int(page_size)},
        }
        if items:
            body["items"] = items
        return json_response(body)

    def _find(self, selector: str, value: str) -> list[SimAccount] | web.Response:
        world = self.ctx.world
        if selector == "forHandle":
            account = world.by_handle(PLATFORM, "@" + value.strip().removeprefix("@"))
            return [account] if account is not None else []
        if selector == "forUsername":
            return []  # legacy usernames: the simulated channels have none
        ids = [i.strip() for i in value.split(",") if i.strip()]
        if len(ids) > MAX_IDS:
            return google_error(400, "invalidParameter", "youtube.parameter",
                                f"The request specifies more than {MAX_IDS} channel ids.")
        unique = {a.id: a for i in ids if (a := world.by_id(PLATFORM, i)) is not None}
        return list(unique.values())

    def _channel(self, account: SimAccount, parts: set[str], now: datetime) -> dict[str, object]:
        item: dict[str, object] = {"kind": "youtube#channel", "etag": _etag(account.id, now.date()), "id": account.id}
        if "snippet" in parts:
            item["snippet"] = _snippet(account)
        if "contentDetails" in parts:
            item["contentDetails"] = {"relatedPlaylists": {"likes": "", "uploads": "UU" + account.id[2:]}}
        if "statistics" in parts:
            figures = self.ctx.world.metrics(account, now)
            self.ctx.ledger.record(PLATFORM, account.id, figures, now)
            item["statistics"] = _statistics(figures)
        return item


def _snippet(account: SimAccount) -> dict[str, object]:
    description = f"{account.display_name}, a simulated YouTube channel."
    thumbnails = {
        name: {"url": f"https://yt3.ggpht.com/sim/{account.id}=s{size}-c-k-c0x00ffffff-no-rj", "width": size,
               "height": size}
        for name, size in (("default", 88), ("medium", 240), ("high", 800))
    }
    return {
        "title": account.display_name,
        "description": description,
        "customUrl": account.handle,
        "publishedAt": iso_z(account.created_at),
        "thumbnails": thumbnails,
        "localized": {"title": account.display_name, "description": description},
    }


def _statistics(figures: dict[str, float]) -> dict[str, object]:
    statistics: dict[str, object] = {"viewCount": str(int(figures["views"]))}
    if "subscribers" in figures:
        statistics["subscriberCount"] = str(int(figures["subscribers"]))
    statistics["hiddenSubscriberCount"] = "subscribers" not in figures
    statistics["videoCount"] = str(int(figures["videos"]))
    return statistics
