"""Storms through the whole app and the fake Slack: six groups for one service make a storm
whose card counts its groups; ``/incident split`` typed in the storm's channel gives a group
its own incident and channel, and ``/incident merge`` typed there puts it back; refusals are
answered in words. Each lands on both timelines with the person who typed it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.policy.model import Policy
from bot.policy.noise import StormPolicy
from tests.fakes.slack.models import Channel
from tests.fakes.slack.testing import ALICE
from tests.support.bot_app import MakeClient
from tests.support.payloads.alertmanager import alert, webhook
from tests.support.slack_bot import SlackBot, eventually, slack_bot


@pytest.fixture
async def bot(
    aiohttp_client: MakeClient, sqlite_url: str, policy: Policy
) -> AsyncIterator[SlackBot]:
    storm = StormPolicy(threshold=5, window=timedelta(minutes=2))
    stormy = replace(policy, noise=replace(policy.noise, storm=storm))
    async with slack_bot(aiohttp_client, sqlite_url, stormy) as running:
        yield running


def key(i: int) -> str:
    return f'{{}}:{{group="s{i}"}}'


async def channel_of(bot: SlackBot, incident_id: int) -> Channel:
    def found() -> Channel | None:
        number = f"-{incident_id:04d}"
        named = [c for c in bot.incident_channels() if number in c.name]
        return named[0] if named else None

    return await eventually(found)


async def test_split_and_merge_typed_in_the_storm_channel(bot: SlackBot) -> None:
    for i in range(1, 7):
        latency = alert("LNNHighLatency", service="lnn-service", instance=f"i{i}")
        await bot.alertmanager(webhook(key(i), [latency]))
    storm = await bot.incident(1)
    assert storm["storm_key"] == "service=lnn-service"
    assert sorted(a["group_key"] for a in storm["alerts"]) == sorted(key(i) for i in range(1, 7))
    assert (await bot.incident(2))["merged_into"] == 1
    channel = await channel_of(bot, 1)
    await eventually(lambda: "6 groups" in json.dumps(bot.channel_card(channel).blocks))

    reply = await bot.reply("split 3", channel=channel.id)
    assert "into #6" in reply, reply
    split = await bot.incident(6)
    assert [a["group_key"] for a in split["alerts"]] == [key(3)]
    entries = [e for e in (await bot.incident(1))["timeline"] if e["kind"] == "incident.split"]
    assert [e["actor"] for e in entries] == [f"slack:{ALICE}"]
    new_channel = await channel_of(bot, 6)

    assert "only group" in await bot.reply("split 1", channel=new_channel.id)
    assert "itself" in await bot.reply("merge 6", channel=new_channel.id)
    assert "no incident #99" in await bot.reply("merge 99", channel=new_channel.id)
    assert "merged into #1 already" in await bot.reply("merge 2", channel=new_channel.id)
    assert "Merged #6 into #1" in await bot.reply("merge #1", channel=new_channel.id)
    back = await bot.incident(1)
    assert key(3) in {a["group_key"] for a in back["alerts"]}
    assert (await bot.incident(6))["merged_into"] == 1
    merged = "Merged into <http://127.0.0.1:8080/ui/incidents/1|#1>: continue there."
    await eventually(lambda: any(merged in (m.text or "") for m in new_channel.messages))
