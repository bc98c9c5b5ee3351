"""Wanting an incident's graph in the transaction that opened it, or saying there and then
why it will have none.

A ``Publisher`` like the escalation reactor: the publishing store hands it each transaction's
new timeline entries before the commit, so the request row commits with the opening (or the
raise to P1/P0 that gives a P2 its channel), whichever use case did it. Only incidents opened
by Alertmanager have an alert with a graph link; PagerDuty's and declared ones get none.

What needs no network is decided here, in the same transaction: without a Prometheus URL, or
when the alert's ``generatorURL`` holds nothing to graph, the ``graph.unavailable`` entry is
written with the opening (so it lands in the same place on every run, right after the
opening's own entries) and the request is stored as finished. Otherwise the request waits for
the graph worker, which asks Prometheus outside any transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.clock import Clock
from bot.domain.actor import BOT
from bot.domain.events import (
    EventKind,
    GraphNotDrawn,
    IncidentOpened,
    SeverityChanged,
    decode,
)
from bot.domain.graphs import GRAPHED_SEVERITIES, GraphReason
from bot.domain.incident import Severity, Source, TimelineEntry
from bot.errors import GraphUnavailable
from bot.ports import UnitOfWork
from bot.services.graphs.choice import NO_URL, graphed_alert, request_for

_KINDS = frozenset({EventKind.INCIDENT_OPENED, EventKind.SEVERITY_CHANGED})


def _graphed(severity: str | None) -> bool:
    try:
        return Severity(severity or "") in GRAPHED_SEVERITIES
    except ValueError:
        return False


class GraphReactor:
    """The ``Publisher`` that writes an incident's graph request: when an Alertmanager
    incident opens as P0/P1, or a P2 one is raised to either (it gets its channel then).
    ``configured``: a Prometheus URL is set. ``take_wanted`` tells the app whether to wake
    the graph worker after a commit."""

    def __init__(self, clock: Clock, *, configured: bool) -> None:
        self._clock = clock
        self._configured = configured
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
            if entry.kind in _KINDS and await self._wants(uow, incident_id, entry):
                await self._want(uow, incident_id)
                return

    async def _wants(self, uow: UnitOfWork, incident_id: int, entry: TimelineEntry) -> bool:
        event = decode(entry.kind, entry.body)
        if isinstance(event, IncidentOpened):
            # An Alertmanager incident names its group; PagerDuty's and declared ones don't.
            if event.group_key is None or not _graphed(event.severity):
                return False
            # One merged into a storm in this very transaction gets no room: the storm's
            # incident has the graph.
            incident = await uow.incidents.get(incident_id)
            return incident is not None and incident.merged_into is None
        if isinstance(event, SeverityChanged) and _graphed(event.to):
            if _graphed(event.previous):
                return False
            incident = await uow.incidents.get(incident_id)
            if incident is None or incident.source is not Source.ALERTMANAGER:
                return False
            # Raised again after being lowered by hand: it had its graph (or its reason).
            return await uow.graphs.get(incident_id) is None
        return False

    async def _want(self, uow: UnitOfWork, incident_id: int) -> None:
        now = self._clock.now()
        alert = ""
        try:
            chosen = graphed_alert(await uow.alerts.for_incident(incident_id))
            alert = chosen.name
            if not self._configured:
                raise GraphUnavailable(GraphReason.NO_PROMETHEUS, NO_URL)
            request_for(chosen, end=now)
        except GraphUnavailable as exc:
            await uow.graphs.want(incident_id, at=now, unavailable=exc.detail)
            event = GraphNotDrawn(reason=exc.reason, detail=exc.detail, alert=alert)
            await uow.timeline.append(incident_id, at=now, actor=BOT, event=event)
            return
        await uow.graphs.want(incident_id, at=now)
        self._wanted = True
