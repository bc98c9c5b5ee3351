"""The bot's Prometheus metrics (``bot.ports.Metrics`` over prometheus_client), on a registry of
its own so several apps (tests) coexist."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from bot.domain.health import OutboxHealth, RunningActions
from bot.domain.incident import Source
from bot.ports import InboxBacklog
from bot.services.incidents.inbox import Processed


class PrometheusMetrics:
    """Deliveries by source and outcome, incidents opened by severity, ingest latency, the
    inbox (what waits to be processed, what became of it, and how long it waited), and what
    firebreak's own alert rules watch: the outbox and the running actions."""

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
        self.inbox_processed = Counter(
            "firebreak_inbox_processed",
            "Inbox deliveries processed, by source and outcome (pending: failed, will retry).",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.inbox_lag_seconds = Histogram(
            "firebreak_inbox_lag_seconds",
            "Time from acknowledging a delivery to processing it.",
            ["source"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=self.registry,
        )
        # Both read from the database at each scrape (``observe_backlog``), so they are true
        # after a restart and the same on every replica; NaN when the database is unreachable.
        self.inbox_pending = Gauge(
            "firebreak_inbox_pending",
            "Deliveries acknowledged and waiting to be processed (deferred ones included).",
            registry=self.registry,
        )
        self.inbox_oldest_pending_seconds = Gauge(
            "firebreak_inbox_oldest_pending_seconds",
            "How long the first-arrived pending delivery has waited since it was acknowledged.",
            registry=self.registry,
        )
        # Read from the database at each scrape too (``observe_outbox``, ``observe_actions``),
        # for firebreak's own alert rules (deploy/prometheus/firebreak-rules.yaml).
        self.outbox_pending = Gauge(
            "firebreak_outbox_pending",
            "Outbox calls waiting to be sent (rate limited and retrying ones included).",
            registry=self.registry,
        )
        self.outbox_retrying = Gauge(
            "firebreak_outbox_retrying",
            "Pending outbox calls whose last attempt failed (rate limits excluded).",
            registry=self.registry,
        )
        self.outbox_failed = Gauge(
            "firebreak_outbox_failed",
            "Outbox calls given up on for good (every such row the database keeps).",
            registry=self.registry,
        )
        self.outbox_oldest_due_seconds = Gauge(
            "firebreak_outbox_oldest_due_seconds",
            "How long the longest-due pending outbox call has been due.",
            registry=self.registry,
        )
        self.actions_running = Gauge(
            "firebreak_actions_running",
            "Remediation actions running.",
            registry=self.registry,
        )
        self.actions_overdue = Gauge(
            "firebreak_actions_overdue",
            "Remediation actions still running past FIREBREAK_ROLLOUT_DEADLINE_SECONDS.",
            registry=self.registry,
        )
        self.actions_oldest_running_seconds = Gauge(
            "firebreak_actions_oldest_running_seconds",
            "How long the earliest running remediation action has run.",
            registry=self.registry,
        )
        self.connections_cut = Counter(
            "firebreak_connections_cut",
            "Connections closed for a request head or body arriving too slowly, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.notifications = Counter(
            "firebreak_notifications",
            "Pages and emails settled by the outbox, by target and outcome.",
            ["target", "outcome"],
            registry=self.registry,
        )
        self.escalations = Counter(
            "firebreak_escalations",
            "Escalation levels fired, by severity and level (0: the first).",
            ["severity", "level"],
            registry=self.registry,
        )
        self.time_to_acknowledge_seconds = Histogram(
            "firebreak_time_to_acknowledge_seconds",
            "Time from an incident opening to its acknowledgement, by severity.",
            ["severity"],
            buckets=(30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400),
            registry=self.registry,
        )
        # The Alertmanager ack path runs per delivery in a storm: bind its children once.
        self._accepted = {
            source.value: (
                self.deliveries.labels(source.value, "accepted"),
                self.ingest_seconds.labels(source.value),
            )
            for source in Source
        }

    def delivery(self, source: str, outcome: str) -> None:
        self.deliveries.labels(source, outcome).inc()

    def accepted(self, source: str, seconds: float) -> None:
        count, latency = self._accepted[source]
        count.inc()
        latency.observe(seconds)

    def refused_auth(self, source: str) -> None:
        self.auth_failures.labels(source).inc()

    def connection_cut(self, reason: str) -> None:
        self.connections_cut.labels(reason).inc()

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def observe_backlog(self, backlog: InboxBacklog | None, now: datetime) -> None:
        """Set the inbox gauges from the database's count (``None``: it could not be read)."""
        _read_out(
            (self.inbox_pending, self.inbox_oldest_pending_seconds),
            None if backlog is None else (backlog.pending, backlog.oldest_age(now)),
        )

    def observe_outbox(self, outbox: OutboxHealth | None, now: datetime) -> None:
        """Set the outbox gauges from the database's count (``None``: it could not be read)."""
        _read_out(
            (
                self.outbox_pending,
                self.outbox_retrying,
                self.outbox_failed,
                self.outbox_oldest_due_seconds,
            ),
            None
            if outbox is None
            else (outbox.pending, outbox.retrying, outbox.failed, outbox.oldest_due_age(now)),
        )

    def observe_actions(self, actions: RunningActions | None, now: datetime) -> None:
        """Set the running-action gauges from the database (``None``: it could not be read)."""
        _read_out(
            (self.actions_running, self.actions_overdue, self.actions_oldest_running_seconds),
            None
            if actions is None
            else (actions.running, actions.overdue, actions.oldest_age(now)),
        )

    def notification(self, target: str, outcome: str) -> None:
        self.notifications.labels(target, outcome).inc()

    def escalated(self, severity: str, level: int) -> None:
        self.escalations.labels(severity, str(level)).inc()

    def acknowledged(self, severity: str, seconds: float) -> None:
        self.time_to_acknowledge_seconds.labels(severity).observe(max(0.0, seconds))

    def observe_processed(self, processed: Processed, now: datetime) -> None:
        """Count one processed inbox delivery and the incidents it opened."""
        delivery = processed.pending.delivery
        source = delivery.source.value
        self.inbox_processed.labels(source, processed.outcome.value).inc()
        self.inbox_lag_seconds.labels(source).observe(
            max(0.0, (now - delivery.received_at).total_seconds())
        )
        for incident in processed.opened:
            self.incidents_opened.labels(incident.severity.value, source).inc()


def _read_out(gauges: Sequence[Gauge], values: Sequence[float] | None) -> None:
    """Set each gauge to its value; every one to NaN when the database could not be read
    (``values`` is ``None``), so a rule can tell "unknown" from zero."""
    readings = [math.nan] * len(gauges) if values is None else values
    for gauge, value in zip(gauges, readings, strict=True):
        gauge.set(value)
