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


@dataclass(frozen=True, slots=True)
class PagerDutyEvent:
    """One v3 webhook event."""

    id: str
    event_type: str
    occurred_at: datetime
    incident: PagerDutyIncident | None
    agent: str = ""
    note: str = ""
