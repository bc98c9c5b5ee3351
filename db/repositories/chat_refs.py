"""The chat refs of incidents: what their chat calls returned (a channel id, a card's ``ts``),
and the incident a channel belongs to."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from sqlalchemy import Executable, bindparam, select

from bot.domain.outbox import CHANNEL
from db.repositories.base import Repository, upsert
from db.tables import chat_refs

_REFS = select(chat_refs.c.name, chat_refs.c.value).where(
    chat_refs.c.incident_id == bindparam("incident_id")
)
_INCIDENT_FOR_CHANNEL = (
    select(chat_refs.c.incident_id)
    .where(chat_refs.c.name == CHANNEL, chat_refs.c.value == bindparam("channel_id"))
    .order_by(chat_refs.c.incident_id.desc())
    .limit(1)
)


@cache
def _save_ref(dialect: str) -> Executable:
    insert_ = upsert(dialect, chat_refs)
    return insert_.on_conflict_do_update(
        index_elements=[chat_refs.c.incident_id, chat_refs.c.name],
        set_={"value": insert_.excluded.value},
    )


class SqlChatRefRepository(Repository):
    async def refs(self, incident_id: int) -> dict[str, str]:
        rows = await self._execute(_REFS, {"incident_id": incident_id})
        return {row.name: row.value for row in rows}

    async def save_refs(self, incident_id: int, refs: Mapping[str, str]) -> None:
        statement = _save_ref(self._dialect)
        for name, value in refs.items():
            await self._execute(
                statement, {"incident_id": incident_id, "name": name, "value": value}
            )

    async def incident_for_channel(self, channel_id: str) -> int | None:
        row = (await self._execute(_INCIDENT_FOR_CHANNEL, {"channel_id": channel_id})).first()
        return None if row is None else int(row.incident_id)
