"""The whole app in one process with the shipped policy and a clock the test moves: what the
runbook promises for a P2 (an email at once, a reminder in the triage channel at four hours)
and for a P1 (a Slack alert at once, P0 and a page after an hour unacknowledged, the secondary
emailed fifteen minutes later), with the real SMTP and PagerDuty senders against a real SMTP
server and the fake PagerDuty, and PagerDuty's acknowledgement stopping the rest."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import ESCALATION
from bot.clock import FixedClock
from bot.policy.model import Policy
from tests.fakes.pagerduty.server import FakePagerDuty
from tests.fakes.pagerduty.testing import ROUTING_KEY, serving
from tests.support.bot_app import PD_SECRET, MakeClient, process_inbox
from tests.support.payloads.alertmanager import T0, alert, webhook
from tests.support.payloads.pagerduty import encode, incident_event, sign
from tests.support.slack_bot import SlackBot, eventually, slack_bot
from tests.support.smtp import SmtpTestServer, smtp_server

PRIMARY_EMAIL = "liquid-edge-oncall@company.com"
SECONDARY_EMAIL = "platform-oncall@company.com"


@dataclass
class World:
    bot: SlackBot
    clock: FixedClock
    smtp: SmtpTestServer
    pagerduty: FakePagerDuty

    async def pass_time(self, seconds: float) -> None:
        """Move the clock and let the escalation worker fire what fell due."""
        self.clock.advance(seconds)
        await self.bot.client.app[ESCALATION].drain()

    async def kinds(self, incident_id: int = 1) -> list[str]:
        timeline = (await self.bot.incident(incident_id))["timeline"]
        return [entry["kind"] for entry in timeline]

    def emailed(self, address: str) -> list[Any]:
        return [mail for mail in self.smtp.received if address in mail.rcpt_tos]


@pytest.fixture
async def world(
    aiohttp_client: MakeClient,
    sqlite_url: str,
    policy: Policy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[World]:
    clock = FixedClock(T0)
    pagerduty = FakePagerDuty()
    async with (
        smtp_server(tmp_path) as smtp,
        serving(pagerduty, tmp_path, monkeypatch) as pagerduty_url,
        slack_bot(
            aiohttp_client,
            sqlite_url,
            policy,
            clock=clock,
            smtp_url=smtp.url(),
            email_from="firebreak@example.com",
            pagerduty_routing_key=ROUTING_KEY,
            pagerduty_events_url=pagerduty_url,
            pagerduty_webhook_secrets=PD_SECRET,
            public_url="https://firebreak.example",
        ) as bot,
    ):
        yield World(bot, clock, smtp, pagerduty)


async def test_a_p2_emails_the_primary_at_once_and_reminds_the_triage_channel_at_four_hours(
    world: World,
) -> None:
    await world.bot.alertmanager(webhook("g-memory", [alert("LNNHighMemory", "warning")]))
    assert (await world.bot.incident(1))["severity"] == "P2"

    mails = await eventually(lambda: world.emailed(PRIMARY_EMAIL))
    assert len(mails) == 1
    mail = mails[0].message
    assert mail["From"] == "firebreak@example.com"
    assert mail["Subject"].startswith("[firebreak P2] #1 ")
    body = mail.get_content()
    assert "Incident page: https://firebreak.example/ui/incidents/1" in body
    assert "/incident ack 1" in body
    assert "Response target: 4 h (4 h left)" in body
    assert "Triage:\n1. Check memory per pod: `kubectl top pods -n firebreak" in body
    assert world.pagerduty.accepted() == []  # a P2 pages nobody

    await world.pass_time(4 * 3600 - 1)
    assert "escalation.overdue" not in await world.kinds()
    await world.pass_time(1)
    kinds = await world.kinds()
    assert kinds.count("escalation.fired") == 2
    assert kinds.count("escalation.overdue") == 1

    def reminders() -> list[str]:
        top = [m.text or "" for m in world.bot.triage.messages if m.thread_ts is None]
        return [text for text in top if text.startswith("<@U0000PRIMARY>")]

    reminder = (await eventually(reminders))[0]
    assert "P2 incident #1 is unacknowledged for 4 h" in reminder
    assert len(world.emailed(PRIMARY_EMAIL)) == 1  # the reminder is a mention, not a second mail


async def test_an_unanswered_p1_becomes_p0_pages_and_pagerduty_acknowledging_stops_it(
    world: World,
) -> None:
    latency = alert("LNNHighLatency", "critical", service="lnn-service")
    await world.bot.alertmanager(webhook("g-latency", [latency]))
    assert (await world.bot.incident(1))["severity"] == "P1"
    channel = await eventually(lambda: world.bot.incident_channels()[0])
    await eventually(lambda: any("<@U0000PRIMARY>" in (m.text or "") for m in channel.messages))
    assert world.pagerduty.accepted() == []  # P1 is a Slack alert, not a page

    await world.pass_time(3600)
    detail = await world.bot.incident(1)
    assert detail["severity"] == "P0"
    upgrade = [e for e in detail["timeline"] if e["kind"] == "severity.changed"]
    assert [(e["body"]["from"], e["body"]["to"], e["body"]["rule"]) for e in upgrade] == [
        ("P1", "P0", "escalation")
    ]
    trigger = await eventually(lambda: world.pagerduty.accepted())
    assert [e["event_action"] for e in trigger] == ["trigger"]
    assert trigger[0]["dedup_key"] == "firebreak-1"
    assert trigger[0]["payload"]["severity"] == "critical"

    await world.pass_time(15 * 60)
    await eventually(lambda: world.emailed(SECONDARY_EMAIL))

    # PagerDuty reports the acknowledgement of the incident firebreak paged.
    event = incident_event(
        "incident.acknowledged",
        T0 + timedelta(hours=1, minutes=16),
        incident_key="firebreak-1",
    )
    body = encode(event)
    resp = await world.bot.client.post(
        "/webhooks/pagerduty",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Webhook-Id": "wh-ack-1",
            "X-PagerDuty-Signature": sign(body, PD_SECRET),
        },
    )
    assert resp.status == 202, await resp.text()
    await process_inbox(world.bot.client.app)
    detail = await world.bot.incident(1)
    assert detail["status"] == "acknowledged"
    assert detail["acknowledged_by"] == "pagerduty:PXPGF42"

    fired = (await world.kinds()).count("escalation.fired")
    await world.pass_time(3 * 3600)
    assert (await world.kinds()).count("escalation.fired") == fired
    # Nothing was sent back to PagerDuty: the acknowledgement came from it.
    assert [e["event_action"] for e in world.pagerduty.accepted()] == ["trigger"]


async def test_a_page_pagerduty_refuses_is_recorded_and_told_in_the_channel_once(
    world: World,
) -> None:
    world.pagerduty.script_events(400)
    down = alert("LNNServiceDown", "critical", service="lnn-service")
    await world.bot.alertmanager(webhook("g-down", [down]))
    assert (await world.bot.incident(1))["severity"] == "P0"

    async def failed() -> list[dict[str, Any]]:
        timeline = (await world.bot.incident(1))["timeline"]
        return [e for e in timeline if e["kind"] == "notification.failed"]

    entries: list[dict[str, Any]] = []
    for _ in range(300):
        entries = await failed()
        if entries:
            break
        await asyncio.sleep(0.05)
    assert len(entries) == 1
    body = entries[0]["body"]
    assert (body["target"], body["method"]) == ("pagerduty", "trigger")
    assert body["error"] == "HTTP 400: scripted 400"  # the service's own words, kept
    channel = world.bot.incident_channels()[0]

    def told() -> bool:
        return any("Pagerduty trigger failed" in (m.text or "") for m in channel.messages)

    # The channel's posts are paced (a burst, then one a second): let those seconds pass.
    for _ in range(30):
        if told():
            break
        await world.pass_time(1)
        await asyncio.sleep(0.05)
    await eventually(told)
    # Not retried: the one refused request is all PagerDuty saw.
    await world.pass_time(3600)
    assert [r.status for r in world.pagerduty.events][:1] == [400]
    triggers = [
        r for r in world.pagerduty.events if r.body and r.body["dedup_key"] == "firebreak-1"
    ]
    assert len(triggers) == 1
