"""Issue 15's HPA bullet over sockets: the LNN deployment has an HPA (3–10); the card's scale
button requests a change of the HPA's minReplicas, the approval message says so, the approved
change is dry-run and applied to the HPA through kubernetes_asyncio, the fake's HPA controller
scales the deployment and the rollout is followed to 6 ready replicas; resolving the incident
offers to restore the floor, and the approved restore puts minReplicas back to 3."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.policy.model import Policy
from tests.fakes.kube.kubeconfig import write_kubeconfig
from tests.fakes.kube.server import FakeKube, run_fake_kube
from tests.fakes.slack.models import Channel, Message
from tests.fakes.slack.testing import ALICE, BOB, CAROL, ONCALL
from tests.support.bot_app import MakeClient
from tests.support.payloads.alertmanager import alert, resolved, webhook
from tests.support.slack_bot import SlackBot, buttons, eventually, slack_bot

NS, NAME = "firebreak", "lnn-service"
LATENCY = alert("LNNHighLatency", "critical", service="lnn-service")
HPA_PATH = f"/apis/autoscaling/v2/namespaces/{NS}/horizontalpodautoscalers/{NAME}"


@dataclass
class World:
    bot: SlackBot
    kube: FakeKube

    def min_replicas(self) -> int:
        value: int = self.kube.hpa(NS, NAME)["spec"]["minReplicas"]
        return value

    async def timeline(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = (await self.bot.incident(1))["timeline"]
        return entries


@pytest.fixture
async def world(
    aiohttp_client: MakeClient, sqlite_url: str, policy: Policy, tmp_path: Path
) -> AsyncIterator[World]:
    kube = FakeKube(progress_interval=0.02)
    kube.add_deployment(NS, NAME, replicas=3)
    kube.add_hpa(NS, NAME, min_replicas=3, max_replicas=10)
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


def thread(channel: Channel, card: Message) -> list[Message]:
    return [m for m in channel.messages if m.thread_ts == card.ts]


def approval_for(channel: Channel, card: Message, request_id: int) -> Message | None:
    marker = f"request #{request_id})"
    for message in thread(channel, card):
        if marker in message.text and "Approval" in message.text:
            return message
    return None


async def reply_count(bot: SlackBot, count: int) -> str:
    def arrived() -> list[dict[str, Any]] | None:
        return bot.fake.responses if len(bot.fake.responses) >= count else None

    return str((await eventually(arrived))[count - 1]["text"])


async def approve_and_finish(world: World, channel: Channel, card: Message, request: int) -> None:
    message = await eventually(lambda: approval_for(channel, card, request))
    value = buttons(message)["Approve"]["value"]
    await world.bot.click("firebreak.approve", value, user=BOB, channel=channel.id)

    def finished() -> bool:
        return "Succeeded" in json.dumps(message.blocks) and bool(message.edits)

    await eventually(finished, timeout=30)


async def test_scale_goes_through_the_hpa_and_resolving_offers_the_restore(world: World) -> None:
    bot = world.bot
    await bot.alertmanager(webhook("g-latency", [LATENCY]))
    channel = await eventually(lambda: bot.incident_channels()[0])
    card = await eventually(lambda: bot.channel_card(channel))
    scale = buttons(card)["Scale to 6"]
    await bot.click(scale["action_id"], scale["value"], user=ALICE, channel=channel.id)
    assert "through HPA lnn-service minReplicas" in await reply_count(bot, 1)

    # The approval message says what will be applied, and why not the deployment.
    request = await eventually(lambda: approval_for(channel, card, 1))
    shown = json.dumps(request.blocks)
    assert (
        f"raise HPA {NS}/{NAME} minReplicas 3 \\u2192 6 (max 10); scaling the deployment "
        "directly would be undone by the autoscaler"
    ) in shown
    assert world.kube.writes() == []

    await approve_and_finish(world, channel, card, 1)
    assert world.min_replicas() == 6
    deployment = world.kube.deployment(NS, NAME)
    assert deployment["spec"]["replicas"] == 6  # moved by the HPA controller, not by firebreak
    assert deployment["status"]["readyReplicas"] == 6
    writes = world.kube.writes()
    assert [(w.path, w.dry_run) for w in writes if NAME in w.path and "/pods" not in w.path] == [
        (HPA_PATH, True),
        (HPA_PATH, False),
    ]
    applied = next(e for e in await world.timeline() if e["kind"] == "action.applied")
    assert applied["body"]["previous_min_replicas"] == 3
    requested = next(e for e in await world.timeline() if e["kind"] == "action.requested")
    assert requested["body"]["autoscaler"] == {"name": NAME, "min_replicas": 3, "max_replicas": 10}

    # Resolving the incident offers the restore, in its thread.
    assert (await bot.reply("resolve all good", channel=channel.id, user=ALICE)).startswith(
        "Resolved"
    )

    def offer() -> Message | None:
        for message in thread(channel, card):
            if "Restore minReplicas to 3" in json.dumps(message.blocks):
                return message
        return None

    restore = buttons(await eventually(offer))["Restore minReplicas to 3"]
    assert restore["action_id"] == "firebreak.restore_min_replicas"
    assert restore["value"] == {"action_request": 1}
    await bot.click(restore["action_id"], restore["value"], user=ALICE, channel=channel.id)
    assert "Requested scale" in await reply_count(bot, 3)
    second = await eventually(lambda: approval_for(channel, card, 2))
    assert (
        f"restore HPA {NS}/{NAME} minReplicas 6 \\u2192 3 (max 10), as it was before action #1"
        in json.dumps(second.blocks)
    )
    await approve_and_finish(world, channel, card, 2)
    assert world.min_replicas() == 3
    detail = await bot.incident(1)
    assert detail["status"] == "resolved"
    kinds = [e["kind"] for e in detail["timeline"] if e["kind"].startswith("action.")]
    assert kinds.count("action.succeeded") == 2


async def test_a_scale_above_the_hpa_max_is_refused_at_request_time(world: World) -> None:
    world.kube.autoscalers.patch(
        NS, NAME, {"spec": {"maxReplicas": 5}}, "application/merge-patch+json", dry_run=False
    )
    bot = world.bot
    await bot.alertmanager(webhook("g-latency", [LATENCY]))
    channel = await eventually(lambda: bot.incident_channels()[0])
    reply = await bot.reply("scale deploy/lnn-service 6", channel=channel.id, user=ALICE)
    assert "maxReplicas 5" in reply
    assert world.kube.writes() == []
    assert "action.requested" not in [e["kind"] for e in await world.timeline()]


async def test_the_alerts_resolving_the_incident_offer_the_restore_too(world: World) -> None:
    bot = world.bot
    await bot.alertmanager(webhook("g-latency", [LATENCY]))
    channel = await eventually(lambda: bot.incident_channels()[0])
    card = await eventually(lambda: bot.channel_card(channel))
    reply = await bot.reply("scale deploy/lnn-service 5", channel=channel.id, user=ALICE)
    assert "through HPA" in reply
    await approve_and_finish(world, channel, card, 1)
    assert world.min_replicas() == 5
    ended = resolved(LATENCY, datetime.now(UTC))
    await bot.alertmanager(webhook("g-latency", [ended]))
    assert (await bot.incident(1))["status"] == "resolved"

    def offer() -> Message | None:
        for message in thread(channel, card):
            if "Restore minReplicas to 3" in json.dumps(message.blocks):
                return message
        return None

    await eventually(offer)
