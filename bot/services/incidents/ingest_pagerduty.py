"""Apply one PagerDuty v3 webhook event. Intake stores the delivery in the inbox,
deduplicated on the webhook id (``handlers.pagerduty``); the inbox processor applies it here
(``bot.services.incidents.inbox``). Status changes are ordered by the event's ``occurred_at``
so late or out-of-order events cannot undo newer ones."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from bot.domain.actor import SYSTEM, Actor
from bot.domain.events import (
    EventKind,
    PagerDutyLinked,
    PagerDutyReceived,
    SeverityChanged,
    StatusChanged,
)
from bot.domain.incident import (
    DeliveryOutcome,
    Incident,
    IncidentStatus,
    NewIncident,
    Source,
)
from bot.domain.outbox import incident_of_dedup_key
from bot.domain.pagerduty import PagerDutyEvent, PagerDutyIncident
from bot.policy.model import Policy
from bot.ports import UnitOfWork
from bot.services.entries import record_opened, save_recorded

ACTOR = Actor(SYSTEM, "pagerduty")
# People acting in PagerDuty are ``pagerduty:<user id>`` (``Actor``), e.g. on
# ``Incident.acknowledged_by``; the agent types that are people.
PAGERDUTY = "pagerduty"
PERSON_TYPES = frozenset({"user_reference", "user"})

# The event types that change an incident, and the status each implies (None: no change).
HANDLED: dict[str, IncidentStatus | None] = {
    "incident.triggered": IncidentStatus.TRIGGERED,
    "incident.acknowledged": IncidentStatus.ACKNOWLEDGED,
    "incident.unacknowledged": IncidentStatus.TRIGGERED,
    "incident.resolved": IncidentStatus.RESOLVED,
    "incident.reopened": IncidentStatus.TRIGGERED,
    "incident.priority_updated": None,
    "incident.escalated": None,
    "incident.reassigned": None,
    "incident.annotated": None,
}

# Events recorded on the timeline and nothing else: they change neither status nor severity.
TIMELINE_ONLY = frozenset({"incident.escalated", "incident.reassigned", "incident.annotated"})


@dataclass(frozen=True, slots=True)
class PagerDutyIngestResult:
    """What applying one event did: its delivery's outcome, the incident, and the incident
    if the event opened it."""

    outcome: DeliveryOutcome
    incident_id: int | None = None
    opened: Incident | None = None


def applies(event: PagerDutyEvent) -> bool:
    """Whether ``event`` changes an incident; any other event is kept only as ignored."""
    return event.event_type in HANDLED and event.incident is not None


async def apply_pagerduty_event(
    uow: UnitOfWork, *, policy: Policy, now: datetime, event: PagerDutyEvent
) -> PagerDutyIngestResult:
    """Apply ``event`` in the caller's transaction (the one that settles its delivery)."""
    if event.incident is None or event.event_type not in HANDLED:
        return PagerDutyIngestResult(DeliveryOutcome.IGNORED)
    return await _apply(uow, policy, now, event, event.incident)


async def _find_or_open(
    uow: UnitOfWork, policy: Policy, now: datetime, pd: PagerDutyIncident
) -> tuple[Incident, bool]:
    """The incident ``pd`` is about, and whether this event opened it.

    A PagerDuty incident whose incident key is one of firebreak's (``firebreak-<id>``, or a
    page by hand's ``firebreak-<id>-page-<entry>``) belongs to that firebreak incident, always:
    the first one links it (``pagerduty_id``); another (a page by hand on its own alert, or
    a second service) is recorded on it without relinking, and never opens an incident of
    its own, which would be paged and come back, without end. An unknown key (an incident
    this database does not hold) is treated like any PagerDuty incident."""
    own = incident_of_dedup_key(pd.incident_key)
    if own is not None:
        linked = await uow.incidents.get(own, for_update=True)
        if linked is not None:
            if linked.pagerduty_id is None:
                event = PagerDutyLinked(pagerduty_id=pd.id, number=pd.number, url=pd.html_url)
                linked = await save_recorded(
                    uow,
                    replace(linked, pagerduty_id=pd.id, updated_at=now),
                    at=now,
                    actor=ACTOR,
                    event=event,
                )
            return linked, False
    verdict = policy.classify_pagerduty(pd.priority, pd.urgency)
    incident, created = await uow.incidents.for_pagerduty(
        NewIncident(
            title=pd.title or f"PagerDuty incident {pd.number or pd.id}",
            severity=verdict.severity,
            source=Source.PAGERDUTY,
            service=pd.service or "unknown",
            scenario=verdict.scenario.id,
            response_minutes=verdict.response_minutes,
            created_at=now,
            pagerduty_id=pd.id,
        )
    )
    if created:
        await record_opened(
            uow,
            incident,
            at=now,
            actor=ACTOR,
            rule=verdict.rule,
            pagerduty_id=pd.id,
            priority=pd.priority,
            urgency=pd.urgency,
        )
    return incident, created


def person(event: PagerDutyEvent) -> Actor:
    """Who acted in PagerDuty, as firebreak names actors: ``pagerduty:<user id>`` for a
    person; ``ACTOR`` when a service or an integration did (an Events API call, such as
    firebreak's own acknowledgement) or the event names nobody."""
    if event.agent_id and event.agent_type in PERSON_TYPES:
        return Actor(PAGERDUTY, event.agent_id, display=event.agent or None)
    return ACTOR


def _moves_to(
    event: PagerDutyEvent, incident: Incident, newer: bool, *, secondary: bool = False
) -> IncidentStatus | None:
    """The status ``event`` moves ``incident`` to, ``None`` for none.

    A ``secondary`` PagerDuty incident (one of firebreak's keys, but not the one linked)
    may only acknowledge an incident firebreak opened: someone answered one of its pages.
    Its other news (resolved there, reopened) is about that one alert, not the incident,
    and an incident PagerDuty opened follows only the PagerDuty incident it came from.

    An incident firebreak opened (and paged for) is firebreak's: PagerDuty's ``triggered``
    for it is the echo of firebreak's own page, and an acknowledgement of it arriving after
    firebreak resolved it predates PagerDuty hearing of that resolve (PagerDuty cannot
    acknowledge a resolved incident), so it is firebreak's own acknowledgement coming back
    late. Neither moves it."""
    target = HANDLED[event.event_type]
    if target is None or not newer:
        return None
    if secondary and (
        incident.source is Source.PAGERDUTY or target is not IncidentStatus.ACKNOWLEDGED
    ):
        return None
    if incident.source is not Source.PAGERDUTY:
        if event.event_type == "incident.triggered":
            return None
        if target is IncidentStatus.ACKNOWLEDGED and incident.status is IncidentStatus.RESOLVED:
            return None
    return target


def _note(event: PagerDutyEvent, pd: PagerDutyIncident) -> str | None:
    if event.note:
        return event.note
    if event.event_type in ("incident.reassigned", "incident.escalated") and pd.assignees:
        return "to " + ", ".join(pd.assignees)
    return None


async def _apply(
    uow: UnitOfWork, policy: Policy, now: datetime, event: PagerDutyEvent, pd: PagerDutyIncident
) -> PagerDutyIngestResult:
    incident, created = await _find_or_open(uow, policy, now, pd)
    received = PagerDutyReceived(
        kind=EventKind.for_pagerduty(event.event_type),
        event_id=event.id,
        occurred_at=event.occurred_at.isoformat(),
        agent=event.agent,
        status=pd.status or None,
        note=_note(event, pd),
    )
    await uow.timeline.append(incident.id, at=now, actor=ACTOR, event=received)

    updated = incident
    newer = incident.status_changed_at is None or event.occurred_at >= incident.status_changed_at
    secondary = incident.pagerduty_id not in (None, pd.id)
    target = _moves_to(event, incident, newer, secondary=secondary)
    if target is not None:
        if target is not incident.status:
            updated = await _move(uow, incident, target, event, now)
        updated = replace(updated, status_changed_at=event.occurred_at)

    # Priority is PagerDuty's word on severity for incidents it owns; for an incident born
    # from alerts it may only raise the severity. Reassignments, escalations and notes are
    # only recorded, and so is anything a secondary PagerDuty incident says of an incident
    # PagerDuty opened (its own PagerDuty incident has the say).
    owned = incident.source is Source.PAGERDUTY
    changes_severity = event.event_type not in TIMELINE_ONLY and not (owned and secondary)
    if changes_severity and (
        pd.priority is not None or event.event_type == "incident.priority_updated"
    ):
        verdict = policy.classify_pagerduty(pd.priority, pd.urgency)
        if verdict.severity != updated.severity and (owned or verdict.severity > updated.severity):
            await uow.timeline.append(
                incident.id,
                at=now,
                actor=ACTOR,
                event=SeverityChanged(
                    previous=updated.severity.value,
                    to=verdict.severity.value,
                    priority=pd.priority,
                    rule=verdict.rule,
                ),
            )
            updated = replace(updated, severity=verdict.severity, scenario=verdict.scenario.id)

    if updated != incident:
        await uow.incidents.save(replace(updated, updated_at=now))
    return PagerDutyIngestResult(
        DeliveryOutcome.PROCESSED, incident.id, incident if created else None
    )


async def _move(
    uow: UnitOfWork,
    incident: Incident,
    target: IncidentStatus,
    event: PagerDutyEvent,
    now: datetime,
) -> Incident:
    """``incident`` moved to ``target`` as PagerDuty says. The entry's actor stays ``ACTOR``
    (``system:pagerduty``): that is how the notification publisher knows not to tell
    PagerDuty what it just told us. Who acted there is kept on the incident
    (``acknowledged_by``, ``resolved_by``) and in the entry's reason."""
    by = str(person(event))
    acked = target is IncidentStatus.ACKNOWLEDGED
    resolved = target is IncidentStatus.RESOLVED
    moved = replace(
        incident,
        status=target,
        acknowledged_at=event.occurred_at if acked else incident.acknowledged_at,
        acknowledged_by=by if acked else incident.acknowledged_by,
        resolved_at=event.occurred_at if resolved else None,
        resolved_by=by if resolved else None,
    )
    reason = f"in PagerDuty by {event.agent}" if event.agent else "in PagerDuty"
    await uow.timeline.append(
        incident.id,
        at=now,
        actor=ACTOR,
        event=StatusChanged(
            kind=EventKind.for_status(target.value),
            previous=incident.status.value,
            occurred_at=event.occurred_at.isoformat(),
            reason=reason if acked or resolved else None,
        ),
    )
    # The levels of the escalation path not yet fired are cancelled by the escalation
    # reactor, which sees this status entry as it sees everyone's.
    return moved
