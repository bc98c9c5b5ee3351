"""A stream's life over real HTTP on 127.0.0.1: heartbeats while nothing happens (on the
injected clock), a client that stops reading is cut off without holding back one that
reads, and shutting the server down ends every stream instead of waiting for them."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from bot.clock import FixedClock, SystemClock
from bot.domain.actor import Actor
from bot.domain.events import Note
from bot.policy.model import Policy
from bot.services.live.feed import LiveFeed, LiveLimits
from bot.serving import make_runner
from db.repositories.timeline import SqlTimelineFeed
from db.store import SqlStore
from handlers.events import LIVE_FEED, event_stream
from tests.support.bot_app import API_AUTH, Client, MakeClient, bot_app
from tests.support.payloads.alertmanager import T0
from tests.support.sql_store import migrated_store
from tests.support.sse import open_stream
from tests.support.store_builders import new_incident

EVENTS = "/api/events"
# Bounds for a slow shared machine, not timings: aiohttp's own graceful shutdown would wait
# 60 s for a stream that did not end.
SHUTDOWN_BOUND_S = 30.0
DROP_BOUND_S = 60.0


async def test_a_quiet_stream_gets_a_heartbeat_when_the_clock_moves(
    aiohttp_client: MakeClient, sqlite_url: str, policy: Policy, clock: FixedClock
) -> None:
    client: Client = await aiohttp_client(bot_app(sqlite_url, policy, clock))
    live = await open_stream(client.session, str(client.make_url(EVENTS)), headers=API_AUTH)
    feed = client.app[LIVE_FEED]
    clock.advance(feed.limits.heartbeat)
    # Its next round sees the time: woken, in case it was not yet asleep when time moved.
    feed.wake()
    assert await live.next_comment() == "heartbeat"
    assert live.retry == [2000]
    live.close()


async def test_shutting_down_ends_every_stream_instead_of_waiting_for_them(
    sqlite_url: str, policy: Policy
) -> None:
    # The runner `firebreak serve` uses, on a real socket.
    runner = make_runner(bot_app(sqlite_url, policy))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with aiohttp.ClientSession() as http:
        streams = [
            await open_stream(http, f"http://127.0.0.1:{port}{EVENTS}", headers=API_AUTH)
            for _ in range(3)
        ]
        await asyncio.wait_for(runner.cleanup(), SHUTDOWN_BOUND_S)
        for live in streams:
            # Ended by the server: the end of the stream, not a reset.
            assert await live.rest() == []
            assert live.ended


async def test_shutting_down_cuts_off_a_stream_stuck_writing_to_a_client_that_reads_nothing(
    sqlite_url: str, policy: Policy
) -> None:
    # Committed before the app starts, so the stream's catch-up has megabytes to write.
    async with migrated_store(sqlite_url) as other, other.transaction() as uow:
        incident = await uow.incidents.create(new_incident(group_key=None))
        for n in range(600):
            await uow.timeline.append(
                incident.id, at=T0, actor=Actor("slack", "U1"), event=Note(text=f"{n:x<3000}")
            )
    app = bot_app(sqlite_url, policy)
    app.middlewares.append(small_send_buffer)
    runner = make_runner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    await app[LIVE_FEED].drain()
    loop = asyncio.get_running_loop()
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    stuck.setblocking(False)
    try:
        await loop.sock_connect(stuck, ("127.0.0.1", port))
        await loop.sock_sendall(
            stuck,
            f"GET {EVENTS}?after=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
            + f"Authorization: {API_AUTH['Authorization']}\r\n\r\n".encode(),
        )
        deadline = loop.time() + DROP_BOUND_S
        while app[LIVE_FEED].streams < 1:
            assert loop.time() < deadline
            await asyncio.sleep(0.01)
        # Its first page fills both socket buffers at once; the client never reads.
        await asyncio.sleep(0.5)
        await asyncio.wait_for(runner.cleanup(), SHUTDOWN_BOUND_S)
    finally:
        stuck.close()


@web.middleware
async def small_send_buffer(request: web.Request, handler: Handler) -> web.StreamResponse:
    transport = request.transport
    assert transport is not None
    transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    return await handler(request)


@pytest.fixture
async def sql(sqlite_url: str) -> AsyncIterator[SqlStore]:
    async with migrated_store(sqlite_url) as store:
        yield store


async def test_a_client_that_stops_reading_is_cut_off_and_one_that_reads_gets_everything(
    aiohttp_client: MakeClient, sql: SqlStore
) -> None:
    # The feed and the stream route alone, with a short queue and small socket buffers, so
    # the client that stops reading falls behind after a few hundred events, not the
    # hundred thousand that Linux's autotuned buffers hold on loopback.
    feed = LiveFeed(SqlTimelineFeed(sql.engine), SystemClock(), limits=LiveLimits(queue=32))
    app = web.Application(middlewares=[small_send_buffer])
    app[LIVE_FEED] = feed
    app.router.add_get(EVENTS, event_stream(lambda request: None))

    async def running(_app: web.Application) -> AsyncIterator[None]:
        await feed.start()
        yield
        await feed.stop()

    app.cleanup_ctx.append(running)
    client: Client = await aiohttp_client(app)
    async with sql.transaction() as uow:
        incident = await uow.incidents.create(new_incident(group_key=None))

    fast = await open_stream(client.session, str(client.make_url(EVENTS)))
    slow = socket.create_connection(("127.0.0.1", client.port))
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(f"GET {EVENTS} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    deadline = asyncio.get_running_loop().time() + DROP_BOUND_S
    while feed.streams < 2:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)

    # Batches of notes, each read whole by the fast client before the next: its queue never
    # holds more than a batch, while the slow client's fills once its socket buffers do.
    written = 0
    received: list[int] = []
    while feed.streams == 2:
        assert asyncio.get_running_loop().time() < deadline, "the slow client was never cut off"
        async with sql.transaction() as uow:
            for _ in range(20):
                await uow.timeline.append(
                    incident.id, at=T0, actor=Actor("slack", "U1"), event=Note(text="x" * 200)
                )
        written += 20
        feed.wake()
        received += [event.number for event in await fast.take(20)]
    assert feed.streams == 1
    # Everything the fast client was sent, in order, and it goes on.
    async with sql.transaction() as uow:
        await uow.timeline.append(
            incident.id, at=T0, actor=Actor("slack", "U1"), event=Note(text="end")
        )
    feed.wake()
    (last,) = await fast.take(1)
    received.append(last.number)
    assert last.json()["text"] == "Note: end"
    assert received == list(range(1, written + 2))
    # The slow client's connection was closed under it: what was buffered, then the end.
    slow.settimeout(DROP_BOUND_S)
    with contextlib.suppress(ConnectionResetError):
        while slow.recv(65536):
            pass
    slow.close()
    fast.close()
