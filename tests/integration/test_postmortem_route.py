"""``GET /api/incidents/{id}/postmortem`` over real HTTP against the real app, on SQLite and
PostgreSQL: the Markdown document of an incident that came in through the webhook, behind
the API token, 404 for an unknown incident and 400 for what is not an id."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.clock import FixedClock
from bot.policy.model import Policy
from db.migrate import upgrade_async
from handlers.api import ID_MAX
from tests.support.bot_app import AM_AUTH, API_AUTH, Client, MakeClient, bot_app, process_inbox
from tests.support.markdown import parse
from tests.support.payloads.alertmanager import T0, alert, webhook

ROUTE = "/api/incidents/{}/postmortem"
HOSTILE = "# Owned | <script>alert(1)</script>\n- [x](http://evil.example)"


@pytest.fixture
async def client(aiohttp_client: MakeClient, database_url: str, policy: Policy) -> Client:
    await upgrade_async(database_url)
    clock = FixedClock(T0 + timedelta(minutes=30))
    return await aiohttp_client(bot_app(database_url, policy, clock))


async def _incident(client: Client) -> None:
    firing = alert("LNNHighLatency", "critical", starts_at=T0, service="lnn-service")
    firing["annotations"] = {"summary": HOSTILE}
    firing["labels"]["note"] = HOSTILE
    payload = webhook('{}:{alertname="LNNHighLatency"}', [firing])
    resp = await client.post(
        "/webhooks/alertmanager", data=json.dumps(payload).encode(), headers=AM_AUTH
    )
    assert resp.status == 202, await resp.text()
    await process_inbox(client.app)


async def test_the_postmortem_is_markdown(client: Client) -> None:
    await _incident(client)
    resp = await client.get(ROUTE.format(1), headers=API_AUTH)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"] == "text/markdown; charset=utf-8"
    assert resp.headers["Content-Disposition"] == 'inline; filename="incident-1-postmortem.md"'
    document = (await resp.read()).decode("utf-8")
    parsed = parse(document)
    assert [title for _, title in parsed.headings] == [
        "Postmortem: incident #1: LNNHighLatency: " + " ".join(HOSTILE.split()),
        "Summary",
        "Impact",
        "Severity changes",
        "Timeline",
        "Actions",
        "Response targets",
        "Root cause",
        "Follow-ups",
    ]
    assert not parsed.html_blocks
    assert not parsed.inline_structure
    assert "Service: lnn-service" in parsed.items
    assert "Window: 2026-11-22 10:00:00 UTC (first alert firing) → ongoing" in " ".join(
        parsed.items
    )
    # The incident's path ran in the app: its levels are in the document.
    (levels,) = [t for t in parsed.tables if t[0][0] == "Path"]
    assert levels[1][:2] == ["P1 path 1", "level 1: on-call engineer"]
    timeline = next(t for t in parsed.tables if t[0][:2] == ["Time (UTC)", "Actor"])
    assert [row[2] for row in timeline[1:3]] == ["incident.opened", "alert.firing"]


async def test_the_route_needs_the_api_token(client: Client) -> None:
    await _incident(client)
    assert (await client.get(ROUTE.format(1))).status == 401
    assert (await client.get(ROUTE.format(1), headers=AM_AUTH)).status == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    refused = await client.get(ROUTE.format(1), headers=wrong)
    assert refused.status == 401
    assert await refused.json() == {"error": "missing or wrong bearer token"}


async def test_unknown_and_malformed_ids(client: Client) -> None:
    missing = await client.get(ROUTE.format(999), headers=API_AUTH)
    assert missing.status == 404
    assert await missing.json() == {"error": "no incident 999"}
    # The incident's own route answers the same: one reading of an id for both.
    for route in (ROUTE, "/api/incidents/{}"):
        for raw in ("abc", "-1", "1.5", "1e3", "%D9%A1", "99999999999", str(ID_MAX + 1)):
            resp = await client.get(route.format(raw), headers=API_AUTH)
            assert resp.status == 400, (route, raw)
            assert await resp.json() == {"error": "the incident id must be a whole number"}
        # The largest id the column holds is an id: unknown, not malformed.
        assert (await client.get(route.format(ID_MAX), headers=API_AUTH)).status == 404
