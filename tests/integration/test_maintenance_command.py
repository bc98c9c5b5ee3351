"""``/incident maintenance`` through the real Slack route: signed slash commands to the bot
app (Bolt, the handlers, the store on SQLite, the maintenance worker) wired to the fake Slack,
with the shipped policy's Sunday window and a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.app import MAINTENANCE
from bot.clock import FixedClock
from bot.policy.model import Policy
from tests.fakes.slack.testing import BOB
from tests.support.bot_app import MakeClient
from tests.support.payloads.alertmanager import alert, webhook
from tests.support.slack_bot import SlackBot, eventually, slack_bot

# A Monday morning: no recurring window runs; the next is Sunday 29 November 02:00 UTC.
MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
async def world(
    aiohttp_client: MakeClient, sqlite_url: str, shipped_policy: Policy
) -> AsyncIterator[tuple[SlackBot, FixedClock]]:
    clock = FixedClock(MONDAY)
    async with slack_bot(aiohttp_client, sqlite_url, shipped_policy, clock=clock) as bot:
        yield bot, clock


async def _kinds(bot: SlackBot, incident_id: int) -> list[str]:
    return [e["kind"] for e in (await bot.incident(incident_id))["timeline"]]


async def test_start_list_and_end_an_ad_hoc_window_from_slack(
    world: tuple[SlackBot, FixedClock],
) -> None:
    bot, _ = world
    started = await bot.reply('maintenance start 30m lnn-service --reason "node pool upgrade"')
    assert started.splitlines() == [
        "Maintenance window *1* is open for *lnn-service* until 2026-11-23 10:30 UTC (for 30"
        " min): new alerts of lnn-service open at most as P2, without a page or a channel of"
        " their own (P0 still pages).",
        "End it early with `/incident maintenance end lnn-service`.",
    ]
    listed = await bot.reply("maintenance", user=BOB)
    assert listed.splitlines()[:4] == [
        "*Maintenance now:*",
        "• ad-hoc maintenance #1 for lnn-service, until 2026-11-23 10:30 UTC (end it with"
        " `/incident maintenance end lnn-service`)",
        "*Next:*",
        "• weekly maintenance for lnn-service: 2026-11-29 02:00 UTC to 04:00 UTC",
    ]
    again = await bot.reply("maintenance start lnn-service")
    assert again.startswith(":warning: ad-hoc maintenance #1 is already open for lnn-service")

    # A P1 alert inside the window opens as P2: the triage channel, no room of its own.
    await bot.alertmanager(webhook("g1", [alert("LNNHighLatency", service="lnn-service")]))
    assert (await bot.incident(1))["severity"] == "P2"
    assert "maintenance.applied" in await _kinds(bot, 1)
    assert bot.incident_channels() == []

    ended = await bot.reply("maintenance end lnn-service", user=BOB)
    assert ended.splitlines() == [
        "Maintenance window *1* for *lnn-service* has ended.",
        "Recorded on #1.",
        "*#1* still fires: back to P1, its escalation path starts now.",
    ]
    assert (await bot.incident(1))["severity"] == "P1"
    # The escalation worker runs on its own: its entries may land in between.
    kinds = [k for k in await _kinds(bot, 1) if not k.startswith(("escalation.", "notification."))]
    # Raised to P1 it gets a room, and would get a graph: without FIREBREAK_PROMETHEUS_URL
    # the same transaction says why not.
    assert kinds[-3:] == ["maintenance.ended", "severity.changed", "graph.unavailable"]
    # Its room opens now.
    await eventually(lambda: bot.incident_channels())
    none_left = await bot.reply("maintenance end lnn-service")
    assert none_left == ":warning: no ad-hoc maintenance window is open for lnn-service"


async def test_a_window_for_every_service_runs_its_course_and_the_worker_ends_it(
    world: tuple[SlackBot, FixedClock],
) -> None:
    bot, clock = world
    started = await bot.reply("maintenance start 1h")
    assert "open for *every service* until 2026-11-23 11:00 UTC" in started
    assert "`/incident maintenance end`" in started
    await bot.alertmanager(webhook("g2", [alert("LNNHighLatency", service="checkout")]))
    assert (await bot.incident(1))["severity"] == "P2"

    clock.advance(3600)
    await bot.client.app[MAINTENANCE].drain()

    assert (await bot.incident(1))["severity"] == "P1"
    assert "maintenance.ended" in await _kinds(bot, 1)
    assert "• none" in await bot.reply("maintenance")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("maintenance start 2d", ":warning: a maintenance window lasts from 1 minute to 24 hours"),
        ("maintenance stop", ":warning: `stop` is neither `start` nor `end`."),
        ("maintenance start 1h lnn extra", ":warning: Give one service"),
        ("maintenance end a b", ":warning: Give one service"),
    ],
)
async def test_bad_maintenance_commands_are_refused_and_say_why(
    world: tuple[SlackBot, FixedClock], text: str, problem: str
) -> None:
    bot, _ = world
    assert (await bot.reply(text)).startswith(problem)
    assert "• none" in await bot.reply("maintenance")
