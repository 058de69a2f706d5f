"""The hot read path: a repeated cached read answered from this process's memory without running
the handler, the deadline, or an awaited auth or rate-limit step.

Dashboards ask the same questions over and over: the same account, metric and range, many times
a minute. A cached read's own work (parsing the query, naming the cache entry, reading the tier)
costs more than the rest of the request, so the first time a handler serves a URL it remembers
what that URL means: the cache entry (`account_id`, variant), the output format, and how to take
the body out of the cached value. From then on, a GET of that exact URL (path, query and
`Accept`) is answered here when everything a full request would check passes without a wait:

- the bearer key is one this process verified recently (the secret is still hashed and compared
  in constant time) and has the `read` scope, and its `last_used_at` is not due for a write;
- the key's rate-limit lease can pay for the request, or the key is unlimited;
- the entry is in the in-process tier (which is coherent across replicas, see `local_cache`),
  and the body needs no `Link` header.

Anything else (an unknown or revoked key, a lease to renew, a 429, a miss, a page with a next
one, HEAD) goes down the full path, which answers exactly as it always does. The hot path runs
before routing and before any middleware layer (`Service(fast_path=...)`: routing and each
layer cost more than a cached read's own work); its answers still get the request id and
metrics under the route that first served the URL, and the response policies finish them
(conditional GET, CORS, access log) as they finish every other response.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from sma_common.http_server import FastAnswer, route_template
from sma_gateway.auth import PRINCIPAL, KeyAuthenticator
from sma_gateway.cache import ReadThroughCache
from sma_gateway.rate_limit import KeyRateLimiter
from sma_gateway.responses import cached_response
from sma_gateway.schemas import OutputFormat

# The body in a cached value, or None when this value needs the full path (e.g. a `Link` header).
BodyOf = Callable[[bytes], bytes | None]


def whole_value(value: bytes) -> bytes:
    """For values that are the body as it is."""
    return value


@dataclass(frozen=True, slots=True)
class HotRead:
    account_id: int
    variant: str
    output: OutputFormat
    body_of: BodyOf


class HotReads:
    """What each recently served URL means (bounded), and the fast path that serves it again."""

    _MAX_URLS = 4096
    _MAX_ACCEPT = 256  # a longer `Accept` is no dashboard's: it takes the full path every time

    def __init__(self, cache: ReadThroughCache, authenticator: KeyAuthenticator, limiter: KeyRateLimiter) -> None:
        self._cache = cache
        self._authenticator = authenticator
        self._limiter = limiter
        self._urls: dict[tuple[str, str], tuple[HotRead, str]] = {}  # (path, Accept) -> read, route
        self._served = 0

    def remember(self, request: web.Request, read: HotRead) -> None:
        """Called by a handler that has just served `request` through the cache."""
        accept = request.headers.get("Accept", "")
        if request.method != "GET" or len(accept) > self._MAX_ACCEPT:
            return
        if len(self._urls) >= self._MAX_URLS:
            self._urls.clear()  # bounded against clients minting URLs; the hot ones return at once
        self._urls[(request.raw_path, accept)] = read, route_template(request)

    def serve(self, request: web.Request) -> FastAnswer | None:
        """The response when the hot path can give it, else None (the full path answers). Never
        waits."""
        known = self._urls.get((request.raw_path, request.headers.get("Accept", "")))
        if known is None or request.method != "GET":
            return None
        read, route = known
        principal = self._authenticator.verified(request.headers.get("Authorization"), "read")
        if principal is None:
            return None
        entry = self._cache.local(read.account_id, read.variant)
        body = None if entry is None else read.body_of(entry.value)
        if entry is None or body is None:
            return None
        limit_headers = self._limiter.spend(principal)  # last: a request sent down the full path pays there
        if limit_headers is None:
            return None
        self._cache.record_local()
        self._served += 1
        request[PRINCIPAL] = principal
        return FastAnswer(cached_response(body, read.output, "local", entry.etag, limit_headers), route)

    def details(self) -> dict[str, object]:
        """For `/health/detailed`: URLs known and requests this path answered since start."""
        return {"urls": len(self._urls), "served": self._served}
