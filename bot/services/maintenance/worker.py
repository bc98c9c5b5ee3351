"""The maintenance worker: records the end of windows that ran their course on the
incidents they touched (``bot.services.maintenance.release``), at start-up and every
``poll``."""

from __future__ import annotations

from bot.clock import Clock
from bot.errors import StorageUnavailable
from bot.policy.model import Policy
from bot.ports import Store
from bot.services.maintenance.release import release_due
from bot.workers import Pacing, Worker

BATCH = 50


def maintenance_worker(store: Store, policy: Policy, clock: Clock, *, poll: float = 15.0) -> Worker:
    """The worker over ``store`` (the publishing store: a held incident raised back to its
    severity pages through its path). A full batch looks again at once."""

    async def step() -> bool:
        return await release_due(store, policy, clock, limit=BATCH) >= BATCH

    return Worker(
        "maintenance",
        step,
        clock=clock,
        pacing=Pacing(poll=poll, backoff_base=poll, backoff_cap=max(poll, 60.0)),
        transient=(StorageUnavailable,),
    )
