"""``/webhooks/pagerduty`` over real HTTP on 127.0.0.1: the signature matrix, replays and
ignored events. An accepted event is acknowledged with 202 once stored in the inbox and
applied by the inbox processor (``process_inbox`` waits for it); any 2xx is success for
PagerDuty's v3 webhooks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from bot.clock import FixedClock
from bot.domain.actor import Actor
from bot.domain.outbox import PAGERDUTY, OutboxMessage
from bot.policy.model import Policy
from bot.services.incidents.updates import acknowledge
from db.migrate import upgrade_async
from db.store import SqlStore
from handlers.deps import DEPS
from tests.support.bot_app import (
    AM_AUTH,
    API_AUTH,
    PD_OLD_SECRET,
    PD_SECRET,
    Client,
    MakeClient,
    bot_app,
    inbox_rows,
    process_inbox,
)
from tests.support.payloads.alertmanager import T0, alert, webhook
from tests.support.payloads.pagerduty import encode, incident_event, sign


@pytest.fixture
async def client(aiohttp_client: MakeClient, sqlite_url: str, policy: Policy) -> Client:
    return await aiohttp_client(bot_app(sqlite_url, policy))


async def incidents_after_processing(client: Client) -> int:
    await process_inbox(client.app)
    return await incident_count(client)


async def post_pd(client: Client, body: bytes, signature: str | None, webhook_id: str) -> Any:
    headers = {"Content-Type": "application/json", "X-Webhook-Id": webhook_id}
    if signature is not None:
        headers["X-PagerDuty-Signature"] = signature
    return await client.post("/webhooks/pagerduty", data=body, headers=headers)


async def incident_count(client: Client) -> int:
    listing = await (await client.get("/api/incidents", headers=API_AUTH)).json()
    return len(listing["incidents"])


async def outbox_rows(database_url: str) -> Sequence[OutboxMessage]:
    """Every outbox row, read with a store of its own."""
    store = SqlStore.from_url(database_url)
    try:
        async with store.transaction() as uow:
            return await uow.outbox.list()
    finally:
        await store.close()


BODY = encode(incident_event("incident.triggered", T0))


@pytest.mark.parametrize(
    ("body", "signature", "status"),
    [
        (BODY, sign(BODY, PD_SECRET), 202),
        # During a rotation PagerDuty sends one v1= value per secret; one match suffices.
        (BODY, sign(BODY, "retired-secret", PD_OLD_SECRET), 202),
        (BODY, sign(BODY, PD_OLD_SECRET), 202),
        (BODY.replace(b"on fire", b"on ice!"), sign(BODY, PD_SECRET), 401),
        (BODY, sign(BODY, "wrong-secret"), 401),
        (BODY, None, 401),
        (BODY, "", 401),
        (BODY, "v0=" + sign(BODY, PD_SECRET)[3:], 401),
    ],
    ids=[
        "valid",
        "rotated",
        "old-secret",
        "tampered",
        "wrong-secret",
        "missing",
        "empty",
        "bad-version",
    ],
)
async def test_signature_matrix(
    client: Client, body: bytes, signature: str | None, status: int
) -> None:
    resp = await post_pd(client, body, signature, "wh-1")
    assert resp.status == status
    assert await incidents_after_processing(client) == (1 if status == 202 else 0)


async def test_replayed_delivery_has_no_second_effect(client: Client) -> None:
    first = await post_pd(client, BODY, sign(BODY, PD_SECRET), "wh-1")
    await process_inbox(client.app)
    again = await post_pd(client, BODY, sign(BODY, PD_SECRET), "wh-1")
    assert first.status == 202
    assert (await first.json()) == {"status": "accepted", "delivery": "wh-1"}
    assert again.status == 200
    assert (await again.json())["status"] == "duplicate"
    await process_inbox(client.app)
    detail = await (await client.get("/api/incidents/1", headers=API_AUTH)).json()
    assert len(detail["timeline"]) == 2


async def test_unknown_event_types_get_2xx_and_are_recorded(client: Client) -> None:
    body = encode(incident_event("incident.conference_bridge.updated", T0))
    resp = await post_pd(client, body, sign(body, PD_SECRET), "wh-2")
    assert resp.status == 200
    assert (await resp.json())["status"] == "ignored"
    odd = json.dumps({"not": "an event"}).encode()
    resp = await post_pd(client, odd, sign(odd, PD_SECRET), "wh-3")
    assert resp.status == 202
    assert (await resp.json())["status"] == "ignored"
    assert await incident_count(client) == 0


async def test_signed_garbage_is_400(client: Client) -> None:
    body = b"{not json"
    resp = await post_pd(client, body, sign(body, PD_SECRET), "wh-4")
    assert resp.status == 400


@pytest.mark.parametrize("occurred_at", ["9999-12-31T23:00:00-14:00", "0001-01-01T00:00:00+14:00"])
async def test_an_event_time_with_no_utc_value_is_400_naming_it(
    client: Client, occurred_at: str
) -> None:
    # Applied inside the request, such a time once failed in the store: a 503, retried for ever.
    event = incident_event("incident.triggered", T0)
    event["event"]["occurred_at"] = occurred_at
    body = encode(event)
    resp = await post_pd(client, body, sign(body, PD_SECRET), "wh-range")
    assert resp.status == 400, await resp.text()
    assert "$.event.occurred_at" in (await resp.json())["error"]
    assert await incident_count(client) == 0
    # A correct resend under the same webhook id is not taken for a replay of the refused one.
    good = encode(incident_event("incident.triggered", T0))
    assert (await post_pd(client, good, sign(good, PD_SECRET), "wh-range")).status == 202
    assert await incidents_after_processing(client) == 1


async def test_all_lifecycle_orders_end_resolved_over_http(client: Client) -> None:
    events = [
        incident_event("incident.resolved", T0 + timedelta(minutes=9)),
        incident_event("incident.triggered", T0),
        incident_event("incident.acknowledged", T0 + timedelta(minutes=2)),
    ]
    for n, event in enumerate(events):
        body = encode(event)
        assert (await post_pd(client, body, sign(body, PD_SECRET), f"wh-{n}")).status == 202
    await process_inbox(client.app)
    detail = await (await client.get("/api/incidents/1", headers=API_AUTH)).json()
    assert detail["status"] == "resolved"
    text = await (await client.get("/metrics")).text()
    assert 'firebreak_deliveries_total{outcome="accepted",source="pagerduty"} 3.0' in text
    assert 'firebreak_inbox_processed_total{outcome="processed",source="pagerduty"} 3.0' in text


async def test_an_event_is_acknowledged_then_applied_by_the_inbox_processor(
    client: Client, sqlite_url: str
) -> None:
    resp = await post_pd(client, BODY, sign(BODY, PD_SECRET), "wh-inbox")
    assert resp.status == 202
    assert (await resp.json())["status"] == "accepted"
    # Stored before the acknowledgement: the row exists whether or not it is processed yet.
    assert [row.key for row in await inbox_rows(sqlite_url)] == ["wh-inbox"]
    await process_inbox(client.app)
    assert [(row.key, row.outcome) for row in await inbox_rows(sqlite_url)] == [
        ("wh-inbox", "processed")
    ]
    detail = await (await client.get("/api/incidents/1", headers=API_AUTH)).json()
    assert detail["source"] == "pagerduty"
    assert [e["kind"] for e in detail["timeline"]] == ["incident.opened", "pagerduty.triggered"]
    text = await (await client.get("/metrics")).text()
    assert 'firebreak_incidents_opened_total{severity="P1",source="pagerduty"} 1.0' in text


async def test_concurrent_deliveries_of_one_webhook_id_store_one_delivery(
    client: Client, sqlite_url: str
) -> None:
    signature = sign(BODY, PD_SECRET)
    answers = await asyncio.gather(
        *(post_pd(client, BODY, signature, "wh-twice") for _ in range(2))
    )
    assert sorted(resp.status for resp in answers) == [200, 202]
    assert sorted([(await resp.json())["status"] for resp in answers]) == [
        "accepted",
        "duplicate",
    ]
    assert [row.key for row in await inbox_rows(sqlite_url)] == ["wh-twice"]
    assert await incidents_after_processing(client) == 1
    detail = await (await client.get("/api/incidents/1", headers=API_AUTH)).json()
    assert len(detail["timeline"]) == 2


# --- Issue 16: PagerDuty's events move the incident firebreak paged, on SQLite and PostgreSQL.


@pytest.fixture
async def any_client(
    aiohttp_client: MakeClient, database_url: str, policy: Policy, clock: FixedClock
) -> Client:
    await upgrade_async(database_url)
    return await aiohttp_client(bot_app(database_url, policy, clock))


def about_ours(event_type: str, minutes: float, agent: dict[str, str]) -> bytes:
    """A v3 event about the PagerDuty incident firebreak's page for incident #1 opened."""
    event = incident_event(event_type, T0 + timedelta(minutes=minutes), incident_key="firebreak-1")
    event["event"]["agent"] = agent
    if event_type == "incident.reassigned":
        event["event"]["data"]["status"] = "acknowledged"
        event["event"]["data"]["assignees"] = [
            {"id": "PUSER2", "summary": "Sam Secondary", "type": "user_reference"}
        ]
    return encode(event)


ANN = {"id": "PUSER1", "summary": "Ann Oncall", "type": "user_reference"}
INTEGRATION = {"id": "PIJ90N7", "summary": "lnn-service", "type": "service_reference"}


async def open_alert_incident(client: Client) -> None:
    payload = webhook("g-latency", [alert("LNNHighLatency", "critical", service="lnn-service")])
    resp = await client.post("/webhooks/alertmanager", data=json.dumps(payload), headers=AM_AUTH)
    assert resp.status == 202
    await process_inbox(client.app)


async def entries(client: Client) -> list[tuple[str, str]]:
    """The incident's entries but its escalation path's (the app's escalation worker fires
    the path's first level whenever it polls: when is not this test's business)."""
    detail = await (await client.get("/api/incidents/1", headers=API_AUTH)).json()
    return [
        (e["kind"], e["actor"])
        for e in detail["timeline"]
        if not e["kind"].startswith(("escalation.", "notification."))
    ]


async def test_pagerduty_acknowledges_reassigns_and_resolves_the_incident_firebreak_paged(
    any_client: Client, database_url: str
) -> None:
    client = any_client
    await open_alert_incident(client)
    sent = [
        ("wh-trig", about_ours("incident.triggered", 1, INTEGRATION)),
        ("wh-ack", about_ours("incident.acknowledged", 4, ANN)),
        ("wh-ack", about_ours("incident.acknowledged", 4, ANN)),  # PagerDuty's redelivery
        ("wh-reassign", about_ours("incident.reassigned", 6, ANN)),
        ("wh-resolve", about_ours("incident.resolved", 20, ANN)),
    ]
    answers = []
    for webhook_id, body in sent:
        resp = await post_pd(client, body, sign(body, PD_SECRET), webhook_id)
        answers.append((await resp.json())["status"])
        await process_inbox(client.app)
    assert answers == ["accepted", "accepted", "duplicate", "accepted", "accepted"]

    detail = await (await client.get("/api/incidents/1", headers=API_AUTH)).json()
    assert detail["status"] == "resolved"
    assert detail["severity"] == "P1"
    assert detail["pagerduty_id"] == "PT4KHLK"
    assert detail["acknowledged_by"] == "pagerduty:PUSER1"
    assert detail["resolved_by"] == "pagerduty:PUSER1"
    assert await entries(client) == [
        ("incident.opened", "system:alertmanager"),
        ("alert.firing", "system:alertmanager"),
        # No FIREBREAK_PROMETHEUS_URL: the opening says why the P1 has no graph.
        ("graph.unavailable", "bot:firebreak"),
        ("pagerduty.linked", "system:pagerduty"),
        ("pagerduty.triggered", "system:pagerduty"),
        ("pagerduty.acknowledged", "system:pagerduty"),
        ("incident.acknowledged", "system:pagerduty"),
        ("pagerduty.reassigned", "system:pagerduty"),
        ("pagerduty.resolved", "system:pagerduty"),
        ("incident.resolved", "system:pagerduty"),
    ]
    reassigned = [e for e in detail["timeline"] if e["kind"] == "pagerduty.reassigned"]
    assert reassigned[0]["body"]["note"] == "to Sam Secondary"
    # Nothing goes back to PagerDuty for what PagerDuty itself reported (the notification
    # publisher's rule for entries by system:pagerduty).
    rows = await outbox_rows(database_url)
    assert rows  # the incident's Slack calls
    assert [row.call.method for row in rows if row.call.target == PAGERDUTY] == []


async def test_our_acknowledgement_reported_back_changes_nothing_twice(
    any_client: Client, clock: FixedClock
) -> None:
    client = any_client
    await open_alert_incident(client)
    clock.advance(120)
    bob = Actor.parse("slack:U0BOB00001")
    await acknowledge(client.app[DEPS].store, 1, actor=bob, at=clock.now())
    for n, (event_type, minutes) in enumerate(
        [("incident.triggered", 2.5), ("incident.acknowledged", 2.6)]
    ):
        body = about_ours(event_type, minutes, INTEGRATION)
        assert (await post_pd(client, body, sign(body, PD_SECRET), f"wh-echo-{n}")).status == 202
    await process_inbox(client.app)

    detail = await (await client.get("/api/incidents/1", headers=API_AUTH)).json()
    assert (detail["status"], detail["acknowledged_by"]) == ("acknowledged", str(bob))
    assert [kind for kind, _ in await entries(client) if kind.startswith("incident.")] == [
        "incident.opened",
        "incident.acknowledged",
    ]
