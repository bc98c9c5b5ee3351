"""PagerDuty Webhooks v3 payloads parsed into domain events. Only what firebreak uses is read;
anything else in the payload is ignored so new PagerDuty fields never break intake."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, ValidationError

from bot.domain.pagerduty import PagerDutyEvent, PagerDutyIncident
from bot.text import clean
from handlers.body import Lenient, as_utc, in_utc_range, load_json
from handlers.text import bounded_key


class RefDoc(Lenient):
    id: str = ""
    summary: str = ""
    type: str = ""


class EventDoc(Lenient):
    id: str
    event_type: str
    resource_type: str = ""
    occurred_at: datetime
    agent: RefDoc | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class EnvelopeDoc(Lenient):
    event: EventDoc


def _summary(value: object) -> str | None:
    if isinstance(value, dict):
        summary = value.get("summary") or value.get("name")
        return clean(str(summary)) if summary else None
    return None


# A payload lists a handful of assignees; a longer list is not read past this.
_MAX_ASSIGNEES = 20


def _assignees(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    names = (_summary(item) for item in value[:_MAX_ASSIGNEES])
    return tuple(name for name in names if name)


def _incident(data: dict[str, Any]) -> PagerDutyIncident | None:
    if data.get("type") == "incident" and data.get("id"):
        number = data.get("number")
        urgency = data.get("urgency")
        return PagerDutyIncident(
            id=bounded_key(str(data["id"])),
            number=number if isinstance(number, int) else None,
            title=clean(str(data.get("title") or "")),
            status=clean(str(data.get("status") or "")),
            urgency=urgency if urgency in ("high", "low") else None,
            priority=_summary(data.get("priority")),
            service=_summary(data.get("service")) or "",
            incident_key=clean(str(data["incident_key"])) if data.get("incident_key") else None,
            html_url=clean(str(data.get("html_url") or "")),
            assignees=_assignees(data.get("assignees")),
        )
    ref = data.get("incident")
    if isinstance(ref, dict) and ref.get("id"):
        # Annotations and responder events carry only a reference to the incident.
        return PagerDutyIncident(
            id=bounded_key(str(ref["id"])), html_url=str(ref.get("html_url") or "")
        )
    return None


def _occurred_at(value: datetime) -> datetime:
    """The event's time, which must have a UTC value: it is stored and compared in UTC, and
    an offset can push a valid-looking time past year 9999 (or before year 1) there. Such a
    time is refused (400), not ignored: the sender's payload is wrong and it must hear so."""
    moment = as_utc(value)
    return in_utc_range(
        moment, f"not a PagerDuty v3 event: $.event.occurred_at: {moment.isoformat()}"
    )


def parse_pagerduty(body: bytes) -> PagerDutyEvent | None:
    """The event, or ``None`` when the (authenticated) body is not an event we can read:
    it is then recorded as ignored rather than refused, so nothing is lost with a 4xx.
    ``BadRequest`` for an event whose time has no UTC value."""
    data = load_json(body)
    try:
        env = EnvelopeDoc.model_validate(data)
    except ValidationError:
        return None
    ev = env.event
    content = ev.data.get("content")
    return PagerDutyEvent(
        id=clean(ev.id),
        event_type=clean(ev.event_type),
        occurred_at=_occurred_at(ev.occurred_at),
        incident=_incident(ev.data),
        agent=clean(ev.agent.summary) if ev.agent else "",
        note=clean(content) if isinstance(content, str) else "",
        agent_id=bounded_key(ev.agent.id) if ev.agent and ev.agent.id else "",
        agent_type=bounded_key(ev.agent.type) if ev.agent and ev.agent.type else "",
    )
