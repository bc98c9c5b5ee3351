"""``MemoryStore``: an in-memory ``bot.ports.Store`` with the SQL stores' semantics.

Each transaction works on a copy of the state and swaps it in on commit, so an exception
discards every write; an ``asyncio.Lock`` runs one transaction at a time, which is also why
``for_update`` needs no locking here. Uniqueness rules mirror the database constraints.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from bot.domain.actor import Actor
from bot.domain.events import Event, encode
from bot.domain.incident import (
    INBOX_SOURCES,
    Alert,
    AlertEpisode,
    AlertStatus,
    Delivery,
    DeliveryOutcome,
    EpisodeState,
    Incident,
    IncidentFilter,
    IncidentStatus,
    NewIncident,
    PendingDelivery,
    Severity,
    Source,
    TimelineEntry,
)
from bot.domain.timeline import GENESIS, next_entry
from bot.errors import Conflict, IntegrityViolation, NotFound
from bot.ports import InboxBacklog
from tests.fakes.memory.actions import ActionTable, MemoryActions
from tests.fakes.memory.escalations import MemoryEscalations, TimerTable
from tests.fakes.memory.graphs import GraphTable, MemoryGraphs
from tests.fakes.memory.health import MemoryHealth
from tests.fakes.memory.maintenance import MaintenanceTable, MemoryMaintenance
from tests.fakes.memory.outbox import MemoryChatRefs, MemoryOutbox, MemoryPace, OutboxState


@dataclasses.dataclass(frozen=True, slots=True)
class StoredDelivery:
    """One ``deliveries`` row: ``record`` leaves the outcome unset, ``enqueue`` makes it
    ``PENDING`` until the inbox processor settles (``finish``) or defers it."""

    delivery: Delivery
    outcome: DeliveryOutcome | None = None
    detail: str = ""
    id: int = 0
    attempts: int = 0
    not_before: datetime | None = None

    @property
    def pending(self) -> bool:
        return self.outcome is DeliveryOutcome.PENDING


@dataclasses.dataclass(slots=True)
class _State:
    incidents: dict[int, Incident] = dataclasses.field(default_factory=dict)
    episodes: dict[int, AlertEpisode] = dataclasses.field(default_factory=dict)
    timeline: dict[int, list[TimelineEntry]] = dataclasses.field(default_factory=dict)
    deliveries: dict[tuple[Source, str], StoredDelivery] = dataclasses.field(default_factory=dict)
    delivery_keys: dict[int, tuple[Source, str]] = dataclasses.field(default_factory=dict)
    next_incident_id: int = 1
    next_episode_id: int = 1
    next_delivery_id: int = 1
    outbox: OutboxState = dataclasses.field(default_factory=OutboxState)
    actions: ActionTable = dataclasses.field(default_factory=ActionTable)
    timers: TimerTable = dataclasses.field(default_factory=TimerTable)
    maintenance: MaintenanceTable = dataclasses.field(default_factory=MaintenanceTable)
    graphs: GraphTable = dataclasses.field(default_factory=GraphTable)

    def copy(self) -> _State:
        # Stored values are frozen dataclasses, so copying the containers is enough.
        return _State(
            incidents=dict(self.incidents),
            episodes=dict(self.episodes),
            timeline={key: list(entries) for key, entries in self.timeline.items()},
            deliveries=dict(self.deliveries),
            delivery_keys=dict(self.delivery_keys),
            next_incident_id=self.next_incident_id,
            next_episode_id=self.next_episode_id,
            next_delivery_id=self.next_delivery_id,
            outbox=self.outbox.copy(),
            actions=self.actions.copy(),
            timers=self.timers.copy(),
            maintenance=self.maintenance.copy(),
            graphs=self.graphs.copy(),
        )


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: pass a timezone-aware one")
    return at.astimezone(UTC)


def _by_id(stored: StoredDelivery) -> int:
    return stored.id


def _maybe_aware(at: datetime | None) -> datetime | None:
    return None if at is None else _aware(at)


class MemoryIncidents:
    def __init__(self, state: _State) -> None:
        self._state = state

    async def get(self, incident_id: int, *, for_update: bool = False) -> Incident | None:
        return self._state.incidents.get(incident_id)

    async def open_for_group(self, new: NewIncident) -> tuple[Incident, bool]:
        if new.group_key is None:
            raise ValueError("open_for_group needs a NewIncident with a group_key")
        if not new.status.is_open:
            raise ValueError("open_for_group opens incidents; a resolved one cannot be the group's")
        for incident in self._state.incidents.values():
            if incident.group_key == new.group_key and incident.status.is_open:
                return incident, False
        return self._insert(new), True

    async def prefetch_latest(self, group_keys: Collection[str]) -> None:
        return None  # nothing to save: every read here is a dictionary look-up

    async def latest_for_group(self, group_key: str) -> Incident | None:
        matching = [i for i in self._state.incidents.values() if i.group_key == group_key]
        return max(matching, key=lambda incident: incident.id, default=None)

    async def open_groups_in(self, scenarios: Collection[str]) -> Sequence[Incident]:
        return [
            incident
            for incident in sorted(self._state.incidents.values(), key=lambda i: i.id)
            if incident.status.is_open
            and incident.group_key is not None
            and incident.scenario in scenarios
        ]

    async def prefetch_storm_candidates(self, services: Collection[str], since: datetime) -> None:
        return None

    async def storm_candidates(
        self, since: datetime, *, service: str | None = None
    ) -> Sequence[Incident]:
        since = _aware(since)
        return [
            incident
            for incident in sorted(self._state.incidents.values(), key=lambda i: i.id)
            if incident.created_at >= since
            and (service is None or incident.service == service)
            and incident.group_key is not None
            and incident.source is Source.ALERTMANAGER
            and incident.storm_key is None
            and incident.merged_into is None
        ]

    async def open_storm(self, storm_key: str) -> Incident | None:
        storms = [
            incident
            for incident in self._state.incidents.values()
            if incident.storm_key == storm_key and incident.status.is_open
        ]
        return min(storms, key=lambda incident: incident.id, default=None)

    async def for_pagerduty(self, new: NewIncident) -> tuple[Incident, bool]:
        if new.pagerduty_id is None:
            raise ValueError("for_pagerduty needs a NewIncident with a pagerduty_id")
        for incident in self._state.incidents.values():
            if incident.pagerduty_id == new.pagerduty_id:
                return incident, False
        return self._insert(new), True

    async def create(self, new: NewIncident) -> Incident:
        return self._insert(new)

    async def save(self, incident: Incident) -> None:
        if incident.id not in self._state.incidents:
            raise NotFound(f"incident {incident.id} does not exist")
        stored = dataclasses.replace(
            incident,
            labels=dict(incident.labels),
            created_at=self._state.incidents[incident.id].created_at,
            source=self._state.incidents[incident.id].source,
            updated_at=_aware(incident.updated_at),
            acknowledged_at=_maybe_aware(incident.acknowledged_at),
            resolved_at=_maybe_aware(incident.resolved_at),
            status_changed_at=_maybe_aware(incident.status_changed_at),
        )
        self._check_unique(stored)
        self._state.incidents[incident.id] = stored

    async def list(self, flt: IncidentFilter) -> Sequence[Incident]:
        found = [
            incident
            for incident in sorted(self._state.incidents.values(), key=lambda i: -i.id)
            if (flt.status is None or incident.status is flt.status)
            and (not flt.open_only or incident.status.is_open)
            and (flt.severity is None or incident.severity is flt.severity)
            and (flt.before_id is None or incident.id < flt.before_id)
            and (flt.service is None or incident.service == flt.service)
        ]
        return found[: flt.limit]

    def _insert(self, new: NewIncident) -> Incident:
        created_at = _aware(new.created_at)
        incident = Incident(
            id=self._state.next_incident_id,
            title=new.title,
            severity=new.severity,
            status=new.status,
            source=new.source,
            service=new.service,
            scenario=new.scenario,
            response_minutes=new.response_minutes,
            created_at=created_at,
            updated_at=created_at,
            group_key=new.group_key,
            pagerduty_id=new.pagerduty_id,
            acknowledged_at=created_at if new.status is IncidentStatus.ACKNOWLEDGED else None,
            resolved_at=created_at if new.status is IncidentStatus.RESOLVED else None,
            status_changed_at=_maybe_aware(new.status_changed_at),
            labels=dict(new.labels),
        )
        self._check_unique(incident)
        self._state.next_incident_id += 1
        self._state.incidents[incident.id] = incident
        return incident

    def _check_unique(self, candidate: Incident) -> None:
        """The database's unique constraints: pagerduty_id, and the open group key."""
        for other in self._state.incidents.values():
            if other.id == candidate.id:
                continue
            if candidate.pagerduty_id is not None and other.pagerduty_id == candidate.pagerduty_id:
                raise Conflict(f"PagerDuty incident {candidate.pagerduty_id!r} is already stored")
            if (
                candidate.group_key is not None
                and candidate.status.is_open
                and other.status.is_open
                and other.group_key == candidate.group_key
            ):
                raise Conflict(f"group {candidate.group_key!r} already has an open incident")


class MemoryAlerts:
    def __init__(self, state: _State) -> None:
        self._state = state

    async def add(
        self, incident_id: int, alert: Alert, severity: Severity, *, group_key: str | None = None
    ) -> AlertEpisode | None:
        if incident_id not in self._state.incidents:
            # What the foreign key makes the database say.
            raise IntegrityViolation(f"incident {incident_id} does not exist")
        starts_at = _aware(alert.starts_at)
        if await self.get(alert.fingerprint, starts_at) is not None:
            return None
        episode = AlertEpisode(
            id=self._state.next_episode_id,
            incident_id=incident_id,
            fingerprint=alert.fingerprint,
            status=alert.status,
            severity=severity,
            labels=dict(alert.labels),
            annotations=dict(alert.annotations),
            starts_at=starts_at,
            ends_at=_maybe_aware(alert.ends_at),
            generator_url=alert.generator_url,
            group_key=group_key,
        )
        self._state.next_episode_id += 1
        self._state.episodes[episode.id] = episode
        return episode

    async def add_later(
        self, incident_id: int, alert: Alert, severity: Severity, *, group_key: str | None = None
    ) -> None:
        if await self.add(incident_id, alert, severity, group_key=group_key) is None:
            raise Conflict(f"alert {alert.fingerprint} at {alert.starts_at} is already stored")

    async def prefetch(self, keys: Collection[tuple[str, datetime]]) -> None:
        return None

    async def state(self, fingerprint: str, starts_at: datetime) -> EpisodeState | None:
        episode = await self.get(fingerprint, starts_at)
        return (
            None
            if episode is None
            else EpisodeState(episode.id, episode.incident_id, episode.status)
        )

    async def get(self, fingerprint: str, starts_at: datetime) -> AlertEpisode | None:
        starts_at = _aware(starts_at)  # refuses what the SQL column type refuses
        for episode in self._state.episodes.values():
            if episode.fingerprint == fingerprint and episode.starts_at == starts_at:
                return episode
        return None

    async def resolve_for(self, episode_id: int, ends_at: datetime) -> int | None:
        if not await self.resolve(episode_id, ends_at):
            return None
        return self._state.episodes[episode_id].incident_id

    async def resolve(self, episode_id: int, ends_at: datetime) -> bool:
        episode = self._state.episodes.get(episode_id)
        if episode is None or episode.status is not AlertStatus.FIRING:
            return False
        self._state.episodes[episode_id] = dataclasses.replace(
            episode, status=AlertStatus.RESOLVED, ends_at=_aware(ends_at)
        )
        return True

    async def move(
        self, from_incident: int, to_incident: int, *, group_key: str | None = None
    ) -> int:
        if to_incident not in self._state.incidents:
            raise IntegrityViolation(f"incident {to_incident} does not exist")
        moved = 0
        for episode in list(self._state.episodes.values()):
            if episode.incident_id != from_incident:
                continue
            if group_key is not None and episode.group_key != group_key:
                continue
            self._state.episodes[episode.id] = dataclasses.replace(episode, incident_id=to_incident)
            moved += 1
        return moved

    async def prefetch_groups(self, group_keys: Collection[str]) -> None:
        return None

    async def incident_of_group(self, group_key: str) -> int | None:
        mine = [e for e in self._state.episodes.values() if e.group_key == group_key]
        newest = max(mine, key=lambda episode: episode.id, default=None)
        return None if newest is None else newest.incident_id

    async def for_incident(self, incident_id: int) -> Sequence[AlertEpisode]:
        mine = [e for e in self._state.episodes.values() if e.incident_id == incident_id]
        return sorted(mine, key=lambda episode: (episode.starts_at, episode.id))


class MemoryTimeline:
    def __init__(self, state: _State) -> None:
        self._state = state

    async def append(
        self, incident_id: int, *, at: datetime, actor: Actor, event: Event
    ) -> TimelineEntry:
        kind, body = encode(event)
        if incident_id not in self._state.incidents:
            # What the foreign key makes the database say.
            raise IntegrityViolation(f"incident {incident_id} does not exist")
        entries = self._state.timeline.setdefault(incident_id, [])
        entry = next_entry(
            prev_seq=entries[-1].seq if entries else 0,
            prev_hash=entries[-1].hash if entries else GENESIS,
            incident_id=incident_id,
            at=_aware(at),
            # Through the stored text, as the SQL store does: a display name is never kept.
            actor=Actor.parse(str(actor)),
            kind=kind,
            body=body,
        )
        entries.append(entry)
        return entry

    async def for_incident(self, incident_id: int) -> Sequence[TimelineEntry]:
        # Copies of the bodies: the stored timeline must not be editable through a result.
        return [
            dataclasses.replace(entry, body=json.loads(json.dumps(entry.body)))
            for entry in self._state.timeline.get(incident_id, [])
        ]


class MemoryDeliveries:
    """The ``deliveries`` table: unique on (source, key), ids handed out in insertion order
    (``record`` and ``enqueue`` share the sequence, as they share the SQL identity column)."""

    def __init__(self, state: _State) -> None:
        self._state = state

    async def record(self, delivery: Delivery) -> bool:
        if (delivery.source, delivery.key) in self._state.deliveries:
            return False
        self._insert(delivery, outcome=None)
        return True

    async def set_outcome(
        self, source: Source, key: str, outcome: DeliveryOutcome, detail: str = ""
    ) -> None:
        stored = self._state.deliveries.get((source, key))
        if stored is not None:
            self._state.deliveries[(source, key)] = dataclasses.replace(
                stored, outcome=outcome, detail=detail
            )

    async def enqueue(self, deliveries: Sequence[Delivery]) -> None:
        keys = [(d.source, d.key) for d in deliveries]
        # One INSERT of many rows: a key already stored (or twice in the batch) fails it all.
        if len(set(keys)) != len(keys) or any(k in self._state.deliveries for k in keys):
            raise Conflict(f"a delivery key of {keys!r} is already stored")
        for delivery in deliveries:
            self._insert(delivery, outcome=DeliveryOutcome.PENDING)

    async def enqueue_once(self, delivery: Delivery) -> bool:
        if (delivery.source, delivery.key) in self._state.deliveries:
            return False
        self._insert(delivery, outcome=DeliveryOutcome.PENDING)
        return True

    async def take_pending(
        self, *, source: Source | None = None, now: datetime, limit: int, wait: bool = False
    ) -> Sequence[PendingDelivery]:
        # The store's lock already gives one transaction at a time, so ``wait`` changes nothing.
        now = _aware(now)
        due = sorted(
            (
                stored
                for stored in self._state.deliveries.values()
                if stored.pending
                and stored.delivery.source in ((source,) if source else INBOX_SOURCES)
                and (stored.not_before is None or stored.not_before <= now)
            ),
            key=lambda stored: stored.id,
        )
        return [PendingDelivery(s.id, s.delivery, s.attempts) for s in due[: max(0, limit)]]

    async def finish_later(
        self, delivery_id: int, outcome: DeliveryOutcome, detail: str = ""
    ) -> None:
        await self.finish(delivery_id, outcome, detail)

    async def finish(self, delivery_id: int, outcome: DeliveryOutcome, detail: str = "") -> bool:
        stored = self._pending(delivery_id)
        if stored is None:
            return False
        self._save(dataclasses.replace(stored, outcome=outcome, detail=detail))
        return True

    async def defer(self, delivery_id: int, *, not_before: datetime, error: str) -> int:
        stored = self._pending(delivery_id)
        if stored is None:
            return 0
        attempts = stored.attempts + 1
        self._save(
            dataclasses.replace(
                stored, attempts=attempts, not_before=_aware(not_before), detail=error
            )
        )
        return attempts

    async def count_pending(self) -> int:
        return sum(stored.pending for stored in self._state.deliveries.values())

    async def backlog(self) -> InboxBacklog:
        pending = [s for s in self._state.deliveries.values() if s.pending]
        if not pending:
            return InboxBacklog(0, None)
        # As the SQL store reads it: each source's first arrival (lowest id), the earliest.
        firsts = {
            source: min((s for s in pending if s.delivery.source is source), key=_by_id)
            for source in {s.delivery.source for s in pending}
        }
        return InboxBacklog(len(pending), min(s.delivery.received_at for s in firsts.values()))

    def _insert(self, delivery: Delivery, *, outcome: DeliveryOutcome | None) -> None:
        delivery_id = self._state.next_delivery_id
        self._state.next_delivery_id += 1
        key = (delivery.source, delivery.key)
        stored = dataclasses.replace(delivery, received_at=_aware(delivery.received_at))
        self._state.deliveries[key] = StoredDelivery(stored, outcome=outcome, id=delivery_id)
        self._state.delivery_keys[delivery_id] = key

    def _pending(self, delivery_id: int) -> StoredDelivery | None:
        key = self._state.delivery_keys.get(delivery_id)
        stored = self._state.deliveries.get(key) if key is not None else None
        return stored if stored is not None and stored.pending else None

    def _save(self, stored: StoredDelivery) -> None:
        self._state.deliveries[(stored.delivery.source, stored.delivery.key)] = stored


class MemoryUnitOfWork:
    def __init__(self, state: _State) -> None:
        self.incidents = MemoryIncidents(state)
        self.alerts = MemoryAlerts(state)
        self.timeline = MemoryTimeline(state)
        self.deliveries = MemoryDeliveries(state)
        self.outbox = MemoryOutbox(state.outbox, lambda incident_id: incident_id in state.incidents)
        self.chat_refs = MemoryChatRefs(
            state.outbox, lambda incident_id: incident_id in state.incidents
        )
        self.pace = MemoryPace(state.outbox)
        self.actions = MemoryActions(state.actions, state.incidents)
        self.health = MemoryHealth(state.outbox, state.actions)
        self.escalations = MemoryEscalations(state.timers)
        self.maintenance = MemoryMaintenance(
            state.maintenance,
            lambda: [(i.id, i.service) for i in state.incidents.values() if i.status.is_open],
        )
        self.graphs = MemoryGraphs(state.graphs)


class MemoryStore:
    """The storage ports in memory, for unit tests of the core.

    ``fail_with`` makes every following ``transaction()`` and ``ping()`` raise that error
    (e.g. ``StorageUnavailable``) until it is set back to ``None``.
    """

    def __init__(self) -> None:
        self._state = _State()
        self._lock = asyncio.Lock()
        self.fail_with: Exception | None = None
        self.commits = 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[MemoryUnitOfWork]:
        async with self._lock:
            if self.fail_with is not None:
                raise self.fail_with
            working = self._state.copy()
            yield MemoryUnitOfWork(working)
            self._state = working
            self.commits += 1

    async def ping(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    async def close(self) -> None:
        """Nothing to release; present so tests treat every store alike."""

    def delivery(self, source: Source, key: str) -> StoredDelivery | None:
        """Inspect a recorded delivery (tests only; the ports have no reader for it)."""
        return self._state.deliveries.get((source, key))

    def deliveries(self) -> list[StoredDelivery]:
        """Every stored delivery in id (arrival) order (tests only)."""
        return sorted(self._state.deliveries.values(), key=lambda stored: stored.id)
