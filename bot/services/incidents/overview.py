"""What the web page reads (``handlers/ui``): lists of incidents with their escalation timers
(the response target, overdue marks and the level reached come from them), and one incident
whole: alerts, timeline, actions and timers. Read-only; each call is one transaction, so a
page shows one moment of the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain.action import ActionRequest
from bot.domain.escalation import Timer
from bot.domain.incident import AlertEpisode, Incident, IncidentFilter, TimelineEntry
from bot.errors import NotFound
from bot.ports import Store


@dataclass(frozen=True, slots=True)
class Listed:
    """An incident as a list shows it, with its escalation timers."""

    incident: Incident
    timers: Sequence[Timer]


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    """Everything the incident's page shows, read in one transaction."""

    incident: Incident
    alerts: Sequence[AlertEpisode]
    timeline: Sequence[TimelineEntry]
    actions: Sequence[ActionRequest]
    timers: Sequence[Timer]


async def listings(store: Store, filters: Sequence[IncidentFilter]) -> list[list[Listed]]:
    """The incidents each filter selects (newest first), with their timers, read together."""
    async with store.transaction() as uow:
        found = [await uow.incidents.list(flt) for flt in filters]
        ids = {incident.id for incidents in found for incident in incidents}
        timers = await uow.escalations.for_incidents(ids) if ids else {}
    return [[Listed(i, timers.get(i.id, ())) for i in incidents] for incidents in found]


async def incident_record(store: Store, incident_id: int) -> IncidentRecord:
    """The incident and all it holds; ``NotFound`` if there is none."""
    async with store.transaction() as uow:
        incident = await uow.incidents.get(incident_id)
        if incident is None:
            raise NotFound(f"no incident {incident_id}")
        return IncidentRecord(
            incident=incident,
            alerts=await uow.alerts.for_incident(incident_id),
            timeline=await uow.timeline.for_incident(incident_id),
            actions=await uow.actions.for_incident(incident_id),
            timers=await uow.escalations.for_incident(incident_id),
        )
