"""Starting and stopping escalation paths as the incident's timeline says what happened.

The reactor is a ``Publisher``: the publishing store hands it every transaction's new timeline
entries just before the commit, so a path's timers are stored (or cancelled) in the very
transaction that opened, acknowledged, resolved or re-rated the incident, whichever use case
did it (alert intake, PagerDuty, Slack, the escalation worker's own severity upgrades).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.clock import Clock
from bot.domain.events import (
    EventKind,
    IncidentFlapped,
    IncidentOpened,
    SeverityChanged,
    decode,
)
from bot.domain.incident import Incident, IncidentStatus, Severity, Source, TimelineEntry
from bot.policy.model import Policy
from bot.ports import Metrics, UnitOfWork
from bot.services.escalation.paths import path_of, path_timers

log = logging.getLogger(__name__)

# Why pending timers were cancelled, as stored in ``cancelled_reason``.
STOPPED_BY = {
    EventKind.INCIDENT_ACKNOWLEDGED: "acknowledged",
    EventKind.INCIDENT_RESOLVED: "resolved",
}
RESTARTED = "new path"


@dataclass(frozen=True, slots=True)
class _Start:
    """A path to start: ``severity``'s, from ``at``, with this response target."""

    severity: Severity
    at: datetime
    response_minutes: int


class EscalationReactor:
    """The ``Publisher`` that keeps an incident's escalation timers in step with it:

    - ``incident.opened`` of a triggered incident: run 1 of its severity's path, from when it
      opened, with the incident's response target;
    - ``severity.changed`` while triggered: the pending timers are cancelled and the new
      severity's path starts from the change (a P1 raised to P0 starts the P0 path);
    - ``incident.triggered`` (back to triggered: PagerDuty unacknowledged or reopened, or the
      group firing again soon after it resolved): a new run of the current severity's path
      from then, or, for a flapping incident, from when its ``incident.flapped`` entry holds
      paging until (so it pages only if it stays firing; a resolution first cancels the run);
    - ``incident.acknowledged`` and ``incident.resolved``: the pending timers are cancelled;
      an acknowledgement also reports the time to acknowledge.

    Incidents whose severity has no path get no timers, and neither do incidents PagerDuty
    opened: PagerDuty's own escalation policy pages for those, and a page from firebreak
    would only come back as another PagerDuty incident."""

    def __init__(self, policy: Policy, clock: Clock, metrics: Metrics | None = None) -> None:
        self._policy = policy
        self._clock = clock
        self._metrics = metrics

    async def publish(
        self, uow: UnitOfWork, incident_id: int, entries: Sequence[TimelineEntry]
    ) -> None:
        relevant = [e for e in entries if e.kind in _KINDS]
        if not relevant:
            return
        incident = await uow.incidents.get(incident_id)
        if incident is None:
            return
        start: _Start | None = None
        stop_reason = ""
        held = _held_until(entries)
        for entry in relevant:
            if entry.kind in STOPPED_BY:
                stop_reason = STOPPED_BY[EventKind(entry.kind)]
                start = None
                if entry.kind == EventKind.INCIDENT_ACKNOWLEDGED:
                    self._acknowledged(incident, entry)
            else:
                start = self._start(incident, entry, held) or start
        # Judged on the incident as the transaction leaves it: an entry earlier in the same
        # transaction (opened, then acknowledged) must not start a path it has already ended.
        triggered = incident.status is IncidentStatus.TRIGGERED
        owned_by_pagerduty = incident.source is Source.PAGERDUTY
        if start is not None and triggered and not owned_by_pagerduty:
            await self._restart(uow, incident, start)
        elif stop_reason:
            await uow.escalations.cancel_pending(incident.id, reason=stop_reason)

    def _start(
        self, incident: Incident, entry: TimelineEntry, held: datetime | None
    ) -> _Start | None:
        event = decode(entry.kind, entry.body)
        if isinstance(event, IncidentOpened):
            severity = _severity(event.severity) or incident.severity
            return _Start(severity, incident.created_at, incident.response_minutes)
        if isinstance(event, SeverityChanged):
            severity = _severity(event.to) or incident.severity
        else:  # incident.triggered: the current severity's path again
            severity = incident.severity
        level = self._policy.levels.get(severity)
        minutes = level.response_minutes if level is not None else incident.response_minutes
        # A flapping incident's path waits, even when the flap also raised its severity.
        at = entry.at if held is None else max(entry.at, held)
        return _Start(severity, at, minutes)

    async def _restart(self, uow: UnitOfWork, incident: Incident, start: _Start) -> None:
        # Whatever the previous path still had pending is moot once a new one starts.
        await uow.escalations.cancel_pending(incident.id, reason=RESTARTED)
        path = path_of(self._policy, start.severity)
        if not path:
            return
        run = await uow.escalations.latest_run(incident.id) + 1
        timers = path_timers(
            incident.id,
            run=run,
            severity=start.severity,
            path=path,
            start=start.at,
            response_minutes=start.response_minutes,
        )
        # Created at the path's start, so a timer knows how far into its path it is due.
        await uow.escalations.schedule_later(timers, at=start.at)
        log.info(
            "incident #%d: %s escalation path started (run %d, %d levels)",
            incident.id,
            start.severity.value,
            run,
            len(path),
        )

    def _acknowledged(self, incident: Incident, entry: TimelineEntry) -> None:
        if self._metrics is not None:
            seconds = (entry.at - incident.created_at).total_seconds()
            self._metrics.acknowledged(incident.severity.value, seconds)


_KINDS = frozenset(
    {
        EventKind.INCIDENT_OPENED,
        EventKind.SEVERITY_CHANGED,
        EventKind.INCIDENT_TRIGGERED,
        EventKind.INCIDENT_ACKNOWLEDGED,
        EventKind.INCIDENT_RESOLVED,
    }
)


def _held_until(entries: Sequence[TimelineEntry]) -> datetime | None:
    """When a flap in this transaction holds paging until, if it does (``incident.flapped``
    past the policy's threshold: ``bot.services.incidents.noise``)."""
    for entry in entries:
        if entry.kind == EventKind.INCIDENT_FLAPPED:
            event = decode(entry.kind, entry.body)
            if isinstance(event, IncidentFlapped) and event.paging_held_until:
                return datetime.fromisoformat(event.paging_held_until)
    return None


def _severity(text: str) -> Severity | None:
    try:
        return Severity(text)
    except ValueError:
        return None
