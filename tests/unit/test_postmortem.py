"""The postmortem of a scripted incident: real ingest (the inbox and its processor) into the
in-memory store, then acknowledgement, commander, a note and an action, then resolution by
Alertmanager."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import FixedClock
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
    Source,
    TimelineEntry,
)
from bot.integrations.slack.text import inert
from bot.policy.file import DEFAULT_POLICY, load_policy
from bot.services.entry_text import describe, human_duration
from bot.services.incidents.postmortem import (
    NOT_ACKNOWLEDGED,
    NOT_RESOLVED,
    render_postmortem,
    time_to_acknowledge,
    time_to_resolve,
)
from tests.fakes.memory.store import MemoryStore
from tests.support.inbox import deliver as deliver_to_inbox
from tests.support.incidents import incident as support_incident
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
            await uow.incidents.save(
                replace(
                    incident,
                    status=IncidentStatus.ACKNOWLEDGED,
                    acknowledged_at=clock.now(),
                    updated_at=clock.now(),
                )
            )
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


async def test_postmortem_contains_every_entry_and_the_durations(
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
    doc = render_postmortem(incident, alerts, timeline, now=T0 + timedelta(hours=2))
    assert doc.startswith("# Postmortem: incident #1: LNNHighLatency: p99 above 100 ms\n")
    for entry in timeline:
        line = f"#{entry.seq} · {entry.actor} · `{entry.kind}` — {describe(entry)}"
        assert doc.count(line) == (2 if entry.kind.startswith("action.") else 1), line
    timeline_section = doc.split("## Timeline")[1].split("## Actions taken")[0]
    assert timeline_section.count("\n- ") == len(timeline)
    actions_section = doc.split("## Actions taken")[1].split("## Durations")[0]
    assert actions_section.count("\n- ") == 3
    assert "Action #1 approved: scale production/deploy/lnn-service by U0CAROL" in actions_section
    # Acknowledged at 1 min + 11 min 5 s = 12 min 5 s; resolved 30 s + 60 s + 20 min later.
    assert "- Time to acknowledge: 12 min 5 s" in doc
    assert "- Time to resolve: 33 min 35 s" in doc
    assert "**Time to acknowledge:** 12 min 5 s" in doc
    assert "**Response target:** 60 min, met" in doc
    assert "- **Severity:** P1" in doc
    assert "- **Service:** lnn-service" in doc
    assert "- **Scenario:** high-latency" in doc
    assert "- **Status:** resolved" in doc
    assert "Duration: 33 min 35 s." in doc
    assert "`alertname=LNNHighLatency`" in doc
    assert "`pod=lnn-0`" in doc
    assert "2026-11-22 10:00:00 UTC" in doc
    # Sender text cannot break the document's structure.
    assert "\n<!channel>" not in doc
    assert "1 alert (0 still firing)" in doc
    # Posted to Slack, the document must go through `inert`: no ping survives it.
    posted = inert(doc)
    assert "<!channel>" not in posted
    assert "@here" not in posted


async def test_open_incident_says_not_acknowledged_and_not_resolved() -> None:
    store, clock = MemoryStore(), FixedClock(T0)
    await deliver(store, clock, "d1", group(AlertStatus.FIRING))
    async with store.transaction() as uow:
        incident = await uow.incidents.get(1)
        assert incident is not None
        alerts = list(await uow.alerts.for_incident(1))
        timeline = list(await uow.timeline.for_incident(1))
    doc = render_postmortem(incident, alerts, timeline, now=T0 + timedelta(minutes=90))
    assert f"- Time to acknowledge: {NOT_ACKNOWLEDGED}" in doc
    assert f"- Time to resolve: {NOT_RESOLVED}" in doc
    assert "Duration: 1 h 30 min (still open)." in doc
    assert "missed (overdue by 30 min)" in doc
    assert "No remediation actions were requested." in doc
    assert "still firing" in doc


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
