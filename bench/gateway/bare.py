"""The baseline: a bare aiohttp JSON handler, served the way the gateway is served (one process,
no access log). Usage: python bench/gateway/bare.py PORT"""

import sys

import orjson
from aiohttp import web

BODY = orjson.dumps({"hello": "world"})


async def hello(_: web.Request) -> web.Response:
    return web.Response(body=BODY, content_type="application/json")


if __name__ == "__main__":
    app = web.Application()
    app.router.add_get("/hello", hello)
    app.router.add_get("/health/ready", hello)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
