"""Issue 4 over sockets: an alert's card → a suggested-action button → approval in Slack by an
authorized person → dry run → apply on the (fake) Kubernetes API through kubernetes_asyncio →
the rollout followed to the end → the action's thread message and the timeline updated; and
the refusals, each of which sends nothing to Kubernetes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.clock import FixedClock
from bot.policy.model import Policy
from tests.fakes.kube.kubeconfig import write_kubeconfig
from tests.fakes.kube.server import FakeKube, run_fake_kube
from tests.fakes.slack.models import Channel, Message
from tests.fakes.slack.testing import ALICE, BOB, CAROL, ONCALL
from tests.support.bot_app import MakeClient
from tests.support.payloads.alertmanager import alert, webhook
from tests.support.slack_bot import SlackBot, eventually, slack_bot

NS, NAME = "firebreak", "lnn-service"
LATENCY = alert("LNNHighLatency", "critical", service="lnn-service")


@dataclass
class World:
    bot: SlackBot
    kube: FakeKube

    def writes(self) -> list[Any]:
        return [r for r in self.kube.writes() if NAME in r.path]

    async def incident_with_card(self) -> tuple[Channel, Message]:
        await self.bot.alertmanager(webhook("g-latency", [LATENCY]))
        channel = await eventually(lambda: self.bot.incident_channels()[0])
        card = await eventually(lambda: self.bot.channel_card(channel))
        return channel, card

    async def kinds(self) -> list[tuple[str, str]]:
        detail = await self.bot.incident(1)
        return [(e["kind"], e["actor"]) for e in detail["timeline"]]


@pytest.fixture
async def world(
    aiohttp_client: MakeClient, sqlite_url: str, policy: Policy, tmp_path: Path
) -> AsyncIterator[World]:
    kube = FakeKube(progress_interval=0.02)
    kube.add_deployment(NS, NAME, replicas=3)
    async with run_fake_kube(kube) as url:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", url, namespace=NS)
        async with slack_bot(
            aiohttp_client,
            sqlite_url,
            policy,
            kubeconfig=kubeconfig,
            approvers=f"{ONCALL},{CAROL}",
            rollout_poll=0.05,
            rollout_deadline=30,
        ) as bot:
            yield World(bot, kube)


def button(card: Message, label: str) -> dict[str, Any]:
    for block in card.blocks or []:
        for element in block.get("elements", []):
            if element.get("type") == "button" and label in element["text"]["text"]:
                value: dict[str, Any] = json.loads(element["value"])
                return value
    raise AssertionError(f"no {label!r} button on the card")


def thread(channel: Channel, card: Message) -> list[Message]:
    return [m for m in channel.messages if m.thread_ts == card.ts]


def approval_message(channel: Channel, card: Message) -> Message:
    found = [m for m in thread(channel, card) if "firebreak.approve" in json.dumps(m.blocks)]
    assert found
    return found[0]


async def last_reply(bot: SlackBot, count: int) -> str:
    """The ``count``-th ephemeral reply sent to a ``response_url`` (a button's answer)."""

    def arrived() -> list[dict[str, Any]] | None:
        return bot.fake.responses if len(bot.fake.responses) >= count else None

    replies = await eventually(arrived)
    return str(replies[count - 1]["text"])


async def test_card_button_to_approved_scale_followed_to_the_end(world: World) -> None:
    bot = world.bot
    channel, card = await world.incident_with_card()
    scale = button(card, "Scale to 6")
    await bot.click("firebreak.request_action", scale, user=ALICE, channel=channel.id)
    assert "Requested scale firebreak/deploy/lnn-service to 6" in await last_reply(bot, 1)
    request = await eventually(lambda: approval_message(channel, card))
    approve = json.loads(
        next(
            e["value"]
            for b in request.blocks or []
            for e in b.get("elements", [])
            if e.get("action_id") == "firebreak.approve"
        )
    )

    # The requester, and someone who is no approver, are refused; Kubernetes hears nothing.
    await bot.click("firebreak.approve", approve, user=ALICE, channel=channel.id)
    assert "someone else must approve" in await last_reply(bot, 2)
    await bot.click("firebreak.approve", approve, user="U0DAVE0001", channel=channel.id)
    assert "Refused" in await last_reply(bot, 3)
    assert world.writes() == []

    # Bob is in the on-call group named in FIREBREAK_APPROVERS.
    await bot.click("firebreak.approve", approve, user=BOB, channel=channel.id)
    deployment = await eventually(
        lambda: (
            world.kube.deployment(NS, NAME)["spec"]["replicas"] == 6
            and world.kube.deployment(NS, NAME)
        )
    )
    assert deployment["spec"]["replicas"] == 6
    writes = world.writes()
    assert [w.dry_run for w in writes] == [True, False]  # a server-side dry run first
    assert all("scale" in w.path for w in writes)

    def succeeded() -> bool:
        return "Succeeded" in json.dumps(request.blocks) and bool(request.edits)

    await eventually(succeeded, timeout=30)
    kinds = [kind for kind, _ in await world.kinds() if kind.startswith("action.")]
    assert kinds[0] == "action.requested"
    assert kinds.count("action.refused") == 2
    assert kinds[-1] == "action.succeeded"
    assert {"action.approved", "action.started", "action.applied"} <= set(kinds)
    actors = dict(await world.kinds())
    assert actors["action.requested"] == f"slack:{ALICE}"
    assert actors["action.approved"] == f"slack:{BOB}"
    assert "firebreak.approve" not in json.dumps(request.blocks)  # no more buttons


async def test_out_of_bounds_forbidden_namespace_and_unknown_targets_are_refused(
    world: World,
) -> None:
    bot = world.bot
    channel, _ = await world.incident_with_card()
    assert "10" in await bot.reply("scale deploy/lnn-service 50", channel=channel.id)
    refused = await bot.reply("scale deploy/lnn-service 5 -n kube-system", channel=channel.id)
    assert "kube-system" in refused
    assert "allows: firebreak" in refused
    other = await bot.reply("restart deploy/lnn-service -n payments", channel=channel.id)
    assert "allows (firebreak), not in payments" in other
    assert "not an incident channel" in await bot.reply("scale deploy/lnn-service 5")
    assert world.writes() == []
    kinds = [kind for kind, _ in await world.kinds()]
    assert "action.requested" not in kinds
    # Each refusal in the incident's channel is on its timeline (the last one, typed
    # outside any incident channel, is not: no incident is known).
    assert kinds.count("action.request_refused") == 3


async def test_a_denied_request_never_reaches_kubernetes(world: World) -> None:
    bot = world.bot
    channel, _ = await world.incident_with_card()
    reply = await bot.reply("restart deploy/lnn-service", channel=channel.id, user=ALICE)
    assert "Requested restart" in reply
    await bot.click("firebreak.deny", {"action_request": 1}, user=CAROL, channel=channel.id)
    assert "Denied" in await last_reply(bot, 1)
    await bot.click("firebreak.approve", {"action_request": 1}, user=BOB, channel=channel.id)
    assert "denied" in (await last_reply(bot, 2)).lower()
    assert world.writes() == []


async def test_a_hundred_concurrent_approve_clicks_apply_once(world: World) -> None:
    bot = world.bot
    channel, _ = await world.incident_with_card()
    reply = await bot.reply("scale deploy/lnn-service 5", channel=channel.id, user=ALICE)
    assert "Requested scale" in reply
    clicks = [
        bot.click("firebreak.approve", {"action_request": 1}, user=BOB, channel=channel.id)
        for _ in range(100)
    ]
    statuses = {resp.status for resp in await asyncio.gather(*clicks)}
    assert statuses == {200}

    async def kinds() -> list[str]:
        return [kind for kind, _ in await world.kinds()]

    for _ in range(600):
        if "action.succeeded" in await kinds():
            break
        await asyncio.sleep(0.05)
    final = await kinds()
    assert final.count("action.approved") == 1
    assert final.count("action.started") == 1
    assert final.count("action.succeeded") == 1
    real = world.kube.writes(include_dry_run=False)
    assert len([w for w in real if NAME in w.path]) == 1
    assert world.kube.deployment(NS, NAME)["spec"]["replicas"] == 5


async def test_an_expired_request_cannot_be_approved(
    aiohttp_client: MakeClient, sqlite_url: str, policy: Policy, tmp_path: Path
) -> None:
    clock = FixedClock(datetime.now(UTC))
    kube = FakeKube(progress_interval=0.02)
    kube.add_deployment(NS, NAME, replicas=3)
    async with run_fake_kube(kube) as url:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", url, namespace=NS)
        async with slack_bot(
            aiohttp_client, sqlite_url, policy, clock=clock, kubeconfig=kubeconfig, approvers=BOB
        ) as bot:
            world = World(bot, kube)
            channel, _ = await world.incident_with_card()
            assert "Requested" in await bot.reply("restart deploy/lnn-service", channel=channel.id)
            clock.advance(601)  # FIREBREAK_APPROVAL_TTL_SECONDS defaults to 10 minutes
            await bot.click("firebreak.approve", {"action_request": 1}, user=BOB)
            assert "expired" in (await last_reply(bot, 1)).lower()
            assert kube.writes() == []
            assert "action.expired" in [kind for kind, _ in await world.kinds()]
