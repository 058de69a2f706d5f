"""The baseline: a bare aiohttp JSON handler, served the way the gateway is served (one process,
no access log). `/hello` answers a tiny JSON object; `/body` the bytes of BODY_FILE (the same
response the gateway gives, to tell the cost of the bytes from the cost of the gateway).
Usage: python bench/gateway/bare.py PORT [BODY_FILE]"""

import sys

import orjson
from aiohttp import web

BODY = orjson.dumps({"hello": "world"})


async def hello(_: web.Request) -> web.Response:
    return web.Response(body=BODY, content_type="application/json")


def serve(payload: bytes):  # type: ignore[no-untyped-def]
    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=payload, content_type="application/json")

    return handler


if __name__ == "__main__":
    app = web.Application()
    app.router.add_get("/hello", hello)
    app.router.add_get("/health/ready", hello)
    if len(sys.argv) > 2:
        with open(sys.argv[2], "rb") as source:
            app.router.add_get("/body", serve(source.read()))
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
