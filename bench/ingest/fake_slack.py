"""The fake Slack for ``bench.ingest``'s latency scenario, as a process of its own.

    python -m bench.ingest.fake_slack --token xoxb-... --port P

It serves the project's fake Slack Web API (``tests/fakes/slack/``) with a wall clock, so
each call's arrival time can be compared with a delivery's ``received_at`` from the
database, plus two routes for the bench: ``GET /healthz`` and ``GET /bench/calls`` (every
call so far: method, arrival, answer, and the channel name it concerns when known).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import uvloop
from aiohttp import web

from tests.fakes.slack.server import FAKE_SLACK_KEY, FakeSlack, create_app


def calls(fake: FakeSlack) -> list[dict[str, Any]]:
    """What the bench needs of each recorded call; a message's channel id is resolved to the
    channel's name, which carries the incident id."""
    channels = fake.workspace.channels
    out = []
    for r in fake.requests:
        channel = r.args.get("channel")
        known = channels.get(channel) if isinstance(channel, str) else None
        out.append(
            {
                "method": r.method,
                "at": r.received_at,
                "status": r.status,
                "error": r.error,
                "name": r.args.get("name") if r.method == "conversations.create" else None,
                "channel_name": known.name if known is not None else None,
            }
        )
    return out


async def _calls(request: web.Request) -> web.Response:
    return web.json_response(calls(request.app[FAKE_SLACK_KEY]))


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def make_app(token: str) -> web.Application:
    app = create_app(FakeSlack(token=token, clock=time.time))
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/bench/calls", _calls)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True, help="the bot token firebreak is given")
    args = parser.parse_args()
    web.run_app(
        make_app(args.token),
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
