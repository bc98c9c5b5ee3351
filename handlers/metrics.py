"""The bot's Prometheus metrics, on a registry of its own so several apps (tests) coexist."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    """Deliveries by source and outcome, incidents opened by severity, ingest latency."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.deliveries = Counter(
            "firebreak_deliveries",
            "Webhook deliveries received, by source and outcome.",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "firebreak_auth_failures",
            "Requests refused for a missing or wrong token or signature.",
            ["source"],
            registry=self.registry,
        )
        self.incidents_opened = Counter(
            "firebreak_incidents_opened",
            "Incidents opened, by severity and source.",
            ["severity", "source"],
            registry=self.registry,
        )
        self.ingest_seconds = Histogram(
            "firebreak_ingest_seconds",
            "Time from receiving a delivery to acknowledging it, by source.",
            ["source"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
