"""A window's end, on each incident it touched: a ``maintenance.ended`` entry, and for an
incident the window held (a P1 opened as P2) that is still firing, the severity it would have
had (``severity.changed``, rule ``maintenance ended``), so its escalation path starts then
(the escalation reactor starts the new severity's path on that entry).

Shared by ``/incident maintenance end`` (at once, for the ad-hoc window ended) and the
maintenance worker (windows that ran their course, recurring or ad hoc)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime

from bot.clock import Clock
from bot.domain.actor import BOT, Actor
from bot.domain.events import MaintenanceEnded, SeverityChanged
from bot.domain.incident import AlertStatus, Incident
from bot.domain.maintenance import MaintenanceMark, NewMark
from bot.policy.maintenance import covering
from bot.policy.model import Policy
from bot.ports import Store, UnitOfWork
from bot.services.entries import save_recorded
from bot.services.maintenance.windows import running_ad_hoc
from bot.services.transactions import in_transaction

RULE = "maintenance ended"


@dataclass(frozen=True, slots=True)
class Released:
    """The incident as the release left it, and whether its severity was raised back."""

    incident: Incident
    raised: bool = False


class How(enum.StrEnum):
    """How a window ended: a person ended it, or it ran its course."""

    ENDED = "ended"
    EXPIRED = "expired"


async def release(
    uow: UnitOfWork,
    policy: Policy,
    mark: MaintenanceMark,
    *,
    at: datetime,
    how: How,
    actor: Actor,
) -> Released | None:
    """Record the end of ``mark``'s window on its incident, in the caller's transaction
    (the incident is locked first, as every writer of it does); ``None`` when another transaction released the mark first. A resolved incident's story
    is over: its mark is released without an entry."""
    incident = await uow.incidents.get(mark.incident_id, for_update=True)
    if incident is None or not await uow.maintenance.release(mark.id, at=at):
        return None
    if not incident.status.is_open:
        return Released(incident)
    event = MaintenanceEnded(
        window=mark.window, ended_at=at.isoformat(), how=how.value, ad_hoc=mark.ad_hoc
    )
    await uow.timeline.append(incident.id, at=at, actor=actor, event=event)
    raised = await _rerate(uow, policy, incident, mark, at=at, actor=actor)
    return Released(raised or incident, raised is not None)


async def _rerate(
    uow: UnitOfWork,
    policy: Policy,
    incident: Incident,
    mark: MaintenanceMark,
    *,
    at: datetime,
    actor: Actor,
) -> Incident | None:
    """The held severity raised back to the classified one, when the window held it, nobody
    changed it since (a person's choice stands) and an alert still fires; ``None``
    when it stays."""
    if not mark.held or mark.classified is None or incident.severity is not mark.severity:
        return None
    if mark.classified <= incident.severity:
        return None
    episodes = await uow.alerts.for_incident(incident.id)
    if not any(e.status is AlertStatus.FIRING for e in episodes):
        return None
    # Another window still covers the service (an ad-hoc one ended inside the Sunday one):
    # it holds the incident now, and its own end re-rates it.
    other = covering(policy.maintenance, incident.service, at, await running_ad_hoc(uow, at))
    if other is not None:
        await uow.maintenance.mark(
            replace_mark(mark, window=other.name, ends_at=other.ends_at, ad_hoc=other.ad_hoc)
        )
        return None
    severity = mark.classified
    level = policy.levels.get(severity)
    minutes = level.response_minutes if level is not None else incident.response_minutes
    raised = replace(incident, severity=severity, response_minutes=minutes, updated_at=at)
    event = SeverityChanged(previous=incident.severity.value, to=severity.value, rule=RULE)
    return await save_recorded(uow, raised, at=at, actor=actor, event=event)


def replace_mark(
    mark: MaintenanceMark, *, window: str, ends_at: datetime, ad_hoc: int | None
) -> NewMark:
    """The same hold, now by another window."""
    return NewMark(mark.incident_id, window, ends_at, ad_hoc, mark.classified, mark.severity)


async def release_due(store: Store, policy: Policy, clock: Clock, *, limit: int = 50) -> int:
    """Release up to ``limit`` marks whose window is over, in one transaction; how many.
    ``store`` is the publishing store, so a raised severity starts its path."""
    now = clock.now()

    async def work(uow: UnitOfWork) -> int:
        due = await uow.maintenance.due_marks(now, limit=limit)
        released = 0
        for mark in due:  # in incident order: the order every replica locks them in
            found = await release(uow, policy, mark, at=now, how=How.EXPIRED, actor=BOT)
            released += found is not None
        return released

    return await in_transaction(store, work)
