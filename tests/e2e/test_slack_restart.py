"""A real ``firebreak serve`` is killed (SIGKILL) while Slack is failing and its outbox holds
messages (and its inbox may still hold deliveries it acknowledged but had not processed);
after a restart every message arrives, once."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.conftest import Processes
from tests.fakes.slack.server import run_fake_slack
from tests.fakes.slack.testing import TOKEN, seeded_fake
from tests.support.payloads.alertmanager import alert, webhook
from tests.support.processes import ALERTMANAGER_TOKEN, firebreak_env, poll_until

pytestmark = pytest.mark.slow

P1_GROUPS = [f"g-latency-{n}" for n in range(3)]
P2_GROUPS = [f"g-memory-{n}" for n in range(2)]


async def test_messages_in_the_outbox_survive_a_sigkill(
    processes: Processes, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    fake = seeded_fake()
    triage = fake.workspace.add_channel("incident-triage")
    fake.faults.unavailable(calls=10**9)  # Slack is down: every row stays pending
    async with run_fake_slack(fake) as slack_url:
        env = firebreak_env(
            f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET="e2e-signing-secret",
            SLACK_API_URL=slack_url,
            SLACK_TRIAGE_CHANNEL=triage.id,
            FIREBREAK_OUTBOX_LEASE_SECONDS="2",
            FIREBREAK_OUTBOX_POLL_SECONDS="0.2",
        )
        bot = await processes.firebreak("bot-1", env=env)
        headers = {"Authorization": f"Bearer {ALERTMANAGER_TOKEN}"}
        payloads = [
            webhook(key, [alert(f"LNNHighLatency{n}", "critical", service="lnn-service")])
            for n, key in enumerate(P1_GROUPS)
        ] + [
            webhook(key, [alert(f"LNNHighMemory{n}", "warning")]) for n, key in enumerate(P2_GROUPS)
        ]
        for payload in payloads:
            async with http.post(
                bot.base_url + "/webhooks/alertmanager", data=json.dumps(payload), headers=headers
            ) as response:
                assert response.status == 202, await response.text()

        async def tried() -> bool | None:
            return True if fake.calls("conversations.create") else None

        await poll_until(tried, timeout=20, what="a first Slack attempt", context=bot.describe)
        bot.process.kill()  # SIGKILL: no graceful stop, leases left behind
        bot.process.wait(timeout=10)
        assert fake.calls("conversations.create", ok=True) == []

        fake.faults.clear()
        restarted = await processes.firebreak("bot-2", env=env)

        async def delivered() -> bool | None:
            cards = [m for m in triage.messages if m.thread_ts is None]
            rooms = [c for c in fake.workspace.channels.values() if c.name.startswith("inc-")]
            done = (
                len(rooms) == len(P1_GROUPS)
                and len(cards) == len(P2_GROUPS)
                and all(any(m.blocks for m in c.messages) for c in rooms)
            )
            return True if done else None

        await poll_until(
            delivered,
            timeout=60,
            what="every message after the restart",
            context=restarted.describe,
        )
        for channel in fake.workspace.channels.values():
            if channel.name.startswith("inc-"):
                # The card, and the escalation's mention of the on-call engineer beside it.
                top = [
                    m
                    for m in channel.messages
                    if m.thread_ts is None and not (m.text or "").startswith("<@")
                ]
                assert len(top) == 1, (channel.name, [m.text for m in top])
                assert channel.topic
        assert len(fake.calls("conversations.create", ok=True)) == len(P1_GROUPS)
        assert len([m for m in triage.messages if m.thread_ts is None]) == len(P2_GROUPS)
