"""Flapping and inhibition through ``/webhooks/alertmanager`` and the API, over real HTTP
against the real app on SQLite and PostgreSQL, with the app's clock moved by hand."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.app import create_app
from bot.clock import FixedClock
from bot.config import Settings
from bot.policy.model import Policy
from db.migrate import upgrade_async
from tests.support.bot_app import (
    AM_AUTH,
    AM_TOKEN,
    API_AUTH,
    API_TOKEN,
    Client,
    MakeClient,
    process_inbox,
)
from tests.support.payloads.alertmanager import T0, alert, resolved, webhook

NS, DEP = "firebreak", "lnn-service"
WHERE = {"namespace": NS, "deployment": DEP}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
async def client(
    aiohttp_client: MakeClient, database_url: str, policy: Policy, clock: FixedClock
) -> Client:
    await upgrade_async(database_url)
    settings = Settings(database_url=database_url, alertmanager_token=AM_TOKEN, api_token=API_TOKEN)
    return await aiohttp_client(create_app(settings, policy=policy, clock=clock))


async def post(client: Client, payload: dict[str, Any]) -> None:
    resp = await client.post(
        "/webhooks/alertmanager", data=json.dumps(payload).encode(), headers=AM_AUTH
    )
    assert resp.status == 202, await resp.text()
    await process_inbox(client.app)


async def incidents(client: Client) -> list[dict[str, Any]]:
    resp = await client.get("/api/incidents", headers=API_AUTH)
    assert resp.status == 200
    found: list[dict[str, Any]] = (await resp.json())["incidents"]
    return sorted(found, key=lambda i: int(i["id"]))


async def detail(client: Client, incident_id: int) -> dict[str, Any]:
    resp = await client.get(f"/api/incidents/{incident_id}", headers=API_AUTH)
    assert resp.status == 200
    found: dict[str, Any] = await resp.json()
    return found


async def test_a_group_flapping_within_the_window_is_one_incident_with_a_flap_count(
    client: Client, clock: FixedClock
) -> None:
    first = alert("LNNHighLatency", starts_at=clock.now(), namespace=NS, deployment=DEP)
    await post(client, webhook("g", [first]))
    clock.advance(60)
    await post(client, webhook("g", [resolved(first, clock.now())]))
    assert [(i["status"], i["flap_count"]) for i in await incidents(client)] == [("resolved", 0)]
    clock.advance(120)
    await post(
        client,
        webhook(
            "g", [alert("LNNHighLatency", starts_at=clock.now(), namespace=NS, deployment=DEP)]
        ),
    )

    (only,) = await incidents(client)
    assert (only["status"], only["flap_count"], only["resolved_by"]) == ("triggered", 1, None)
    flaps = [
        e for e in (await detail(client, only["id"]))["timeline"] if e["kind"] == "incident.flapped"
    ]
    assert [f["body"]["count"] for f in flaps] == [1]


async def test_a_latency_alert_joins_the_open_outage_of_its_deployment_only(
    client: Client, clock: FixedClock
) -> None:
    await post(client, webhook("g-down", [alert("LNNServiceDown", namespace=NS, deployment=DEP)]))
    await post(client, webhook("g-lat", [alert("LNNHighLatency", namespace=NS, deployment=DEP)]))
    elsewhere = alert("LNNHighLatency", namespace=NS, deployment="other")
    await post(client, webhook("g-other", [elsewhere]))

    down, other = await incidents(client)
    assert (down["severity"], down["scenario"], down["group_key"]) == (
        "P0",
        "service-down",
        "g-down",
    )
    assert (other["scenario"], other["group_key"]) == ("high-latency", "g-other")
    shown = await detail(client, down["id"])
    assert sorted(a["labels"]["alertname"] for a in shown["alerts"]) == [
        "LNNHighLatency",
        "LNNServiceDown",
    ]
    joined = [e for e in shown["timeline"] if e["kind"] == "symptoms.joined"]
    assert [e["body"]["group_key"] for e in joined] == ["g-lat"]
