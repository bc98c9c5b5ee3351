"""Timeline entries written by more than one use case, so they keep one shape."""

from __future__ import annotations

from datetime import datetime

from bot.domain.actor import Actor
from bot.domain.events import Event, IncidentOpened
from bot.domain.incident import Incident
from bot.ports import UnitOfWork


async def record_opened(
    uow: UnitOfWork,
    incident: Incident,
    *,
    at: datetime,
    actor: Actor,
    rule: str,
    group_key: str | None = None,
    receiver: str | None = None,
    pagerduty_id: str | None = None,
    priority: str | None = None,
    urgency: str | None = None,
) -> None:
    """The first entry of every incident: what it is, which policy rule classified it, and
    where it came from (an Alertmanager group, a PagerDuty incident)."""
    await uow.timeline.append(
        incident.id,
        at=at,
        actor=actor,
        event=IncidentOpened(
            title=incident.title,
            severity=incident.severity.value,
            scenario=incident.scenario,
            rule=rule,
            response_minutes=incident.response_minutes,
            group_key=group_key,
            receiver=receiver,
            pagerduty_id=pagerduty_id,
            priority=priority,
            urgency=urgency,
        ),
    )


async def save_recorded(
    uow: UnitOfWork, changed: Incident, *, at: datetime, actor: Actor, event: Event
) -> Incident:
    """Save ``changed`` and append the entry that says what changed, in the caller's
    transaction; returns ``changed``."""
    await uow.incidents.save(changed)
    await uow.timeline.append(changed.id, at=at, actor=actor, event=event)
    return changed
