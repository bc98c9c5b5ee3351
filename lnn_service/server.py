"""Running the service: sockets, the fast path in front of aiohttp, worker processes."""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import signal
import socket

from aiohttp import web

from httpguard.aiohttp_guard import Guards
from httpguard.clock import Cut, Sweeper
from httpguard.refusals import RefusalLog
from lnn_service.app import create_app
from lnn_service.fastpath import FastProtocol
from lnn_service.service import Service
from lnn_service.settings import Settings

log = logging.getLogger("lnn_service")


def bind(host: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def start(settings: Settings, sock: socket.socket) -> tuple[web.AppRunner, asyncio.Server]:
    """Start serving on ``sock``; returns what :func:`stop` needs."""
    service = Service(settings)
    runner = web.AppRunner(
        create_app(settings, service), access_log=None, handle_signals=False, logger=RefusalLog()
    )
    await runner.setup()  # runs cleanup_ctx: loads and checks the model
    server = runner.server
    assert server is not None
    cut = service.stats.connections_cut

    def count(reason: Cut) -> None:
        cut[reason.value] += 1

    # aiohttp has no head or body timeout of its own: its protocol sits behind httpguard,
    # and the fast path runs the same clock until it hands a connection over.
    loop = asyncio.get_running_loop()
    sweeper = Sweeper(loop, settings.limits)
    guards = Guards(server, sweeper, count)
    if settings.fast_path:
        listener = await loop.create_server(
            lambda: FastProtocol(service, guards, sweeper), sock=sock
        )
    else:
        listener = await loop.create_server(guards, sock=sock)
    return runner, listener


async def stop(runner: web.AppRunner, listener: asyncio.Server) -> None:
    listener.close()
    await runner.cleanup()


async def _serve(settings: Settings) -> None:
    sock = bind(settings.host, settings.port, reuse_port=settings.workers > 1)
    runner, fast = await start(settings, sock)
    # Objects alive after start-up never die: keep the collector from walking them,
    # and collect less often, so large batches do not meet a full collection.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    log.info("lnn service on http://%s:%d", settings.host, sock.getsockname()[1])
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    await stop(runner, fast)


def run_worker(settings: Settings) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency, but stay runnable
        asyncio.run(_serve(settings))
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_serve(settings))


def serve(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM; ``settings.workers`` processes share the port."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if settings.workers == 1:
        run_worker(settings)
        return
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=run_worker, args=(settings,)) for _ in range(settings.workers)]
    for proc in procs:
        proc.start()

    def forward(signum: int, _frame: object) -> None:
        for proc in procs:
            if proc.pid is not None:
                proc.terminate()

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for proc in procs:
        proc.join()
