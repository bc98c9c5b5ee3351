"""Issue 16 end to end, over sockets: a real ``firebreak serve`` with a policy whose delays are
seconds, the fake Slack, the fake PagerDuty (TLS, trusted through ``SSL_CERT_FILE``) and a real
SMTP server. An alert pages the primary; nobody acknowledges, so the next level emails the
secondary and mentions them in the channel; ``/incident ack`` then sends PagerDuty an
acknowledge and no later level fires."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from bot.policy.file import DEFAULT_POLICY
from tests.e2e.conftest import Processes
from tests.fakes.pagerduty.server import FakePagerDuty
from tests.fakes.pagerduty.testing import ROUTING_KEY, serving
from tests.fakes.slack.server import run_fake_slack
from tests.fakes.slack.testing import TOKEN, seeded_fake
from tests.support.payloads.alertmanager import alert, webhook
from tests.support.processes import ALERTMANAGER_TOKEN, FirebreakApi, firebreak_env, poll_until
from tests.support.slack_bot import post_slash_command
from tests.support.smtp import smtp_server

pytestmark = pytest.mark.slow

SECRET = "e2e-signing-secret"
PRIMARY, SECONDARY, LEAD = "U0PRIMARY1", "U0SECOND1", "U0TEAMLEAD1"
SECONDARY_EMAIL, LEAD_EMAIL = "secondary@example.com", "lead@example.com"
# Level 1 comes soon after the page; level 2 late enough that the test acknowledges first,
# however slow the machine, and early enough to show it did not fire.
LEVEL_1_S, LEVEL_2_S = 4, 25


def fast_policy(path: Path, level_1_s: int = LEVEL_1_S, level_2_s: int = LEVEL_2_S) -> Path:
    """The shipped policy with a rotation of test people and a P0 path in seconds."""
    policy: dict[str, Any] = yaml.safe_load(DEFAULT_POLICY.read_text())
    policy["maintenance"] = []  # the real clock may be in the Sunday window
    policy["rotation"] = {
        "primary": {"name": "Primary", "email": "primary@example.com", "slack": [PRIMARY]},
        "secondary": {"name": "Secondary", "email": SECONDARY_EMAIL, "slack": [SECONDARY]},
        "lead": {"name": "Team lead", "email": LEAD_EMAIL, "slack": [LEAD]},
    }
    policy["severities"]["P0"]["path"] = [
        {"after": "0", "name": "on-call", "notify": [{"page": "primary"}, {"slack": "primary"}]},
        {
            "after": f"{level_1_s}s",
            "name": "secondary",
            "notify": [{"email": "secondary"}, {"slack": "secondary"}],
        },
        {
            "after": f"{level_2_s}s",
            "name": "team lead",
            "notify": [{"email": "lead"}, {"slack": "lead"}],
        },
    ]
    for level in ("P1", "P2"):
        policy["severities"][level].pop("path", None)
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


def bot_env(
    tmp_path: Path, slack_url: str, pagerduty_url: str, smtp_url: str, policy: Path
) -> dict[str, str]:
    return firebreak_env(
        f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        FIREBREAK_POLICY=str(policy),
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack_url,
        PAGERDUTY_ROUTING_KEY=ROUTING_KEY,
        PAGERDUTY_EVENTS_URL=pagerduty_url,
        FIREBREAK_SMTP_URL=smtp_url,
        FIREBREAK_EMAIL_FROM="firebreak@example.com",
        FIREBREAK_PUBLIC_URL="http://firebreak.example",
        FIREBREAK_ESCALATION_POLL_SECONDS="0.2",
        FIREBREAK_OUTBOX_POLL_SECONDS="0.2",
    )


async def post_service_down(http: aiohttp.ClientSession, base_url: str) -> None:
    payload = webhook("g-down", [alert("LNNServiceDown", "critical", service="lnn-service")])
    async with http.post(
        base_url + "/webhooks/alertmanager",
        data=json.dumps(payload),
        headers={"Authorization": f"Bearer {ALERTMANAGER_TOKEN}"},
    ) as response:
        assert response.status == 202, await response.text()


async def test_a_page_nobody_answers_escalates_until_someone_acknowledges(
    processes: Processes,
    http: aiohttp.ClientSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_slack = seeded_fake()
    fake_slack.workspace.add_channel("incident-triage")
    pagerduty = FakePagerDuty()
    async with (
        run_fake_slack(fake_slack) as slack_url,
        serving(pagerduty, tmp_path, monkeypatch) as pagerduty_url,  # sets SSL_CERT_FILE
        smtp_server(tmp_path) as smtp,
    ):
        policy = fast_policy(tmp_path / "policy.yaml")
        env = bot_env(tmp_path, slack_url, pagerduty_url, smtp.url(), policy)
        bot = await processes.firebreak("bot", env=env)
        api = FirebreakApi(http, bot)

        await post_service_down(http, bot.base_url)

        # Level 0: one page, triggered with the incident's dedup key.
        async def paged() -> dict[str, Any] | None:
            events = pagerduty.accepted()
            return events[0] if events else None

        trigger = await poll_until(paged, timeout=30, what="the page", context=bot.describe)
        assert trigger["event_action"] == "trigger"
        assert trigger["routing_key"] == ROUTING_KEY
        dedup_key = trigger["dedup_key"]
        incident_id = int(dedup_key.removeprefix("firebreak-"))
        assert trigger["payload"]["severity"] == "critical"
        assert "LNNServiceDown" in json.dumps(trigger["payload"]["custom_details"])
        assert trigger["links"][0]["href"].startswith("http://firebreak.example/")

        # Nobody acknowledges: level 1 emails the secondary and mentions them in the channel.
        async def emailed() -> list[str] | None:
            to = [address for mail in smtp.received for address in mail.rcpt_tos]
            return to if SECONDARY_EMAIL in to else None

        await poll_until(emailed, timeout=30, what="the secondary's email", context=bot.describe)
        mail = next(m for m in smtp.received if SECONDARY_EMAIL in m.rcpt_tos)
        assert f"#{incident_id}" in mail.message["Subject"]
        assert f"/incident ack {incident_id}" in mail.message.get_content()

        def channel_texts() -> str:
            rooms = [c for c in fake_slack.workspace.channels.values() if c.name.startswith("inc-")]
            return "\n".join(m.text or "" for c in rooms for m in c.messages)

        async def mentioned() -> bool | None:
            return True if f"<@{SECONDARY}>" in channel_texts() else None

        await poll_until(mentioned, timeout=30, what="the channel mention", context=bot.describe)
        assert f"<@{PRIMARY}>" in channel_texts()

        # Someone acknowledges in Slack.
        await post_slash_command(
            http, bot.base_url, f"ack {incident_id}", secret=SECRET, slack_url=slack_url
        )

        async def acknowledged() -> bool | None:
            actions = [e["event_action"] for e in pagerduty.accepted()]
            return True if "acknowledge" in actions else None

        await poll_until(acknowledged, timeout=30, what="PagerDuty's ack", context=bot.describe)
        alerts = pagerduty.alerts.for_key(dedup_key)
        assert len(alerts) == 1
        assert alerts[0].open

        # Past level 2's delay (a real process on the system clock: the test waits for it),
        # it has not fired, and nothing more went out.
        opened = datetime.fromisoformat((await api.incident(incident_id))["created_at"])
        left = LEVEL_2_S + 3 - (datetime.now(UTC) - opened).total_seconds()
        await asyncio.sleep(max(0.0, left))
        detail = await api.incident(incident_id)
        fired = [e["body"]["level"] for e in detail["timeline"] if e["kind"] == "escalation.fired"]
        assert fired == [0, 1]
        assert detail["status"] == "acknowledged"
        assert LEAD_EMAIL not in [a for m in smtp.received for a in m.rcpt_tos]
        assert f"<@{LEAD}>" not in channel_texts()
        assert [e["event_action"] for e in pagerduty.accepted()] == ["trigger", "acknowledge"]
        # Stopped before the fakes close: its kept-alive TLS connection to the fake PagerDuty
        # must end from its side, or the fake's socket is left for the garbage collector.
        bot.stop()


async def test_a_level_due_while_the_bot_was_down_fires_once_late_after_the_restart(
    processes: Processes,
    http: aiohttp.ClientSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    level_1_s = 6
    fake_slack = seeded_fake()
    pagerduty = FakePagerDuty()
    async with (
        run_fake_slack(fake_slack) as slack_url,
        serving(pagerduty, tmp_path, monkeypatch) as pagerduty_url,
        smtp_server(tmp_path) as smtp,
    ):
        policy = fast_policy(tmp_path / "policy.yaml", level_1_s=level_1_s, level_2_s=3600)
        env = bot_env(tmp_path, slack_url, pagerduty_url, smtp.url(), policy)
        first = await processes.firebreak("bot-1", env=env)
        api = FirebreakApi(http, first)
        await post_service_down(http, first.base_url)

        async def paged() -> bool | None:
            return True if pagerduty.accepted() else None

        await poll_until(paged, timeout=30, what="the page", context=first.describe)
        opened = datetime.fromisoformat((await api.incident(1))["created_at"])
        first.stop()  # SIGTERM: down before level 1 is due

        # Stay down past the level's time (a real process on the system clock).
        left = level_1_s + 2 - (datetime.now(UTC) - opened).total_seconds()
        await asyncio.sleep(max(0.0, left))
        assert smtp.received == []

        second = await processes.firebreak("bot-2", env=env)
        api = FirebreakApi(http, second)

        async def emailed() -> bool | None:
            return True if any(SECONDARY_EMAIL in m.rcpt_tos for m in smtp.received) else None

        await poll_until(emailed, timeout=30, what="the late level", context=second.describe)
        timeline = (await api.incident(1))["timeline"]
        fired = [e["body"] for e in timeline if e["kind"] == "escalation.fired"]
        assert [body["level"] for body in fired] == [0, 1]
        assert fired[1]["late_seconds"] >= 1
        assert [m.rcpt_tos for m in smtp.received] == [(SECONDARY_EMAIL,)]
        # The first level is not told again after the restart.
        assert [e["event_action"] for e in pagerduty.accepted()] == ["trigger"]
        second.stop()
