"""The escalation worker: fires due escalation timers, at start-up and every ``poll``."""

from __future__ import annotations

from bot.clock import Clock
from bot.errors import StorageUnavailable
from bot.policy.model import Policy
from bot.ports import Metrics, Store
from bot.services.escalation.fire import fire_due
from bot.services.escalation.reach import Reach
from bot.workers import Pacing, Worker


def escalation_worker(
    store: Store,
    policy: Policy,
    clock: Clock,
    reach: Reach,
    *,
    poll: float = 5.0,
    metrics: Metrics | None = None,
) -> Worker:
    """The worker over ``store`` (the publishing store, so what fires is published). A
    round that fired something looks again at once: a raised severity starts a path whose
    first level is due immediately. Timers stay in the database, so a round that fails or a
    bot that was down fires them late, once."""

    async def step() -> bool:
        return await fire_due(store, policy, clock, reach, metrics=metrics) > 0

    return Worker(
        "escalation",
        step,
        clock=clock,
        pacing=Pacing(poll=poll, backoff_base=poll, backoff_cap=max(poll, 60.0)),
        transient=(StorageUnavailable,),
    )
