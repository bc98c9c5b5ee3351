"""The real bot app, with the fake Slack configured, served on loopback from an event loop in
a thread of its own: a synchronous test (Hypothesis drives one) talks to it over real
sockets, and the app's log records still reach the test's ``caplog``."""

from __future__ import annotations

import asyncio
import http.client
import threading
from collections.abc import Coroutine, Iterator, Mapping
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy import func, select

from bot.app import create_app
from bot.policy.model import Policy
from bot.serving import make_runner
from db.store import SqlStore
from db.tables import metadata
from tests.fakes.slack.server import FakeSlack, run_fake_slack
from tests.fakes.slack.testing import seeded_fake
from tests.support.bot_app import PD_SECRET
from tests.support.slack_bot import slack_bot_settings

T = TypeVar("T")
START_TIMEOUT_S = 60.0


@dataclass
class ThreadedBot:
    address: tuple[str, int]
    fake: FakeSlack
    database_url: str
    loop: asyncio.AbstractEventLoop

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the app's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(START_TIMEOUT_S)

    def stored_rows(self) -> dict[str, int]:
        """Rows in every table of the schema, by table (alembic's own table aside)."""
        return self.run(_count_rows(self.database_url))


async def _count_rows(database_url: str) -> dict[str, int]:
    store = SqlStore.from_url(database_url)
    try:
        async with store.engine.connect() as conn:
            counts = {}
            for table in metadata.sorted_tables:
                counts[table.name] = (
                    await conn.execute(select(func.count()).select_from(table))
                ).scalar_one()
            return counts
    finally:
        await store.close()


@contextmanager
def threaded_bot(database_url: str, policy: Policy) -> Iterator[ThreadedBot]:
    """Serve the app (every signed route configured) until the block ends."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="threaded-bot", daemon=True)
    thread.start()
    stack = AsyncExitStack()

    async def start() -> tuple[FakeSlack, int]:
        fake = seeded_fake()
        triage = fake.workspace.add_channel("incident-triage")
        slack_url = await stack.enter_async_context(run_fake_slack(fake))
        settings = slack_bot_settings(
            database_url, slack_url, triage.id, pagerduty_webhook_secrets=PD_SECRET
        )
        runner = make_runner(create_app(settings, policy=policy))
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port: int = runner.addresses[0][1]
        return fake, port

    try:
        fake, port = asyncio.run_coroutine_threadsafe(start(), loop).result(START_TIMEOUT_S)
        yield ThreadedBot(("127.0.0.1", port), fake, database_url, loop)
    finally:
        asyncio.run_coroutine_threadsafe(stack.aclose(), loop).result(START_TIMEOUT_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(START_TIMEOUT_S)
        loop.close()


class KeepAliveClient:
    """One kept-alive HTTP/1.1 connection (reopened when the server closes it)."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address
        self.conn = http.client.HTTPConnection(*address, timeout=30)

    def post(
        self, path: str, body: bytes, headers: Mapping[str, str], *, raw_bytes: bool = False
    ) -> int:
        """POST and return the status. Header values go as UTF-8 or, with ``raw_bytes``, each
        character below U+0100 as its one byte (so 0x80-0xFF arrive as bytes that are not
        UTF-8, as a forger's may)."""
        for attempt in (1, 2):
            try:
                raw = {name: _wire(value, raw_bytes) for name, value in headers.items()}
                self.conn.request("POST", path, body=body, headers=raw)
                response = self.conn.getresponse()
                response.read()
                return response.status
            except (http.client.RemoteDisconnected, ConnectionError):
                # The server may close a kept-alive connection between requests; once only.
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def _wire(value: str, raw_bytes: bool) -> bytes:
    if not raw_bytes:
        return value.encode()  # http.client would encode text as latin-1 only
    return b"".join(c.encode("latin-1") if ord(c) < 0x100 else c.encode() for c in value)
