"""``/metrics`` exposes the gauges firebreak's own alert rules read
(deploy/prometheus/firebreak-rules.yaml), under the names the rules use, read from the
database at each scrape and NaN while it cannot be read."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from bot.clock import FixedClock
from bot.domain.outbox import OutboundCall
from bot.policy.model import Policy
from db.migrate import upgrade_async
from db.store import SqlStore
from tests.support.bot_app import Client, MakeClient, bot_app
from tests.support.payloads.alertmanager import T0

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "firebreak-rules.yaml"
GAUGES = (
    "firebreak_inbox_pending",
    "firebreak_inbox_oldest_pending_seconds",
    "firebreak_outbox_pending",
    "firebreak_outbox_retrying",
    "firebreak_outbox_failed",
    "firebreak_outbox_oldest_due_seconds",
    "firebreak_actions_running",
    "firebreak_actions_overdue",
    "firebreak_actions_oldest_running_seconds",
)


async def scrape(client: Client) -> dict[str, float]:
    """Every unlabelled sample of the exposition, by name."""
    resp = await client.get("/metrics")
    assert resp.status == 200
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(await resp.text())
        for sample in family.samples
        if not sample.labels
    }


def _call(key: str) -> OutboundCall:
    return OutboundCall(ordering_key=key, method="chat.postMessage", args={"text": key})


async def test_the_outbox_gauges_count_what_the_database_holds(
    aiohttp_client: MakeClient, database_url: str, policy: Policy
) -> None:
    await upgrade_async(database_url)
    store = SqlStore.from_url(database_url)
    try:
        # Stored before the app starts; the retried row waits an hour, so the app's own
        # outbox worker (on the same fixed clock) leaves both rows as they are.
        async with store.transaction() as uow:
            retried = await uow.outbox.add(_call("retried"), at=T0)
            gave_up = await uow.outbox.add(_call("gave-up"), at=T0)
            claimed = await uow.outbox.claim(worker="w", now=T0, lease_seconds=60, limit=10)
            assert len(claimed) == 2
            await uow.outbox.reschedule(
                retried.id, worker="w", not_before=T0 + timedelta(hours=1), error="http 500"
            )
            await uow.outbox.mark_failed(gave_up.id, worker="w", at=T0, error="channel_not_found")
    finally:
        await store.close()
    client = await aiohttp_client(bot_app(database_url, policy, FixedClock(T0)))

    gauges = await scrape(client)

    assert {name: gauges[name] for name in GAUGES} == {
        "firebreak_inbox_pending": 0,
        "firebreak_inbox_oldest_pending_seconds": 0,
        "firebreak_outbox_pending": 1,
        "firebreak_outbox_retrying": 1,
        "firebreak_outbox_failed": 1,
        "firebreak_outbox_oldest_due_seconds": 0,  # the retry is not due for an hour
        "firebreak_actions_running": 0,
        "firebreak_actions_overdue": 0,
        "firebreak_actions_oldest_running_seconds": 0,
    }


async def test_every_database_gauge_is_nan_while_the_database_is_down(
    aiohttp_client: MakeClient, policy: Policy
) -> None:
    # A PostgreSQL URL on a loopback port nobody listens on.
    client = await aiohttp_client(bot_app("postgresql+asyncpg://postgres@127.0.0.1:9/none", policy))
    gauges = await scrape(client)
    assert [name for name in GAUGES if not math.isnan(gauges[name])] == []


async def test_every_metric_firebreaks_rules_read_is_exposed(
    aiohttp_client: MakeClient, database_url: str, policy: Policy
) -> None:
    await upgrade_async(database_url)
    client = await aiohttp_client(bot_app(database_url, policy))
    # A labelled counter has no sample until its first count: refuse one request.
    assert (await client.post("/webhooks/alertmanager", data=b"{}")).status == 401
    resp = await client.get("/metrics")
    exposed = {
        sample.name
        for family in text_string_to_metric_families(await resp.text())
        for sample in family.samples
    }
    doc = yaml.safe_load(RULES.read_text())
    read = {
        name
        for group in doc["groups"]
        for rule in group["rules"]
        for name in re.findall(r"\bfirebreak_[a-z_]+", rule["expr"])
    }
    assert "firebreak_auth_failures_total" in read
    assert read <= exposed, read - exposed
