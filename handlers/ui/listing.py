"""The incident list's rows: what each column shows, worked out from an incident and its
escalation timers at one moment (``now``), so every row of a page agrees on the time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.escalation import response_standing
from bot.domain.links import incident_path
from bot.policy.model import Policy
from bot.services.entry_text import human_duration
from bot.services.escalation.standing import reached, response_words
from bot.services.incidents.overview import Listed


@dataclass(frozen=True, slots=True)
class Row:
    """One incident in a list. Durations are words (``12 min 5 s``), ``""`` when they do not
    apply yet; ``overdue`` is the mark a late response gets (``overdue by 3 min`` while
    nobody answered, ``missed, answered after 20 min`` once someone did)."""

    id: int
    href: str
    title: str
    severity: str
    status: str
    service: str
    opened: datetime
    age: str
    to_acknowledge: str
    to_resolve: str
    response: str
    overdue: str
    level: str
    flaps: int
    storm: bool
    merged_into: int | None


def row(listed: Listed, policy: Policy, now: datetime) -> Row:
    incident, timers = listed.incident, listed.timers
    standing = response_standing(incident, now, timers)
    head, state = response_words(standing)
    late = standing.overdue or (standing.answered and not standing.met)
    level = reached(timers, policy)
    acked, resolved = incident.acknowledged_at, incident.resolved_at
    return Row(
        id=incident.id,
        href=incident_path(incident.id),
        title=incident.title,
        severity=incident.severity.value,
        status=incident.status.value,
        service=incident.service,
        opened=incident.created_at,
        age=human_duration(now - incident.created_at),
        to_acknowledge=human_duration(acked - incident.created_at) if acked else "",
        to_resolve=human_duration(resolved - incident.created_at) if resolved else "",
        response=f"{head}: {state}",
        overdue=state if late else "",
        level=str(level) if level is not None else "",
        flaps=incident.flap_count,
        storm=incident.storm_key is not None,
        merged_into=incident.merged_into,
    )
