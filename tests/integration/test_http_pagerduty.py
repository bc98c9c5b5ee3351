"""``/webhooks/pagerduty`` over real HTTP on 127.0.0.1: the signature matrix, replays and
ignored events. An accepted event is acknowledged with 202 once stored in the inbox and
applied by the inbox processor (``process_inbox`` waits for it); any 2xx is success for
PagerDuty's v3 webhooks."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bot.policy.model import Policy
from tests.support.bot_app import (
    API_AUTH,
    PD_OLD_SECRET,
    PD_SECRET,
    Client,
    MakeClient,
    bot_app,
    inbox_rows,
    process_inbox,
)
from tests.support.payloads.alertmanager import T0
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
    from datetime import timedelta

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
