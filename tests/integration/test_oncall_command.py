"""``/incident page`` and ``/incident oncall`` through the real Slack route: signed requests
to the bot app (Bolt, the handlers, the store on SQLite) wired to the fake Slack. The on-call
directory is a small fake of the ``OnCallDirectory`` port (PagerDuty's adapter is tested on
its own)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from bot.app import create_app
from bot.domain.escalation import OnCall
from bot.errors import UpstreamError
from bot.policy.model import Policy
from bot.services.escalation.reach import Reach
from handlers.deps import DEPS
from tests.fakes.slack.server import run_fake_slack
from tests.fakes.slack.testing import ALICE, BOB, CAROL, ONCALL, seeded_fake
from tests.support.bot_app import MakeClient
from tests.support.rotation import with_rotation
from tests.support.slack_bot import SlackBot, eventually, slack_bot_settings


class Directory:
    """PagerDuty's on-call API as the port sees it: answers, fails, or is not configured."""

    def __init__(self, *, configured: bool = True, fails: bool = False) -> None:
        self._configured = configured
        self.fails = fails
        self.asked: list[str | None] = []

    @property
    def configured(self) -> bool:
        return self._configured

    async def on_call(self, service: str | None) -> Sequence[OnCall]:
        self.asked.append(service)
        if self.fails:
            raise UpstreamError("could not reach api.pagerduty.com")
        until = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
        return (OnCall(1, "Ann Oncall", "pagerduty", "ann@company.com", (ALICE,), until=until),)


@asynccontextmanager
async def paging_bot(
    aiohttp_client: MakeClient, database_url: str, policy: Policy, **deps: Any
) -> AsyncIterator[SlackBot]:
    """The bot against the fake Slack, with the policy's rotation and ``deps`` set on the
    handlers' ``Deps`` (as the composition root will set them)."""
    fake = seeded_fake()
    triage = fake.workspace.add_channel("incident-triage")
    async with run_fake_slack(fake) as base_url:
        settings = slack_bot_settings(database_url, base_url, triage.id)
        rota = replace(with_rotation(policy), responders={"lnn-service": (ALICE, ONCALL)})
        app = create_app(settings, policy=rota)

        async def set_deps(app: web.Application) -> AsyncIterator[None]:
            app[DEPS] = replace(app[DEPS], **deps)
            yield

        app.cleanup_ctx.append(set_deps)
        client = await aiohttp_client(app)
        hooks = base_url.removesuffix("/api/") + "/hooks"
        try:
            yield SlackBot(client=client, fake=fake, triage=triage, hooks=hooks)
        finally:
            await client.close()


@pytest.fixture
async def bot(
    aiohttp_client: MakeClient, sqlite_url: str, policy: Policy
) -> AsyncIterator[SlackBot]:
    async with paging_bot(aiohttp_client, sqlite_url, policy, reach=Reach(email=True)) as running:
        yield running


async def incident_channel(bot: SlackBot) -> str:
    """Declare a P0 and wait until its channel is known (the outbox created it)."""
    reply = await bot.reply('declare "LNN is down" --severity P0 --service lnn-service')
    assert reply.startswith("Declared *#1* P0")
    channel = await eventually(lambda: bot.incident_channels()[0])
    await eventually(lambda: bot.channel_card(channel))
    return channel.id


async def timeline(bot: SlackBot) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = (await bot.incident(1))["timeline"]
    return entries


async def test_page_in_the_incident_channel_records_who_is_told_by_whom(bot: SlackBot) -> None:
    channel = await incident_channel(bot)

    first = await bot.reply("page", user=BOB, channel=channel)
    person = await bot.reply(f"page <@{CAROL}|carol>", user=BOB, channel=channel)

    assert first.splitlines() == [
        f"Paged for *#1* (LNN on-call): new PagerDuty alert on the default service for "
        f"primary; <@{ALICE}>.",
        "PagerDuty's escalation policy for that service decides whom the alert calls.",
        "Paging is not configured (set PAGERDUTY_ROUTING_KEY): on the timeline, but not sent.",
    ]
    assert person == (
        f"Paged for *#1* (Team lead): <@{CAROL}>; email to liquid-edge-lead@company.com."
    )
    paged = [
        (e["actor"], [(n["via"], n["who"], n["address"]) for n in e["body"]["notified"]])
        for e in await timeline(bot)
        if e["kind"] == "page.requested"
    ]
    assert paged == [
        (f"slack:{BOB}", [("page", "primary", ""), ("slack", "primary", ALICE)]),
        (
            f"slack:{BOB}",
            [("slack", "manager", CAROL), ("email", "manager", "liquid-edge-lead@company.com")],
        ),
    ]
    noted = [e["body"] for e in await timeline(bot) if e["kind"] == "notification.unconfigured"]
    assert noted == [{"via": "page", "setting": "PAGERDUTY_ROUTING_KEY"}]


async def test_page_refuses_unknown_members_other_channels_and_resolved_incidents(
    bot: SlackBot,
) -> None:
    channel = await incident_channel(bot)
    unknown = await bot.reply("page vp", channel=channel)
    elsewhere = await bot.reply("page primary", channel="C0ELSEWHERE")
    assert (await bot.reply("resolve fixed", channel=channel)).startswith("Resolved")
    resolved = await bot.reply("page", channel=channel)

    assert unknown == (
        ":warning: `vp` is not in the on-call rotation. Page one of `primary`, `secondary`, "
        "`manager` (or a PagerDuty service: `platform`), or mention someone: "
        "`/incident page @name`"
    )
    assert elsewhere == (
        ":warning: `/incident page` pages for the incident of the channel it is typed in: "
        "type it in the incident's channel"
    )
    assert resolved.startswith(":warning: incident #1 is resolved: nobody is paged for it.")
    assert [e["kind"] for e in await timeline(bot) if e["kind"] == "page.requested"] == []
    assert (await bot.reply("page @vp", channel=channel)).startswith(
        ":warning: `@vp` is not a Slack user; pick them with @."
    )


@pytest.mark.parametrize(
    ("directory", "head", "first_line"),
    [
        (
            Directory(),
            "*On call now for `lnn-service`*, as PagerDuty says:",
            f"• Level 1 · Ann Oncall · ann@company.com · <@{ALICE}> · until 2026-11-22 18:00Z",
        ),
        (
            Directory(fails=True),
            ":warning: PagerDuty could not be asked (could not reach api.pagerduty.com). "
            "*On call for `lnn-service`*, from the policy's rotation:",
            f"• Level 1 · LNN on-call · liquid-edge-oncall@company.com · <@{ALICE}> · until —",
        ),
        (
            Directory(configured=False),
            "*On call for `lnn-service`*, from the policy's rotation (PagerDuty is not asked: "
            "set PAGERDUTY_API_TOKEN):",
            f"• Level 1 · LNN on-call · liquid-edge-oncall@company.com · <@{ALICE}> · until —",
        ),
    ],
    ids=["pagerduty", "upstream-error", "unconfigured"],
)
async def test_oncall_answers_from_pagerduty_or_the_rotation_saying_which(
    aiohttp_client: MakeClient,
    sqlite_url: str,
    policy: Policy,
    directory: Directory,
    head: str,
    first_line: str,
) -> None:
    async with paging_bot(aiohttp_client, sqlite_url, policy, oncall=directory) as bot:
        lines = (await bot.reply("oncall lnn-service", user=CAROL)).splitlines()
    if not directory.configured or directory.fails:
        # From the rotation, where only the secondary names a service (platform).
        assert lines.pop(1) == (
            "No one in the rotation is paged through `lnn-service`; this is the whole rotation."
        )
    assert lines[:2] == [head, first_line]
    assert directory.asked == ([] if not directory.configured else ["lnn-service"])
    if directory.configured and not directory.fails:
        assert len(lines) == 2
    else:
        assert [line.split(" · ")[1] for line in lines[1:]] == [
            "LNN on-call",
            "Platform on-call",
            "Team lead",
        ]


async def test_oncall_without_a_directory_uses_the_rotation(bot: SlackBot) -> None:
    reply = await bot.reply("oncall")
    assert reply.splitlines()[0] == (
        "*On call*, from the policy's rotation (PagerDuty is not asked: set PAGERDUTY_API_TOKEN):"
    )
    assert len(reply.splitlines()) == 4
    assert "oncall [SERVICE]" in await bot.reply("help")
