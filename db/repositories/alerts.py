"""Alert episodes: one row per (fingerprint, starts_at).

The inbox processor reads every episode of a batch's alerts at once (``prefetch``) and holds
new episodes back (``add_later``) to write them in one statement (``db.unit_state``); what the
transaction knows of an episode, it answers without a query."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Executable, Row, bindparam, select, update

from bot.domain.incident import Alert, AlertEpisode, AlertStatus, Severity
from bot.errors import Conflict
from db.repositories.base import Repository, upsert
from db.rows import to_episode
from db.tables import alert_episodes

TABLE = alert_episodes.name
# Fingerprints per prefetch query: far below either database's limit on bound parameters.
_PREFETCH_CHUNK = 2_000
_BY_FINGERPRINTS = select(alert_episodes).where(
    alert_episodes.c.fingerprint.in_(bindparam("fingerprints", expanding=True))
)

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


@cache
def _add(dialect: str) -> Executable:
    return (
        upsert(dialect, alert_episodes)
        .on_conflict_do_nothing(
            index_elements=[alert_episodes.c.fingerprint, alert_episodes.c.starts_at]
        )
        .returning(*alert_episodes.c)
    )


def _values(incident_id: int, alert: Alert, severity: Severity) -> dict[str, Any]:
    return {
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


class SqlAlertRepository(Repository):
    async def add(self, incident_id: int, alert: Alert, severity: Severity) -> AlertEpisode | None:
        values = _values(incident_id, alert, severity)
        row = (await self._execute(_add(self._dialect), values, reads=(TABLE,))).first()
        if row is None:
            return None
        episode = to_episode(row)
        self._learn(episode)
        return episode

    async def add_later(self, incident_id: int, alert: Alert, severity: Severity) -> None:
        key = (alert.fingerprint, alert.starts_at)
        known = self._state.known
        if known.episodes.get(key) is not None or key in known.episodes_held:
            raise ValueError(f"alert {alert.fingerprint} at {alert.starts_at} is already stored")
        known.episodes_held.add(key)
        self._hold(TABLE, _add(self._dialect), _values(incident_id, alert, severity), self._added)

    def _added(self, rows: list[Row[Any]], sent: list[dict[str, Any]]) -> None:
        known = self._state.known
        known.episodes_held.clear()
        if len(rows) != len(sent):
            # Another writer stored one of these episodes after this transaction looked: the
            # whole transaction must run again, and will then find it.
            raise Conflict("an alert episode was stored concurrently; retrying the transaction")
        for row in rows:
            self._learn(to_episode(row))

    def _learn(self, episode: AlertEpisode) -> None:
        known = self._state.known
        key = (episode.fingerprint, episode.starts_at)
        known.episodes[key] = episode
        known.episode_keys[episode.id] = key
        listed = known.episodes_of.get(episode.incident_id)
        if listed is not None:
            listed.append(episode)

    async def prefetch(self, keys: Collection[tuple[str, datetime]]) -> None:
        known = self._state.known
        wanted = sorted({fp for fp, at in keys if (fp, at) not in known.episodes})
        for start in range(0, len(wanted), _PREFETCH_CHUNK):
            chunk = wanted[start : start + _PREFETCH_CHUNK]
            rows = await self._execute(_BY_FINGERPRINTS, {"fingerprints": chunk}, reads=(TABLE,))
            for row in rows:
                episode = to_episode(row)
                key = (episode.fingerprint, episode.starts_at)
                known.episodes[key] = episode
                known.episode_keys[episode.id] = key
        for key in keys:
            known.episodes.setdefault(key, None)

    async def get(self, fingerprint: str, starts_at: datetime) -> AlertEpisode | None:
        key = (fingerprint, starts_at)
        known = self._state.known
        if key in known.episodes_held:
            await self._state.held.flush(self._conn, (TABLE,))
        if key in known.episodes:
            return known.episodes[key]
        params = {"fingerprint": fingerprint, "starts_at": starts_at}
        row = (await self._execute(_GET, params, reads=(TABLE,))).first()
        episode = None if row is None else to_episode(row)
        if self._exclusive:
            known.episodes[key] = episode
            if episode is not None:
                known.episode_keys[episode.id] = key
        return episode

    async def resolve(self, episode_id: int, ends_at: datetime) -> bool:
        result = await self._execute(
            _RESOLVE, {"episode_id": episode_id, "ends_at": ends_at}, reads=(TABLE,)
        )
        resolved = bool(result.rowcount == 1)
        if resolved:
            self._resolved(episode_id, ends_at)
        return resolved

    def _resolved(self, episode_id: int, ends_at: datetime) -> None:
        known = self._state.known
        key = known.episode_keys.get(episode_id)
        episode = known.episodes.get(key) if key is not None else None
        if key is None or episode is None:
            return
        now_resolved = replace(episode, status=AlertStatus.RESOLVED, ends_at=ends_at)
        known.episodes[key] = now_resolved
        listed = known.episodes_of.get(episode.incident_id)
        if listed is not None:
            listed[:] = [now_resolved if e.id == episode_id else e for e in listed]

    async def for_incident(self, incident_id: int) -> Sequence[AlertEpisode]:
        known = self._state.known
        if known.episodes_held:
            await self._state.held.flush(self._conn, (TABLE,))
        listed = known.episodes_of.get(incident_id)
        if listed is not None:
            return sorted(listed, key=lambda e: (e.starts_at, e.id))
        rows = await self._execute(_FOR_INCIDENT, {"incident_id": incident_id}, reads=(TABLE,))
        return [to_episode(row) for row in rows]
