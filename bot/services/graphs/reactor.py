"""Wanting an incident's graph in the transaction that opened it.

A ``Publisher`` like the escalation reactor: the publishing store hands it each transaction's
new timeline entries before the commit, so the request row commits with the opening (or the
raise to P1/P0 that gives a P2 its channel), whichever use case did it. Only incidents opened
by Alertmanager have an alert with a graph link; PagerDuty's and declared ones get none.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.clock import Clock
from bot.domain.events import EventKind, IncidentOpened, SeverityChanged, decode
from bot.domain.graphs import GRAPHED_SEVERITIES
from bot.domain.incident import Severity, Source, TimelineEntry
from bot.ports import UnitOfWork

_KINDS = frozenset({EventKind.INCIDENT_OPENED, EventKind.SEVERITY_CHANGED})


def _graphed(severity: str | None) -> bool:
    try:
        return Severity(severity or "") in GRAPHED_SEVERITIES
    except ValueError:
        return False


class GraphReactor:
    """The ``Publisher`` that writes an incident's graph request: when an Alertmanager
    incident opens as P0/P1, or a P2 one is raised to either (it gets its channel then).
    ``take_wanted`` tells the app whether to wake the graph worker after a commit."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._wanted = False

    def take_wanted(self) -> bool:
        """Whether a request was written since the last call (in a transaction that may
        have rolled back: the worker then finds nothing, which is harmless)."""
        wanted, self._wanted = self._wanted, False
        return wanted

    async def publish(
        self, uow: UnitOfWork, incident_id: int, entries: Sequence[TimelineEntry]
    ) -> None:
        for entry in entries:
            if entry.kind not in _KINDS:
                continue
            event = decode(entry.kind, entry.body)
            if isinstance(event, IncidentOpened):
                # An Alertmanager incident names its group; PagerDuty's and declared don't.
                wanted = event.group_key is not None and _graphed(event.severity)
            elif isinstance(event, SeverityChanged):
                wanted = _graphed(event.to) and not _graphed(event.previous)
                if wanted:
                    incident = await uow.incidents.get(incident_id)
                    wanted = incident is not None and incident.source is Source.ALERTMANAGER
            else:
                continue
            if wanted:
                await uow.graphs.want(incident_id, at=self._clock.now())
                self._wanted = True
                return
