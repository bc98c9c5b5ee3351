"""The inbox backlog as the database has it, for the inbox gauges and ``/readyz``.

Read from the database rather than from a processor's memory, so it is true after a restart
and the same on every replica, including rows no process has looked at since it started.
"""

from __future__ import annotations

import asyncio

from bot.ports import InboxBacklog, Store


async def inbox_backlog(store: Store) -> InboxBacklog:
    """What waits in the inbox now."""
    async with store.transaction() as uow:
        return await uow.deliveries.backlog()


class BacklogReader:
    """Reads the backlog at most once per ``max_age`` seconds and shares the answer.

    Scrapes and probes come as often as their senders like (a benchmark scrapes every 50 ms)
    and each read is a transaction, which on SQLite holds the one write lock for its moment;
    so they cost the database one small query a second, as the processor's own count did.
    """

    def __init__(self, store: Store, *, max_age: float = 1.0) -> None:
        self._store = store
        self._max_age = max_age
        self._lock = asyncio.Lock()
        self._last: InboxBacklog | None = None
        self._read_at = float("-inf")

    async def read(self) -> InboxBacklog:
        """The backlog, read at most ``max_age`` seconds ago; raises ``StorageUnavailable``."""
        async with self._lock:  # requests arriving together share one query
            started = asyncio.get_running_loop().time()
            if self._last is None or started - self._read_at >= self._max_age:
                self._last = await inbox_backlog(self._store)
                self._read_at = started
            return self._last
