"""``/webhooks/alertmanager`` and the API over real HTTP against the real app and store."""

from __future__ import annotations

import io
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.policy import Policy
from db.migrate import upgrade_async
from tests.integration.bot_app import AM_AUTH, API_AUTH, bot_app
from tests.payloads.alertmanager import T0, alert, resolved, webhook

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[[web.Application], Awaitable[Client]]


@pytest.fixture
async def client(aiohttp_client: MakeClient, database_url: str, policy: Policy) -> Client:
    # `serve` migrates SQLite itself; PostgreSQL deployments run `firebreak db upgrade`.
    await upgrade_async(database_url)
    return await aiohttp_client(bot_app(database_url, policy))


async def post_am(client: Client, payload: dict[str, Any] | bytes, **headers: str) -> Any:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return await client.post("/webhooks/alertmanager", data=data, headers={**AM_AUTH, **headers})


async def metric(client: Client, line_prefix: str) -> float:
    text = await (await client.get("/metrics")).text()
    for line in text.splitlines():
        if line.startswith(line_prefix):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic am-token"}],
    ids=["missing", "wrong", "wrong-scheme"],
)
async def test_unauthenticated_delivery_is_refused_and_counted(
    client: Client, headers: dict[str, str]
) -> None:
    resp = await client.post(
        "/webhooks/alertmanager", data=json.dumps(webhook("g", [alert("X")])), headers=headers
    )
    assert resp.status == 401
    assert await metric(client, 'firebreak_auth_failures_total{source="alertmanager"}') == 1
    api = await client.get("/api/incidents", headers=API_AUTH)
    assert (await api.json())["incidents"] == []


async def test_malformed_json_is_400_with_a_clear_message(client: Client) -> None:
    resp = await post_am(client, b'{"version": "4", "alerts": [')
    assert resp.status == 400
    assert "not valid JSON" in (await resp.json())["error"]


async def test_wrong_shape_is_400_naming_the_field(client: Client) -> None:
    payload = webhook("g", [alert("X")])
    del payload["groupKey"]
    resp = await post_am(client, payload)
    assert resp.status == 400
    assert "groupKey" in (await resp.json())["error"]


async def test_unknown_fields_are_accepted(client: Client) -> None:
    payload = webhook("g", [{**alert("LNNHighLatency"), "newField": {"x": 1}}], futureField=[1, 2])
    resp = await post_am(client, payload)
    assert resp.status == 200
    assert (await resp.json())["opened"] == [1]


async def test_bodies_beyond_aiohttps_default_limit_are_accepted(client: Client) -> None:
    big = alert("LNNHighLatency")
    big["annotations"]["description"] = "x" * (5 * 1024 * 1024)
    data = io.BytesIO(json.dumps(webhook("g", [big])).encode())
    resp = await client.post("/webhooks/alertmanager", data=data, headers=AM_AUTH)
    assert resp.status == 200


async def test_delivery_lifecycle_over_http_and_api(client: Client) -> None:
    a = alert("LNNServiceDown")
    assert (await post_am(client, webhook("g1", [a]))).status == 200
    assert (await post_am(client, webhook("g1", [a]))).status == 200
    assert (await post_am(client, webhook("g2", [alert("LNNHighMemory", "warning")]))).status == 200
    listing = await (await client.get("/api/incidents", headers=API_AUTH)).json()
    assert [(i["id"], i["severity"]) for i in listing["incidents"]] == [(2, "P2"), (1, "P0")]
    p0 = await (await client.get("/api/incidents?severity=P0", headers=API_AUTH)).json()
    assert [i["id"] for i in p0["incidents"]] == [1]

    done = await post_am(client, webhook("g1", [resolved(a, T0.replace(hour=11))]))
    assert (await done.json())["resolved_alerts"] == 1
    open_now = await (await client.get("/api/incidents?status=open", headers=API_AUTH)).json()
    assert [i["id"] for i in open_now["incidents"]] == [2]
    detail = await (await client.get("/api/incidents/1", headers=API_AUTH)).json()
    assert detail["status"] == "resolved"
    assert [a["status"] for a in detail["alerts"]] == ["resolved"]
    assert [e["kind"] for e in detail["timeline"]] == [
        "incident.opened",
        "alert.firing",
        "alert.repeat",
        "alert.resolved",
        "incident.resolved",
    ]
    assert await metric(client, 'firebreak_incidents_opened_total{severity="P0"') == 1
    assert (
        await metric(
            client, 'firebreak_deliveries_total{outcome="processed",source="alertmanager"}'
        )
        == 4
    )
    assert await metric(client, 'firebreak_ingest_seconds_count{source="alertmanager"}') == 4


async def test_api_requires_its_token_and_validates_filters(client: Client) -> None:
    assert (await client.get("/api/incidents")).status == 401
    assert (await client.get("/api/incidents", headers=AM_AUTH)).status == 401
    bad = await client.get("/api/incidents?severity=P7", headers=API_AUTH)
    assert bad.status == 400
    assert "severity" in (await bad.json())["error"]
    assert (await client.get("/api/incidents/999", headers=API_AUTH)).status == 404
    assert (await client.get("/api/incidents/abc", headers=API_AUTH)).status == 404


async def test_health_and_readiness(client: Client) -> None:
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status == 200


async def test_unreachable_database_gives_503_never_4xx(
    aiohttp_client: MakeClient, policy: Policy
) -> None:
    # A PostgreSQL URL on a loopback port nobody listens on: the store cannot connect.
    client = await aiohttp_client(bot_app("postgresql+asyncpg://postgres@127.0.0.1:9/none", policy))
    resp = await post_am(client, webhook("g", [alert("LNNServiceDown")]))
    assert resp.status == 503
    assert (await client.get("/readyz")).status == 503
    text = await (await client.get("/metrics")).text()
    assert 'firebreak_deliveries_total{outcome="unavailable",source="alertmanager"} 1.0' in text
    assert (await client.get("/healthz")).status == 200
    # Authentication is still checked first: an unauthenticated sender learns nothing.
    anon = await client.post("/webhooks/alertmanager", data=b"{}")
    assert anon.status == 401
