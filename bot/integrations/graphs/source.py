"""The ``MetricGraphs`` port: range queries to the configured Prometheus and the PNG drawn
off the event loop; and its twin for a bot without ``FIREBREAK_PROMETHEUS_URL``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bot.domain.graphs import GraphRequest, Series
from bot.errors import MetricsQueryFailed
from bot.integrations.graphs.render import render_png
from bot.integrations.prometheus_query import PrometheusQuery


class PrometheusGraphs:
    """Asks one Prometheus (``PrometheusQuery``) and renders on a worker thread: a render
    takes a few hundred milliseconds of CPU that the event loop must not wait through."""

    def __init__(self, prometheus: PrometheusQuery) -> None:
        self._prometheus = prometheus

    @property
    def configured(self) -> bool:
        return True

    async def query(self, request: GraphRequest) -> Sequence[Series]:
        return await self._prometheus.range(
            request.query.expr,
            start=request.start,
            end=request.end,
            step_seconds=request.step_seconds,
        )

    async def render(self, request: GraphRequest, series: Sequence[Series]) -> bytes:
        return await asyncio.to_thread(render_png, request, list(series))

    async def close(self) -> None:
        await self._prometheus.close()


class UnconfiguredGraphs:
    """No Prometheus URL: nothing is asked (callers record why there is no graph)."""

    @property
    def configured(self) -> bool:
        return False

    async def query(self, request: GraphRequest) -> Sequence[Series]:
        raise MetricsQueryFailed("FIREBREAK_PROMETHEUS_URL is not set")

    async def render(self, request: GraphRequest, series: Sequence[Series]) -> bytes:
        return await asyncio.to_thread(render_png, request, list(series))

    async def close(self) -> None:
        """Nothing to release."""
