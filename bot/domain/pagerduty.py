"""PagerDuty v3 webhook events as the core sees them: parsed by ``handlers.pagerduty_schema``
(at intake and again by the inbox processor), applied by
``bot.services.incidents.ingest_pagerduty``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PagerDutyIncident:
    """The incident an event is about (a full object, or only a reference for annotations)."""

    id: str
    number: int | None = None
    title: str = ""
    status: str = ""
    urgency: str | None = None
    priority: str | None = None
    service: str = ""
    incident_key: str | None = None
    html_url: str = ""
    # Who it is assigned to now (the users' summaries), as reassigned and escalated events say.
    assignees: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PagerDutyEvent:
    """One v3 webhook event."""

    id: str
    event_type: str
    occurred_at: datetime
    incident: PagerDutyIncident | None
    agent: str = ""
    note: str = ""
    # Who caused the event: PagerDuty's id for it and its type (``user_reference`` for a
    # person; a service or integration when an Events API call, such as firebreak's own
    # acknowledgement, did). ``agent`` above is its summary, for people to read.
    agent_id: str = ""
    agent_type: str = ""
