"""What the bot counts, as handlers and the composition root report it."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.domain.health import OutboxHealth, RunningActions
from bot.ports.incidents import InboxBacklog


class Metrics(Protocol):
    """What the bot counts, as the handlers and the composition root report it. The adapter
    (``bot.integrations.prometheus``) keeps the Prometheus objects, so handlers count without
    importing prometheus_client or an adapter."""

    def delivery(self, source: str, outcome: str) -> None:
        """One webhook delivery received from ``source`` and what became of it at receipt
        (``rejected``, ``unavailable``, ``duplicate``, ``ignored``)."""
        ...

    def accepted(self, source: str, seconds: float) -> None:
        """One delivery stored in the inbox and acknowledged ``seconds`` after its receipt."""
        ...

    def refused_auth(self, source: str) -> None:
        """One request refused for a missing or wrong token or signature."""
        ...

    def connection_cut(self, reason: str) -> None:
        """One connection closed for a request head or body arriving too slowly."""
        ...

    def observe_backlog(self, backlog: InboxBacklog | None, now: datetime) -> None:
        """Set the inbox gauges from the database's count (``None``: it could not be read)."""
        ...

    def observe_outbox(self, outbox: OutboxHealth | None, now: datetime) -> None:
        """Set the outbox gauges from the database's count (``None``: it could not be read)."""
        ...

    def observe_actions(self, actions: RunningActions | None, now: datetime) -> None:
        """Set the running-action gauges from the database (``None``: it could not be read)."""
        ...

    def notification(self, target: str, outcome: str) -> None:
        """One page or email (``target``: ``pagerduty``, ``email``) settled: ``sent``,
        ``retry``, ``rate_limited``, ``failed`` or ``unconfigured``."""
        ...

    def escalated(self, severity: str, level: int) -> None:
        """One escalation level fired (``level`` 0-based, as in the policy)."""
        ...

    def acknowledged(self, severity: str, seconds: float) -> None:
        """An incident of ``severity`` acknowledged ``seconds`` after it opened."""
        ...

    def exposition(self) -> tuple[bytes, str]:
        """Every metric in the text format a scrape reads, and that format's content type."""
        ...
