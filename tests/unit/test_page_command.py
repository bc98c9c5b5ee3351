"""``/incident page`` and ``/incident oncall``: their parsing (errors included), the use cases
on the memory store, and the replies' wording."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from bot.clock import FixedClock
from bot.domain.actor import Actor
from bot.domain.escalation import OnCall as OnCallEntry
from bot.domain.escalation import Recipient, Via
from bot.domain.events import EventKind, recipients_of
from bot.domain.incident import Severity
from bot.errors import BadRequest, UpstreamError, UsageError
from bot.policy.model import Policy
from bot.services.escalation.reach import Reach
from bot.services.incidents.declare import declare_incident
from bot.services.incidents.ingest_pagerduty import apply_pagerduty_event
from bot.services.incidents.oncall import Fallback, OnCallAnswer, who_is_on_call
from bot.services.incidents.page import PageRequest, page
from bot.services.incidents.queries import show_incident
from bot.services.incidents.updates import resolve
from handlers.pagerduty_schema import parse_pagerduty
from handlers.slack.command.parse import HELP_TEXT, USAGE, Help, OnCall, Page, parse_command
from handlers.slack.replies import oncall_text, page_text
from tests.fakes.memory.store import MemoryStore
from tests.fakes.slack.testing import ALICE, BOB, CAROL
from tests.support.payloads.alertmanager import body
from tests.support.payloads.pagerduty import incident_event
from tests.support.rotation import ROTATION, with_rotation

BOB_ACTOR = Actor("slack", BOB)


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("page", Page()),
        ("PAGE", Page()),
        (f"page <@{CAROL}|carol>", Page(user_id=CAROL)),
        (f"page <@{CAROL}>", Page(user_id=CAROL)),
        (f"page {CAROL}", Page(user_id=CAROL)),
        ("page primary", Page(who="primary")),
        ("page team-lead", Page(who="team-lead")),
        ("oncall", OnCall()),
        ("oncall lnn-service", OnCall("lnn-service")),
        ('oncall "LNN  Analytics Hub"', OnCall("LNN Analytics Hub")),
    ],
)
def test_page_and_oncall_parse(text: str, command: object) -> None:
    assert parse_command(text) == command


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("page primary secondary", "one person or rotation member at a time"),
        ("page @carol", "`@carol` is not a Slack user; pick them with @"),
        ("page <!channel>", "`<!channel>` is not a Slack user"),
        ("page prim@ry", "neither a Slack user nor a rotation member"),
        ('page "a b"', "neither a Slack user nor a rotation member"),
        ("oncall lnn other", "Give one service; quote a name with spaces"),
        ('oncall ""', "The service name is empty"),
        ("oncall " + "s" * 101, "too long (at most 100 characters)"),
    ],
)
def test_page_and_oncall_refuse_what_they_cannot_read(text: str, problem: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_command(text)
    message = str(info.value)
    assert problem in message
    sub = text.split()[0]
    assert message.endswith(f"Usage: {USAGE[sub]}")


def test_help_lists_page_and_oncall() -> None:
    assert "`/incident page [@USER|WHO]`" in HELP_TEXT
    assert "`/incident oncall [SERVICE]`" in HELP_TEXT
    assert parse_command("help ONCALL") == Help("oncall")


# --- The page use case on the memory store. ---


@pytest.fixture
def rota(policy: Policy) -> Policy:
    return with_rotation(policy)


async def open_incident(
    store: MemoryStore, policy: Policy, clock: FixedClock, sev: Severity
) -> int:
    incident = await declare_incident(
        store,
        policy,
        title="LNN is slow",
        actor=Actor("slack", ALICE),
        at=clock.now(),
        severity=sev,
    )
    return incident.id


async def kinds(store: MemoryStore, incident_id: int) -> list[tuple[str, str]]:
    detail = await show_incident(store, incident_id)
    return [(e.kind, str(e.actor)) for e in detail.timeline]


async def told(store: MemoryStore, incident_id: int) -> Sequence[tuple[Recipient, ...]]:
    detail = await show_incident(store, incident_id)
    return [
        recipients_of(e.body["notified"])
        for e in detail.timeline
        if e.kind == EventKind.PAGE_REQUESTED
    ]


async def test_no_one_named_pages_whom_the_path_pages_first_and_notes_paging_is_off(
    rota: Policy, clock: FixedClock
) -> None:
    store = MemoryStore()
    incident_id = await open_incident(store, rota, clock, Severity.P0)
    result = await page(
        store, rota, incident_id, PageRequest(), actor=BOB_ACTOR, at=clock.now(), reach=Reach()
    )
    expected = (Recipient(Via.PAGE, "primary", ""), Recipient(Via.SLACK, "primary", ALICE))
    assert result.recipients == expected
    assert result.members == (ROTATION["primary"],)
    assert result.unconfigured == (Via.PAGE,)
    # Paging twice notes the missing setting once.
    await page(
        store, rota, incident_id, PageRequest(), actor=BOB_ACTOR, at=clock.now(), reach=Reach()
    )
    assert await kinds(store, incident_id) == [
        ("incident.opened", f"slack:{ALICE}"),
        ("page.requested", f"slack:{BOB}"),
        ("notification.unconfigured", "bot:firebreak"),
        ("page.requested", f"slack:{BOB}"),
    ]
    assert await told(store, incident_id) == [expected, expected]


async def test_a_path_that_pages_nobody_at_first_pages_the_primary(
    rota: Policy, clock: FixedClock
) -> None:
    store = MemoryStore()
    incident_id = await open_incident(store, rota, clock, Severity.P1)  # Slack only at level 0
    result = await page(
        store,
        rota,
        incident_id,
        PageRequest(),
        actor=BOB_ACTOR,
        at=clock.now(),
        reach=Reach(paging=True),
    )
    assert [r.via for r in result.recipients] == [Via.PAGE, Via.SLACK]
    assert result.unconfigured == ()
    assert ("notification.unconfigured", "bot:firebreak") not in await kinds(store, incident_id)


async def test_a_rotation_member_by_key_is_paged_through_their_service_and_mentioned(
    rota: Policy, clock: FixedClock
) -> None:
    store = MemoryStore()
    incident_id = await open_incident(store, rota, clock, Severity.P1)
    result = await page(
        store,
        rota,
        incident_id,
        PageRequest(who="Secondary"),
        actor=BOB_ACTOR,
        at=clock.now(),
        reach=Reach(paging=True),
    )
    assert result.recipients == (
        Recipient(Via.PAGE, "secondary", "platform"),
        Recipient(Via.SLACK, "secondary", BOB),
    )
    text = page_text(result)
    assert text.splitlines() == [
        f"Paged for *#{incident_id}* (Platform on-call): new PagerDuty alert on service "
        f"platform for secondary; <@{BOB}>.",
        "PagerDuty's escalation policy for that service decides whom the alert calls.",
    ]


async def test_a_pagerduty_service_by_name_pages_the_members_paged_through_it(
    rota: Policy, clock: FixedClock
) -> None:
    store = MemoryStore()
    incident_id = await open_incident(store, rota, clock, Severity.P1)
    result = await page(
        store,
        rota,
        incident_id,
        PageRequest(who="platform"),
        actor=BOB_ACTOR,
        at=clock.now(),
        reach=Reach(paging=True),
    )
    assert result.recipients == (
        Recipient(Via.PAGE, "secondary", "platform"),
        Recipient(Via.SLACK, "secondary", BOB),
    )
    with pytest.raises(BadRequest, match=r"or a PagerDuty service: `platform`"):
        await page(
            store,
            rota,
            incident_id,
            PageRequest(who="storage"),
            actor=BOB_ACTOR,
            at=clock.now(),
            reach=Reach(paging=True),
        )


async def test_a_mentioned_person_is_mentioned_and_emailed_when_the_rotation_has_them(
    rota: Policy, clock: FixedClock
) -> None:
    store = MemoryStore()
    incident_id = await open_incident(store, rota, clock, Severity.P1)
    member = await page(
        store,
        rota,
        incident_id,
        PageRequest(slack_user=CAROL),
        actor=BOB_ACTOR,
        at=clock.now(),
        reach=Reach(),
    )
    stranger = await page(
        store,
        rota,
        incident_id,
        PageRequest(slack_user="U0STRANGER"),
        actor=BOB_ACTOR,
        at=clock.now(),
        reach=Reach(),
    )
    assert member.recipients == (
        Recipient(Via.SLACK, "manager", CAROL),
        Recipient(Via.EMAIL, "manager", "liquid-edge-lead@company.com"),
    )
    assert member.unconfigured == (Via.EMAIL,)
    assert stranger.recipients == (Recipient(Via.SLACK, "U0STRANGER", "U0STRANGER"),)
    assert stranger.members == ()
    assert page_text(member).splitlines() == [
        f"Paged for *#{incident_id}* (Team lead): <@{CAROL}>; "
        "email to liquid-edge-lead@company.com.",
        "Email is not configured (set FIREBREAK_SMTP_URL): on the timeline, but not sent.",
    ]
    unconfigured = [k for k, _ in await kinds(store, incident_id) if k.startswith("notif")]
    assert unconfigured == ["notification.unconfigured"]


async def test_unknown_members_resolved_incidents_and_empty_policies_are_refused(
    rota: Policy, policy: Policy, clock: FixedClock
) -> None:
    store = MemoryStore()
    incident_id = await open_incident(store, rota, clock, Severity.P0)
    with pytest.raises(BadRequest, match=r"`vp` is not in the on-call rotation.*`primary`"):
        await page(
            store,
            rota,
            incident_id,
            PageRequest(who="vp"),
            actor=BOB_ACTOR,
            at=clock.now(),
            reach=Reach(),
        )
    # A policy with no rotation and no paths: nobody to page.
    unstaffed = dataclasses.replace(
        policy,
        rotation={},
        levels={s: dataclasses.replace(level, path=()) for s, level in policy.levels.items()},
    )
    with pytest.raises(BadRequest, match="nobody to page for P0"):
        await page(
            store,
            unstaffed,
            incident_id,
            PageRequest(),
            actor=BOB_ACTOR,
            at=clock.now(),
            reach=Reach(),
        )
    await resolve(store, incident_id, actor=BOB_ACTOR, at=clock.now())
    with pytest.raises(BadRequest, match="is resolved: nobody is paged"):
        await page(
            store, rota, incident_id, PageRequest(), actor=BOB_ACTOR, at=clock.now(), reach=Reach()
        )
    assert [k for k, _ in await kinds(store, incident_id)] == [
        "incident.opened",
        "incident.resolved",
    ]


async def test_an_incident_pagerduty_opened_is_not_paged_again_but_people_are_still_told(
    rota: Policy, clock: FixedClock
) -> None:
    store = MemoryStore()
    parsed = parse_pagerduty(
        body(incident_event("incident.triggered", clock.now(), incident_id="PD1", priority="P1"))
    )
    assert parsed is not None
    async with store.transaction() as uow:
        applied = await apply_pagerduty_event(uow, policy=rota, now=clock.now(), event=parsed)
    assert applied.incident_id is not None
    incident_id = applied.incident_id
    for request in (PageRequest(), PageRequest(who="secondary")):
        with pytest.raises(BadRequest, match=r"came from PagerDuty.*`/incident page @name`"):
            await page(
                store,
                rota,
                incident_id,
                request,
                actor=BOB_ACTOR,
                at=clock.now(),
                reach=Reach(paging=True),
            )
    assert await told(store, incident_id) == []
    mentioned = await page(
        store,
        rota,
        incident_id,
        PageRequest(slack_user=CAROL),
        actor=BOB_ACTOR,
        at=clock.now(),
        reach=Reach(paging=True, email=True),
    )
    assert [r.via for r in mentioned.recipients] == [Via.SLACK, Via.EMAIL]
    assert await told(store, incident_id) == [mentioned.recipients]


# --- The oncall use case, with a fake of the OnCallDirectory port. ---

UNTIL = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)


class Directory:
    """A stand-in for PagerDuty's on-call API (the port, not firebreak's adapter)."""

    def __init__(
        self, *, configured: bool = True, answer: Sequence[OnCallEntry] = (), fails: bool = False
    ) -> None:
        self._configured = configured
        self.answer = answer
        self.fails = fails
        self.asked: list[str | None] = []

    @property
    def configured(self) -> bool:
        return self._configured

    async def on_call(self, service: str | None) -> Sequence[OnCallEntry]:
        self.asked.append(service)
        if self.fails:
            raise UpstreamError("PagerDuty answered 503")
        return self.answer


PD_ANSWER = (
    OnCallEntry(level=2, name="Sam Secondary", source="pagerduty", email="sam@company.com"),
    OnCallEntry(
        level=1,
        name="Ann <b>Oncall</b>",
        source="pagerduty",
        email="ann@company.com",
        slack=(ALICE,),
        until=UNTIL,
    ),
)


async def test_oncall_is_pagerdutys_answer_when_it_is_configured() -> None:
    directory = Directory(answer=PD_ANSWER)
    answer = await who_is_on_call(directory, ROTATION, "lnn-service")
    assert directory.asked == ["lnn-service"]
    assert (answer.source, answer.fallback) == ("pagerduty", Fallback.NONE)
    assert [e.level for e in answer.on_call] == [1, 2]
    assert oncall_text(answer, "lnn-service").splitlines() == [
        "*On call now for `lnn-service`*, as PagerDuty says:",
        f"• Level 1 · Ann &lt;b&gt;Oncall&lt;/b&gt; · ann@company.com · <@{ALICE}> · "
        "until 2026-11-22 18:00Z",
        "• Level 2 · Sam Secondary · sam@company.com · — · until —",
    ]


@pytest.mark.parametrize(
    ("directory", "fallback", "head"),
    [
        (None, Fallback.UNCONFIGURED, "PagerDuty is not asked: set PAGERDUTY_API_TOKEN"),
        (Directory(configured=False), Fallback.UNCONFIGURED, "PagerDuty is not asked"),
        (
            Directory(fails=True),
            Fallback.FAILED,
            "PagerDuty could not be asked (PagerDuty answered 503)",
        ),
    ],
    ids=["no-directory", "unconfigured", "upstream-error"],
)
async def test_oncall_falls_back_to_the_policys_rotation_and_says_why(
    directory: Directory | None, fallback: Fallback, head: str
) -> None:
    answer = await who_is_on_call(directory, ROTATION, None)
    assert (answer.source, answer.fallback) == ("policy", fallback)
    assert [(e.level, e.name, e.source) for e in answer.on_call] == [
        (1, "LNN on-call", "policy"),
        (2, "Platform on-call", "policy"),
        (3, "Team lead", "policy"),
    ]
    lines = oncall_text(answer, None).splitlines()
    assert head in lines[0]
    assert lines[1] == (
        f"• Level 1 · LNN on-call · liquid-edge-oncall@company.com · <@{ALICE}> · until —"
    )
    if isinstance(directory, Directory) and directory.configured:
        assert directory.asked == [None]


async def test_oncall_for_a_service_keeps_the_members_paged_there() -> None:
    answer = await who_is_on_call(None, ROTATION, "platform")
    assert [(e.level, e.name) for e in answer.on_call] == [(1, "Platform on-call")]
    empty = await who_is_on_call(None, {}, None)
    assert empty.on_call == ()
    assert "The policy has no on-call rotation" in oncall_text(empty, None)
    nobody = await who_is_on_call(Directory(), ROTATION, "x")
    assert oncall_text(nobody, "x").endswith("PagerDuty lists nobody.")


async def test_oncall_for_a_service_nobody_is_paged_through_says_so() -> None:
    answer = await who_is_on_call(None, ROTATION, "storage")
    assert not answer.service_matched
    assert len(answer.on_call) == len(ROTATION)
    lines = oncall_text(answer, "storage").splitlines()
    assert lines[1] == (
        "No one in the rotation is paged through `storage`; this is the whole rotation."
    )
    assert (await who_is_on_call(None, ROTATION, "platform")).service_matched
    # A rotation not split by service answers for any.
    unsplit = {k: dataclasses.replace(m, pagerduty="") for k, m in ROTATION.items()}
    assert (await who_is_on_call(None, unsplit, "storage")).service_matched


def test_slack_ids_become_mentions_and_anything_else_stays_text() -> None:
    entry = OnCallEntry(level=1, name="x", source="policy", slack=("S0ONCALL01", "<!channel>"))
    answer = OnCallAnswer((entry,), "policy", Fallback.UNCONFIGURED)
    line = oncall_text(answer, None).splitlines()[1]
    assert "<!subteam^S0ONCALL01> &lt;!channel&gt;" in line
