"""The card's response field counts the target down, then says overdue and the escalation
level reached, read from the incident's timers; the severity's standing steps are on the card;
PagerDuty reassignments and escalations get a thread line."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta

from bot.clock import FixedClock
from bot.domain.actor import BOT, Actor
from bot.domain.escalation import NewTimer, Timer, TimerKind, TimerStatus, Via
from bot.domain.events import EventKind, PagerDutyReceived, ResponseOverdue, encode
from bot.domain.incident import IncidentStatus, Severity, TimelineEntry
from bot.domain.timeline import GENESIS, next_entry
from bot.integrations.slack.card import CardView, render_card
from bot.integrations.slack.publisher import CARD_KINDS, SlackPublisher, threaded
from bot.integrations.slack.response import response_field
from bot.policy.escalation import EscalationLevel, Notify, RotationMember
from bot.policy.model import Policy
from bot.services.escalation.standing import Reached, reached
from bot.services.publishing import PublishingStore
from tests.fakes.memory.store import MemoryStore
from tests.support.incidents import T0, incident
from tests.support.store_builders import new_incident

P0 = incident(severity=Severity.P0, response_minutes=15, scenario="service-down")


def with_path(policy: Policy) -> Policy:
    path = (
        EscalationLevel(timedelta(0), (Notify(Via.PAGE, "primary"),), name="on-call engineer"),
        EscalationLevel(
            timedelta(minutes=15),
            (Notify(Via.EMAIL, "secondary"), Notify(Via.SLACK, "secondary")),
        ),
        EscalationLevel(timedelta(minutes=30), (), upgrade=Severity.P0),
        EscalationLevel(timedelta(hours=1), (Notify(Via.SLACK, "<!channel>"),), name="<!here>"),
    )
    levels = dict(policy.levels)
    levels[Severity.P0] = replace(levels[Severity.P0], path=path)
    rotation = {"secondary": RotationMember("secondary", email="s@example.com")}
    return replace(policy, levels=levels, rotation=rotation)


async def fired_levels(policy: Policy, *levels: int) -> Reached | None:
    """The reach of a P0 path whose ``levels`` fired, through the memory store's timers."""
    store = MemoryStore()
    async with store.transaction() as uow:
        timers = await uow.escalations.schedule(
            [
                NewTimer(1, 1, Severity.P0, TimerKind.LEVEL, level, T0 + timedelta(minutes=level))
                for level in range(4)
            ]
            + [NewTimer(1, 1, Severity.P0, TimerKind.TARGET, -1, T0 + timedelta(minutes=15))],
            at=T0,
        )
        for timer in timers:
            if timer.kind is TimerKind.LEVEL and timer.level in levels:
                assert await uow.escalations.mark_fired(timer.id, at=T0)
            if timer.kind is TimerKind.TARGET:
                assert await uow.escalations.mark_fired(timer.id, at=T0)
        return reached(await uow.escalations.for_incident(1), policy)


def card_text(view: CardView) -> str:
    return json.dumps(render_card(view).blocks, ensure_ascii=False)


def view(policy: Policy, minutes: float) -> CardView:
    return CardView(
        incident=P0,
        alerts=[],
        scenario=policy.scenarios["service-down"],
        commander=None,
        now=T0 + timedelta(minutes=minutes),
        kubernetes=policy.kubernetes,
        steps=policy.levels[Severity.P0].steps,
    )


def pagerduty_entry(kind: EventKind) -> TimelineEntry:
    stored, body = encode(PagerDutyReceived(kind=kind, event_id="E1", occurred_at=T0.isoformat()))
    return next_entry(
        prev_seq=0,
        prev_hash=GENESIS,
        incident_id=1,
        at=T0,
        actor=Actor.parse("system:pagerduty"),
        kind=stored,
        body=body,
    )


async def test_the_target_counts_down_then_shows_overdue_and_the_level_reached(
    policy: Policy,
) -> None:
    paths = with_path(policy)
    assert await fired_levels(paths) is None  # no level fired: the target timer alone
    first = await fired_levels(paths, 0)
    assert response_field(P0, T0 + timedelta(minutes=5), first) == (
        "15 min · 10 min left · level 1/4 · on-call engineer notified"
    )
    second = await fired_levels(paths, 0, 1)
    text = card_text(replace(view(paths, 16), reached=second))
    assert "15 min · :warning: overdue by 1 min · level 2/4 · secondary notified" in text


async def test_an_upgrade_level_and_a_policy_written_name_are_shown_as_text(
    policy: Policy,
) -> None:
    paths = with_path(policy)
    upgraded = await fired_levels(paths, 0, 1, 2)
    assert str(upgraded) == "level 3/4 · raised to P0"
    last = await fired_levels(paths, 0, 1, 2, 3)
    field = response_field(P0, T0 + timedelta(hours=1), last)
    assert "<!here>" not in field
    assert "&lt;!here&gt; notified" in field


async def test_a_level_the_policy_no_longer_has_still_shows_its_number(policy: Policy) -> None:
    levels = dict(policy.levels)
    levels[Severity.P0] = replace(levels[Severity.P0], path=())
    assert str(await fired_levels(replace(policy, levels=levels), 0)) == "level 1/?"


def test_the_answered_card_says_met_or_missed_and_no_level(policy: Policy) -> None:
    acked = replace(
        P0, status=IncidentStatus.ACKNOWLEDGED, acknowledged_at=T0 + timedelta(minutes=20)
    )
    field = response_field(acked, T0 + timedelta(minutes=30), Reached(1, 4, "secondary notified"))
    assert field == "15 min · missed, answered after 20 min"


def test_the_severitys_standing_steps_are_on_the_open_card_only(policy: Policy) -> None:
    text = card_text(view(policy, 1))
    assert "Steps for every P0" in text
    for step in policy.levels[Severity.P0].steps:
        assert step in text
    closed = replace(P0, status=IncidentStatus.RESOLVED, resolved_at=T0 + timedelta(minutes=9))
    assert "Steps for every P0" not in card_text(replace(view(policy, 10), incident=closed))


async def test_the_card_is_redrawn_when_the_target_passes(
    policy: Policy, clock: FixedClock
) -> None:
    assert {EventKind.ESCALATION_FIRED, EventKind.RESPONSE_OVERDUE} <= CARD_KINDS
    memory = MemoryStore()
    store = PublishingStore(
        memory, SlackPublisher(policy=policy, clock=clock, triage_channel="C0TRIAGE")
    )
    async with memory.transaction() as uow:
        opened = await uow.incidents.create(new_incident(created_at=clock.now()))
    clock.advance(16 * 60)
    async with store.transaction() as uow:
        event = ResponseOverdue(severity="P0", target_minutes=15)
        await uow.timeline.append(opened.id, at=clock.now(), actor=BOT, event=event)
    async with memory.transaction() as uow:
        rows = await uow.outbox.list()
    (update,) = [m for m in rows if m.call.method == "chat.update"]
    assert "overdue by 1 min" in json.dumps(update.call.args["blocks"])
    assert "Steps for every P0" in json.dumps(update.call.args["blocks"])


def test_pagerduty_reassignments_and_escalations_get_a_thread_line() -> None:
    assert threaded(pagerduty_entry(EventKind.PAGERDUTY_REASSIGNED))
    assert threaded(pagerduty_entry(EventKind.PAGERDUTY_ESCALATED))
    assert not threaded(pagerduty_entry(EventKind.PAGERDUTY_ACKNOWLEDGED))


def test_the_card_counts_from_the_latest_path_not_from_the_opening(policy: Policy) -> None:
    """A P1 raised to P0 at one hour: its deadline is the P0 path's target timer, 15 min
    after the raise, not 15 min after the opening (which would read "overdue by 45 min")."""
    raised_at = T0 + timedelta(hours=1)
    timers = [
        timer(1, Severity.P1, TimerStatus.CANCELLED, start=T0, minutes=60),
        timer(2, Severity.P0, TimerStatus.PENDING, start=raised_at, minutes=15),
    ]
    p0 = replace(P0, response_minutes=15)
    field = response_field(p0, raised_at + timedelta(minutes=3), None, timers)
    assert field == "15 min · 12 min left"
    at_deadline = response_field(p0, raised_at + timedelta(minutes=15), None, timers)
    assert at_deadline == "15 min · :warning: overdue"
    acked = replace(
        p0, status=IncidentStatus.ACKNOWLEDGED, acknowledged_at=raised_at + timedelta(minutes=10)
    )
    assert response_field(acked, raised_at + timedelta(hours=1), None, timers) == (
        "15 min · met, answered after 10 min"
    )
    # The card itself, through its view.
    text = card_text(replace(view(policy, 63), incident=p0, timers=timers))
    assert "15 min · 12 min left" in text


def timer(
    run: int, severity: Severity, status: TimerStatus, *, start: datetime, minutes: int
) -> Timer:
    return Timer(
        id=run * 10,
        incident_id=P0.id,
        run=run,
        severity=severity,
        kind=TimerKind.TARGET,
        level=-1,
        due_at=start + timedelta(minutes=minutes),
        status=status,
        created_at=start,
    )
