"""The remediation sweeper: a worker that runs ``Remediator.sweep`` (reconcile actions a
crashed process left running, expire stale requests) at start-up and periodically."""

from __future__ import annotations

from bot.clock import Clock
from bot.services.remediation.remediator import Remediator
from bot.workers import Pacing, Worker


def sweeper(remediator: Remediator, clock: Clock) -> Worker:
    """The sweeper of ``remediator``. Every half lease at most: an action abandoned by a
    crashed replica is taken up soon after its lease lapses, never before (reconcile leaves
    live leases alone); a dead replica's lease may still be live at start-up."""
    timings = remediator.ctx.timings
    interval = min(timings.expiry_sweep, timings.action_lease / 2)

    async def step() -> bool:
        await remediator.sweep()
        return False

    return Worker(
        "remediation-sweeper",
        step,
        clock=clock,
        pacing=Pacing(poll=interval, backoff_base=interval, backoff_cap=interval),
    )
