"""A store that publishes what each transaction appended to the timeline.

Every use case writes its facts as timeline entries; wrapping the store lets the chat effects
of those entries be queued (outbox rows) in the very transaction that wrote them, without each
use case knowing about Slack. The entries are collected per transaction and handed to each
``Publisher`` just before commit (the escalation reactor stores or cancels timers the same
way).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from bot.domain.actor import Actor
from bot.domain.events import Event
from bot.domain.incident import TimelineEntry
from bot.ports import (
    ActionRepository,
    AlertRepository,
    ChatRefRepository,
    DeliveryRepository,
    EscalationRepository,
    GraphRepository,
    HealthRepository,
    IncidentRepository,
    MaintenanceRepository,
    OutboxRepository,
    PaceRepository,
    Publisher,
    Store,
    TimelineRepository,
    UnitOfWork,
)


class _RecordingTimeline:
    """The transaction's timeline, remembering each entry appended through it."""

    def __init__(self, inner: TimelineRepository) -> None:
        self._inner = inner
        self.appended: list[TimelineEntry] = []

    async def append(
        self, incident_id: int, *, at: datetime, actor: Actor, event: Event
    ) -> TimelineEntry:
        entry = await self._inner.append(incident_id, at=at, actor=actor, event=event)
        self.appended.append(entry)
        return entry

    async def for_incident(self, incident_id: int) -> Sequence[TimelineEntry]:
        return await self._inner.for_incident(incident_id)


class RecordingUnitOfWork:
    """The inner unit of work with its timeline recorded; everything else passes through."""

    def __init__(self, inner: UnitOfWork) -> None:
        self.inner = inner
        self.recorder = _RecordingTimeline(inner.timeline)

    @property
    def incidents(self) -> IncidentRepository:
        return self.inner.incidents

    @property
    def alerts(self) -> AlertRepository:
        return self.inner.alerts

    @property
    def timeline(self) -> TimelineRepository:
        return self.recorder

    @property
    def deliveries(self) -> DeliveryRepository:
        return self.inner.deliveries

    @property
    def outbox(self) -> OutboxRepository:
        return self.inner.outbox

    @property
    def chat_refs(self) -> ChatRefRepository:
        return self.inner.chat_refs

    @property
    def pace(self) -> PaceRepository:
        return self.inner.pace

    @property
    def actions(self) -> ActionRepository:
        return self.inner.actions

    @property
    def health(self) -> HealthRepository:
        return self.inner.health

    @property
    def escalations(self) -> EscalationRepository:
        return self.inner.escalations

    @property
    def maintenance(self) -> MaintenanceRepository:
        return self.inner.maintenance

    @property
    def graphs(self) -> GraphRepository:
        return self.inner.graphs


class PublishingStore:
    """A ``Store`` whose transactions publish their new timeline entries before committing.

    ``publishers`` (one, or several called in order, each over every incident the
    transaction touched: the escalation reactor before the chat publishers) see only the
    entries the transaction's own work appended: whatever a publisher writes goes through the inner unit of work and is not
    published again. ``after_commit`` callbacks (the outbox worker's wake, and any added
    with ``on_commit``) run after a commit that published something."""

    def __init__(
        self,
        inner: Store,
        publishers: Publisher | Sequence[Publisher],
        *,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self.inner = inner
        self._publishers: tuple[Publisher, ...] = (
            tuple(publishers) if isinstance(publishers, Sequence) else (publishers,)
        )
        # Wakes the outbox worker once the rows are committed, instead of waiting for its poll.
        self._after_commit: list[Callable[[], None]] = (
            [after_commit] if after_commit is not None else []
        )

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Also call ``callback`` after each commit that published something (for workers
        built after this store, which they use)."""
        self._after_commit.append(callback)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        published = False
        async with self.inner.transaction() as uow:
            recording = RecordingUnitOfWork(uow)
            yield recording
            by_incident: dict[int, list[TimelineEntry]] = {}
            for entry in recording.recorder.appended:
                by_incident.setdefault(entry.incident_id, []).append(entry)
            # Each publisher in turn over every incident (rather than every publisher per
            # incident): a publisher's writes for one incident never depend on another's,
            # and so the writes one publisher holds back (the reactor's timers) go out in one
            # statement when the next one first reads them.
            for publisher in self._publishers:
                for incident_id, entries in by_incident.items():
                    # Through the inner unit of work: a publisher's own writes are not
                    # timeline entries of this transaction and must not be published again.
                    await publisher.publish(uow, incident_id, entries)
            published = bool(by_incident)
        if published:
            for callback in self._after_commit:
                callback()

    async def ping(self) -> None:
        await self.inner.ping()
