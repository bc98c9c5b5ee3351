"""One transaction and the repositories bound to it, the store that opens it, and the publisher that turns its new timeline entries into outbox rows before it commits."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from bot.domain.incident import (
    TimelineEntry,
)
from bot.ports.escalation import EscalationRepository
from bot.ports.graphs import GraphRepository
from bot.ports.incidents import (
    AlertRepository,
    DeliveryRepository,
    HealthRepository,
    IncidentRepository,
    TimelineRepository,
)
from bot.ports.maintenance import MaintenanceRepository
from bot.ports.outbox import ChatRefRepository, OutboxRepository, PaceRepository
from bot.ports.remediation import ActionRepository


class UnitOfWork(Protocol):
    """One database transaction and the repositories bound to it."""

    # Read-only properties, so adapters may expose their concrete repository types.
    @property
    def incidents(self) -> IncidentRepository: ...

    @property
    def alerts(self) -> AlertRepository: ...

    @property
    def timeline(self) -> TimelineRepository: ...

    @property
    def deliveries(self) -> DeliveryRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def chat_refs(self) -> ChatRefRepository: ...

    @property
    def pace(self) -> PaceRepository: ...

    @property
    def actions(self) -> ActionRepository: ...

    @property
    def health(self) -> HealthRepository: ...

    @property
    def escalations(self) -> EscalationRepository: ...

    @property
    def maintenance(self) -> MaintenanceRepository: ...

    @property
    def graphs(self) -> GraphRepository: ...


class Store(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """Commit on a clean exit, roll back on an exception.

        Raises ``Conflict`` for a transient clash that a retry may clear (deadlock,
        serialization failure) and ``StorageUnavailable`` when the database cannot be used.
        """
        ...

    async def ping(self) -> None:
        """Raise ``StorageUnavailable`` unless the database answers."""
        ...


class Publisher(Protocol):
    """Turns new timeline entries into outbound effects (Slack outbox rows), inside the same
    transaction that wrote them, so a committed change always has its message queued."""

    async def publish(
        self, uow: UnitOfWork, incident_id: int, entries: Sequence[TimelineEntry]
    ) -> None: ...
