"""Where an incident stands on its escalation path and against its response target, in words
every reader shares: the Slack card, the emails and pages, and the web page.

How far the path has gone is read from the incident's escalation timers
(``bot.domain.escalation``): the fired level of the latest path run, named as the policy
names it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from bot.domain.escalation import ResponseStanding, Timer, TimerKind, TimerStatus
from bot.policy.model import Policy
from bot.services.entry_text import human_duration

ONE_SECOND = timedelta(seconds=1)


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


def response_words(standing: ResponseStanding) -> tuple[str, str]:
    """The response target and where the incident stands against it, in words, as the card,
    the emails and the pages all say it: ``15 min`` and ``3 min left``, ``overdue by 3 min``,
    ``met, answered after 4 min`` or ``missed, answered after 20 min`` (``overdue`` alone at
    the deadline itself)."""
    head = human_duration(standing.target.target)
    if standing.answered_after is not None:
        verdict = "met" if standing.met else "missed"
        return head, f"{verdict}, answered after {human_duration(standing.answered_after)}"
    if standing.overdue:
        late = -standing.left
        # At the deadline itself: past (its timer fired), but by nothing worth a number.
        return head, f"overdue by {human_duration(late)}" if late >= ONE_SECOND else "overdue"
    return head, f"{human_duration(standing.left)} left"
