"""The card's response field: the target counting down, then met, missed or overdue, and
how far the escalation path has gone (``level 2/4 · secondary notified``).

How far it has gone is read from the incident's escalation timers (``bot.domain.escalation``):
the fired level of the latest path run, named as the policy names it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.escalation import Timer, TimerKind, TimerStatus
from bot.domain.incident import Incident
from bot.integrations.slack.text import inert
from bot.policy.model import Policy
from bot.services.entry_text import human_duration


@dataclass(frozen=True, slots=True)
class Reached:
    """The furthest level of the escalation path that fired: ``level`` is 0-based, ``of``
    the number of levels in its path (0 when the policy no longer has that path), ``told``
    says in words what it did (``secondary notified``, ``raised to P0``)."""

    level: int
    of: int
    told: str = ""

    def __str__(self) -> str:
        line = f"level {self.level + 1}/{self.of or '?'}"
        return f"{line} · {self.told}" if self.told else line


def reached(timers: Sequence[Timer], policy: Policy) -> Reached | None:
    """The level the path has reached, from the incident's timers; ``None`` before any
    level fired."""
    fired = [t for t in timers if t.kind is TimerKind.LEVEL and t.status is TimerStatus.FIRED]
    if not fired:
        return None
    last = max(fired, key=lambda t: (t.run, t.level))
    severity = policy.levels.get(last.severity)
    path = severity.path if severity is not None else ()
    if not 0 <= last.level < len(path):
        return Reached(last.level, len(path))
    level = path[last.level]
    who = level.name or ", ".join(dict.fromkeys(line.who for line in level.notify))
    if level.notify:
        told = f"{who} notified"
    elif level.upgrade is not None:
        told = f"raised to {level.upgrade.value}"
    else:
        told = who
    return Reached(last.level, len(path), told)


def response_field(incident: Incident, now: datetime, level: Reached | None = None) -> str:
    """Target, then time left, overdue, or whether the acknowledgement met it; while
    unanswered, the escalation level reached."""
    target = timedelta(minutes=incident.response_minutes)
    head = human_duration(target)
    answered = incident.acknowledged_at or incident.resolved_at
    if answered is not None:
        taken = answered - incident.created_at
        verdict = "met" if taken <= target else "missed"
        return f"{head} · {verdict} (answered after {human_duration(taken)})"
    left = incident.created_at + target - now
    if left >= timedelta(0):
        line = f"{head} · {human_duration(left)} left"
    else:
        line = f"{head} · :warning: overdue by {human_duration(-left)}"
    # The level's name and rotation keys come from the policy file: shown as text, never markup.
    return f"{line} · {inert(str(level))}" if level is not None else line
