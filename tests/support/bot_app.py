"""Build the real bot app (real store, real handlers) for in-process HTTP tests, and see what
its inbox did with the Alertmanager deliveries it acknowledged."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.app import PROCESSOR, create_app
from bot.clock import Clock
from bot.config import Settings
from bot.domain.incident import DeliveryOutcome
from bot.policy.model import Policy
from bot.services.incidents.inbox import Processed
from bot.services.incidents.inbox_backlog import inbox_backlog
from db.store import SqlStore
from db.tables import deliveries
from handlers.deps import DEPS

# An in-process client of the bot app, and pytest-aiohttp's ``aiohttp_client`` that makes one.
Client = TestClient[web.Request, web.Application]
MakeClient = Callable[[web.Application], Awaitable[Client]]

AM_TOKEN = "am-token"
API_TOKEN = "api-token"
PD_SECRET = "pd-secret-new"
PD_OLD_SECRET = "pd-secret-old"
AM_AUTH = {"Authorization": f"Bearer {AM_TOKEN}"}
API_AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
# Long enough for a slow, shared runner to process a storm's backlog; a bound, not a timing.
PROCESS_TIMEOUT_S = 240.0


def bot_app(database_url: str, policy: Policy, clock: Clock | None = None) -> web.Application:
    settings = Settings(
        database_url=database_url,
        alertmanager_token=AM_TOKEN,
        api_token=API_TOKEN,
        pagerduty_webhook_secrets=f"{PD_SECRET},{PD_OLD_SECRET}",
    )
    return create_app(settings, policy=policy, clock=clock)


async def process_inbox(
    app: web.Application, *, timeout: float = PROCESS_TIMEOUT_S
) -> list[Processed]:
    """Process everything the app has acknowledged, so a test can assert on the effects.

    The app's own background processor keeps running and may take deliveries first, so
    this drains (which waits for the background loop's turn to end) until the database
    counts no pending delivery at all. A delivery whose processing failed (it
    is deferred, still pending) fails the test at once with the processor's error. Returns
    what this call's drains processed (not what the background loop did).
    """
    processor = app[PROCESSOR]
    deadline = time.monotonic() + timeout
    done: list[Processed] = []
    while True:
        batch = await processor.drain()
        done.extend(batch)
        failed = [
            p for p in batch if p.outcome in (DeliveryOutcome.PENDING, DeliveryOutcome.FAILED)
        ]
        assert not failed, f"processing failed: {failed[0].detail}"
        pending = (await inbox_backlog(app[DEPS].store)).pending
        if pending == 0:
            return done
        assert time.monotonic() < deadline, f"{pending} deliveries still pending after {timeout}s"
        await asyncio.sleep(0.02)


@dataclass(frozen=True, slots=True)
class InboxRow:
    key: str
    outcome: str | None
    detail: str
    attempts: int


async def inbox_rows(database_url: str) -> list[InboxRow]:
    """Every row of the ``deliveries`` table, in arrival order, read with a store of its own."""
    store = SqlStore.from_url(database_url)
    try:
        async with store.engine.connect() as conn:
            c = deliveries.c
            rows = await conn.execute(select(c.key, c.outcome, c.detail, c.attempts).order_by(c.id))
            return [InboxRow(r.key, r.outcome, r.detail, r.attempts) for r in rows]
    finally:
        await store.close()
