"""How the outbox and the running actions stand, as the database has them, for the gauges
firebreak's own alert rules read (deploy/prometheus/firebreak-rules.yaml).

Read from the database at each scrape, like the inbox backlog (``bot.ports.InboxBacklog``), so
they are true after a restart and the same on every replica.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


def _age(since: datetime | None, now: datetime) -> float:
    if since is None:
        return 0.0
    return max(0.0, (now - since).total_seconds())


@dataclass(frozen=True, slots=True)
class OutboxHealth:
    """Calls waiting to be sent (``pending``); among them those whose last attempt failed and
    wait for a retry (``retrying``); calls given up on for good (``failed``, every such row
    kept); and since when the longest-due pending call has been due (its ``not_before``)."""

    pending: int
    retrying: int
    failed: int
    oldest_due_at: datetime | None

    def oldest_due_age(self, now: datetime) -> float:
        """Seconds the longest-due pending call has been due (0 with none due)."""
        return _age(self.oldest_due_at, now)


@dataclass(frozen=True, slots=True)
class RunningActions:
    """Actions in ``running``: how many, how many started before the rollout deadline's
    cut-off (``overdue``: an execution bounds its rollout by the deadline, so one still
    running past it is stuck), and when the earliest of them started."""

    running: int
    overdue: int
    oldest_started_at: datetime | None

    def oldest_age(self, now: datetime) -> float:
        """Seconds the earliest running action has run (0 with none running)."""
        return _age(self.oldest_started_at, now)
