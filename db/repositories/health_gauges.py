"""Read-only counts over the outbox and the actions for firebreak's own gauges (the
``HealthRepository`` port), taken at each scrape of ``/metrics``.

Each is one aggregate statement: the outbox's through its (status, id) index, the running
actions' through the partial index of running rows (``db.tables``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, bindparam, case, func, select

from bot.domain.health import OutboxHealth, RunningActions
from bot.domain.outbox import OutboxStatus
from db.repositories.base import Repository
from db.tables import RUNNING_ACTION_WHERE, actions, outbox

_o = outbox.c
# The outbox worker records a rate limit as the row's last error too ("ratelimited: ..."):
# that is a wait Slack asked for, not a failed attempt.
_FAILED_ATTEMPT = and_(_o.last_error != "", _o.last_error.not_like("ratelimited:%"))
_OUTBOX_PENDING = select(
    func.count().label("pending"),
    func.coalesce(func.sum(case((_FAILED_ATTEMPT, 1), else_=0)), 0).label("retrying"),
    func.min(case((_o.not_before <= bindparam("now"), _o.not_before))).label("oldest_due_at"),
).where(_o.status == OutboxStatus.PENDING.value)
_OUTBOX_FAILED = select(func.count()).where(_o.status == OutboxStatus.FAILED.value)

_a = actions.c
_RUNNING = select(
    func.count().label("running"),
    func.coalesce(
        func.sum(case((_a.started_at < bindparam("started_before"), 1), else_=0)), 0
    ).label("overdue"),
    func.min(_a.started_at).label("oldest_started_at"),
).where(RUNNING_ACTION_WHERE)


class SqlHealthRepository(Repository):
    """The ``HealthRepository`` port over SQL: two reads of the outbox, one of the actions."""

    async def outbox_health(self, *, now: datetime) -> OutboxHealth:
        """The outbox's pending, retrying and failed calls, and the oldest due one (due
        means ``not_before <= now``)."""
        row = (await self._execute(_OUTBOX_PENDING, {"now": now})).one()
        failed = (await self._execute(_OUTBOX_FAILED)).scalar_one()
        return OutboxHealth(
            pending=int(row.pending),
            retrying=int(row.retrying),
            failed=int(failed),
            oldest_due_at=row.oldest_due_at,
        )

    async def running_actions(self, *, started_before: datetime) -> RunningActions:
        """The running actions, how many started before ``started_before`` (overdue), and
        when the oldest started."""
        row = (await self._execute(_RUNNING, {"started_before": started_before})).one()
        return RunningActions(
            running=int(row.running),
            overdue=int(row.overdue),
            oldest_started_at=row.oldest_started_at,
        )
