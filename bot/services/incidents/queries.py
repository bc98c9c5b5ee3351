"""Read-side use cases: list incidents, show one with its alerts and timeline, and the labels
of its alerts (what names the target of its actions, ``bot.policy.targets``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.domain.incident import AlertEpisode, Incident, IncidentFilter, TimelineEntry
from bot.errors import NotFound
from bot.ports import Store


@dataclass(frozen=True, slots=True)
class IncidentDetail:
    incident: Incident
    alerts: Sequence[AlertEpisode]
    timeline: Sequence[TimelineEntry]


async def list_incidents(store: Store, flt: IncidentFilter) -> Sequence[Incident]:
    async with store.transaction() as uow:
        return await uow.incidents.list(flt)


async def show_incident(store: Store, incident_id: int) -> IncidentDetail:
    """The incident with its alerts and timeline; ``NotFound`` if there is none."""
    async with store.transaction() as uow:
        incident = await uow.incidents.get(incident_id)
        if incident is None:
            raise NotFound(f"no incident {incident_id}")
        return IncidentDetail(
            incident=incident,
            alerts=await uow.alerts.for_incident(incident_id),
            timeline=await uow.timeline.for_incident(incident_id),
        )


async def alert_labels(store: Store, incident_id: int) -> tuple[Incident, list[Mapping[str, str]]]:
    """The incident and its alerts' labels, earliest alert first; ``NotFound`` if none."""
    async with store.transaction() as uow:
        incident = await uow.incidents.get(incident_id)
        if incident is None:
            raise NotFound(f"no incident {incident_id}")
        alerts = await uow.alerts.for_incident(incident_id)
    return incident, [alert.labels for alert in alerts]
