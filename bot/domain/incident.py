"""Domain vocabulary: incidents, alert episodes, timeline entries and the enums that classify them.

Everything here is a frozen dataclass or an enum from the standard library, so the core can be
tested without any adapter and shared by every layer.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot.domain.actor import Actor

JSON = dict[str, Any]

# The largest incident id: ids live in an INTEGER column, and PostgreSQL refuses a larger
# number outright (which must not read as the database being down). Every way in reads an
# id a person typed against it: a larger one names no incident.
ID_MAX = 2**31 - 1


def id_in_path(raw: str) -> int | None:
    """``raw`` (a path segment) as an incident id: ASCII digits, at most ``ID_MAX``, never read
    as a number if it is longer than ``ID_MAX``'s digits; ``None`` if it is not one."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(ID_MAX)):
        return None
    number = int(raw)
    return number if number <= ID_MAX else None


class Severity(enum.StrEnum):
    """P0 is the most severe. Ordering compares urgency, so ``max`` gives the worst."""

    P0 = "P0"
    P1 = "P1"
    P2 = "P2"

    @property
    def rank(self) -> int:
        """Higher is more urgent (P0 → 2, P2 → 0)."""
        return {"P0": 2, "P1": 1, "P2": 0}[self.value]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank


class IncidentStatus(enum.StrEnum):
    """An incident is open while triggered or acknowledged."""

    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"

    @property
    def is_open(self) -> bool:
        return self is not IncidentStatus.RESOLVED


class Source(enum.StrEnum):
    """Where an incident or delivery came from."""

    ALERTMANAGER = "alertmanager"
    PAGERDUTY = "pagerduty"
    SLACK = "slack"
    MANUAL = "manual"


# The sources whose deliveries are stored pending and applied by the inbox processor.
INBOX_SOURCES = (Source.ALERTMANAGER, Source.PAGERDUTY)


class AlertStatus(enum.StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class DeliveryOutcome(enum.StrEnum):
    """What became of one received webhook delivery."""

    PENDING = "pending"  # in the inbox, acknowledged, waiting to be processed
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    FAILED = "failed"  # processing failed on every attempt; kept for a person to look at


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as a sender reported it (not yet stored)."""

    fingerprint: str
    status: AlertStatus
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str = ""

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


@dataclass(frozen=True, slots=True)
class AlertGroup:
    """An Alertmanager notification: one group's alerts, identified by its group key."""

    group_key: str
    status: AlertStatus
    receiver: str
    alerts: tuple[Alert, ...]
    group_labels: Mapping[str, str]
    common_labels: Mapping[str, str]
    common_annotations: Mapping[str, str]
    external_url: str
    truncated_alerts: int = 0


@dataclass(frozen=True, slots=True)
class EpisodeState:
    """What alert intake needs to know of a stored episode: which it is, where it lives,
    whether it still fires (cheaper to read than the whole ``AlertEpisode``)."""

    id: int
    incident_id: int
    status: AlertStatus


@dataclass(frozen=True, slots=True)
class AlertEpisode:
    """A stored alert: one firing of one fingerprint, unique on (fingerprint, starts_at)."""

    id: int
    incident_id: int
    fingerprint: str
    status: AlertStatus
    severity: Severity
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str
    # The Alertmanager group it arrived in (None for episodes stored before storms existed):
    # a storm incident holds many groups, and a group can be split out again by it.
    group_key: str | None = None

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


@dataclass(frozen=True, slots=True)
class Incident:
    """The unit people respond to. ``group_key`` ties it to its Alertmanager group while open."""

    id: int
    title: str
    severity: Severity
    status: IncidentStatus
    source: Source
    service: str
    scenario: str
    response_minutes: int
    created_at: datetime
    updated_at: datetime
    group_key: str | None = None
    pagerduty_id: str | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    # occurred_at of the newest PagerDuty event applied to the status, to order late events.
    status_changed_at: datetime | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    # Who holds the incident and who last acknowledged and resolved it (actor strings, e.g.
    # ``slack:U123``; the commander is a Slack user id), kept by the use cases that record
    # them so readers need not replay the timeline.
    commander: str | None = None
    acknowledged_by: str | None = None
    resolved_by: str | None = None
    # How often its group fired again soon after it resolved, reopening it (policy ``noise``).
    flap_count: int = 0
    # When the Alertmanager silence made for it (``/incident silence``) ends; None: none, or
    # expired by ``/incident unsilence``. The card shows it while it is in the future.
    silenced_until: datetime | None = None
    # The incident this one's alerts moved to when it was merged (it closed then).
    merged_into: int | None = None
    # Set on a storm incident: what its groups share, e.g. ``service=lnn-service``.
    storm_key: str | None = None

    @property
    def dedup_key(self) -> str:
        """The ``dedup_key`` of the escalation path's pages, by which PagerDuty's incident is
        matched back (a page by hand has its own: ``bot.domain.outbox.page_dedup_key``)."""
        return f"firebreak-{self.id}"

    def moved_to(self, status: IncidentStatus, *, by: Actor, at: datetime) -> Incident:
        """This incident moved to ``status`` by ``by`` at ``at``; an acknowledgement or a
        resolution also keeps who and when."""
        acked = status is IncidentStatus.ACKNOWLEDGED
        resolved = status is IncidentStatus.RESOLVED
        return replace(
            self,
            status=status,
            updated_at=at,
            status_changed_at=at,
            acknowledged_at=at if acked else self.acknowledged_at,
            acknowledged_by=str(by) if acked else self.acknowledged_by,
            resolved_at=at if resolved else self.resolved_at,
            resolved_by=str(by) if resolved else self.resolved_by,
        )


@dataclass(frozen=True, slots=True)
class NewIncident:
    """The fields of an incident about to be opened."""

    title: str
    severity: Severity
    source: Source
    service: str
    scenario: str
    response_minutes: int
    created_at: datetime
    group_key: str | None = None
    pagerduty_id: str | None = None
    status: IncidentStatus = IncidentStatus.TRIGGERED
    status_changed_at: datetime | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One append-only fact about an incident, chained to the previous one by ``prev_hash``."""

    incident_id: int
    seq: int
    at: datetime
    actor: Actor
    kind: str
    body: JSON
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """A webhook delivery as received, before processing: stored in the inbox."""

    source: Source
    key: str
    received_at: datetime
    body: bytes
    event_type: str = ""


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    """An inbox row waiting to be processed, with the attempts already spent on it."""

    id: int
    delivery: Delivery
    attempts: int


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    status: IncidentStatus | None = None
    open_only: bool = False
    severity: Severity | None = None
    limit: int = 100
    before_id: int | None = None
    # Exactly this service (the web page's filter); None: every service.
    service: str | None = None
