"""Prometheus metrics kept in plain counters and exported by a collector at scrape time.

prometheus_client's own metric objects take a lock on every update; at tens of
thousands of requests a second that is a visible share of the CPU, so the hot
path bumps plain ints here and the collector turns them into families only when
``/metrics`` is scraped. The process collector adds resident memory and CPU time.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536)


class FastHistogram:
    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def buckets(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip(self.bounds, self.counts, strict=False):
            running += count
            out.append((repr(float(bound)), running))
        out.append(("+Inf", running + self.counts[-1]))
        return out


class Stats(Collector):
    """All service metrics; ``register`` it on the app's own :class:`CollectorRegistry`."""

    def __init__(self) -> None:
        self.requests: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.inferences: defaultdict[str, int] = defaultdict(int)
        self.errors: defaultdict[str, int] = defaultdict(int)
        self.latency: dict[str, FastHistogram] = {}
        self.batch_size = FastHistogram(BATCH_BUCKETS)
        self.model_load_seconds: dict[str, float] = {}
        self.model_info: tuple[str, str] = ("", "")
        self.model_switches = 0
        self.connections_cut: defaultdict[str, int] = defaultdict(int)

    def request_done(self, endpoint: str, outcome: str, seconds: float) -> None:
        self.requests[endpoint, outcome] += 1
        hist = self.latency.get(endpoint)
        if hist is None:
            hist = self.latency[endpoint] = FastHistogram(LATENCY_BUCKETS)
        hist.observe(seconds)

    def collect(self) -> Iterator[Metric]:
        req = CounterMetricFamily(
            "lnn_requests", "HTTP requests by endpoint and outcome", labels=["endpoint", "outcome"]
        )
        for (endpoint, outcome), n in sorted(self.requests.items()):
            req.add_metric([endpoint, outcome], n)
        yield req
        inf = CounterMetricFamily("lnn_inferences", "Model rows computed", labels=["outcome"])
        for outcome, n in sorted(self.inferences.items()):
            inf.add_metric([outcome], n)
        yield inf
        err = CounterMetricFamily("lnn_errors", "Errors by kind", labels=["kind"])
        for kind, n in sorted(self.errors.items()):
            err.add_metric([kind], n)
        yield err
        lat = HistogramMetricFamily(
            "lnn_request_latency_seconds",
            "Time from a parsed request to its response being written",
            labels=["endpoint"],
        )
        for endpoint, hist in sorted(self.latency.items()):
            lat.add_metric([endpoint], hist.buckets(), hist.total)
        yield lat
        size = HistogramMetricFamily("lnn_batch_size", "Rows per onnxruntime call")
        size.add_metric([], self.batch_size.buckets(), self.batch_size.total)
        yield size
        load = GaugeMetricFamily(
            "lnn_model_load_seconds", "Time to create the onnxruntime session", labels=["version"]
        )
        for version, seconds in sorted(self.model_load_seconds.items()):
            load.add_metric([version], seconds)
        yield load
        info = GaugeMetricFamily(
            "lnn_model_info", "The model being served", labels=["version", "sha256"]
        )
        if self.model_info[0]:
            info.add_metric(list(self.model_info), 1.0)
        yield info
        yield CounterMetricFamily(
            "lnn_model_switches", "Model switches and rollbacks", value=self.model_switches
        )
        cut = CounterMetricFamily(
            "lnn_connections_cut",
            "Connections closed for a request head or body arriving too slowly",
            labels=["reason"],
        )
        for reason, n in sorted(self.connections_cut.items()):
            cut.add_metric([reason], n)
        yield cut


def make_registry(stats: Stats) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(stats)
    ProcessCollector(registry=registry)
    return registry
