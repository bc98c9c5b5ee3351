"""``/incident silence`` and ``unsilence`` against the real Alertmanager (Debian
``prometheus-alertmanager``), through the bot's Slack route.

Alertmanager notifies a small recording receiver on loopback; the test hands the first
notification to the bot as Alertmanager would (so the incident holds Alertmanager's own
fingerprints and common labels), then types the commands in the incident's channel and
reads Alertmanager's API and what the receiver got. Every wait is a poll with a deadline;
nothing asserts on timing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.domain.silence import Matcher, NewSilence
from bot.errors import UpstreamError
from bot.integrations.alertmanager.silences import AlertmanagerSilences
from bot.policy.model import Policy
from handlers.deps import DEPS
from tests.fakes.slack.models import Channel
from tests.fakes.slack.testing import ALICE, BOB
from tests.support.bot_app import MakeClient
from tests.support.processes import (
    AlertSpec,
    Service,
    Timing,
    alertmanager_config,
    free_port,
    poll_until,
    post_alerts,
    require_binary,
    start_alertmanager,
    wait_http_ok,
)
from tests.support.slack_bot import SlackBot, buttons, eventually, slack_bot

pytestmark = [pytest.mark.binary]

WAIT_S = 30.0
TOKEN = "silence-test-token"
LATENCY = {
    "alertname": "LNNHighLatency",
    "severity": "critical",
    "service": "lnn-service",
    "instance": "lnn-0",
}


@dataclass
class Receiver:
    """Alertmanager's webhook receiver: every notification body, in arrival order."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)

    def alerts_of(self, alertname: str) -> list[dict[str, str]]:
        """The labels of every alert notified in ``alertname``'s group, all notifications."""
        return [
            a["labels"]
            for body in self.received
            if body["groupLabels"].get("alertname") == alertname
            for a in body["alerts"]
        ]


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    app = web.Application()
    found = Receiver("")

    async def notified(request: web.Request) -> web.Response:
        found.received.append(json.loads(await request.read()))
        return web.Response(status=200)

    app.router.add_post("/hook", notified)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    found.url = f"http://{host}:{port}/hook"
    try:
        yield found
    finally:
        await runner.cleanup()


@dataclass
class World:
    bot: SlackBot
    alertmanager: Service
    hook: Receiver
    session: aiohttp.ClientSession


@pytest.fixture
async def world(
    aiohttp_client: MakeClient, sqlite_url: str, policy: Policy, tmp_path: Path
) -> AsyncIterator[World]:
    require_binary("prometheus-alertmanager")
    async with receiver() as hook:
        timing = Timing(group_wait="1s", group_interval="1s")
        am = start_alertmanager(
            "am", config_text=alertmanager_config(hook.url, TOKEN, timing), workdir=tmp_path
        )
        try:
            await wait_http_ok(am, "/-/ready")
            async with (
                slack_bot(
                    aiohttp_client,
                    sqlite_url,
                    policy,
                    alertmanager_url=am.base_url,
                    approvers=(ALICE,),
                ) as bot,
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
            ):
                yield World(bot, am, hook, session)
        finally:
            am.stop()


def spec(**labels: str) -> dict[str, Any]:
    return AlertSpec(labels, datetime.now(UTC) - timedelta(minutes=1)).firing()


async def am_get(world: World, path: str) -> Any:
    async with world.session.get(world.alertmanager.base_url + path) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def open_incident(world: World) -> Channel:
    """Alertmanager notifies the latency group; the bot opens incident #1 from that very
    notification; answers the incident's channel."""
    await post_alerts(world.session, world.alertmanager, [spec(**LATENCY)])

    async def notified() -> dict[str, Any] | None:
        return next(iter(world.hook.received), None)

    first = await poll_until(notified, timeout=WAIT_S, what="the first notification")
    await world.bot.alertmanager(first)
    return await eventually(lambda: world.bot.incident_channels()[0])


async def test_a_silence_from_slack_mutes_the_incidents_alerts_until_unsilenced(
    world: World,
) -> None:
    channel = await open_incident(world)
    title = (await world.bot.incident(1))["title"]

    reply = await world.bot.reply("silence 1h", user=BOB, channel=channel.id)
    assert reply.startswith("Silenced *#1*'s alerts in Alertmanager until "), reply

    silences = await am_get(world, "/api/v2/silences")
    assert len(silences) == 1
    made = silences[0]
    await eventually(lambda: "*Silenced*" in json.dumps(world.bot.channel_card(channel).blocks))
    assert made["status"]["state"] == "active"
    assert sorted(
        (m["name"], m["value"], m["isRegex"], m["isEqual"]) for m in made["matchers"]
    ) == [
        ("alertname", "LNNHighLatency", False, True),
        ("instance", "lnn-0", False, True),
        ("service", "lnn-service", False, True),
        ("severity", "critical", False, True),
    ]
    assert made["createdBy"] == f"slack:{BOB}"
    assert made["comment"] == f"firebreak incident #1: {title}"

    # A new alert the silence matches, and one of the same group it does not: the group's
    # next notification carries the second only.
    muted = {**LATENCY, "pod": "lnn-0-abc"}
    other = {**LATENCY, "instance": "lnn-9"}
    await post_alerts(world.session, world.alertmanager, [spec(**muted), spec(**other)])

    async def other_notified() -> bool | None:
        return True if other in world.hook.alerts_of("LNNHighLatency") else None

    await poll_until(other_notified, timeout=WAIT_S, what="the unsilenced alert's notification")
    assert muted not in world.hook.alerts_of("LNNHighLatency")
    held = await am_get(world, "/api/v2/alerts?filter=pod%3D%22lnn-0-abc%22")
    assert [a["status"]["silencedBy"] for a in held] == [[made["id"]]]

    reply = await world.bot.reply("unsilence", user=BOB, channel=channel.id)
    assert reply == f"Expired the silence of *#1* in Alertmanager: `{made['id']}`."
    states = [s["status"]["state"] for s in await am_get(world, "/api/v2/silences")]
    assert states == ["expired"]
    await eventually(lambda: "*Silenced*" not in json.dumps(world.bot.channel_card(channel).blocks))

    async def muted_notified() -> bool | None:
        return True if muted in world.hook.alerts_of("LNNHighLatency") else None

    await poll_until(muted_notified, timeout=WAIT_S, what="the once-silenced alert's notification")

    timeline = (await world.bot.incident(1))["timeline"]
    entries = [e for e in timeline if e["kind"] in ("silence.created", "silence.expired")]
    assert [(e["kind"], e["actor"], e["body"]["silence_id"]) for e in entries] == [
        ("silence.created", f"slack:{BOB}", made["id"]),
        ("silence.expired", f"slack:{BOB}", made["id"]),
    ]
    # The incident's alert still fires in Alertmanager: nothing to resolve after the silence.
    [checked] = [e["body"] for e in timeline if e["kind"] == "silence.checked"]
    assert checked == {"after": "unsilence", "firing": 1, "resolved": []}
    assert entries[0]["body"]["matchers"] == [
        'alertname="LNNHighLatency"',
        'instance="lnn-0"',
        'service="lnn-service"',
        'severity="critical"',
    ]


def request_buttons(channel: Channel) -> dict[str, dict[str, Any]] | None:
    """The Approve and Deny of the broad silence request in the incident's thread."""
    for message in channel.messages:
        found = buttons(message)
        if "Approve" in found and found["Approve"]["action_id"] == "firebreak.approve_silence":
            return found
    return None


async def test_a_broad_silence_is_refused_without_an_approvers_approval(world: World) -> None:
    channel = await open_incident(world)
    memory = {"alertname": "LNNHighMemory", "severity": "warning", "service": "lnn-service"}
    await post_alerts(world.session, world.alertmanager, [spec(**memory)])

    async def held() -> bool | None:
        return True if len(await am_get(world, "/api/v2/alerts")) == 2 else None

    await poll_until(held, timeout=WAIT_S, what="Alertmanager holding both alerts")

    narrow = await world.bot.reply(
        "silence --matcher service=lnn-service", user=BOB, channel=channel.id
    )
    assert narrow.startswith(
        ":warning: these matchers also match 1 alert outside incident #1: "
        '{alertname="LNNHighMemory", service="lnn-service", severity="warning"}.'
    ), narrow
    asked = await world.bot.reply(
        "silence 30m --matcher service=lnn-service --broad", user=BOB, channel=channel.id
    )
    assert asked.startswith("That silence is broad (matches 1 alert outside incident #1"), asked
    assert "so an approver must approve it: request " in asked
    assert await am_get(world, "/api/v2/silences") == []

    request = await eventually(lambda: request_buttons(channel))
    approve = request["Approve"]
    assert approve["value"]["incident"] == 1
    # Whoever asked cannot approve it: still nothing silenced.
    response = await world.bot.click(
        approve["action_id"], approve["value"], user=BOB, channel=channel.id
    )
    assert response.status == 200, await response.text()
    await eventually(
        lambda: [r for r in world.bot.fake.responses if "another approver" in str(r)] or None
    )
    assert await am_get(world, "/api/v2/silences") == []

    response = await world.bot.click(
        approve["action_id"], approve["value"], user=ALICE, channel=channel.id
    )
    assert response.status == 200, await response.text()

    async def made() -> list[Any] | None:
        return (await am_get(world, "/api/v2/silences")) or None

    silences = await poll_until(made, timeout=WAIT_S, what="the approved silence")
    assert [(s["createdBy"], [m["name"] for m in s["matchers"]]) for s in silences] == [
        (f"slack:{BOB}", ["service"])
    ]
    assert silences[0]["comment"].endswith(f"(broad; approved by slack:{ALICE})")
    # The request's message loses its buttons once decided.
    await eventually(lambda: True if request_buttons(channel) is None else None)

    entries = [e for e in (await world.bot.incident(1))["timeline"] if "silence" in e["kind"]]
    assert [(e["kind"], e["actor"]) for e in entries] == [
        ("silence.refused", f"slack:{BOB}"),
        ("silence.requested", f"slack:{BOB}"),
        ("silence.refused", f"slack:{BOB}"),
        ("silence.approved", f"slack:{ALICE}"),
        ("silence.created", f"slack:{ALICE}"),
    ]
    assert entries[-1]["body"]["approved_by"] == f"slack:{ALICE}"
    assert entries[-1]["body"]["by"] == f"slack:{BOB}"

    # An approver's own --broad is made at once, and says so.
    direct = await world.bot.reply(
        "silence 30m --matcher service=lnn-service --broad", user=ALICE, channel=channel.id
    )
    assert "It also silences 1 alert of other incidents (--broad)." in direct
    assert "as an approver you made it without asking another approver" in direct


async def test_an_alert_that_resolved_while_silenced_is_resolved_on_unsilence(
    world: World,
) -> None:
    channel = await open_incident(world)
    assert (await world.bot.reply("silence 1h", user=BOB, channel=channel.id)).startswith(
        "Silenced *#1*"
    )
    notified = len(world.hook.received)
    # The alert resolves in Alertmanager while silenced: firebreak is not told.
    began = datetime.now(UTC) - timedelta(minutes=1)
    await post_alerts(
        world.session,
        world.alertmanager,
        [AlertSpec(LATENCY, began).resolved(datetime.now(UTC))],
    )

    async def gone() -> bool | None:
        return True if await am_get(world, "/api/v2/alerts") == [] else None

    await poll_until(gone, timeout=WAIT_S, what="Alertmanager dropping the resolved alert")
    assert (await world.bot.incident(1))["status"] == "triggered"

    reply = await world.bot.reply("unsilence", user=BOB, channel=channel.id)
    assert "Resolved while silenced, and resolved now: `LNNHighLatency`." in reply, reply
    assert "*#1* is resolved" in reply
    incident = await world.bot.incident(1)
    assert incident["status"] == "resolved"
    kinds = [
        (e["kind"], e["actor"])
        for e in incident["timeline"]
        if not e["kind"].startswith(("escalation.", "notification."))
    ]
    assert kinds[-4:] == [
        ("silence.expired", f"slack:{BOB}"),
        ("alert.resolved", "bot:firebreak"),
        ("silence.checked", "bot:firebreak"),
        ("incident.resolved", "system:alertmanager"),
    ]
    # Alertmanager sent nothing about it meanwhile.
    assert all(
        a.get("status") != "resolved"
        for body in world.hook.received[notified:]
        for a in body["alerts"]
    )


async def test_resolving_a_silenced_incident_offers_to_expire_its_silence(world: World) -> None:
    channel = await open_incident(world)
    assert (await world.bot.reply("silence 2h", user=BOB, channel=channel.id)).startswith(
        "Silenced *#1*"
    )
    assert (await world.bot.reply("resolve fixed", user=BOB, channel=channel.id)).startswith(
        "Resolved"
    )

    def offer() -> dict[str, Any] | None:
        for message in channel.messages:
            found = buttons(message).get("Expire the silence")
            if found is not None:
                return found
        return None

    button = await eventually(offer)
    assert button == {"action_id": "firebreak.unsilence", "value": {"incident": 1}}
    response = await world.bot.click(
        button["action_id"], button["value"], user=ALICE, channel=channel.id
    )
    assert response.status == 200, await response.text()

    async def expired() -> bool | None:
        silences = await am_get(world, "/api/v2/silences")
        return True if [s["status"]["state"] for s in silences] == ["expired"] else None

    await poll_until(expired, timeout=WAIT_S, what="the silence expired by the button")
    kinds = [e["kind"] for e in (await world.bot.incident(1))["timeline"]]
    assert kinds.count("silence.expired") == 1


async def test_the_adapter_turns_refusals_and_an_absent_alertmanager_into_upstream_errors(
    world: World,
) -> None:
    now = datetime.now(UTC)
    # Alertmanager refuses a silence whose every matcher matches the empty string.
    empty = NewSilence((Matcher("pod", ""),), now, now + timedelta(hours=1), "slack:U1", "c")
    alertmanager = AlertmanagerSilences(world.alertmanager.base_url)
    try:
        with pytest.raises(
            UpstreamError, match=r"Alertmanager answered 400 to POST /api/v2/silences: .*empty"
        ):
            await alertmanager.create(empty)
        # 0.25 answers 500 for a silence it does not hold (unsilence lists them first).
        with pytest.raises(UpstreamError, match=r"answered 500 to DELETE .*silence not found"):
            await alertmanager.expire("00000000-0000-4000-8000-000000000000")
    finally:
        await alertmanager.close()

    absent = AlertmanagerSilences(f"http://127.0.0.1:{free_port()}", timeout=5)
    try:
        with pytest.raises(UpstreamError, match="Alertmanager could not be asked"):
            await absent.list()
    finally:
        await absent.close()


async def test_a_silence_that_ran_out_is_noticed_and_its_quiet_incident_resolved(
    world: World,
) -> None:
    await open_incident(world)
    channel = world.bot.incident_channels()[0]
    assert (await world.bot.reply("silence 2s", user=BOB, channel=channel.id)).startswith(
        "Silenced *#1*"
    )
    began = datetime.now(UTC) - timedelta(minutes=1)
    await post_alerts(
        world.session,
        world.alertmanager,
        [AlertSpec(LATENCY, began).resolved(datetime.now(UTC))],
    )

    async def ran_out() -> bool | None:
        silences = await am_get(world, "/api/v2/silences")
        alerts = await am_get(world, "/api/v2/alerts")
        states = [s["status"]["state"] for s in silences]
        return True if states == ["expired"] and alerts == [] else None

    await poll_until(ran_out, timeout=WAIT_S, what="the silence's end and the alert's resolution")
    # One round of the watcher (the app runs it every 30 s on the real clock; if its own
    # round came first, this one finds nothing left, and the outcome is the same).
    silencer = world.bot.client.app[DEPS].silencer
    assert silencer is not None
    await silencer.sweep_ended()
    incident = await world.bot.incident(1)
    assert incident["status"] == "resolved"
    assert incident["silenced_until"] is None
    kinds = [
        (e["kind"], e["actor"])
        for e in incident["timeline"]
        if not e["kind"].startswith(("escalation.", "notification."))
    ]
    assert kinds[-4:] == [
        ("silence.expired", "bot:firebreak"),
        ("alert.resolved", "bot:firebreak"),
        ("silence.checked", "bot:firebreak"),
        ("incident.resolved", "system:alertmanager"),
    ]


async def test_a_silence_alertmanager_refuses_is_on_the_timeline(world: World) -> None:
    channel = await open_incident(world)
    # Every matcher matches the empty string: Alertmanager answers 400.
    reply = await world.bot.reply("silence --matcher pod=", user=BOB, channel=channel.id)
    assert "Alertmanager answered 400 to POST /api/v2/silences" in reply, reply
    assert await am_get(world, "/api/v2/silences") == []
    [refused] = [
        e for e in (await world.bot.incident(1))["timeline"] if e["kind"] == "silence.refused"
    ]
    assert refused["actor"] == f"slack:{BOB}"
    assert refused["body"]["matchers"] == ['pod=""']
    assert refused["body"]["why"].startswith("Alertmanager answered 400 to POST /api/v2/silences")
