"""Issue 3 end to end in one process: Alertmanager → incident → outbox → the real slack_sdk →
the fake Slack over HTTP; and Slack → signed requests → Bolt → /incident, buttons, events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from bot.policy.model import Policy
from tests.fakes.slack.models import Channel
from tests.fakes.slack.testing import ALICE, BOB, CAROL
from tests.support.bot_app import API_AUTH, MakeClient
from tests.support.payloads.alertmanager import T0, alert, resolved, webhook
from tests.support.slack_bot import SlackBot, eventually, slack_bot

LATENCY = alert("LNNHighLatency", "critical", service="lnn-service")


@pytest.fixture
async def bot(
    aiohttp_client: MakeClient, sqlite_url: str, policy: Policy
) -> AsyncIterator[SlackBot]:
    async with slack_bot(aiohttp_client, sqlite_url, policy) as running:
        yield running


def texts(blocks: list[dict[str, Any]] | None) -> str:
    return json.dumps(blocks or [])


def action_ids(blocks: list[dict[str, Any]] | None) -> list[str]:
    return [
        element["action_id"]
        for block in blocks or []
        if block.get("type") == "actions"
        for element in block["elements"]
    ]


async def test_a_p1_gets_one_channel_one_invitation_one_card_and_resolve_updates_it(
    bot: SlackBot, policy: Policy
) -> None:
    await bot.alertmanager(webhook("g-latency", [LATENCY]))
    channel: Channel = await eventually(lambda: bot.incident_channels()[0])
    assert channel.name.startswith("inc-")
    assert channel.name.endswith("-lnn-high-latency")
    card = await eventually(lambda: bot.channel_card(channel))
    await bot.alertmanager(webhook("g-latency", [LATENCY]))  # a re-send changes nothing

    assert {ALICE, BOB} <= set(channel.members)  # alice, and bob through the on-call group
    assert CAROL not in channel.members
    assert "P1" in channel.topic
    scenario = policy.classify_labels(LATENCY["labels"]).scenario
    shown = texts(card.blocks)
    for step in scenario.triage:
        assert json.dumps(step)[1:-1][:40] in shown or step[:30] in shown
    ids = action_ids(card.blocks)
    assert {"firebreak.ack", "firebreak.resolve", "firebreak.request_action"} <= set(ids)
    assert ids.count("firebreak.request_action") == len(scenario.actions)

    await bot.alertmanager(webhook("g-latency", [resolved(LATENCY, T0 + timedelta(minutes=30))]))
    # The card is redrawn before this too (the escalation's first level): wait for the
    # resolution's redraw itself.
    await eventually(lambda: "firebreak.ack" not in action_ids(card.blocks))
    assert "resolved" in texts(card.blocks).lower()
    assert len(bot.fake.calls("conversations.create", ok=True)) == 1
    assert len(bot.fake.calls("conversations.invite", ok=True)) == 1
    assert len(bot.incident_channels()) == 1
    top = [m.text or "" for m in channel.messages if m.thread_ts is None]
    # One card, and beside it the escalation's mention of the on-call engineer.
    assert len([text for text in top if not text.startswith("<@")]) == 1
    assert [text for text in top if text.startswith("<@")] == [
        "<@U0000PRIMARY> Escalation level 1/2 (on-call engineer): P1 incident #1 is new and "
        "unacknowledged"
    ]


async def test_a_p2_posts_to_the_triage_channel_and_opens_no_channel(bot: SlackBot) -> None:
    await bot.alertmanager(webhook("g-memory", [alert("LNNHighMemory", "warning")]))
    card = await eventually(lambda: bot.channel_card(bot.triage))
    assert "LNNHighMemory" in card.text or "P2" in card.text
    assert bot.incident_channels() == []
    assert bot.fake.calls("conversations.create") == []


async def test_text_from_labels_reaches_slack_inert(bot: SlackBot) -> None:
    hostile = alert(
        "LNNHighMemory",
        "warning",
        summary="<!channel> wake up",
        instance="<@U0CAROL001>",
        runbook="<https://evil.example|Approve>",
    )
    hostile["annotations"] = {"summary": "<!channel> <!here> <https://evil.example|Approve>"}
    await bot.alertmanager(webhook("g-hostile", [hostile]))
    card = await eventually(lambda: bot.channel_card(bot.triage))
    everything = texts(card.blocks) + card.text + bot.triage.topic
    for raw in ("<!channel>", "<!here>", "<@U0CAROL001>", "<https://evil.example|Approve>"):
        assert raw not in everything
    assert "&lt;!channel&gt;" in everything


async def timeline(bot: SlackBot, incident_id: int) -> list[tuple[str, str]]:
    """What people and intake did, in order. The escalation worker's entries (a level fired,
    paging not configured) land whenever it runs, so they are left out here:
    tests/integration/test_escalation_app.py covers them."""
    return [
        (e["kind"], e["actor"])
        for e in (await bot.incident(incident_id))["timeline"]
        if not e["kind"].startswith(("escalation.", "notification."))
    ]


async def test_signed_commands_work_and_land_on_the_timeline_with_their_actor(
    bot: SlackBot,
) -> None:
    reply = await bot.reply('declare "Checkout <b>slow</b>" --service lnn-service')
    assert reply.startswith("Declared *#1* P1")
    assert "&lt;b&gt;" in reply
    assert "<b>" not in reply
    channel = await eventually(lambda: bot.incident_channels()[0])
    await eventually(lambda: bot.channel_card(channel))
    # Inside the incident's channel the id may be left out.
    assert (await bot.reply("ack", user=BOB, channel=channel.id)).startswith("Acknowledged")
    assert "Noted on #1" in await bot.reply("note rolled back 1.4", channel=channel.id)
    assert "commander" in await bot.reply(f"commander <@{CAROL}|carol> 1")
    assert (await bot.reply("severity P0 #1")).startswith("Severity set")
    listing = await bot.reply("list")
    assert "*<http://127.0.0.1:8080/ui/incidents/1|#1>* P0 · acknowledged" in listing
    assert (await bot.reply("resolve 1 fixed by rollback")).startswith("Resolved")
    assert await timeline(bot, 1) == [
        ("incident.opened", f"slack:{ALICE}"),
        ("incident.acknowledged", f"slack:{BOB}"),
        ("note", f"slack:{ALICE}"),
        ("commander.assigned", f"slack:{ALICE}"),
        ("severity.changed", f"slack:{ALICE}"),
        ("incident.resolved", f"slack:{ALICE}"),
    ]
    card = bot.channel_card(channel)
    assert await eventually(lambda: "firebreak.ack" not in action_ids(card.blocks))


async def test_bad_input_gets_a_usage_message_and_changes_nothing(bot: SlackBot) -> None:
    assert "/incident" in await bot.reply("frobnicate")
    assert "severity" in await bot.reply("severity P7 1")
    assert "not an incident channel" in await bot.reply("ack")
    assert "no incident #42" in await bot.reply("ack 42")
    assert (await bot.client.get("/api/incidents", headers=API_AUTH)).status == 200
    listing = await (await bot.client.get("/api/incidents", headers=API_AUTH)).json()
    assert listing["incidents"] == []


@pytest.mark.parametrize(
    "forgery",
    [{"secret": "not-the-signing-secret"}, {"timestamp": 1_700_000_000}],
    ids=["wrong-secret", "expired"],
)
async def test_forged_or_expired_requests_get_401_and_change_nothing(
    bot: SlackBot, forgery: dict[str, Any]
) -> None:
    resp = await bot.command("declare Forged", **forgery)
    assert resp.status == 401
    listing = await (await bot.client.get("/api/incidents", headers=API_AUTH)).json()
    assert listing["incidents"] == []
    await bot.alertmanager(webhook("g-latency", [LATENCY]))
    forged_click = await bot.post_signed(
        "payload=%7B%7D", "application/x-www-form-urlencoded", **forgery
    )
    assert forged_click.status == 401
    assert (await bot.incident(1))["status"] == "triggered"


async def test_buttons_acknowledge_and_a_second_click_is_told_why_not(bot: SlackBot) -> None:
    await bot.alertmanager(webhook("g-latency", [LATENCY]))
    channel = await eventually(lambda: bot.incident_channels()[0])
    card = await eventually(lambda: bot.channel_card(channel))
    resp = await bot.click("firebreak.ack", {"incident": 1}, user=BOB, channel=channel.id)
    assert resp.status == 200
    await eventually(lambda: card.edits)
    assert (await bot.incident(1))["status"] == "acknowledged"
    assert ("incident.acknowledged", f"slack:{BOB}") in await timeline(bot, 1)

    await bot.click("firebreak.ack", {"incident": 1}, user=CAROL, channel=channel.id)
    response = await eventually(lambda: bot.fake.responses)
    assert "already acknowledged" in response[0]["text"]
    assert response[0]["response_type"] == "ephemeral"


async def test_a_retried_event_is_processed_once(bot: SlackBot) -> None:
    await bot.alertmanager(webhook("g-latency", [LATENCY]))
    channel = await eventually(lambda: bot.incident_channels()[0])
    await eventually(lambda: bot.channel_card(channel))
    joined = {"type": "member_joined_channel", "user": CAROL, "channel": channel.id}
    for retry in (None, 1, 2):
        resp = await bot.event(joined, event_id="Ev0JOINED01", retry=retry)
        assert resp.status == 200

    async def participants() -> int:
        return sum(kind == "participant.joined" for kind, _ in await timeline(bot, 1))

    for _ in range(100):
        if await participants():
            break
        await asyncio.sleep(0.05)
    await bot.event(joined, event_id="Ev0JOINED02")  # a different event is processed
    for _ in range(100):
        if await participants() == 2:
            break
        await asyncio.sleep(0.05)
    assert await participants() == 2


async def test_requests_larger_than_slack_sends_get_413(bot: SlackBot) -> None:
    body = "text=" + "x" * (1024 * 1024)
    resp = await bot.post_signed(body, "application/x-www-form-urlencoded")
    assert resp.status == 413
