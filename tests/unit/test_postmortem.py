"""The postmortem as a document people keep: every section of a scripted incident (real
ingest, then acknowledgement, commander, a note and an action, then resolution by
Alertmanager), the response targets of each escalation level from real timers, text from
alerts and people that cannot change the document, and a long incident kept whole. Documents
are read with a CommonMark parser (``tests.support.markdown``), as a renderer reads them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import FixedClock
from bot.domain.action import ActionRequest, ActionState, ActionVerb, Approval
from bot.domain.actor import Actor
from bot.domain.events import (
    ActionApproval,
    ActionEntry,
    ActionFinished,
    ActionRequested,
    CommanderAssigned,
    Event,
    EventKind,
    Note,
    StatusChanged,
)
from bot.domain.incident import (
    AlertEpisode,
    AlertStatus,
    Incident,
    IncidentStatus,
    Severity,
    Source,
    TimelineEntry,
)
from bot.domain.target import Target
from bot.policy.file import DEFAULT_POLICY, load_policy
from bot.policy.model import Policy
from bot.services.entry_text import describe, human_duration
from bot.services.escalation.fire import fire_due
from bot.services.escalation.reach import Reach
from bot.services.incidents.declare import declare_incident
from bot.services.incidents.postmortem import (
    NOT_ACKNOWLEDGED,
    NOT_RESOLVED,
    load_postmortem,
    render_facts,
    render_postmortem,
    time_to_acknowledge,
    time_to_resolve,
)
from bot.services.incidents.updates import acknowledge
from bot.services.markdown import one_line
from tests.fakes.memory.store import MemoryStore
from tests.support.escalation import escalating_store, escalation_policy
from tests.support.inbox import deliver as deliver_to_inbox
from tests.support.incidents import incident as support_incident
from tests.support.markdown import Parsed, parse
from tests.support.payloads.alertmanager import alert, resolved, webhook

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def group(status: AlertStatus, ends_at: datetime | None = None) -> dict[str, Any]:
    """The group's webhook v4 payload, as Alertmanager sends it (firing, or resolved)."""
    firing = {
        **alert("LNNHighLatency", "critical", starts_at=T0, service="lnn-service", pod="lnn-0"),
        "fingerprint": "fp-latency",
        "annotations": {"summary": "p99 above 100 ms\n<!channel>"},
        "generatorURL": "",
    }
    one = firing
    if status is AlertStatus.RESOLVED:
        assert ends_at is not None
        one = resolved(firing, ends_at)
    return {
        **webhook('{}:{alertname="LNNHighLatency"}', [one]),
        "commonAnnotations": {"summary": "p99 above 100 ms"},
        "externalURL": "http://alertmanager",
    }


async def deliver(store: MemoryStore, clock: FixedClock, key: str, payload: dict[str, Any]) -> None:
    await deliver_to_inbox(store, load_policy(DEFAULT_POLICY), clock, payload, key=key)
    stored = store.delivery(Source.ALERTMANAGER, key)
    assert stored is not None
    assert stored.outcome is not None
    assert not stored.pending


async def human_step(store: MemoryStore, clock: FixedClock, event: Event, actor: str) -> None:
    async with store.transaction() as uow:
        incident = await uow.incidents.get(1, for_update=True)
        assert incident is not None
        if event.kind is EventKind.INCIDENT_ACKNOWLEDGED:
            by = Actor.parse(actor)
            moved = incident.moved_to(IncidentStatus.ACKNOWLEDGED, by=by, at=clock.now())
            await uow.incidents.save(moved)
        if isinstance(event, CommanderAssigned):
            await uow.incidents.save(replace(incident, commander=event.user))
        await uow.timeline.append(1, at=clock.now(), actor=Actor.parse(actor), event=event)


@pytest.fixture
async def scripted() -> tuple[Incident, list[AlertEpisode], list[TimelineEntry]]:
    store, clock = MemoryStore(), FixedClock(T0)
    await deliver(store, clock, "d1", group(AlertStatus.FIRING))
    clock.advance(60)
    await deliver(store, clock, "d2", group(AlertStatus.FIRING))  # a repeat
    clock.advance(11 * 60 + 5)  # acknowledged 12 min 5 s after opening
    acked = StatusChanged(kind=EventKind.INCIDENT_ACKNOWLEDGED)
    await human_step(store, clock, acked, "slack:U0ALICE")
    clock.advance(30)
    await human_step(store, clock, CommanderAssigned(user="U0BOB"), "slack:U0ALICE")
    await human_step(store, clock, Note(text="p99 climbing @here"), "slack:U0BOB")
    clock.advance(60)
    facts = ActionEntry(action_id=1, verb="scale", target="production/deploy/lnn-service")
    requested = replace(
        ActionRequested(replicas=6, approvals_required=1, expires_at=""),
        action_id=1,
        verb="scale",
        target="production/deploy/lnn-service",
    )
    await human_step(store, clock, requested, "slack:U0BOB")
    approved = ActionApproval(
        action_id=facts.action_id,
        verb=facts.verb,
        target=facts.target,
        kind=EventKind.ACTION_APPROVED,
        approvals=1,
        approvals_required=1,
        by="U0CAROL",
    )
    await human_step(store, clock, approved, "slack:U0CAROL")
    succeeded = ActionFinished(
        action_id=facts.action_id,
        verb=facts.verb,
        target=facts.target,
        kind=EventKind.ACTION_SUCCEEDED,
    )
    await human_step(store, clock, succeeded, "bot:firebreak")
    clock.advance(20 * 60)
    await deliver(store, clock, "d3", group(AlertStatus.RESOLVED, ends_at=clock.now()))
    async with store.transaction() as uow:
        incident = await uow.incidents.get(1)
        assert incident is not None
        return (
            incident,
            list(await uow.alerts.for_incident(1)),
            list(await uow.timeline.for_incident(1)),
        )


def _action(**changes: Any) -> ActionRequest:
    base = ActionRequest(
        id=1,
        incident_id=1,
        verb=ActionVerb.SCALE,
        target=Target("production", "lnn-service"),
        state=ActionState.SUCCEEDED,
        requested_by=Actor.parse("slack:U0BOB"),
        requested_at=T0 + timedelta(minutes=13, seconds=5),
        expires_at=T0 + timedelta(hours=1),
        updated_at=T0 + timedelta(minutes=14),
        replicas=6,
        approvals=(Approval(Actor.parse("slack:U0CAROL"), T0 + timedelta(minutes=13, seconds=5)),),
        finished_at=T0 + timedelta(minutes=13, seconds=35),
        detail="6/6 replicas available",
    )
    return replace(base, **changes)


def _section(doc: str, title: str) -> str:
    return doc.split(f"\n## {title}\n")[1].split("\n## ")[0]


def _table(parsed: Parsed, *header: str) -> list[list[str]]:
    """The one table whose header starts with ``header``."""
    (found,) = [table for table in parsed.tables if table[0][: len(header)] == list(header)]
    return found


async def test_the_postmortem_of_a_resolved_incident_holds_every_section(
    scripted: tuple[Incident, list[AlertEpisode], list[TimelineEntry]],
) -> None:
    incident, alerts, timeline = scripted
    assert incident.status is IncidentStatus.RESOLVED
    kinds = [e.kind for e in timeline]
    assert kinds == [
        "incident.opened",
        "alert.firing",
        "alert.repeat",
        "incident.acknowledged",
        "commander.assigned",
        "note",
        "action.requested",
        "action.approved",
        "action.succeeded",
        "alert.resolved",
        "incident.resolved",
    ]
    doc = render_postmortem(
        incident, alerts, timeline, now=T0 + timedelta(hours=2), actions=[_action()]
    )
    parsed = parse(doc)
    assert parsed.headings == [
        (1, "Postmortem: incident #1: LNNHighLatency: p99 above 100 ms"),
        (2, "Summary"),
        (2, "Impact"),
        (2, "Severity changes"),
        (2, "Timeline"),
        (2, "Actions"),
        (2, "Response targets"),
        (2, "Root cause"),
        (2, "Follow-ups"),
    ]
    assert not parsed.html_blocks
    assert not parsed.inline_structure
    summary = {item.split(": ", 1)[0]: item.split(": ", 1)[1] for item in parsed.items[:15]}
    assert summary["Title"] == "LNNHighLatency: p99 above 100 ms"
    assert summary["Service"] == "lnn-service"
    assert summary["Severity"] == "P1"
    assert summary["Status"] == "resolved"
    assert summary["Commander"] == "U0BOB"
    # Acknowledged 12 min 5 s after opening; resolved 30 s + 60 s + 20 min later by intake.
    assert summary["Acknowledged by"] == (
        "slack:U0ALICE at 2026-11-22 10:12:05 UTC (12 min 5 s after opening)"
    )
    assert summary["Resolved by"].endswith("at 2026-11-22 10:33:35 UTC (33 min 35 s after opening)")
    assert summary["Time to acknowledge"] == "12 min 5 s"
    assert summary["Time to resolve"] == "33 min 35 s"
    assert summary["Response target"] == "1 h, met (answered after 12 min 5 s)"
    impact = _section(doc, "Impact")
    assert (
        "- **Window:** 2026-11-22 10:00:00 UTC (first alert firing) → "
        "2026-11-22 10:33:35 UTC (resolved): 33 min 35 s" in impact
    )
    assert "1 alert (0 still firing)" in impact
    assert "`alertname=LNNHighLatency`" in impact
    assert "`pod=lnn-0`" in impact
    # The summary annotation's second line cannot start a line of its own.
    assert "p99 above 100 ms \\<!channel\\>" in impact
    severities, timeline_rows, actions_rows, follow_ups = parsed.tables
    assert severities[0] == ["Time (UTC)", "Change", "By", "Rule"]
    assert severities[1][:3] == ["2026-11-22 10:00:00 UTC", "opened as P1", "system:alertmanager"]
    assert timeline_rows[0] == ["Time (UTC)", "Actor", "Kind", "What happened"]
    assert len(timeline_rows) == 1 + len(timeline)
    for entry, row in zip(timeline, timeline_rows[1:], strict=True):
        assert row == [
            entry.at.strftime("%Y-%m-%d %H:%M:%S"),
            str(entry.actor),
            entry.kind,
            one_line(describe(entry)),
        ]
    assert actions_rows[1] == [
        "1",
        "scale production/deploy/lnn-service to 6",
        "slack:U0BOB at 2026-11-22 10:13:05 UTC",
        "slack:U0CAROL at 2026-11-22 10:13:05 UTC",
        "succeeded: 6/6 replicas available (2026-11-22 10:13:35 UTC)",
    ]
    assert "No escalation path ran for this incident" in _section(doc, "Response targets")
    assert "_To be written" in _section(doc, "Root cause")
    assert follow_ups == [["Follow-up", "Owner", "Due"], ["", "", ""]]


async def test_open_incident_says_ongoing_not_acknowledged_and_not_resolved() -> None:
    store, clock = MemoryStore(), FixedClock(T0)
    await deliver(store, clock, "d1", group(AlertStatus.FIRING))
    async with store.transaction() as uow:
        incident = await uow.incidents.get(1)
        assert incident is not None
        alerts = list(await uow.alerts.for_incident(1))
        timeline = list(await uow.timeline.for_incident(1))
    doc = render_postmortem(incident, alerts, timeline, now=T0 + timedelta(minutes=90))
    assert f"- **Time to acknowledge:** {NOT_ACKNOWLEDGED}" in doc
    assert f"- **Time to resolve:** {NOT_RESOLVED}" in doc
    assert f"- **Acknowledged by:** {NOT_ACKNOWLEDGED}" in doc
    assert "→ ongoing (1 h 30 min so far at 2026-11-22 11:30:00 UTC)" in doc
    assert "1 h, missed (overdue by 30 min)" in doc
    assert "No remediation actions were requested." in doc
    assert "still firing" in doc


async def test_each_escalation_level_is_held_against_the_acknowledgement(
    policy: Policy,
) -> None:
    clock = FixedClock(T0)
    paths = escalation_policy(policy)
    store = escalating_store(MemoryStore(), paths, clock)
    alice = Actor("slack", "U0ALICE")
    incident = await declare_incident(
        store, paths, title="down", actor=alice, at=clock.now(), severity=Severity.P0
    )
    await fire_due(store, paths, clock, Reach())
    clock.advance(15 * 60)
    await fire_due(store, paths, clock, Reach())  # the secondary, and the target passes
    clock.advance(5 * 60)
    await acknowledge(store, incident.id, actor=alice, at=clock.now())
    facts = await load_postmortem(store, incident.id)
    doc = render_facts(facts, now=clock.now() + timedelta(hours=2))
    rows = _table(parse(doc), "Path")
    assert rows[1:] == [
        [
            "P0 path 1",
            "level 1: on-call engineer",
            "+0 s",
            "+15 min",
            "2026-11-22 10:00:00 UTC",
            "missed: acknowledged 5 min after its window",
        ],
        [
            "P0 path 1",
            "level 2: secondary",
            "+15 min",
            "+30 min",
            "2026-11-22 10:15:00 UTC",
            "met: acknowledged 5 min after it was notified",
        ],
        [
            "P0 path 1",
            "level 3",
            "+30 min",
            "+1 h",
            "-",
            "not reached: acknowledged before it was due",
        ],
        ["P0 path 1", "level 4", "+1 h", "-", "-", "not reached: acknowledged before it was due"],
        [
            "P0 path 1",
            "response target",
            "+15 min",
            "-",
            "-",
            "missed: acknowledged 5 min after the target of 15 min",
        ],
    ]
    # With the policy, levels that never fired are named too.
    named = await load_postmortem(store, incident.id, policy=paths)
    names = [row[1] for row in _table(parse(render_facts(named, now=clock.now())), "Path")[1:]]
    assert names[2:4] == ["level 3: team lead", "level 4: manager"]
    assert "- **Response target:** 15 min, missed (answered after 20 min)" in doc


async def test_an_upgrade_starts_a_new_path_and_a_severity_change(policy: Policy) -> None:
    clock = FixedClock(T0)
    paths = escalation_policy(policy)
    store = escalating_store(MemoryStore(), paths, clock)
    bob = Actor("slack", "U0BOB")
    incident = await declare_incident(
        store, paths, title="slow", actor=bob, at=clock.now(), severity=Severity.P1
    )
    await fire_due(store, paths, clock, Reach())
    clock.advance(3600)
    await fire_due(store, paths, clock, Reach())  # unacknowledged for an hour: P0
    await fire_due(store, paths, clock, Reach())  # the P0 path's first level, due at once
    clock.advance(10 * 60)
    await acknowledge(store, incident.id, actor=bob, at=clock.now())
    doc = render_facts(await load_postmortem(store, incident.id), now=clock.now())
    parsed = parse(doc)
    changes = _table(parsed, "Time (UTC)", "Change")
    assert [row[1] for row in changes[1:]] == ["opened as P1", "P1 → P0"]
    levels = {(row[0], row[1]): row[5] for row in _table(parsed, "Path")[1:]}
    assert levels["P1 path 1", "level 1: on-call engineer"] == (
        "missed: acknowledged 10 min after its window"
    )
    assert levels["P1 path 1", "level 2: unacknowledged"] == "raised the severity to P0"
    assert levels["P0 path 2", "level 1: on-call engineer"] == (
        "met: acknowledged 10 min after it was notified"
    )
    assert levels["P0 path 2", "level 2"] == "not reached: acknowledged before it was due"
    assert levels["P0 path 2", "response target"] == "met: acknowledged after 10 min"


def test_text_from_alerts_and_people_cannot_change_the_document() -> None:
    hostile = (
        "# Owned\n\n- injected item | cell\n<script>alert(1)</script> [x](http://e.example) **b**"
    )
    incident = support_incident(
        id=7, title=hostile, service="svc|x", commander="U0X", acknowledged_by="slack:U0X"
    )
    episode = AlertEpisode(
        id=1,
        incident_id=7,
        fingerprint="f",
        status=AlertStatus.FIRING,
        severity=Severity.P1,
        labels={"alertname": "A`B", "evil": hostile},
        annotations={"summary": hostile},
        starts_at=T0,
        ends_at=None,
        generator_url="javascript:alert(1)//<b>",
    )
    note = TimelineEntry(7, 1, T0, Actor.parse("slack:U0X|<b>"), "note", {"text": hostile}, "", "")
    doc = render_postmortem(incident, [episode], [note], now=T0)
    parsed = parse(doc)
    assert [level for level, _ in parsed.headings] == [1, 2, 2, 2, 2, 2, 2, 2, 2]
    assert parsed.headings[0][1] == f"Postmortem: incident #7: {one_line(hostile)}"
    assert not parsed.html_blocks
    assert not parsed.inline_structure  # no link, image, HTML, emphasis
    # Bold: the labels, and the alert's name as the document writes it; nothing else.
    assert [text for text in parsed.strong if not text.endswith(":")] == ["A`B"]
    assert all(text.startswith(("Generated", "To be written")) for text in parsed.emphasis)
    (alert_item,) = [item for item in parsed.items if item.startswith("A`B (P1, firing)")]
    assert alert_item.endswith(f"Labels: alertname=A`B, evil={one_line(hostile)}")
    timeline_rows = _table(parsed, "Time (UTC)", "Actor")
    assert timeline_rows[1] == [
        "2026-11-22 10:00:00",
        "slack:U0X|<b>",
        "note",
        f"Note: {one_line(hostile)}",
    ]
    assert f"Title: {one_line(hostile)}" in parsed.items
    assert "Service: svc|x" in parsed.items
    assert f"Source: {episode.generator_url}" in parsed.items
    assert f"{one_line(hostile)}" in parsed.items  # the summary annotation, in its own item


def test_a_long_incident_is_whole() -> None:
    incident = support_incident(id=9)
    timeline = [
        TimelineEntry(
            9,
            seq,
            T0 + timedelta(seconds=seq),
            Actor.parse("slack:U0A"),
            "note",
            {"text": f"note number {seq}: " + "x" * 40},
            "",
            "",
        )
        for seq in range(1, 3001)
    ]
    doc = render_postmortem(incident, [], timeline, now=T0 + timedelta(hours=2))
    assert len(doc) > 200_000
    rows = _table(parse(doc), "Time (UTC)", "Actor")
    assert len(rows) == 1 + 3000
    assert rows[-1][3] == "Note: note number 3000: " + "x" * 40
    assert doc.endswith("|   |   |   |\n")


def test_durations_fall_back_to_the_timeline() -> None:
    incident = support_incident(id=5, status=IncidentStatus.RESOLVED)

    def at(kind: str, minutes: int, seq: int) -> TimelineEntry:
        when = T0 + timedelta(minutes=minutes)
        return TimelineEntry(5, seq, when, Actor.parse("bot"), kind, {}, "", "")

    timeline = [
        at("incident.acknowledged", 2, 1),
        at("incident.resolved", 10, 2),
        at("incident.triggered", 11, 3),
        at("incident.resolved", 65, 4),
    ]
    assert time_to_acknowledge(incident, timeline) == "2 min"
    # The last resolution counts: the incident was reopened in between.
    assert time_to_resolve(incident, timeline) == "1 h 5 min"
    assert time_to_resolve(replace(incident, status=IncidentStatus.TRIGGERED), timeline) == (
        NOT_RESOLVED
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (-5, "0 s"),
        (59, "59 s"),
        (60, "1 min"),
        (725, "12 min 5 s"),
        (3600, "1 h"),
        (3660, "1 h 1 min"),
        (86_400 + 7200 + 59, "1 d 2 h"),
        (2 * 86_400, "2 d"),
    ],
)
def test_human_duration(seconds: int, text: str) -> None:
    assert human_duration(timedelta(seconds=seconds)) == text
