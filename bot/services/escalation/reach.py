"""Which ways of telling people firebreak can use, and the timeline's note when it cannot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.actor import BOT
from bot.domain.escalation import Via
from bot.domain.events import EventKind, NotificationUnconfigured
from bot.ports import UnitOfWork

# The setting each way needs, named in the timeline's note.
SETTING = {Via.PAGE: "PAGERDUTY_ROUTING_KEY", Via.EMAIL: "FIREBREAK_SMTP_URL"}


@dataclass(frozen=True, slots=True)
class Reach:
    """Whether paging (a routing key) and email (an SMTP URL) are configured. Slack always
    counts as reachable: without a token its calls are logged (``LogSender``)."""

    paging: bool = False
    email: bool = False

    def can(self, via: Via) -> bool:
        if via is Via.PAGE:
            return self.paging
        if via is Via.EMAIL:
            return self.email
        return True


async def note_unconfigured(
    uow: UnitOfWork, incident_id: int, vias: set[Via], reach: Reach, *, at: datetime
) -> None:
    """Write "paging not configured" / "email not configured" for each of ``vias`` that
    ``reach`` lacks, once per incident and way (the rows are still queued: their sender logs
    them and marks them unconfigured)."""
    missing = sorted(via for via in vias if not reach.can(via))
    if not missing:
        return
    noted = {
        entry.body.get("via")
        for entry in await uow.timeline.for_incident(incident_id)
        if entry.kind == EventKind.NOTIFICATION_UNCONFIGURED
    }
    for via in missing:
        if via.value not in noted:
            event = NotificationUnconfigured(via=via.value, setting=SETTING[via])
            await uow.timeline.append(incident_id, at=at, actor=BOT, event=event)
