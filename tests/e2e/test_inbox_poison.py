"""A poison delivery against a real ``firebreak serve``, on SQLite and on PostgreSQL.

Before issue 13 intake acknowledged an Alertmanager delivery whose ``startsAt`` has no UTC
value (``9999-12-31T23:00:00-14:00``); processing it raised ``OverflowError``, which passed for
"storage unavailable": the inbox paused on it for ever, across restarts, while ``/readyz``
said ready and ``firebreak_inbox_pending`` said 0. Now intake refuses such a delivery, and a
row an older version stored is settled as failed without holding up the deliveries behind
it; the gauges and ``/readyz`` read the backlog from the database.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import update

from bot.domain.incident import Delivery, Source
from db.store import SqlStore
from db.tables import deliveries
from tests.e2e.conftest import Processes
from tests.support.bot_app import inbox_rows
from tests.support.inbox import poison_payload
from tests.support.payloads.alertmanager import alert, body, webhook
from tests.support.processes import (
    ALERTMANAGER_TOKEN,
    Service,
    firebreak_db_upgrade,
    firebreak_env,
    poll_until,
    scrape_metric,
)

pytestmark = [pytest.mark.slow]

AM_AUTH = {"Authorization": f"Bearer {ALERTMANAGER_TOKEN}"}
READY_MAX_INBOX_AGE_S = 60
# How long ago the held-back delivery arrived: well past the readiness bound.
HELD_BACK_AGE_S = 600


async def post_alertmanager(
    http: aiohttp.ClientSession, bot: Service, payload: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    async with http.post(
        bot.base_url + "/webhooks/alertmanager", data=json.dumps(payload), headers=AM_AUTH
    ) as response:
        return response.status, await response.json()


async def readyz(http: aiohttp.ClientSession, bot: Service) -> tuple[int, dict[str, Any]]:
    async with http.get(bot.base_url + "/readyz") as response:
        return response.status, await response.json()


async def store_as_an_older_version_did(database_url: str) -> None:
    """The rows a version without the intake check left behind: the poison it acknowledged,
    and an earlier delivery still deferred (held back for an hour after failed attempts)."""
    now = datetime.now(UTC)
    held = webhook("held-back", [alert("LNNHighMemory", "warning", instance="held")])
    rows = [
        Delivery(
            Source.ALERTMANAGER,
            "held-back",
            now - timedelta(seconds=HELD_BACK_AGE_S),
            body(held),
            "firing",
        ),
        Delivery(Source.ALERTMANAGER, "poison", now, body(poison_payload("poison")), "firing"),
    ]
    store = SqlStore.from_url(database_url)
    try:
        async with store.transaction() as uow:
            await uow.deliveries.enqueue(rows)
        async with store.engine.begin() as conn:
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.key == "held-back")
                .values(attempts=3, not_before=now + timedelta(hours=1), detail="an old failure")
            )
    finally:
        await store.close()


async def release_held_back(database_url: str) -> None:
    """What the passing hour would do: the held-back delivery becomes due."""
    store = SqlStore.from_url(database_url)
    try:
        async with store.engine.begin() as conn:
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.key == "held-back")
                .values(not_before=datetime.now(UTC) - timedelta(seconds=1))
            )
    finally:
        await store.close()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def test_a_poison_delivery_no_longer_wedges_the_inbox_and_the_inbox_tells_the_truth(
    processes: Processes,
    http: aiohttp.ClientSession,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    backend: str,
) -> None:
    database_url: str = request.getfixturevalue(f"{backend}_url")
    env = firebreak_env(
        database_url, FIREBREAK_READY_MAX_INBOX_AGE_SECONDS=str(READY_MAX_INBOX_AGE_S)
    )
    if backend == "postgres":
        firebreak_db_upgrade(env, log_path=tmp_path / "db-upgrade.log", cwd=tmp_path)

    # Intake now refuses the poison, naming the field (it was acknowledged with a 202).
    first = await processes.firebreak("bot-before-restart", env=env)
    status, answer = await post_alertmanager(http, first, poison_payload("poison"))
    assert status == 400, answer
    assert "$.alerts[0].startsAt" in answer["error"], answer
    first.stop()
    assert await inbox_rows(database_url) == []

    # A database an older version left a poison row in; the bot restarts on it.
    await store_as_an_older_version_did(database_url)
    bot = await processes.firebreak("bot", env=env)

    sent = time.monotonic()
    status, answer = await post_alertmanager(
        http, bot, webhook("good", [alert("LNNServiceDown", instance="good")])
    )
    assert status == 202, answer

    async def good_processed() -> float | None:
        processed = await scrape_metric(
            http, bot.base_url, "firebreak_inbox_processed_total", outcome="processed"
        )
        return time.monotonic() - sent if processed >= 1 else None

    waited = await poll_until(
        good_processed, timeout=30, interval=0.02, what="the good delivery", context=bot.describe
    )
    # The bound: behind the poison, a good delivery is processed within a second.
    assert waited < 1.0, f"processed {waited:.2f}s after its 202\n{bot.describe()}"

    rows = {row.key: row for row in await inbox_rows(database_url)}
    assert rows["poison"].outcome == "failed", rows["poison"]
    assert "$.alerts[0].startsAt" in rows["poison"].detail, rows["poison"]
    assert rows["held-back"].outcome == "pending"
    assert rows[answer["delivery"]].outcome == "processed"

    async def metric(name: str, **labels: str) -> float:
        return await scrape_metric(http, bot.base_url, name, **labels)

    assert await metric("firebreak_inbox_processed_total", outcome="failed") == 1

    # Read from the database: the held-back row counts, though this process never touched it.
    assert await metric("firebreak_inbox_pending") == 1
    assert await metric("firebreak_inbox_oldest_pending_seconds") >= HELD_BACK_AGE_S
    status, ready = await readyz(http, bot)
    assert status == 200
    assert ready["status"] == "degraded", ready
    assert "FIREBREAK_READY_MAX_INBOX_AGE_SECONDS" in ready["reason"], ready
    assert ready["inbox"]["pending"] == 1
    assert ready["inbox"]["oldest_pending_seconds"] >= HELD_BACK_AGE_S

    if backend == "postgres":
        # Another replica, which has processed nothing itself, sees the same backlog.
        other = await processes.firebreak("other-replica", env=env)
        other_pending = await scrape_metric(http, other.base_url, "firebreak_inbox_pending")
        assert other_pending == 1
        assert (await readyz(http, other))[1]["status"] == "degraded"

    # Once the held-back delivery is due and processed, the inbox reads empty and ready.
    await release_held_back(database_url)

    async def settled() -> dict[str, Any] | None:
        # Ready alone is not enough: the released delivery is young enough to read "ready"
        # before the processor's next poll takes it.
        status, ready = await readyz(http, bot)
        done = status == 200 and ready["status"] == "ready" and ready["inbox"]["pending"] == 0
        return ready if done else None

    ready = await poll_until(settled, timeout=30, what="/readyz ready", context=processes.logs)
    assert ready["inbox"] == {"pending": 0, "oldest_pending_seconds": 0.0}
    assert await metric("firebreak_inbox_pending") == 0
    assert await metric("firebreak_inbox_oldest_pending_seconds") == 0
