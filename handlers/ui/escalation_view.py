"""The incident page's paging and escalation history: each path the incident started (one per
severity it had), its levels with when they were due and what became of them, the response
target, and every page, email, mention and PagerDuty event on the timeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain.escalation import Timer, TimerKind
from bot.domain.events import EventKind
from bot.domain.incident import TimelineEntry
from bot.policy.model import Policy
from handlers.ui.record import EntryView, entry_view

# The timeline kinds that tell someone, or say why nobody was told.
_PAGING = frozenset(
    {
        EventKind.ESCALATION_FIRED,
        EventKind.RESPONSE_OVERDUE,
        EventKind.PAGE_REQUESTED,
        EventKind.NOTIFICATION_UNCONFIGURED,
        EventKind.NOTIFICATION_FAILED,
    }
)


@dataclass(frozen=True, slots=True)
class TimerView:
    """A level of a path (or its response target): what it does, when it was due, and
    whether it fired, is pending or was cancelled (and why)."""

    what: str
    due_at: datetime
    status: str
    fired_at: datetime | None
    note: str


@dataclass(frozen=True, slots=True)
class PathRun:
    run: int
    severity: str
    started: datetime
    timers: list[TimerView]


def _level_words(timer: Timer, policy: Policy) -> str:
    if timer.kind is TimerKind.TARGET:
        return "response target passes"
    severity = policy.levels.get(timer.severity)
    path = severity.path if severity is not None else ()
    number = f"Level {timer.level + 1}"
    if not 0 <= timer.level < len(path):
        return number
    level = path[timer.level]
    name = f"{number} ({level.name})" if level.name else number
    if level.upgrade is not None and not level.notify:
        return f"{name}: raise to {level.upgrade.value}"
    told = ", ".join(f"{line.via.value} {line.who}" for line in level.notify)
    return f"{name}: {told}" if told else name


def path_runs(timers: Sequence[Timer], policy: Policy) -> list[PathRun]:
    """The incident's timers grouped by path run, in order."""
    runs: dict[int, list[Timer]] = {}
    for timer in timers:
        runs.setdefault(timer.run, []).append(timer)
    return [
        PathRun(
            run=run,
            severity=group[0].severity.value,
            started=min(t.created_at for t in group),
            timers=[
                TimerView(
                    what=_level_words(t, policy),
                    due_at=t.due_at,
                    status=t.status.value,
                    fired_at=t.fired_at,
                    note=t.cancelled_reason,
                )
                for t in group
            ],
        )
        for run, group in sorted(runs.items())
    ]


def paging_entries(timeline: Sequence[TimelineEntry]) -> list[EntryView]:
    """The entries that paged, emailed or mentioned someone, or came from PagerDuty."""
    return [
        entry_view(entry)
        for entry in timeline
        if entry.kind in _PAGING or entry.kind.startswith("pagerduty.")
    ]
