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
from dataclasses import dataclass
from datetime import datetime

from bot.domain.incident import Severity


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
