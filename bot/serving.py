"""Serving the bot's app: the listener behind the slow-client guard, the signals that stop
it, and the garbage-collector tuning of the ack path. ``firebreak serve`` runs ``serve``."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal

import uvloop
from aiohttp import web
from sqlalchemy.engine import make_url

from bot.app import create_app
from bot.config import Settings
from handlers.deps import DEPS
from httpguard.aiohttp_guard import Guards
from httpguard.clock import Limits, Sweeper
from httpguard.refusals import RefusalLog

log = logging.getLogger("firebreak")


async def _tune_gc(_app: web.Application) -> None:
    """Keep the cyclic garbage collector off the ack path.

    Everything loaded at start-up (SQLAlchemy metadata, Bolt, the Kubernetes client) is
    frozen out of collection, and young collections run less often: in an alert storm the
    collector otherwise kept scanning that long-lived heap and paused the acknowledgements
    waiting behind it (docs/ingest-benchmark.md, "How it got here", has the figures).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def serve(settings: Settings, *, host: str, port: int) -> None:
    """Run the bot until SIGINT/SIGTERM."""
    app = create_app(settings)
    # After the cleanup contexts on purpose: on_startup runs them first.
    app.on_startup.append(_tune_gc)
    log.info(
        "firebreak serving on http://%s:%d (database %s)",
        host,
        port,
        redacted_database_url(settings),
    )
    # uvloop: the ack path of an alert storm is mostly event-loop and socket work.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_serve(app, settings, host, port))


def make_runner(app: web.Application) -> web.AppRunner:
    """The runner ``serve`` uses (tests that serve the app in-process use it too): no access
    log, run_app's 75 s keep-alive, and a request aiohttp's parser refuses (400) logged as
    one escaped INFO line instead of an ERROR with a traceback, since it is the sender's fault.
    """
    return web.AppRunner(app, access_log=None, keepalive_timeout=75.0, logger=RefusalLog())


async def _serve(app: web.Application, settings: Settings, host: str, port: int) -> None:
    # Not web.run_app: its sites hand connections straight to aiohttp, which has no timeout
    # for a request head or body (only for idle keep-alive), so slow clients are cut by
    # httpguard in front of aiohttp's protocol.
    runner = make_runner(app)
    await runner.setup()
    server = runner.server
    assert server is not None
    metrics = app[DEPS].metrics
    limits = Limits(settings.header_timeout, settings.body_min_rate, settings.body_grace)
    loop = asyncio.get_running_loop()
    guards = Guards(
        server, Sweeper(loop, limits), lambda reason: metrics.connection_cut(reason.value)
    )
    listener = await loop.create_server(guards, host, port, reuse_address=True, backlog=1024)
    stopping = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        await stopping.wait()
    finally:
        listener.close()
        await runner.cleanup()


def redacted_database_url(settings: Settings) -> str:
    """The database URL for logs: the password masked."""
    # SQLAlchemy's own rendering, so every URL form it parses is masked the same way.
    return make_url(settings.database_url).render_as_string(hide_password=True)
