"""The ceiling for ``bench.ingest``: an aiohttp server that reads the body and answers ``{}``.

It runs as its own process on uvloop, like ``firebreak serve``, so both pay the same HTTP
parsing, event-loop and socket costs, and the difference between them is what ingestion adds.

    python -m bench.ingest.noop --port 8099
"""

from __future__ import annotations

import argparse

import uvloop
from aiohttp import web

# The same body limit as firebreak's, so large storms are not refused here either.
MAX_BODY_BYTES = 32 * 1024 * 1024


async def accept(request: web.Request) -> web.Response:
    """Read the whole body (firebreak must too) and answer without looking at it."""
    await request.read()
    return web.json_response({})


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def make_app() -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post("/webhooks/alertmanager", accept)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(
        make_app(),
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
