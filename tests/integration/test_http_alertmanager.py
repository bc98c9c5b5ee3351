"""``/webhooks/alertmanager`` and the API over real HTTP against the real app and store.

Intake is an inbox: a valid, authenticated delivery is stored and answered 202 at once, and
the app's inbox processor applies it afterwards. Tests that look at incidents, the timeline or
the processing metrics first process the inbox (``process_inbox``)."""

from __future__ import annotations

import asyncio
import io
import json
import math
import time
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import ClientResponse
from prometheus_client.parser import text_string_to_metric_families

from bot.app import PROCESSOR, create_app
from bot.clock import FixedClock
from bot.config import Settings
from bot.domain.incident import Delivery, Source
from bot.policy.model import Policy
from bot.services.incidents.inbox_backlog import inbox_backlog
from db.migrate import upgrade_async
from db.store import SqlStore
from handlers.deps import DEPS
from tests.support.bot_app import (
    AM_AUTH,
    AM_TOKEN,
    API_AUTH,
    API_TOKEN,
    Client,
    InboxRow,
    MakeClient,
    bot_app,
    inbox_rows,
    process_inbox,
)
from tests.support.payloads.alertmanager import T0, alert, resolved, webhook

AM = "alertmanager"


@pytest.fixture
async def client(aiohttp_client: MakeClient, database_url: str, policy: Policy) -> Client:
    # `serve` migrates SQLite itself; PostgreSQL deployments run `firebreak db upgrade`.
    await upgrade_async(database_url)
    return await aiohttp_client(bot_app(database_url, policy))


async def post_am(client: Client, payload: dict[str, Any] | bytes, **headers: str) -> Any:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return await client.post("/webhooks/alertmanager", data=data, headers={**AM_AUTH, **headers})


async def accepted_key(resp: ClientResponse) -> str:
    """The delivery key of a 202 acknowledgement, checking the whole answer."""
    assert resp.status == 202, await resp.text()
    assert resp.content_type == "application/json"
    answer = await resp.json()
    assert set(answer) == {"status", "delivery"}, answer
    assert answer["status"] == "accepted"
    key = answer["delivery"]
    assert isinstance(key, str)
    assert key
    return key


async def metric(client: Client, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels`` (0 if none)."""
    text = await (await client.get("/metrics")).text()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


async def incidents(client: Client, query: str = "") -> list[dict[str, Any]]:
    resp = await client.get(f"/api/incidents{query}", headers=API_AUTH)
    assert resp.status == 200
    listing: list[dict[str, Any]] = (await resp.json())["incidents"]
    return listing


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic am-token"}],
    ids=["missing", "wrong", "wrong-scheme"],
)
async def test_unauthenticated_delivery_is_refused_and_counted(
    client: Client, database_url: str, headers: dict[str, str]
) -> None:
    resp = await client.post(
        "/webhooks/alertmanager", data=json.dumps(webhook("g", [alert("X")])), headers=headers
    )
    assert resp.status == 401
    assert await metric(client, "firebreak_auth_failures_total", source=AM) == 1
    await process_inbox(client.app)
    assert await incidents(client) == []
    # Refused before the inbox: nothing was stored, nothing acknowledged.
    assert await inbox_rows(database_url) == []
    assert await metric(client, "firebreak_deliveries_total", source=AM, outcome="accepted") == 0


async def test_malformed_json_is_400_with_a_clear_message_and_nothing_stored(
    client: Client, database_url: str
) -> None:
    resp = await post_am(client, b'{"version": "4", "alerts": [')
    assert resp.status == 400
    assert "not valid JSON" in (await resp.json())["error"]
    assert await inbox_rows(database_url) == []


async def test_wrong_shape_is_400_naming_the_field_and_nothing_stored(
    client: Client, database_url: str
) -> None:
    payload = webhook("g", [alert("X")])
    del payload["groupKey"]
    resp = await post_am(client, payload)
    assert resp.status == 400
    assert "groupKey" in (await resp.json())["error"]
    assert await inbox_rows(database_url) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            json.dumps({**webhook("g", [alert("LNNServiceDown")]), "version": "3"}).encode(),
            "unsupported Alertmanager webhook version '3' (expected 4)",
        ),
        (b'["version", "4"]', "not an Alertmanager webhook payload"),
        (b'"hello"', "not an Alertmanager webhook payload"),
        (json.dumps({"receiver": "firebreak"}).encode(), "not an Alertmanager webhook payload"),
    ],
    ids=["version-3", "array", "string", "no-fields"],
)
async def test_valid_json_that_is_not_a_v4_payload_is_400_and_nothing_is_stored(
    client: Client, database_url: str, body: bytes, message: str
) -> None:
    resp = await post_am(client, body)
    assert resp.status == 400
    assert message in (await resp.json())["error"]
    # Validated before storing: a sender hears about a bad payload now, and the inbox holds
    # only deliveries the processor can apply.
    assert await inbox_rows(database_url) == []
    await process_inbox(client.app)
    assert await incidents(client) == []
    assert await metric(client, "firebreak_deliveries_total", source=AM, outcome="rejected") == 1
    assert await metric(client, "firebreak_deliveries_total", source=AM, outcome="accepted") == 0
    assert await metric(client, "firebreak_ingest_seconds_count", source=AM) == 0


async def test_unknown_fields_are_accepted_and_processed(client: Client, database_url: str) -> None:
    payload = webhook("g", [{**alert("LNNHighLatency"), "newField": {"x": 1}}], futureField=[1, 2])
    key = await accepted_key(await post_am(client, payload))
    await process_inbox(client.app)
    assert [(i["id"], i["group_key"]) for i in await incidents(client)] == [(1, "g")]
    assert await inbox_rows(database_url) == [InboxRow(key, "processed", "", 0)]


async def test_bodies_beyond_aiohttps_default_limit_are_accepted_and_processed(
    client: Client, database_url: str
) -> None:
    big = alert("LNNHighLatency")
    big["annotations"]["description"] = "x" * (5 * 1024 * 1024)
    data = io.BytesIO(json.dumps(webhook("g", [big])).encode())
    resp = await client.post("/webhooks/alertmanager", data=data, headers=AM_AUTH)
    key = await accepted_key(resp)
    await process_inbox(client.app)
    assert await inbox_rows(database_url) == [InboxRow(key, "processed", "", 0)]
    detail = await (await client.get("/api/incidents/1", headers=API_AUTH)).json()
    assert len(detail["alerts"][0]["annotations"]["description"]) == 5 * 1024 * 1024


async def test_a_delivery_is_acknowledged_stored_pending_and_processed_afterwards(
    client: Client, database_url: str
) -> None:
    app = client.app
    processor = app[PROCESSOR]
    # Hold the app's background processing, so the state between the acknowledgement and
    # the processing can be seen; the test then processes the inbox itself, as the app would.
    await processor.stop()

    key = await accepted_key(await post_am(client, webhook("g1", [alert("LNNServiceDown")])))
    # Persist, then acknowledge: the 202 came after the row was committed, pending, and
    # before anything was classified or opened.
    assert await inbox_rows(database_url) == [InboxRow(key, "pending", "", 0)]
    assert await incidents(client) == []
    assert await metric(client, "firebreak_deliveries_total", source=AM, outcome="accepted") == 1
    assert await metric(client, "firebreak_ingest_seconds_count", source=AM) == 1
    assert await metric(client, "firebreak_incidents_opened_total") == 0
    assert await metric(client, "firebreak_inbox_processed_total") == 0
    assert (await inbox_backlog(app[DEPS].store)).pending == 1
    assert await metric(client, "firebreak_inbox_pending") == 1

    done = await processor.drain()
    assert [(p.pending.delivery.key, p.outcome.value) for p in done] == [(key, "processed")]
    result = done[0].result
    assert result is not None
    assert [i.id for i in result.opened] == [1]
    assert result.new_alerts == 1
    assert await inbox_rows(database_url) == [InboxRow(key, "processed", "", 0)]
    (incident,) = await incidents(client)
    assert (incident["id"], incident["severity"], incident["status"]) == (1, "P0", "triggered")
    assert await metric(client, "firebreak_incidents_opened_total", severity="P0", source=AM) == 1
    assert (
        await metric(client, "firebreak_inbox_processed_total", source=AM, outcome="processed") == 1
    )
    assert await metric(client, "firebreak_inbox_lag_seconds_count", source=AM) == 1
    assert (await inbox_backlog(app[DEPS].store)).pending == 0
    assert await metric(client, "firebreak_inbox_pending") == 0
    # The acknowledgement metrics moved only at the acknowledgement.
    assert await metric(client, "firebreak_deliveries_total", source=AM, outcome="accepted") == 1
    assert await metric(client, "firebreak_ingest_seconds_count", source=AM) == 1


async def test_the_background_processor_applies_a_delivery_without_being_asked(
    client: Client, database_url: str
) -> None:
    key = await accepted_key(await post_am(client, webhook("g1", [alert("LNNServiceDown")])))

    # Bounded polling of the app's own loop (woken by intake's commit); no drain here.
    deadline = time.monotonic() + 30
    while [r.outcome for r in await inbox_rows(database_url)] != ["processed"]:
        assert time.monotonic() < deadline, await inbox_rows(database_url)
        await asyncio.sleep(0.05)
    assert await inbox_rows(database_url) == [InboxRow(key, "processed", "", 0)]
    assert [i["id"] for i in await incidents(client)] == [1]


async def test_delivery_lifecycle_over_http_and_api(client: Client, database_url: str) -> None:
    a = alert("LNNServiceDown")
    keys = [
        await accepted_key(await post_am(client, webhook("g1", [a]))),
        await accepted_key(await post_am(client, webhook("g1", [a]))),
        await accepted_key(
            await post_am(client, webhook("g2", [alert("LNNHighMemory", "warning")]))
        ),
    ]
    assert len(set(keys)) == 3, "every receipt is its own inbox row"
    await process_inbox(client.app)
    listing = await incidents(client)
    # Processed in arrival order: g1's incident is #1.
    assert [(i["id"], i["severity"]) for i in listing] == [(2, "P2"), (1, "P0")]
    assert [i["id"] for i in await incidents(client, "?severity=P0")] == [1]

    keys.append(
        await accepted_key(await post_am(client, webhook("g1", [resolved(a, T0.replace(hour=11))])))
    )
    await process_inbox(client.app)
    assert [i["id"] for i in await incidents(client, "?status=open")] == [2]
    detail = await (await client.get("/api/incidents/1", headers=API_AUTH)).json()
    assert detail["status"] == "resolved"
    assert [a["status"] for a in detail["alerts"]] == ["resolved"]
    # The escalation worker's entries (the P0's first level, paging not configured) land
    # whenever it runs, among these: tests/integration/test_escalation_app.py covers them.
    kinds = [
        e["kind"]
        for e in detail["timeline"]
        if not e["kind"].startswith(("escalation.", "notification."))
    ]
    # A P0 gets a graph; without FIREBREAK_PROMETHEUS_URL the opening's transaction says why
    # not, after whatever else that transaction applied (a repeat in the same inbox batch
    # comes before it): once, after the opening.
    assert kinds.count("graph.unavailable") == 1
    assert kinds.index("graph.unavailable") > kinds.index("alert.firing")
    assert [k for k in kinds if k != "graph.unavailable"] == [
        "incident.opened",
        "alert.firing",
        "alert.repeat",
        "alert.resolved",
        "incident.resolved",
    ]
    # Every receipt was stored once, in order, and settled as processed.
    assert await inbox_rows(database_url) == [InboxRow(k, "processed", "", 0) for k in keys]
    assert await metric(client, "firebreak_incidents_opened_total", severity="P0", source=AM) == 1
    assert await metric(client, "firebreak_incidents_opened_total", severity="P2", source=AM) == 1
    assert await metric(client, "firebreak_deliveries_total", source=AM, outcome="accepted") == 4
    assert await metric(client, "firebreak_deliveries_total", source=AM) == 4
    assert await metric(client, "firebreak_ingest_seconds_count", source=AM) == 4
    assert (
        await metric(client, "firebreak_inbox_processed_total", source=AM, outcome="processed") == 4
    )
    assert await metric(client, "firebreak_inbox_processed_total") == 4
    assert await metric(client, "firebreak_inbox_lag_seconds_count", source=AM) == 4
    assert await metric(client, "firebreak_inbox_pending") == 0


async def test_resolved_alerts_of_an_unknown_group_are_kept_as_ignored(
    client: Client, database_url: str
) -> None:
    gone = resolved(alert("LNNHighLatency"), T0.replace(hour=11))
    key = await accepted_key(await post_am(client, webhook("never-seen", [gone])))
    await process_inbox(client.app)
    assert await incidents(client) == []
    (row,) = await inbox_rows(database_url)
    assert (row.key, row.outcome) == (key, "ignored")
    assert "no incident" in row.detail
    assert (
        await metric(client, "firebreak_inbox_processed_total", source=AM, outcome="ignored") == 1
    )
    assert await metric(client, "firebreak_incidents_opened_total") == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("startsAt", "9999-12-31T23:00:00-14:00"),
        ("startsAt", "0001-01-01T00:00:00+14:00"),
        ("endsAt", "9999-12-31T23:59:00-01:00"),
        ("startsAt", "not a time"),
    ],
)
async def test_a_time_with_no_utc_value_is_refused_at_intake_naming_the_field(
    client: Client, database_url: str, field: str, value: str
) -> None:
    # Accepted with 202 before, it then failed in processing and wedged the inbox.
    payload = webhook("g", [alert("LNNServiceDown"), alert("LNNHighLatency")])
    payload["alerts"][1][field] = value
    resp = await post_am(client, payload)
    assert resp.status == 400, await resp.text()
    assert f"$.alerts[1].{field}" in (await resp.json())["error"]
    assert await inbox_rows(database_url) == []
    assert await metric(client, "firebreak_deliveries_total", source=AM, outcome="accepted") == 0


async def test_api_requires_its_token_and_validates_filters(client: Client) -> None:
    assert (await client.get("/api/incidents")).status == 401
    assert (await client.get("/api/incidents", headers=AM_AUTH)).status == 401
    bad = await client.get("/api/incidents?severity=P7", headers=API_AUTH)
    assert bad.status == 400
    assert "severity" in (await bad.json())["error"]
    assert (await client.get("/api/incidents/999", headers=API_AUTH)).status == 404
    assert (await client.get("/api/incidents/abc", headers=API_AUTH)).status == 400


async def test_health_and_readiness(client: Client) -> None:
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status == 200


async def test_readiness_and_the_inbox_gauges_read_the_database(
    aiohttp_client: MakeClient, database_url: str, policy: Policy
) -> None:
    await upgrade_async(database_url)
    clock = FixedClock(T0)
    settings = Settings(
        database_url=database_url,
        alertmanager_token=AM_TOKEN,
        api_token=API_TOKEN,
        inbox_retry_base=0.25,
        inbox_max_attempts=2,
        ready_max_inbox_age=60,
    )
    client = await aiohttp_client(create_app(settings, policy=policy, clock=clock))
    timings = client.app[PROCESSOR].timings
    assert (timings.retry_base, timings.max_attempts) == (0.25, 2)
    # A delivery this process never saw: another replica deferred it for an hour.
    raw = json.dumps(webhook("g", [alert("LNNServiceDown")])).encode()
    store = SqlStore.from_url(database_url)
    try:
        async with store.transaction() as uow:
            await uow.deliveries.enqueue([Delivery(Source.ALERTMANAGER, "held", T0, raw, "firing")])
            # Waiting out the app's own processor's turn (PostgreSQL's advisory lock); the row
            # is deferred before it is committed, so that processor never sees it due.
            (held,) = await uow.deliveries.take_pending(
                source=Source.ALERTMANAGER, now=T0, limit=1, wait=True
            )
            await uow.deliveries.defer(held.id, not_before=T0 + timedelta(hours=1), error="boom")
    finally:
        await store.close()
    ready = await client.get("/readyz")
    assert (ready.status, await ready.json()) == (
        200,
        {"status": "ready", "inbox": {"pending": 1, "oldest_pending_seconds": 0.0}},
    )
    assert await metric(client, "firebreak_inbox_pending") == 1
    clock.advance(61)
    ready = await client.get("/readyz")
    answer = await ready.json()
    assert ready.status == 200
    assert answer["status"] == "degraded"
    assert answer["reason"] == (
        "the oldest pending inbox delivery has waited 61 s, "
        "longer than FIREBREAK_READY_MAX_INBOX_AGE_SECONDS (60 s)"
    )
    assert answer["inbox"] == {"pending": 1, "oldest_pending_seconds": 61.0}
    assert await metric(client, "firebreak_inbox_oldest_pending_seconds") == 61


async def test_unreachable_database_gives_503_never_4xx(
    aiohttp_client: MakeClient, policy: Policy
) -> None:
    # A PostgreSQL URL on a loopback port nobody listens on: the inbox cannot store anything.
    client = await aiohttp_client(bot_app("postgresql+asyncpg://postgres@127.0.0.1:9/none", policy))
    resp = await post_am(client, webhook("g", [alert("LNNServiceDown")]))
    assert resp.status == 503
    assert (await client.get("/readyz")).status == 503
    # The gauges read the database: unknown, rather than a stale or made-up count.
    assert math.isnan(await metric(client, "firebreak_inbox_pending"))
    assert await metric(client, "firebreak_deliveries_total", source=AM, outcome="unavailable") == 1
    assert await metric(client, "firebreak_deliveries_total", source=AM, outcome="accepted") == 0
    assert (await client.get("/healthz")).status == 200
    # Authentication is still checked first: an unauthenticated sender learns nothing.
    anon = await client.post("/webhooks/alertmanager", data=b"{}")
    assert anon.status == 401
