"""Alert episodes: one row per (fingerprint, starts_at)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache

from sqlalchemy import Executable, bindparam, select, update

from bot.domain.incident import Alert, AlertEpisode, AlertStatus, Severity
from db.repositories.base import Repository, upsert
from db.rows import to_episode
from db.tables import alert_episodes

_GET = select(alert_episodes).where(
    alert_episodes.c.fingerprint == bindparam("fingerprint"),
    alert_episodes.c.starts_at == bindparam("starts_at"),
)
# Compare-and-set: a writer that waited for the incident lock may hold a stale "firing" read;
# only the first resolution of an episode counts.
_RESOLVE = (
    update(alert_episodes)
    .where(
        alert_episodes.c.id == bindparam("episode_id"),
        alert_episodes.c.status == AlertStatus.FIRING.value,
    )
    .values(status=AlertStatus.RESOLVED.value, ends_at=bindparam("ends_at"))
)
_FOR_INCIDENT = (
    select(alert_episodes)
    .where(alert_episodes.c.incident_id == bindparam("incident_id"))
    .order_by(alert_episodes.c.starts_at, alert_episodes.c.id)
)


_MOVE = (
    update(alert_episodes)
    .where(alert_episodes.c.incident_id == bindparam("from_incident"))
    .values(incident_id=bindparam("to_incident"))
)
_MOVE_GROUP = _MOVE.where(alert_episodes.c.group_key == bindparam("of_group"))
_INCIDENT_OF_GROUP = (
    select(alert_episodes.c.incident_id)
    .where(alert_episodes.c.group_key == bindparam("group_key"))
    .order_by(alert_episodes.c.id.desc())
    .limit(1)
)


@cache
def _add(dialect: str) -> Executable:
    return (
        upsert(dialect, alert_episodes)
        .on_conflict_do_nothing(
            index_elements=[alert_episodes.c.fingerprint, alert_episodes.c.starts_at]
        )
        .returning(*alert_episodes.c)
    )


class SqlAlertRepository(Repository):
    async def add(
        self, incident_id: int, alert: Alert, severity: Severity, *, group_key: str | None = None
    ) -> AlertEpisode | None:
        values = {
            "group_key": group_key,
            "incident_id": incident_id,
            "fingerprint": alert.fingerprint,
            "status": alert.status.value,
            "severity": severity.value,
            "labels": dict(alert.labels),
            "annotations": dict(alert.annotations),
            "starts_at": alert.starts_at,
            "ends_at": alert.ends_at,
            "generator_url": alert.generator_url,
        }
        row = (await self._execute(_add(self._dialect), values)).first()
        return None if row is None else to_episode(row)

    async def get(self, fingerprint: str, starts_at: datetime) -> AlertEpisode | None:
        params = {"fingerprint": fingerprint, "starts_at": starts_at}
        row = (await self._execute(_GET, params)).first()
        return None if row is None else to_episode(row)

    async def resolve(self, episode_id: int, ends_at: datetime) -> bool:
        result = await self._execute(_RESOLVE, {"episode_id": episode_id, "ends_at": ends_at})
        return bool(result.rowcount == 1)

    async def move(
        self, from_incident: int, to_incident: int, *, group_key: str | None = None
    ) -> int:
        params = {"from_incident": from_incident, "to_incident": to_incident}
        if group_key is None:
            return int((await self._execute(_MOVE, params)).rowcount)
        moved = await self._execute(_MOVE_GROUP, {**params, "of_group": group_key})
        return int(moved.rowcount)

    async def incident_of_group(self, group_key: str) -> int | None:
        found = await self._execute(_INCIDENT_OF_GROUP, {"group_key": group_key})
        return found.scalar()

    async def for_incident(self, incident_id: int) -> Sequence[AlertEpisode]:
        rows = await self._execute(_FOR_INCIDENT, {"incident_id": incident_id})
        return [to_episode(row) for row in rows]
