"""What firebreak's gauges read from the database at each scrape: the inbox backlog, the
outbox and the running actions, in one transaction.

Read from the database rather than from a worker's memory, so they are true after a restart
and the same on every replica (which is why the alert rules take their ``max`` across
replicas rather than a sum).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.health import OutboxHealth, RunningActions
from bot.ports import InboxBacklog, Store


@dataclass(frozen=True, slots=True)
class HealthReadings:
    inbox: InboxBacklog
    outbox: OutboxHealth
    actions: RunningActions


async def read_health(store: Store, *, now: datetime, rollout_deadline: float) -> HealthReadings:
    """The readings at ``now``; an action running longer than ``rollout_deadline`` seconds is
    overdue. Raises ``StorageUnavailable`` like any transaction."""
    async with store.transaction() as uow:
        return HealthReadings(
            inbox=await uow.deliveries.backlog(),
            outbox=await uow.health.outbox_health(now=now),
            actions=await uow.health.running_actions(
                started_before=now - timedelta(seconds=rollout_deadline)
            ),
        )
