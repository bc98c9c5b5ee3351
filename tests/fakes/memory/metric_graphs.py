"""The ``MetricGraphs`` port with canned series instead of a Prometheus: for tests of the
core (which alert is graphed, what is recorded, once). The PNG is drawn by the real renderer;
the real Prometheus is asked in ``tests/integration/test_prometheus_graphs.py``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bot.domain.graphs import GraphRequest, Series
from bot.errors import MetricsQueryFailed
from bot.integrations.graphs.render import render_png


class CannedGraphs:
    """Answers every query with ``series`` (or fails with ``fail``); ``queries`` records
    what was asked. ``gate``, when set, holds each query until it is set (two workers
    drawing at once). ``broken`` makes rendering raise, as a bug would."""

    def __init__(
        self,
        series: Sequence[Series] = (),
        *,
        fail: str | None = None,
        configured: bool = True,
        gate: asyncio.Event | None = None,
        broken: bool = False,
    ) -> None:
        self.series = list(series)
        self.fail = fail
        self._configured = configured
        self.gate = gate
        self.broken = broken
        self.queries: list[GraphRequest] = []

    @property
    def configured(self) -> bool:
        return self._configured

    async def query(self, request: GraphRequest) -> Sequence[Series]:
        self.queries.append(request)
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise MetricsQueryFailed(self.fail)
        return self.series

    async def render(self, request: GraphRequest, series: Sequence[Series]) -> bytes:
        if self.broken:
            raise RuntimeError("the renderer broke")
        return render_png(request, series)
