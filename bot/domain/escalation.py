"""Escalation: who is told about an incident, how, and when nobody answers.

A severity's *path* (``bot.policy.escalation``) is a list of levels, each due a delay after the
path started (the incident opened, or its severity changed). Each level of a started path is a
*timer*: a database row (``bot.ports.EscalationRepository``), not a sleeping task, so a timer
outlives a restart and fires once however many replicas share the database. One more timer per
path marks the response target passing (``TimerKind.TARGET``), so the card can say "overdue".

Stdlib only: shared by the policy, the services, the store and the adapters.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.incident import Incident, Severity


class Via(enum.StrEnum):
    """How someone is told: a PagerDuty page, a mention in the incident's Slack channel (the
    triage channel for a P2), or an email."""

    PAGE = "page"
    SLACK = "slack"
    EMAIL = "email"


@dataclass(frozen=True, slots=True)
class Recipient:
    """One notification a level sends: ``via`` to ``who`` (a rotation member's key such as
    ``primary``, or the literal address when the policy named one), at ``address`` (the
    email address, the Slack user or user-group id, or the PagerDuty service's name;
    ``""`` for the default routing key)."""

    via: Via
    who: str
    address: str = ""


class TimerKind(enum.StrEnum):
    """``level``: notify a level of the path (or upgrade the severity); ``target``: the
    response target passes."""

    LEVEL = "level"
    TARGET = "target"


class TimerStatus(enum.StrEnum):
    """``pending`` until due and fired (``fired``), or until an acknowledgement, a resolution
    or a new path makes it moot (``cancelled``)."""

    PENDING = "pending"
    FIRED = "fired"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class NewTimer:
    """A timer about to be stored. ``run`` numbers the paths an incident has started (1, 2,
    …: a severity change starts a new one); ``level`` is the level's index in its path (0 for
    the first; the target timer uses ``-1``)."""

    incident_id: int
    run: int
    severity: Severity
    kind: TimerKind
    level: int
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Timer:
    """A stored timer and where it stands."""

    id: int
    incident_id: int
    run: int
    severity: Severity
    kind: TimerKind
    level: int
    due_at: datetime
    status: TimerStatus
    created_at: datetime
    fired_at: datetime | None = None
    cancelled_reason: str = ""


@dataclass(frozen=True, slots=True)
class OnCall:
    """Who is on call now at one escalation level, as PagerDuty's ``oncalls`` or the policy's
    rotation says (``source``: ``pagerduty`` or ``policy``)."""

    level: int
    name: str
    source: str
    email: str = ""
    slack: tuple[str, ...] = ()
    schedule: str = ""
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class ResponseTarget:
    """When the incident had to be answered by: ``deadline``, ``target`` after ``start``.

    ``start`` is when the path that set the deadline started (the incident opened, or its
    severity changed: a P1 raised to P0 at one hour is due 15 minutes after the raise)."""

    start: datetime
    target: timedelta

    @property
    def deadline(self) -> datetime:
        return self.start + self.target


def response_target(incident: Incident, timers: Sequence[Timer] = ()) -> ResponseTarget:
    """The one response deadline the card, the emails and the pages show: the TARGET timer
    of the incident's latest path run for its current severity (the timer that writes
    ``escalation.overdue`` when it passes), or, without one, ``response_minutes`` after the
    incident opened.

    Timers are stored with their path's start as ``created_at`` (the escalation reactor), so
    a timer knows both ends of its target."""
    runs = [t for t in timers if t.kind is TimerKind.TARGET and t.severity is incident.severity]
    if runs:
        latest = max(runs, key=lambda t: (t.run, t.id))
        return ResponseTarget(start=latest.created_at, target=latest.due_at - latest.created_at)
    return ResponseTarget(
        start=incident.created_at, target=timedelta(minutes=incident.response_minutes)
    )


@dataclass(frozen=True, slots=True)
class ResponseStanding:
    """Where an incident stands against its response target at some moment: ``left`` until
    the deadline (negative once overdue) while nobody answered, or ``answered_after`` (from
    the target's start) and whether that ``met`` it."""

    target: ResponseTarget
    left: timedelta
    answered_after: timedelta | None = None

    @property
    def answered(self) -> bool:
        return self.answered_after is not None

    @property
    def overdue(self) -> bool:
        # At the deadline itself the target has passed: the TARGET timer fires at due_at.
        return not self.answered and self.left <= timedelta(0)

    @property
    def met(self) -> bool:
        return self.answered_after is not None and self.answered_after <= self.target.target


def response_standing(
    incident: Incident, now: datetime, timers: Sequence[Timer] = ()
) -> ResponseStanding:
    """The incident against ``response_target`` at ``now``."""
    target = response_target(incident, timers)
    answered = incident.acknowledged_at or incident.resolved_at
    if answered is None:
        return ResponseStanding(target=target, left=target.deadline - now)
    return ResponseStanding(
        target=target,
        left=target.deadline - answered,
        answered_after=max(answered - target.start, timedelta(0)),
    )
