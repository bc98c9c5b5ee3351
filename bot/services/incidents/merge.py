"""Merging one incident into another: by a person (``/incident merge ID`` typed in the
incident's channel) or by alert intake when a storm forms (``bot.services.incidents.storm``).

The merged incident's alerts move to the target, which takes the higher severity; the merged
one closes as resolved with ``merged_into`` set, so its escalation timers stop, and its
Slack and paging calls not yet sent are cancelled (a channel not yet created never is).
Both timelines get an ``incident.merged`` entry."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bot.domain.actor import Actor
from bot.domain.events import EventKind, IncidentMerged, SeverityChanged, StatusChanged
from bot.domain.incident import Incident, IncidentStatus
from bot.errors import BadRequest, NotFound
from bot.ports import Store, UnitOfWork
from bot.services.entries import save_recorded
from bot.services.transactions import in_transaction


async def merge_into(
    uow: UnitOfWork,
    source: Incident,
    target: Incident,
    *,
    now: datetime,
    actor: Actor,
    reason: str,
) -> Incident:
    """Merge ``source`` into ``target`` (both open and locked by the caller) in the caller's
    transaction; returns ``target`` as it is now."""
    moved = await uow.alerts.move(source.id, target.id)
    await uow.outbox.cancel_for_incident(source.id, at=now, reason=f"merged into #{target.id}")
    merged = IncidentMerged(source=source.id, target=target.id, alerts=moved, reason=reason)
    closed = replace(
        source.moved_to(IncidentStatus.RESOLVED, by=actor, at=now), merged_into=target.id
    )
    await uow.incidents.save(closed)
    await uow.timeline.append(source.id, at=now, actor=actor, event=merged)
    await uow.timeline.append(
        source.id,
        at=now,
        actor=actor,
        event=StatusChanged(
            kind=EventKind.INCIDENT_RESOLVED, reason=f"merged into #{target.id}", alerts=moved
        ),
    )
    await uow.timeline.append(target.id, at=now, actor=actor, event=merged)
    if source.severity <= target.severity:
        return target
    raised = replace(
        target,
        severity=source.severity,
        response_minutes=min(target.response_minutes, source.response_minutes),
        updated_at=now,
    )
    event = SeverityChanged(
        previous=target.severity.value, to=source.severity.value, rule=f"merged #{source.id}"
    )
    return await save_recorded(uow, raised, at=now, actor=actor, event=event)


async def merge_incident(
    store: Store, source_id: int, target_id: int, *, actor: Actor, at: datetime
) -> Incident:
    """``/incident merge ID``: merge incident ``source_id`` (where it was typed) into
    ``target_id``; returns the target. Refused: merging into itself, an unknown incident,
    or a resolved (or merged) one on either side."""
    if source_id == target_id:
        raise BadRequest(f"incident #{source_id} cannot be merged into itself")

    async def work(uow: UnitOfWork) -> Incident:
        # Locked in id order, as every writer that locks two incidents does.
        first, second = sorted((source_id, target_id))
        locked = {
            first: await uow.incidents.get(first, for_update=True),
            second: await uow.incidents.get(second, for_update=True),
        }
        source, target = locked[source_id], locked[target_id]
        if target is None:
            raise NotFound(f"there is no incident #{target_id}")
        if source is None:
            raise NotFound(f"there is no incident #{source_id}")
        for incident in (source, target):
            if incident.merged_into is not None:
                raise BadRequest(
                    f"incident #{incident.id} was merged into #{incident.merged_into} already"
                )
            if not incident.status.is_open:
                raise BadRequest(f"incident #{incident.id} is resolved")
        return await merge_into(uow, source, target, now=at, actor=actor, reason="command")

    return await in_transaction(store, work)
