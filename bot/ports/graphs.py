"""Metric graphs: the stored request for an incident's graph, and what asks Prometheus and
draws the PNG."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bot.domain.graphs import GraphRequest, GraphStatus, IncidentGraph, Series


class GraphRepository(Protocol):
    """One row per incident that wants its graph posted (``bot.domain.graphs``). A request
    is claimed with a lease before the graph is drawn outside any transaction, then finished
    conditionally in the transaction that records it: posted once, even across replicas."""

    async def want(self, incident_id: int, *, at: datetime, unavailable: str = "") -> None:
        """A pending request for the incident's graph, unless it has one already (written
        with the transaction's other held-back writes); with ``unavailable`` (the reason),
        one finished at once: there is nothing to draw."""
        ...

    async def claim(self, *, now: datetime, until: datetime, limit: int) -> Sequence[IncidentGraph]:
        """Up to ``limit`` pending requests nobody holds (never claimed, or their claim
        lapsed by ``now``), oldest first, each now held ``until`` with ``attempts`` counted.
        A request another replica claimed first is not returned."""
        ...

    async def finish(
        self,
        incident_id: int,
        *,
        status: GraphStatus,
        at: datetime,
        reason: str = "",
        png: bytes | None = None,
    ) -> bool:
        """Pending → ``status`` with the PNG or the reason, conditionally: ``False`` when it
        was no longer pending (another replica recorded it), and the caller does nothing."""
        ...

    async def get(self, incident_id: int) -> IncidentGraph | None:
        """The incident's request and its outcome (with the PNG), if it has one."""
        ...


class MetricGraphs(Protocol):
    """Asks the configured Prometheus (``FIREBREAK_PROMETHEUS_URL``, never a URL from a
    payload) for a range of an expression, and draws it."""

    @property
    def configured(self) -> bool:
        """``False`` without a Prometheus URL: nothing can be asked."""
        ...

    async def query(self, request: GraphRequest) -> Sequence[Series]:
        """The series of ``request``'s expression over its window. Raises
        ``MetricsQueryFailed`` when Prometheus cannot be reached, times out or refuses."""
        ...

    async def render(self, request: GraphRequest, series: Sequence[Series]) -> bytes:
        """The PNG of ``series`` with the request's threshold drawn (off the event loop)."""
        ...
