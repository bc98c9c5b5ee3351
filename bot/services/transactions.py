"""Run a unit of work with retries on transient conflicts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.errors import Conflict
from bot.ports import Store, UnitOfWork

T = TypeVar("T")

# Conflicts come from racing writers (another replica took the same row); each retry sees
# their committed result, so a handful of attempts always suffices in practice.
ATTEMPTS = 5


async def in_transaction(store: Store, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Run ``work`` in a transaction, retrying it whole on ``Conflict``."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with store.transaction() as uow:
                return await work(uow)
        except Conflict:
            if attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")
