"""Typed bodies of the incident, alert, people and PagerDuty timeline entries.

Each body is a frozen dataclass whose fields are the stored JSON keys (``stored_as`` names a
key that is not a Python identifier, e.g. ``from``). A body written for one kind names it as a
class attribute; a body shared by a family of kinds (an alert firing or resolved) carries its
``kind`` as a field, checked against the family.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bot.domain.events.kinds import EventKind


def stored_as(key: str, **kwargs: Any) -> Any:
    """A field stored under ``key`` in the JSON body (for keys like ``from``)."""
    return field(metadata={"key": key}, **kwargs)


def check_kind(body: object, kind: EventKind, kinds: tuple[EventKind, ...]) -> None:
    """Refuse a family body built with a kind outside its family."""
    if kind not in kinds:
        raise ValueError(f"{type(body).__name__} cannot be a {kind!r} entry")


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentOpened:
    """The first entry of every incident: what it is and which policy rule classified it.
    The intake adds where it came from (an Alertmanager group, a PagerDuty incident)."""

    KINDS: ClassVar[tuple[EventKind, ...]] = (EventKind.INCIDENT_OPENED,)
    kind: ClassVar[EventKind] = EventKind.INCIDENT_OPENED
    title: str
    severity: str
    scenario: str
    rule: str
    response_minutes: int
    group_key: str | None = None
    receiver: str | None = None
    pagerduty_id: str | None = None
    priority: str | None = None
    urgency: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusChanged:
    """The incident moved to acknowledged, back to triggered, or to resolved: by a person, by
    its alerts going quiet, or by a PagerDuty event (which adds ``from`` and ``occurred_at``)."""

    KINDS: ClassVar[tuple[EventKind, ...]] = (
        EventKind.INCIDENT_ACKNOWLEDGED,
        EventKind.INCIDENT_TRIGGERED,
        EventKind.INCIDENT_RESOLVED,
    )
    kind: EventKind
    reason: str | None = None
    alerts: int | None = None
    previous: str | None = stored_as("from", default=None)
    occurred_at: str | None = None

    def __post_init__(self) -> None:
        check_kind(self, self.kind, self.KINDS)


@dataclass(frozen=True, slots=True, kw_only=True)
class SeverityChanged:
    """The severity moved: ``rule`` is the policy rule (or ``manual``); PagerDuty adds its
    ``priority``, alert intake the new ``scenario``."""

    KINDS: ClassVar[tuple[EventKind, ...]] = (EventKind.SEVERITY_CHANGED,)
    kind: ClassVar[EventKind] = EventKind.SEVERITY_CHANGED
    previous: str = stored_as("from")
    to: str
    rule: str
    scenario: str | None = None
    priority: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertChanged:
    """An alert episode began firing or resolved. ``severity`` and ``rule`` are the policy's
    verdict, present when the episode is new."""

    KINDS: ClassVar[tuple[EventKind, ...]] = (EventKind.ALERT_FIRING, EventKind.ALERT_RESOLVED)
    kind: EventKind
    fingerprint: str
    alertname: str
    starts_at: str
    labels: Mapping[str, str]
    ends_at: str | None = None
    severity: str | None = None
    rule: str | None = None

    def __post_init__(self) -> None:
        check_kind(self, self.kind, self.KINDS)


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRepeat:
    """Alertmanager re-sent a group with nothing new in it."""

    KINDS: ClassVar[tuple[EventKind, ...]] = (EventKind.ALERT_REPEAT,)
    kind: ClassVar[EventKind] = EventKind.ALERT_REPEAT
    alerts: int
    status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertsTruncated:
    """Alertmanager left alerts out of a group (its ``truncatedAlerts``)."""

    KINDS: ClassVar[tuple[EventKind, ...]] = (EventKind.ALERTS_TRUNCATED,)
    kind: ClassVar[EventKind] = EventKind.ALERTS_TRUNCATED
    truncated_alerts: int
    received: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Note:
    """Free text someone added with ``/incident note``."""

    KINDS: ClassVar[tuple[EventKind, ...]] = (EventKind.NOTE,)
    kind: ClassVar[EventKind] = EventKind.NOTE
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CommanderAssigned:
    """``user`` (a Slack user id) is now the incident commander."""

    KINDS: ClassVar[tuple[EventKind, ...]] = (EventKind.COMMANDER_ASSIGNED,)
    kind: ClassVar[EventKind] = EventKind.COMMANDER_ASSIGNED
    user: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandViewed:
    """Someone ran a read-only command (the timeline, the postmortem): an audit trace."""

    KINDS: ClassVar[tuple[EventKind, ...]] = (EventKind.COMMAND_VIEWED,)
    kind: ClassVar[EventKind] = EventKind.COMMAND_VIEWED
    command: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ParticipantJoined:
    """``user`` (a Slack user id) joined the incident's channel."""

    KINDS: ClassVar[tuple[EventKind, ...]] = (EventKind.PARTICIPANT_JOINED,)
    kind: ClassVar[EventKind] = EventKind.PARTICIPANT_JOINED
    user: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PagerDutyLinked:
    """An incident firebreak paged now has its PagerDuty incident."""

    KINDS: ClassVar[tuple[EventKind, ...]] = (EventKind.PAGERDUTY_LINKED,)
    kind: ClassVar[EventKind] = EventKind.PAGERDUTY_LINKED
    pagerduty_id: str
    number: int | None = None
    url: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PagerDutyReceived:
    """One PagerDuty webhook event as received; its effect on the incident, if any, is a
    separate ``incident.*`` or ``severity.changed`` entry."""

    KINDS: ClassVar[tuple[EventKind, ...]] = tuple(
        k for k in EventKind if k.is_pagerduty and k is not EventKind.PAGERDUTY_LINKED
    )
    kind: EventKind
    event_id: str
    occurred_at: str
    agent: str = ""
    status: str | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        check_kind(self, self.kind, self.KINDS)
