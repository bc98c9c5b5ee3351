"""The read-only gauges of ``MemoryStore`` (``bot.ports.HealthRepository``), with the SQL
repository's semantics."""

from __future__ import annotations

from datetime import datetime

from bot.domain.action import ActionState
from bot.domain.health import OutboxHealth, RunningActions
from bot.domain.outbox import OutboxStatus
from tests.fakes.memory.actions import ActionTable
from tests.fakes.memory.outbox import OutboxState


class MemoryHealth:
    def __init__(self, outbox: OutboxState, actions: ActionTable) -> None:
        self._outbox = outbox
        self._actions = actions

    async def outbox_health(self, *, now: datetime) -> OutboxHealth:
        messages = [row.message for row in self._outbox.rows.values()]
        pending = [m for m in messages if m.status is OutboxStatus.PENDING]
        return OutboxHealth(
            pending=len(pending),
            retrying=sum(
                1 for m in pending if m.last_error and not m.last_error.startswith("ratelimited:")
            ),
            failed=sum(1 for m in messages if m.status is OutboxStatus.FAILED),
            oldest_due_at=min((m.not_before for m in pending if m.not_before <= now), default=None),
        )

    async def running_actions(self, *, started_before: datetime) -> RunningActions:
        starts = [
            action.started_at
            for action in self._actions.rows.values()
            if action.state is ActionState.RUNNING
        ]
        known = [at for at in starts if at is not None]
        return RunningActions(
            running=len(starts),
            overdue=sum(1 for at in known if at < started_before),
            oldest_started_at=min(known, default=None),
        )
