"""`/openapi.json` (built once from the app's router, then served from memory) and the `/docs`
page: Swagger UI from the `swagger-ui-bundle-v2` package's files, served by the gateway itself
(no CDN) under `/docs/assets/`, behind a Content-Security-Policy that allows only this origin."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import orjson
from aiohttp import web
from swagger_ui_bundle import swagger_ui_path

from sma_gateway import __version__
from sma_gateway.openapi.spec import build_spec
from sma_gateway.openapi.system import OPENAPI_PATH

DOCS_PATH = "/docs"
ASSETS_PREFIX = "/docs/assets/"
TITLE = "SMA API"
DESCRIPTION = (
    "Social media analytics: monitoring jobs, tracked accounts, metric series and analytics. "
    "Every error is `application/problem+json` (RFC 9457); lists are top-level JSON arrays, "
    "paged with `limit` and `cursor` and an RFC 8288 `Link` header."
)

# Only script, style, images and the document itself, all from this origin; Swagger UI's icons
# are data: URIs inside its stylesheet.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_ASSET_CACHE_CONTROL = "public, max-age=86400"
_MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
# The bundle's files the page uses; nothing else in the package is served.
_BUNDLE_FILES = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png")
_OWN_FILES = ("docs.js", "docs.css")

_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{TITLE}</title>
<link rel="icon" type="image/png" href="docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
<link rel="stylesheet" href="docs/assets/docs.css">
</head>
<body>
<div id="swagger-ui" data-spec-url="openapi.json"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/assets/swagger-ui-standalone-preset.js"></script>
<script src="docs/assets/docs.js"></script>
</body>
</html>
"""


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def _asset(name: str, body: bytes) -> Asset:
    media = _MEDIA_TYPES[Path(name).suffix]
    charset = "; charset=utf-8" if media.startswith("text/") else ""
    return Asset(body, media + charset, f'"{hashlib.sha256(body).hexdigest()[:32]}"')


def load_assets() -> dict[str, Asset]:
    """Read once at start-up: a few MB held in memory, served without touching the disk."""
    own = resources.files("sma_gateway.openapi") / "static"
    assets = {name: _asset(name, (Path(str(swagger_ui_path)) / name).read_bytes()) for name in _BUNDLE_FILES}
    assets.update({name: _asset(name, (own / name).read_bytes()) for name in _OWN_FILES})
    return assets


def _security_headers(response: web.StreamResponse) -> None:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"


def docs_routes() -> list[web.RouteDef]:
    """GET /openapi.json, /docs and /docs/assets/{name}; none needs an API key."""
    assets = load_assets()
    built: list[bytes] = []

    async def openapi_document(request: web.Request) -> web.Response:
        # The router is frozen once the app runs, so the first build is the only one needed.
        if not built:
            built.append(orjson.dumps(build_spec(request.app.router, title=TITLE, version=__version__,
                                             description=DESCRIPTION)))
        response = web.Response(body=built[0], content_type="application/json")
        response.headers["Cache-Control"] = "no-cache"
        return response

    async def docs_page(_: web.Request) -> web.Response:
        response = web.Response(text=_PAGE, content_type="text/html", charset="utf-8")
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["Cache-Control"] = "no-cache"
        _security_headers(response)
        return response

    async def docs_asset(request: web.Request) -> web.Response:
        asset = assets.get(request.match_info["name"])
        if asset is None:
            raise web.HTTPNotFound()
        headers = {"ETag": asset.etag, "Cache-Control": _ASSET_CACHE_CONTROL}
        if asset.etag in request.headers.get("If-None-Match", ""):
            response = web.Response(status=304, headers=headers)
        else:
            response = web.Response(body=asset.body, headers={**headers, "Content-Type": asset.content_type})
        _security_headers(response)
        return response

    return [
        web.get(OPENAPI_PATH, openapi_document),
        web.get(DOCS_PATH, docs_page),
        web.get(ASSETS_PREFIX + "{name}", docs_asset),
    ]
