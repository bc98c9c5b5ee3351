"""What people do to an incident from Slack: acknowledge, resolve, change severity, name a
commander, add a note, and the trace left by read-only commands. Each is one transaction that
changes the incident (locked) and appends the timeline entry naming the actor."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime

from bot.domain.actor import Actor
from bot.domain.events import (
    CommanderAssigned,
    Event,
    EventKind,
    Note,
    SeverityChanged,
    StatusChanged,
)
from bot.domain.incident import Incident, IncidentStatus, Severity
from bot.errors import BadRequest, NotFound
from bot.ports import Store, UnitOfWork
from bot.services.entries import save_recorded
from bot.services.transactions import in_transaction


async def _locked(uow: UnitOfWork, incident_id: int) -> Incident:
    incident = await uow.incidents.get(incident_id, for_update=True)
    if incident is None:
        raise NotFound(f"there is no incident #{incident_id}")
    return incident


async def _change(
    store: Store,
    incident_id: int,
    change: Callable[[UnitOfWork, Incident], Awaitable[Incident]],
) -> Incident:
    async def work(uow: UnitOfWork) -> Incident:
        return await change(uow, await _locked(uow, incident_id))

    return await in_transaction(store, work)


async def acknowledge(store: Store, incident_id: int, *, actor: Actor, at: datetime) -> Incident:
    """Triggered → acknowledged. Acknowledging twice changes nothing and says so."""

    async def change(uow: UnitOfWork, incident: Incident) -> Incident:
        if incident.status is IncidentStatus.RESOLVED:
            raise BadRequest(f"incident #{incident.id} is already resolved")
        if incident.status is IncidentStatus.ACKNOWLEDGED:
            raise BadRequest(f"incident #{incident.id} is already acknowledged")
        acked = incident.moved_to(IncidentStatus.ACKNOWLEDGED, by=actor, at=at)
        event = StatusChanged(kind=EventKind.INCIDENT_ACKNOWLEDGED)
        return await save_recorded(uow, acked, at=at, actor=actor, event=event)

    return await _change(store, incident_id, change)


async def resolve(
    store: Store, incident_id: int, *, actor: Actor, at: datetime, reason: str = ""
) -> Incident:
    """Close the incident by hand. Alerts still firing in its group open nothing new."""

    async def change(uow: UnitOfWork, incident: Incident) -> Incident:
        if incident.status is IncidentStatus.RESOLVED:
            raise BadRequest(f"incident #{incident.id} is already resolved")
        resolved = incident.moved_to(IncidentStatus.RESOLVED, by=actor, at=at)
        event = StatusChanged(kind=EventKind.INCIDENT_RESOLVED, reason=reason or "resolved by hand")
        return await save_recorded(uow, resolved, at=at, actor=actor, event=event)

    return await _change(store, incident_id, change)


async def set_severity(
    store: Store, incident_id: int, severity: Severity, *, actor: Actor, at: datetime
) -> Incident:
    """A person may raise or lower the severity (intake only ever raises it)."""

    async def change(uow: UnitOfWork, incident: Incident) -> Incident:
        if incident.severity is severity:
            raise BadRequest(f"incident #{incident.id} already is {severity.value}")
        changed = replace(incident, severity=severity, updated_at=at)
        event = SeverityChanged(previous=incident.severity.value, to=severity.value, rule="manual")
        return await save_recorded(uow, changed, at=at, actor=actor, event=event)

    return await _change(store, incident_id, change)


async def record(
    store: Store, incident_id: int, *, actor: Actor, at: datetime, event: Event
) -> Incident:
    """Append one entry that changes nothing else (a note, a command that only read)."""

    async def change(uow: UnitOfWork, incident: Incident) -> Incident:
        await uow.timeline.append(incident.id, at=at, actor=actor, event=event)
        return incident

    return await _change(store, incident_id, change)


async def assign_commander(
    store: Store, incident_id: int, user: str, *, actor: Actor, at: datetime
) -> Incident:
    """Make ``user`` (a Slack user id) the incident commander: kept on the incident, and
    recorded as a ``commander.assigned`` entry."""

    async def change(uow: UnitOfWork, incident: Incident) -> Incident:
        commanded = replace(incident, commander=user, updated_at=at)
        event = CommanderAssigned(user=user)
        return await save_recorded(uow, commanded, at=at, actor=actor, event=event)

    return await _change(store, incident_id, change)


async def add_note(
    store: Store, incident_id: int, text: str, *, actor: Actor, at: datetime
) -> Incident:
    return await record(store, incident_id, actor=actor, at=at, event=Note(text=text))
