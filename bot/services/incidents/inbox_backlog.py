"""The inbox backlog as the database has it, for the inbox gauges and ``/readyz``.

Read from the database at each request rather than from a processor's memory, so it is true
after a restart and the same on every replica, including rows no process has looked at since
it started. The query reads the partial index of pending rows (see ``db.tables``).
"""

from __future__ import annotations

from bot.ports import InboxBacklog, Store


async def inbox_backlog(store: Store) -> InboxBacklog:
    """What waits in the inbox now; raises ``StorageUnavailable`` like any transaction."""
    async with store.transaction() as uow:
        return await uow.deliveries.backlog()
