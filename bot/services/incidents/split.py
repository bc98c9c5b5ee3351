"""``/incident split GROUP``, typed in an incident's channel (a storm's, usually): the alerts
of one Alertmanager group (by the number the storm card shows, its key, or a unique prefix
of the key) move to a new incident of the group's own, opened as alert intake would open it
(its channel, its escalation path, its triage). ``incident.split`` on both timelines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.actor import Actor
from bot.domain.events import IncidentSplit
from bot.domain.groups import find_group, groups_of
from bot.domain.incident import AlertStatus, Incident, NewIncident, Source
from bot.errors import BadRequest, NotFound
from bot.policy.model import Policy
from bot.ports import Store, UnitOfWork
from bot.services.entries import record_opened
from bot.services.transactions import in_transaction


@dataclass(frozen=True, slots=True)
class SplitResult:
    source: Incident
    split: Incident
    group_key: str
    alerts: int


async def split_group(
    store: Store, policy: Policy, incident_id: int, group: str, *, actor: Actor, at: datetime
) -> SplitResult:
    """Refused: an unknown or ambiguous group, the incident's only group, its own group (the
    one it opened for), a resolved incident, or a group whose own incident is open again."""

    async def work(uow: UnitOfWork) -> SplitResult:
        source = await uow.incidents.get(incident_id, for_update=True)
        if source is None:
            raise NotFound(f"there is no incident #{incident_id}")
        if not source.status.is_open:
            raise BadRequest(f"incident #{incident_id} is resolved")
        groups = groups_of(source, await uow.alerts.for_incident(source.id))
        found = find_group(groups, group)
        if found is None:
            raise BadRequest(
                f"incident #{incident_id} has no group `{group}`"
                f" (give its number, 1 to {len(groups)}, or its key)"
            )
        if len(groups) < 2:
            raise BadRequest(f"`{found.key}` is the only group of incident #{incident_id}")
        if found.key == source.group_key:
            raise BadRequest(
                f"`{found.key}` is the group incident #{incident_id} opened for; split the others"
            )
        if not any(a.status is AlertStatus.FIRING for a in found.alerts):
            # An incident of resolved alerts would never resolve: no delivery will come.
            raise BadRequest(f"every alert of group `{found.key}` has resolved; nothing to split")
        worst = max(found.alerts, key=lambda a: (a.severity.rank, -a.id))
        verdict = policy.classify_labels(worst.labels)
        summary = worst.annotations.get("summary")
        name = worst.name or "alert"
        new, created = await uow.incidents.open_for_group(
            NewIncident(
                title=f"{name}: {summary}" if summary else f"{name} ({verdict.scenario.title})",
                severity=worst.severity,
                source=Source.ALERTMANAGER,
                service=policy.service_of(worst.labels),
                scenario=verdict.scenario.id,
                response_minutes=verdict.response_minutes,
                created_at=at,
                group_key=found.key,
                labels=dict(worst.labels),
            )
        )
        if not created:
            raise BadRequest(f"group `{found.key}` has an open incident already, #{new.id}")
        await record_opened(uow, new, at=at, actor=actor, rule=verdict.rule, group_key=found.key)
        moved = await uow.alerts.move(source.id, new.id, group_key=found.key)
        event = IncidentSplit(group_key=found.key, source=source.id, target=new.id, alerts=moved)
        await uow.timeline.append(new.id, at=at, actor=actor, event=event)
        await uow.timeline.append(source.id, at=at, actor=actor, event=event)
        return SplitResult(source=source, split=new, group_key=found.key, alerts=moved)

    return await in_transaction(store, work)
