"""Timeline entries written by more than one use case, so they keep one shape."""

from __future__ import annotations

from datetime import datetime

from bot.domain.incident import Incident
from bot.ports import UnitOfWork


async def record_opened(
    uow: UnitOfWork, incident: Incident, *, at: datetime, actor: str, rule: str, **context: object
) -> None:
    """The first entry of every incident: what it is and which policy rule classified it."""
    await uow.timeline.append(
        incident.id,
        at=at,
        actor=actor,
        kind="incident.opened",
        body={
            "title": incident.title,
            "severity": incident.severity.value,
            "scenario": incident.scenario,
            "rule": rule,
            "response_minutes": incident.response_minutes,
            **context,
        },
    )
