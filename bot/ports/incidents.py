"""The incident side of storage: incidents, their alerts and timeline, the inbox of deliveries, and the health read-outs of the outbox and actions for the gauges."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.domain.actor import Actor
from bot.domain.events import Event
from bot.domain.health import OutboxHealth, RunningActions
from bot.domain.incident import (
    Alert,
    AlertEpisode,
    Delivery,
    DeliveryOutcome,
    EpisodeState,
    Incident,
    IncidentFilter,
    NewIncident,
    PendingDelivery,
    Severity,
    Source,
    TimelineEntry,
)


class IncidentRepository(Protocol):
    async def get(self, incident_id: int, *, for_update: bool = False) -> Incident | None:
        """The incident, row-locked until commit when ``for_update``."""
        ...

    async def open_for_group(self, new: NewIncident) -> tuple[Incident, bool]:
        """The open incident of ``new.group_key``, creating it from ``new`` if there is none.

        Returns ``(incident, created)``; the row is locked until commit. Two writers racing on
        the same group key get the same incident (the partial unique index decides).
        """
        ...

    async def prefetch_latest(self, group_keys: Collection[str]) -> None:
        """Read (and lock) the latest incident of each group at once, so that this
        transaction's ``latest_for_group`` of them needs no query: the inbox processor calls
        it with a batch's group keys."""
        ...

    async def latest_for_group(self, group_key: str) -> Incident | None:
        """The most recent incident of a group key, open or not, locked until commit."""
        ...

    async def open_groups_in(self, scenarios: Collection[str]) -> Sequence[Incident]:
        """The open incidents of Alertmanager groups (with a group key) whose scenario is one
        of ``scenarios``, oldest first, not locked: the candidates an inhibition rule's
        source may be (``bot.services.incidents.noise``)."""
        ...

    async def storm_candidates(
        self, since: datetime, *, service: str | None = None
    ) -> Sequence[Incident]:
        """Incidents of Alertmanager groups opened at or after ``since`` (of ``service``, if
        given) that are neither storms nor merged, oldest first, not locked: what a storm may
        form from (``bot.services.incidents.storm``)."""
        ...

    async def prefetch_storm_candidates(self, services: Collection[str], since: datetime) -> None:
        """Read ``storm_candidates`` of each service at once (the inbox processor, per
        batch), so this transaction's later calls for them need no query."""
        ...

    async def open_storm(self, storm_key: str) -> Incident | None:
        """The open storm incident marked ``storm_key``, locked until commit."""
        ...

    async def for_pagerduty(self, new: NewIncident) -> tuple[Incident, bool]:
        """The incident keyed by ``new.pagerduty_id``, creating it if missing (locked)."""
        ...

    async def create(self, new: NewIncident) -> Incident:
        """Store an incident declared by a person (no group key, no PagerDuty id)."""
        ...

    async def save(self, incident: Incident) -> None:
        """Write back the mutable fields of an incident fetched in this transaction."""
        ...

    async def list(self, flt: IncidentFilter) -> Sequence[Incident]:
        """Newest first."""
        ...


class AlertRepository(Protocol):
    async def add(
        self, incident_id: int, alert: Alert, severity: Severity, *, group_key: str | None = None
    ) -> AlertEpisode | None:
        """Store a new episode (``group_key``: the Alertmanager group it arrived in); ``None``
        when (fingerprint, starts_at) is already stored."""
        ...

    async def move(
        self, from_incident: int, to_incident: int, *, group_key: str | None = None
    ) -> int:
        """Move the episodes of ``from_incident`` (only those of ``group_key``, if given) to
        ``to_incident``; how many moved."""
        ...

    async def prefetch_groups(self, group_keys: Collection[str]) -> None:
        """Read ``incident_of_group`` of each key at once (the inbox processor, per batch)."""
        ...

    async def incident_of_group(self, group_key: str) -> int | None:
        """The incident holding the newest episode that arrived in ``group_key``: where a
        group that joined a storm (or was merged) now lives."""
        ...

    async def add_later(
        self, incident_id: int, alert: Alert, severity: Severity, *, group_key: str | None = None
    ) -> None:
        """Store a new episode with the transaction's other held-back writes; for an alert
        this transaction has seen is not stored (``get`` said ``None``). If another writer
        stores it first, the write fails with ``Conflict`` and the transaction runs again."""
        ...

    async def prefetch(self, keys: Collection[tuple[str, datetime]]) -> None:
        """Read the episodes of these (fingerprint, starts_at) keys at once, so that this
        transaction's ``get`` of them needs no query (the inbox processor, per batch)."""
        ...

    async def get(self, fingerprint: str, starts_at: datetime) -> AlertEpisode | None: ...

    async def state(self, fingerprint: str, starts_at: datetime) -> EpisodeState | None:
        """Whether the episode is stored, where, and whether it fires (``prefetch`` reads
        these for a batch at once)."""
        ...

    async def resolve(self, episode_id: int, ends_at: datetime) -> bool:
        """Mark a firing episode resolved; ``False`` if it was no longer firing."""
        ...

    async def resolve_for(self, episode_id: int, ends_at: datetime) -> int | None:
        """``resolve``, answering the incident the episode lives in (``None``: it was no
        longer firing). A split or merge may have moved it after the caller read it; once
        resolved here its row is locked, so it stays there until commit."""
        ...

    async def for_incident(self, incident_id: int) -> Sequence[AlertEpisode]: ...


class TimelineRepository(Protocol):
    async def append(
        self, incident_id: int, *, at: datetime, actor: Actor, event: Event
    ) -> TimelineEntry:
        """Append ``event`` as the next entry, numbered and hash-chained after the incident's
        last one (stored as ``bot.domain.events.encode`` gives it).

        Callers hold the incident's row lock, which serialises appends per incident.
        """
        ...

    async def for_incident(self, incident_id: int) -> Sequence[TimelineEntry]:
        """In sequence order."""
        ...


@dataclass(frozen=True, slots=True)
class InboxBacklog:
    """The inbox as the database has it (so it is true after a restart and across replicas):
    how many deliveries wait to be processed, deferred ones included, and when the one that
    arrived first was received."""

    pending: int
    oldest_received_at: datetime | None

    def oldest_age(self, now: datetime) -> float:
        """Seconds the first-arrived pending delivery has waited (0 with none pending)."""
        if self.oldest_received_at is None:
            return 0.0
        return max(0.0, (now - self.oldest_received_at).total_seconds())


class HealthRepository(Protocol):
    """Read-only counts for firebreak's own gauges, taken at each scrape."""

    async def outbox_health(self, *, now: datetime) -> OutboxHealth:
        """The outbox's pending, retrying and failed calls; due means ``not_before <= now``."""
        ...

    async def running_actions(self, *, started_before: datetime) -> RunningActions:
        """The running actions; those started before ``started_before`` are overdue."""
        ...


class DeliveryRepository(Protocol):
    async def record(self, delivery: Delivery) -> bool:
        """Store a received delivery; ``False`` if (source, key) was already stored."""
        ...

    async def set_outcome(
        self, source: Source, key: str, outcome: DeliveryOutcome, detail: str = ""
    ) -> None: ...

    async def enqueue(self, deliveries: Sequence[Delivery]) -> None:
        """Store received deliveries as ``PENDING`` inbox rows (keys are fresh and unique)."""
        ...

    async def enqueue_once(self, delivery: Delivery) -> bool:
        """Store ``delivery`` as a ``PENDING`` inbox row unless its (source, key) is stored
        already (a redelivery): ``False`` then, and nothing is written. The unique key decides,
        so two concurrent deliveries of one key store one row."""
        ...

    async def take_pending(
        self, *, source: Source | None = None, now: datetime, limit: int, wait: bool = False
    ) -> Sequence[PendingDelivery]:
        """The oldest pending deliveries that are due (``not_before <= now``), of ``source``
        or, without one, of every source in ``INBOX_SOURCES``, in arrival order.

        Only one transaction at a time gets any: on PostgreSQL the call takes a transaction
        advisory lock and returns nothing when another replica holds it (or, with ``wait``,
        waits for it), so the inbox is processed in arrival order by one replica at a time.
        The rows stay pending until ``finish`` in the same transaction; a crash rolls
        everything back.
        """
        ...

    async def finish(self, delivery_id: int, outcome: DeliveryOutcome, detail: str = "") -> bool:
        """Settle a pending delivery; ``False`` if it was no longer pending."""
        ...

    async def finish_later(
        self, delivery_id: int, outcome: DeliveryOutcome, detail: str = ""
    ) -> None:
        """``finish`` a delivery this transaction took (so it is still pending and locked),
        without waiting: written with the transaction's other held-back writes."""
        ...

    async def defer(self, delivery_id: int, *, not_before: datetime, error: str) -> int:
        """Count a failed processing attempt and hold the delivery back until ``not_before``.

        Returns the attempts spent so far (0 if the delivery was no longer pending)."""
        ...

    async def count_pending(self) -> int:
        """Deliveries of any source waiting to be processed."""
        ...

    async def backlog(self) -> InboxBacklog:
        """The pending deliveries of every source: their count, and the first to arrive."""
        ...


class Inbox(Protocol):
    """Where acknowledged-to-be deliveries are stored before the sender gets its 2xx."""

    async def accept(self, delivery: Delivery) -> None:
        """Return only once ``delivery`` is committed as a pending inbox row.

        Raises ``StorageUnavailable`` when it could not be stored (the sender retries)."""
        ...

    async def accept_once(self, delivery: Delivery) -> bool:
        """Like ``accept`` for a delivery the sender identifies (PagerDuty's ``X-Webhook-Id``):
        ``False``, with nothing stored, when its (source, key) is stored already.

        Returns only once the row (or the one it duplicates) is committed."""
        ...

    def busy(self) -> bool:
        """Whether deliveries are queueing up behind commits (a storm), as opposed to
        arriving one commit at a time: the cue for other writers to step aside."""
        ...

    async def settled(self) -> None:
        """Return once intake is no longer ``busy`` (at once if it is not)."""
        ...
