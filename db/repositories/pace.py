"""The outbox's pace slots (``bot.ports.PaceRepository``): one row per key holding the
instant its next call is due (``bot.domain.outbox.Pace`` decides from it).

The row is read ``FOR UPDATE`` on PostgreSQL, so a second transaction taking the same key
waits until the first commits and then reads what it wrote: replicas share the pace. SQLite
runs one transaction at a time anyway. A key's row is made on first use (``ON CONFLICT DO
NOTHING``: two replicas making it at once both go on to the locked read).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, select, update

from bot.domain.outbox import Pace
from db.repositories.base import POSTGRESQL, Repository, upsert
from db.tables import outbox_pace


@cache
def _read(dialect: str) -> Select[Any]:
    query = select(outbox_pace.c.next_at).where(outbox_pace.c.key == bindparam("pace_key"))
    return query.with_for_update() if dialect == POSTGRESQL else query


@cache
def _create(dialect: str) -> Any:
    return (
        upsert(dialect, outbox_pace)
        .values(key=bindparam("pace_key"), next_at=bindparam("due"))
        .on_conflict_do_nothing(index_elements=[outbox_pace.c.key])
    )


_WRITE = (
    update(outbox_pace)
    .where(outbox_pace.c.key == bindparam("pace_key"))
    .values(next_at=bindparam("due"))
)


class SqlPaceRepository(Repository):
    async def _due(self, pace: Pace, now: datetime) -> datetime:
        """The key's due instant, read locked; a new key's row is made, due ``now``."""
        params = {"pace_key": pace.key}
        found = (await self._execute(_read(self._dialect), params)).scalar_one_or_none()
        if found is not None:
            return found  # type: ignore[no-any-return]
        await self._execute(_create(self._dialect), {**params, "due": now})
        due: datetime = (await self._execute(_read(self._dialect), params)).scalar_one()
        return due

    async def take(self, pace: Pace, *, now: datetime) -> datetime | None:
        due = await self._due(pace, now)
        busy_until, next_due = pace.take(due, now)
        if busy_until is None:
            await self._execute(_WRITE, {"pace_key": pace.key, "due": next_due})
        return busy_until

    async def hold(self, pace: Pace, *, until: datetime) -> None:
        due = await self._due(pace, until)
        await self._execute(_WRITE, {"pace_key": pace.key, "due": pace.held(due, until)})
