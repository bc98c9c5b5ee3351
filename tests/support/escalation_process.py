"""A bare escalation worker process, for the replica tests: ``python -m`` this module.

Environment: ``FIREBREAK_DATABASE_URL``; ``ESCALATION_TEST_NOW`` (ISO time its fixed clock
reads); ``ESCALATION_TEST_DIR`` (a directory shared with the test) and ``ESCALATION_TEST_NAME``.
It writes ``<name>.ready``, waits for ``go`` to appear (so both replicas start together),
fires due timers a few at a time until none is due, and writes how many it fired to
``<name>.fired``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from datetime import datetime
from pathlib import Path

from bot.clock import FixedClock
from bot.policy.file import DEFAULT_POLICY, load_policy
from bot.services.escalation.fire import fire_due
from bot.services.escalation.reach import Reach
from db.store import SqlStore
from tests.support.escalation import escalating_store, escalation_policy

BARRIER_TIMEOUT_S = 60.0


async def _due(sql: SqlStore, clock: FixedClock) -> bool:
    async with sql.transaction() as uow:
        return bool(await uow.escalations.claim_due(now=clock.now(), limit=1))


async def main() -> None:
    shared = Path(os.environ["ESCALATION_TEST_DIR"])
    name = os.environ["ESCALATION_TEST_NAME"]
    clock = FixedClock(datetime.fromisoformat(os.environ["ESCALATION_TEST_NOW"]))
    policy = escalation_policy(load_policy(DEFAULT_POLICY))
    sql = SqlStore.from_url(os.environ["FIREBREAK_DATABASE_URL"])
    store = escalating_store(sql, policy, clock)
    reach = Reach(paging=True, email=True)
    try:
        await sql.ping()
        (shared / f"{name}.ready").touch()
        deadline = time.monotonic() + BARRIER_TIMEOUT_S
        while not (shared / "go").exists():
            if time.monotonic() > deadline:
                raise SystemExit("no go signal")
            await asyncio.sleep(0.005)
        total = 0
        # Small rounds, so the replicas interleave, until no timer is due: a round may fire
        # nothing because the other replica fired what this one read.
        while await _due(sql, clock):
            total += await fire_due(store, policy, clock, reach, limit=2)
        (shared / f"{name}.fired").write_text(str(total))
    finally:
        await sql.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(main())
