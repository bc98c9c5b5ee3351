"""Issue 15, "act on what the alert names", over sockets: an alert labelled ``namespace=prod,
deployment=lnn-service`` leads to actions on ``prod/deploy/lnn-service`` from the card's
button and from ``/incident scale``; ``-n`` overrides as kubectl's does; namespaces outside
the policy's allow-list (and ``kube-system``) are refused at request time, naming it; and
every refusal or failed approval is on the timeline and in the incident's thread."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.policy.kubernetes import KubernetesPolicy
from bot.policy.model import Policy
from tests.fakes.kube.kubeconfig import write_kubeconfig
from tests.fakes.kube.server import FakeKube, run_fake_kube
from tests.fakes.slack.models import Channel, Message
from tests.fakes.slack.testing import ALICE, BOB, CAROL, ONCALL
from tests.support.bot_app import MakeClient
from tests.support.payloads.alertmanager import alert, webhook
from tests.support.slack_bot import SlackBot, eventually, slack_bot

NAME = "lnn-service"
PROD = alert("LNNHighLatency", "critical", service=NAME, namespace="prod", deployment=NAME)


@dataclass
class World:
    bot: SlackBot
    kube: FakeKube
    channel: Channel
    card: Message

    def thread(self) -> str:
        """Every message of the card's thread, as text."""
        return "\n".join(m.text or "" for m in self.channel.messages if m.thread_ts == self.card.ts)

    async def thread_with(self, needle: str) -> str:
        """The thread, once a message holding ``needle`` is in it (the outbox sends it)."""
        return await eventually(lambda: self.thread() if needle in self.thread() else None)

    async def entries(self) -> list[dict[str, Any]]:
        detail = await self.bot.incident(1)
        return [e for e in detail["timeline"] if e["kind"].startswith("action.")]

    async def reply_to_click(self, count: int) -> str:
        replies = await eventually(
            lambda: self.bot.fake.responses if len(self.bot.fake.responses) >= count else None
        )
        return str(replies[count - 1]["text"])


@pytest.fixture
async def world(
    aiohttp_client: MakeClient, sqlite_url: str, policy: Policy, tmp_path: Path
) -> AsyncIterator[World]:
    allowing = dataclasses.replace(
        policy,
        kubernetes=KubernetesPolicy(
            ("firebreak", "prod"), "firebreak", policy.kubernetes.selectors
        ),
    )
    kube = FakeKube(progress_interval=0.02)
    kube.add_deployment("prod", NAME, replicas=3)
    kube.add_deployment("firebreak", NAME, replicas=3)
    async with run_fake_kube(kube) as url:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", url, namespace="firebreak")
        async with slack_bot(
            aiohttp_client,
            sqlite_url,
            allowing,
            kubeconfig=kubeconfig,
            approvers=f"{ONCALL},{CAROL}",
            rollout_poll=0.05,
            rollout_deadline=30,
        ) as bot:
            await bot.alertmanager(webhook("g-prod", [PROD]))
            channel = await eventually(lambda: bot.incident_channels()[0])
            card = await eventually(lambda: bot.channel_card(channel))
            yield World(bot, kube, channel, card)


def button(card: Message, label: str) -> dict[str, Any]:
    for block in card.blocks or []:
        for element in block.get("elements", []):
            if element.get("type") == "button" and label in element["text"]["text"]:
                value: dict[str, Any] = json.loads(element["value"])
                return value
    raise AssertionError(f"no {label!r} button on the card")


async def test_the_card_fills_its_steps_for_the_alerts_namespace(world: World) -> None:
    text = json.dumps(world.card.blocks)
    # The high-latency scenario's triage and mitigation steps, for the alert's namespace.
    assert "kubectl top pods -n prod -l app.kubernetes.io/name=lnn-service" in text
    assert "kubectl scale deployment/lnn-service -n prod --replicas=6" in text
    assert "{namespace}" not in text
    assert "On `prod/deploy/lnn-service`" in text


async def test_the_cards_button_scales_the_deployment_the_alert_names(world: World) -> None:
    bot = world.bot
    await bot.click(
        "firebreak.request_action",
        button(world.card, "Scale to 6"),
        user=ALICE,
        channel=world.channel.id,
    )
    assert "Requested scale prod/deploy/lnn-service to 6" in await world.reply_to_click(1)
    await bot.click("firebreak.approve", {"action_request": 1}, user=BOB, channel=world.channel.id)
    scaled = await eventually(lambda: world.kube.deployment("prod", NAME)["spec"]["replicas"] == 6)
    assert scaled
    assert world.kube.deployment("firebreak", NAME)["spec"]["replicas"] == 3


async def test_the_command_uses_the_incidents_namespace_and_n_overrides_it(world: World) -> None:
    bot, channel = world.bot, world.channel.id
    reply = await bot.reply("scale deploy/lnn-service 6", channel=channel)
    assert "Requested scale prod/deploy/lnn-service to 6" in reply
    # -n before or after the positional words, as kubectl takes it.
    before = await bot.reply("scale -n firebreak deploy/lnn-service 5", channel=channel)
    assert "scale firebreak/deploy/lnn-service to 5" in before
    after = await bot.reply("restart deployment/lnn-service --namespace firebreak", channel=channel)
    assert "restart firebreak/deploy/lnn-service" in after
    targets = {e["body"]["target"] for e in await world.entries()}
    assert targets == {"prod/deploy/lnn-service", "firebreak/deploy/lnn-service"}


async def test_namespaces_outside_the_allow_list_are_refused_on_the_timeline(
    world: World,
) -> None:
    bot, channel = world.bot, world.channel.id
    staging = await bot.reply("scale deploy/lnn-service 6 -n staging", channel=channel)
    assert "allows (firebreak, prod), not in staging" in staging
    system = await bot.reply("restart deploy/coredns -n kube-system", channel=channel)
    assert "never acts on the system namespace kube-system" in system
    assert "allows: firebreak, prod" in system
    refused = await world.entries()
    assert [e["kind"] for e in refused] == ["action.request_refused"] * 2
    assert [e["body"]["target"] for e in refused] == [
        "staging/deploy/lnn-service",
        "kube-system/deploy/coredns",
    ]
    assert all(e["actor"] == f"slack:{ALICE}" for e in refused)
    thread = await world.thread_with("kube-system")
    assert "Request refused: scale staging/deploy/lnn-service" in thread
    assert "Request refused: restart kube-system/deploy/coredns" in thread
    assert world.kube.writes() == []


async def test_a_failed_approval_is_on_the_timeline_and_in_the_thread(world: World) -> None:
    bot, channel = world.bot, world.channel.id
    # A deployment with one revision has nothing to roll back to: found at the approval.
    reply = await bot.reply("rollback deploy/lnn-service", channel=channel)
    assert "Requested rollback prod/deploy/lnn-service" in reply
    await bot.click("firebreak.approve", {"action_request": 1}, user=BOB, channel=channel)
    assert "no earlier revision" in await world.reply_to_click(1)
    last = (await world.entries())[-1]
    assert (last["kind"], last["actor"]) == ("action.refused", f"slack:{BOB}")
    assert last["body"]["attempted"] == "approve"
    assert last["body"]["reason"].startswith("the approval failed")
    thread = await world.thread_with("approval failed")
    assert "refused: rollback prod/deploy/lnn-service" in thread
    assert world.kube.writes() == []
