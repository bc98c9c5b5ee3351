"""Which alert of an incident is graphed, what is asked of Prometheus for it, and the graph
itself, or why there is none (``GraphUnavailable`` with its ``GraphReason``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.domain.graphs import GraphImage, GraphReason, GraphRequest
from bot.domain.incident import AlertEpisode, AlertStatus
from bot.domain.promql import NotGraphable, query_of
from bot.errors import GraphUnavailable, MetricsQueryFailed
from bot.ports import MetricGraphs

NO_URL = "FIREBREAK_PROMETHEUS_URL is not set, so no Prometheus is asked for graphs"


def graphed_alert(alerts: Sequence[AlertEpisode]) -> AlertEpisode:
    """The first alert (by start, then arrival) still firing that links to a graph, else the
    first that links to one, else the first alert; ``GraphUnavailable`` without alerts."""
    if not alerts:
        raise GraphUnavailable(GraphReason.NO_ALERT, "the incident has no alert to graph")
    ordered = sorted(alerts, key=lambda a: (a.starts_at, a.id))
    linked = [a for a in ordered if a.generator_url]
    firing = [a for a in linked if a.status is AlertStatus.FIRING]
    return (firing or linked or ordered)[0]


def request_for(alert: AlertEpisode, *, end: datetime) -> GraphRequest:
    """The graph of ``alert``'s expression over the hour before ``end``; ``GraphUnavailable``
    when its ``generatorURL`` holds no expression that can be graphed."""
    try:
        query = query_of(alert.generator_url)
    except NotGraphable as exc:
        raise GraphUnavailable(GraphReason.NOT_GRAPHABLE, str(exc)) from exc
    return GraphRequest.ending(query, alert.name or "alert", end)


async def draw(graphs: MetricGraphs, request: GraphRequest) -> GraphImage:
    """Ask Prometheus and draw; ``GraphUnavailable`` when it is not configured, the query
    fails, or no point came back."""
    if not graphs.configured:
        raise GraphUnavailable(GraphReason.NO_PROMETHEUS, NO_URL)
    try:
        series = await graphs.query(request)
    except MetricsQueryFailed as exc:
        raise GraphUnavailable(GraphReason.QUERY_FAILED, str(exc)) from exc
    points = sum(len(s.points) for s in series)
    if points == 0:
        raise GraphUnavailable(
            GraphReason.NO_DATA,
            f"Prometheus has no data for {request.query.expr} in the hour graphed",
        )
    png = await graphs.render(request, series)
    return GraphImage(png=png, series=len(series), points=points, request=request)
