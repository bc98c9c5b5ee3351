"""The timers a path start makes: one per level of the severity's path, and one for the
response target."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.domain.escalation import NewTimer, TimerKind
from bot.domain.incident import Severity
from bot.policy.escalation import EscalationLevel
from bot.policy.model import Policy

# The level a response-target timer stores: it belongs to the path, not to one of its levels.
TARGET_LEVEL = -1


def path_of(policy: Policy, severity: Severity) -> tuple[EscalationLevel, ...]:
    """The severity's escalation path; empty when the policy gives it none."""
    level = policy.levels.get(severity)
    return level.path if level is not None else ()


def path_timers(
    incident_id: int,
    *,
    run: int,
    severity: Severity,
    path: Sequence[EscalationLevel],
    start: datetime,
    response_minutes: int,
) -> list[NewTimer]:
    """Run ``run`` of ``severity``'s path for an incident, started at ``start``: a LEVEL timer
    per level (due ``start + level.after``) and a TARGET timer due when the response target
    passes. Nothing for an empty path: an incident nobody is to be told about has no timers."""
    if not path:
        return []
    timers = [
        NewTimer(
            incident_id=incident_id,
            run=run,
            severity=severity,
            kind=TimerKind.LEVEL,
            level=index,
            due_at=start + level.after,
        )
        for index, level in enumerate(path)
    ]
    timers.append(
        NewTimer(
            incident_id=incident_id,
            run=run,
            severity=severity,
            kind=TimerKind.TARGET,
            level=TARGET_LEVEL,
            due_at=start + timedelta(minutes=response_minutes),
        )
    )
    return timers
