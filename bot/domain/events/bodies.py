"""Typed bodies of the incident, alert, people and PagerDuty timeline entries.

Each body is a frozen dataclass whose fields are the stored JSON keys (``stored_as`` names a
key that is not a Python identifier, e.g. ``from``); ``body`` says how a body names its kind
or its family of kinds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.domain.events.body import Family, OneKind, stored_as
from bot.domain.events.kinds import EventKind


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentOpened(OneKind, kind=EventKind.INCIDENT_OPENED):
    """The first entry of every incident: what it is and which policy rule classified it.
    The intake adds where it came from (an Alertmanager group, a PagerDuty incident)."""

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
class StatusChanged(
    Family,
    kinds=(
        EventKind.INCIDENT_ACKNOWLEDGED,
        EventKind.INCIDENT_TRIGGERED,
        EventKind.INCIDENT_RESOLVED,
    ),
):
    """The incident moved to acknowledged, back to triggered, or to resolved: by a person, by
    its alerts going quiet, or by a PagerDuty event (which adds ``from`` and ``occurred_at``)."""

    kind: EventKind
    reason: str | None = None
    alerts: int | None = None
    previous: str | None = stored_as("from", default=None)
    occurred_at: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentFlapped(OneKind, kind=EventKind.INCIDENT_FLAPPED):
    """The group fired again within ``window`` (``10m``) of its incident resolving (at
    ``resolved_at``), so the incident reopened instead of a new one opening: its ``count``-th
    flap. ``paging_held_until`` is set once it flaps ``threshold`` times: the escalation
    path of this re-trigger starts only then, so a resolution before it pages nobody."""

    count: int
    window: str
    threshold: int
    resolved_at: str
    paging_held_until: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SeverityChanged(OneKind, kind=EventKind.SEVERITY_CHANGED):
    """The severity moved: ``rule`` is the policy rule (or ``manual``); PagerDuty adds its
    ``priority``, alert intake the new ``scenario``."""

    previous: str = stored_as("from")
    to: str
    rule: str
    scenario: str | None = None
    priority: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertChanged(Family, kinds=(EventKind.ALERT_FIRING, EventKind.ALERT_RESOLVED)):
    """An alert episode began firing or resolved. ``severity`` and ``rule`` are the policy's
    verdict, present when the episode is new."""

    kind: EventKind
    fingerprint: str
    alertname: str
    starts_at: str
    labels: Mapping[str, str]
    ends_at: str | None = None
    severity: str | None = None
    rule: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRepeat(OneKind, kind=EventKind.ALERT_REPEAT):
    """Alertmanager re-sent a group with nothing new in it."""

    alerts: int
    status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertsTruncated(OneKind, kind=EventKind.ALERTS_TRUNCATED):
    """Alertmanager left alerts out of a group (its ``truncatedAlerts``)."""

    truncated_alerts: int
    received: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SymptomsJoined(OneKind, kind=EventKind.SYMPTOMS_JOINED):
    """Alerts of another group (``group_key``) joined this incident as its symptoms instead
    of opening their own: the policy's inhibition rule ``rule`` (its index in ``noise.inhibit``
    and the source scenario) matched them on the ``equal`` labels."""

    group_key: str
    alerts: int
    alertnames: str
    rule: str
    equal: Mapping[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Note(OneKind, kind=EventKind.NOTE):
    """Free text someone added with ``/incident note``."""

    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CommanderAssigned(OneKind, kind=EventKind.COMMANDER_ASSIGNED):
    """``user`` (a Slack user id) is now the incident commander."""

    user: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandViewed(OneKind, kind=EventKind.COMMAND_VIEWED):
    """Someone ran a read-only command (the timeline, the postmortem): an audit trace."""

    command: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PostmortemRequested(OneKind, kind=EventKind.POSTMORTEM_REQUESTED):
    """Someone asked for the postmortem: it is posted into the incident's channel as the
    file ``filename``, made from the record as it stands at this entry."""

    filename: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ParticipantJoined(OneKind, kind=EventKind.PARTICIPANT_JOINED):
    """``user`` (a Slack user id) joined the incident's channel."""

    user: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PagerDutyLinked(OneKind, kind=EventKind.PAGERDUTY_LINKED):
    """An incident firebreak paged now has its PagerDuty incident."""

    pagerduty_id: str
    number: int | None = None
    url: str = ""


_PAGERDUTY_RECEIVED = tuple(
    k for k in EventKind if k.is_pagerduty and k is not EventKind.PAGERDUTY_LINKED
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PagerDutyReceived(Family, kinds=_PAGERDUTY_RECEIVED):
    """One PagerDuty webhook event as received; its effect on the incident, if any, is a
    separate ``incident.*`` or ``severity.changed`` entry."""

    kind: EventKind
    event_id: str
    occurred_at: str
    agent: str = ""
    status: str | None = None
    note: str | None = None
