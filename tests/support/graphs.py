"""Alerts whose graph can be drawn, and series like Prometheus answers for them: shared by
the graph tests of the core and of the stores."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from bot.clock import Clock
from bot.domain.graphs import POINTS, WINDOW, Series
from tests.support.payloads.alertmanager import alert, webhook

LATENCY = (
    "histogram_quantile(0.99, sum by (namespace, deployment, le) "
    '(rate(lnn_request_latency_seconds_bucket{job="lnn-service"}[5m]))) > 0.1'
)
SERIES_EXPR = LATENCY.removesuffix(" > 0.1")


def graph_link(expr: str, host: str = "http://prometheus.example:9090") -> str:
    """A generatorURL as Prometheus writes it: the expression in ``g0.expr``."""
    return f"{host}/graph?" + urlencode({"g0.expr": expr, "g0.tab": "1"})


def firing(
    alertname: str = "LNNHighLatency",
    severity: str = "critical",
    *,
    group: str = "g-latency",
    url: str | None = None,
) -> dict[str, Any]:
    """An Alertmanager notification of one firing alert linking to ``url`` (the latency
    rule's graph by default)."""
    one = alert(alertname, severity, namespace="firebreak", deployment="lnn-service")
    one["generatorURL"] = graph_link(LATENCY) if url is None else url
    return webhook(group, [one])


def latency_series(clock: Clock) -> list[Series]:
    """An hour of p99 latency ending now, over the line for its last 40 points."""
    end = clock.now()
    points = tuple(
        ((end - WINDOW + timedelta(seconds=15 * i)).timestamp(), 0.02 + 0.1 * (i > 200))
        for i in range(POINTS)
    )
    return [Series({"namespace": "firebreak", "deployment": "lnn-service"}, points)]
