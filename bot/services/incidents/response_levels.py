"""The postmortem's "Response targets": each level of each escalation path the incident ran,
held against when someone answered (acknowledged or resolved).

A path (``bot.domain.escalation``) starts when the incident opens or its severity changes;
its timers are stored with the path's start as ``created_at``. Level *n* is due ``after`` its
delay and tells its people; they have until the next level is due to answer (the last level
until the path's response target, if that is later), after which the path moves on without
them. So a level is **met** when the answer came inside its window, **missed** when it came
later or never, and **not reached** when the answer (or a new path) came before it was due.
A level with no window after it (the last) has no target of its own.

Pure: what the escalation repository and the timeline hold, and ``now``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby

from bot.domain.escalation import Timer, TimerKind, TimerStatus
from bot.domain.events import EscalationFired, EventKind, decode
from bot.domain.incident import TimelineEntry
from bot.services.entry_text import human_duration
from bot.services.escalation.reactor import RESTARTED as NEW_PATH

ANSWERS = frozenset({EventKind.INCIDENT_ACKNOWLEDGED, EventKind.INCIDENT_RESOLVED})


@dataclass(frozen=True, slots=True)
class Answer:
    """The first acknowledgement or resolution at or after a path's start."""

    at: datetime
    kind: EventKind

    @property
    def verb(self) -> str:
        return "acknowledged" if self.kind is EventKind.INCIDENT_ACKNOWLEDGED else "resolved"


@dataclass(frozen=True, slots=True)
class LevelVerdict:
    """One row of the section: a level (``level`` 0-based; ``None`` for the path's response
    target), when it was due and until when it had to be answered, from the path's start."""

    run: int
    severity: str
    level: int | None
    name: str
    due: timedelta
    respond_by: timedelta | None
    notified_at: datetime | None
    outcome: str


def first_answer(timeline: Sequence[TimelineEntry], since: datetime) -> Answer | None:
    """The first ``incident.acknowledged`` or ``incident.resolved`` entry at or after ``since``."""
    for entry in timeline:
        if entry.at >= since and entry.kind in ANSWERS:
            return Answer(entry.at, EventKind(entry.kind))
    return None


def _fired_names(timeline: Sequence[TimelineEntry]) -> dict[tuple[str, int], EscalationFired]:
    fired: dict[tuple[str, int], EscalationFired] = {}
    for entry in timeline:
        if entry.kind == EventKind.ESCALATION_FIRED:
            event = decode(entry.kind, entry.body)
            if isinstance(event, EscalationFired):
                fired.setdefault((event.severity, event.level), event)
    return fired


def _windows(timers: Sequence[Timer]) -> dict[int, timedelta | None]:
    """Per level timer id: until when (from the path's start) its people had to answer."""
    levels = sorted((t for t in timers if t.kind is TimerKind.LEVEL), key=lambda t: t.level)
    target = next((t for t in timers if t.kind is TimerKind.TARGET), None)
    out: dict[int, timedelta | None] = {}
    for index, timer in enumerate(levels):
        start = timer.created_at
        if index + 1 < len(levels):
            out[timer.id] = levels[index + 1].due_at - start
        elif target is not None and target.due_at > timer.due_at:
            out[timer.id] = target.due_at - start
        else:
            out[timer.id] = None
    return out


def _judged(
    timer: Timer, respond_by: timedelta | None, answer: Answer | None, now: datetime
) -> str:
    """The outcome of a timer that fired (a level notified, or the target passing)."""
    start = timer.created_at
    deadline = None if respond_by is None else start + respond_by
    since = timer.fired_at or timer.due_at
    if answer is None:
        if deadline is None:
            return "notified; nobody has answered"
        if now < deadline:
            return f"pending: to be answered by {human_duration(respond_by or timedelta(0))}"
        return "missed: nobody answered"
    taken = human_duration(answer.at - since)
    if deadline is None:
        return f"{answer.verb} {taken} after it was notified (no target of its own)"
    if answer.at <= deadline:
        return f"met: {answer.verb} {taken} after it was notified"
    return f"missed: {answer.verb} {human_duration(answer.at - deadline)} after its window"


def _not_fired(timer: Timer, answer: Answer | None) -> str:
    if timer.status is TimerStatus.PENDING:
        return "pending: not due yet"
    if timer.cancelled_reason == NEW_PATH:
        return "not reached: the severity changed first and a new path started"
    if answer is not None and answer.at > timer.due_at:
        late = human_duration(answer.at - timer.due_at)
        return f"not notified: {answer.verb} {late} after it was due, before it fired"
    if answer is not None:
        return f"not reached: {answer.verb} before it was due"
    return f"not reached ({timer.cancelled_reason or 'cancelled'})"


def _target(timer: Timer, answer: Answer | None, now: datetime) -> str:
    target = timer.due_at - timer.created_at
    replaced = timer.status is TimerStatus.CANCELLED and timer.cancelled_reason == NEW_PATH
    if replaced and (answer is None or answer.at > timer.due_at):
        return "replaced by a new path before it passed"
    if answer is not None and answer.at <= timer.due_at:
        return f"met: {answer.verb} after {human_duration(answer.at - timer.created_at)}"
    if answer is not None:
        late = human_duration(answer.at - timer.due_at)
        return f"missed: {answer.verb} {late} after the target of {human_duration(target)}"
    if timer.status is TimerStatus.PENDING or now < timer.due_at:
        return f"pending: {human_duration(timer.due_at - now)} left"
    return "missed: nobody answered"


def level_verdicts(
    timers: Sequence[Timer],
    timeline: Sequence[TimelineEntry],
    *,
    now: datetime,
    names: Mapping[str, Sequence[str]] | None = None,
) -> list[LevelVerdict]:
    """Every level and response target of every path the incident ran, in path order.
    ``names`` (severity → level names, from the policy) names the levels no
    ``escalation.fired`` entry named."""
    fired = _fired_names(timeline)
    out: list[LevelVerdict] = []
    ordered = sorted(timers, key=lambda t: (t.run, t.kind is TimerKind.TARGET, t.level, t.id))
    for run, group in groupby(ordered, key=lambda t: t.run):
        path = list(group)
        windows = _windows(path)
        for timer in path:
            start = timer.created_at
            answer = first_answer(timeline, start)
            severity = timer.severity.value
            if timer.kind is TimerKind.TARGET:
                outcome, level, name, respond_by = _target(timer, answer, now), None, "", None
            else:
                level, respond_by = timer.level, windows.get(timer.id)
                event = fired.get((severity, timer.level))
                policy_names = (names or {}).get(severity, ())
                name = event.name if event is not None and event.name else ""
                if not name and timer.level < len(policy_names):
                    name = policy_names[timer.level]
                if timer.status is TimerStatus.FIRED:
                    outcome = _judged(timer, respond_by, answer, now)
                    if event is not None and event.upgrade:
                        outcome = f"raised the severity to {event.upgrade}"
                else:
                    outcome = _not_fired(timer, answer)
            out.append(
                LevelVerdict(
                    run=run,
                    severity=severity,
                    level=level,
                    name=name,
                    due=timer.due_at - start,
                    respond_by=respond_by,
                    notified_at=timer.fired_at if timer.kind is TimerKind.LEVEL else None,
                    outcome=outcome,
                )
            )
    return out
