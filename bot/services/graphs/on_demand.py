"""The incident's graph drawn when the incident page asks for it, cached for a minute.

An open incident's graph ends now, so the page's graph follows the incident while it lasts;
a resolved one's ends at its resolution (the hour that led to it), so it does not drift into
quiet data afterwards. Either is kept ``ttl`` seconds per incident, answers and refusals
alike, so a page reloaded by several people asks Prometheus about once a minute; requests
for one incident that arrive together wait for the first one's answer.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.domain.graphs import GraphImage
from bot.domain.incident import AlertEpisode, Incident, IncidentStatus
from bot.errors import GraphUnavailable, NotFound
from bot.ports import MetricGraphs, Store
from bot.services.graphs.choice import draw, graphed_alert, request_for

TTL_SECONDS = 60.0
CACHED_INCIDENTS = 256


@dataclass(frozen=True, slots=True)
class _Cached:
    until: datetime
    outcome: GraphImage | GraphUnavailable


class IncidentGraphs:
    """``png(incident_id)`` for the page's ``/ui/incidents/{id}/graph.png``: the graph of
    the incident's firing alert (``GraphImage``), ``GraphUnavailable`` saying why there is
    none (no Prometheus URL, an alert that cannot be graphed, the query failed, no data), or
    ``NotFound`` for an incident that does not exist."""

    def __init__(
        self,
        store: Store,
        graphs: MetricGraphs,
        clock: Clock,
        *,
        ttl: float = TTL_SECONDS,
        size: int = CACHED_INCIDENTS,
    ) -> None:
        self._store = store
        self._graphs = graphs
        self._clock = clock
        self._ttl = timedelta(seconds=ttl)
        self._size = size
        self._cache: OrderedDict[int, _Cached] = OrderedDict()
        self._locks: dict[int, asyncio.Lock] = {}

    async def png(self, incident_id: int) -> GraphImage:
        """The graph, drawn or cached; raises ``GraphUnavailable`` or ``NotFound``."""
        lock = self._locks.setdefault(incident_id, asyncio.Lock())
        try:
            async with lock:
                cached = self._fresh(incident_id)
                if cached is None:
                    cached = await self._draw(incident_id)
                    self._keep(incident_id, cached)
        finally:
            if not lock.locked():
                self._locks.pop(incident_id, None)
        if isinstance(cached.outcome, GraphUnavailable):
            raise cached.outcome
        return cached.outcome

    def _fresh(self, incident_id: int) -> _Cached | None:
        cached = self._cache.get(incident_id)
        if cached is None or cached.until <= self._clock.now():
            return None
        self._cache.move_to_end(incident_id)
        return cached

    def _keep(self, incident_id: int, cached: _Cached) -> None:
        self._cache[incident_id] = cached
        self._cache.move_to_end(incident_id)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)

    async def _draw(self, incident_id: int) -> _Cached:
        incident, alerts = await self._read(incident_id)
        now = self._clock.now()
        end = now
        if incident.status is IncidentStatus.RESOLVED and incident.resolved_at is not None:
            end = min(now, incident.resolved_at)
        outcome: GraphImage | GraphUnavailable
        try:
            outcome = await draw(self._graphs, request_for(graphed_alert(alerts), end=end))
        except GraphUnavailable as exc:
            outcome = exc
        return _Cached(until=self._clock.now() + self._ttl, outcome=outcome)

    async def _read(self, incident_id: int) -> tuple[Incident, tuple[AlertEpisode, ...]]:
        async with self._store.transaction() as uow:
            incident = await uow.incidents.get(incident_id)
            if incident is None:
                raise NotFound(f"incident #{incident_id} does not exist")
            return incident, tuple(await uow.alerts.for_incident(incident_id))
