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

from sqlalchemy import Executable, Row, bindparam, func, select, update

from bot.domain.incident import Alert, AlertEpisode, AlertStatus, EpisodeState, Severity
from bot.errors import Conflict
from db.repositories.base import Repository, upsert
from db.rows import to_episode
from db.tables import alert_episodes

TABLE = alert_episodes.name
# Fingerprints per prefetch query: far below either database's limit on bound parameters.
_PREFETCH_CHUNK = 2_000
# Only what intake asks (``EpisodeState``): labels and annotations are JSON to decode.
_STATES_BY_FINGERPRINTS = select(
    alert_episodes.c.id,
    alert_episodes.c.incident_id,
    alert_episodes.c.fingerprint,
    alert_episodes.c.starts_at,
    alert_episodes.c.status,
).where(alert_episodes.c.fingerprint.in_(bindparam("fingerprints", expanding=True)))
_STATE = _STATES_BY_FINGERPRINTS.where(alert_episodes.c.starts_at == bindparam("starts_at"))

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
# The incident it lives in now: a split or merge may have moved it since the caller looked.
_RESOLVE_RETURNING = _RESOLVE.returning(alert_episodes.c.incident_id)
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
# The incident of each group's newest episode, for a batch's groups at once.
_HOMES_OF_GROUPS = select(alert_episodes.c.group_key, alert_episodes.c.incident_id).where(
    alert_episodes.c.id.in_(
        select(func.max(alert_episodes.c.id))
        .where(alert_episodes.c.group_key.in_(bindparam("group_keys", expanding=True)))
        .group_by(alert_episodes.c.group_key)
    )
)
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


def _values(
    incident_id: int, alert: Alert, severity: Severity, group_key: str | None
) -> dict[str, Any]:
    return {
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


def _state_of(row: Row[Any]) -> EpisodeState:
    return EpisodeState(row.id, row.incident_id, AlertStatus(row.status))


class SqlAlertRepository(Repository):
    async def add(
        self, incident_id: int, alert: Alert, severity: Severity, *, group_key: str | None = None
    ) -> AlertEpisode | None:
        values = _values(incident_id, alert, severity, group_key)
        row = (await self._execute(_add(self._dialect), values, reads=(TABLE,))).first()
        if row is None:
            return None
        episode = to_episode(row)
        self._learn(episode)
        if group_key is not None:
            self._state.known.group_homes[group_key] = incident_id
        return episode

    async def add_later(
        self, incident_id: int, alert: Alert, severity: Severity, *, group_key: str | None = None
    ) -> None:
        key = (alert.fingerprint, alert.starts_at)
        known = self._state.known
        if known.states.get(key) is not None or key in known.episodes_held:
            raise ValueError(f"alert {alert.fingerprint} at {alert.starts_at} is already stored")
        known.episodes_held.add(key)
        values = _values(incident_id, alert, severity, group_key)
        self._hold(TABLE, _add(self._dialect), values, self._added)
        if group_key is not None:
            known.group_homes[group_key] = incident_id  # its newest episode, once sent

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
        known.states[key] = EpisodeState(episode.id, episode.incident_id, episode.status)
        known.episode_keys[episode.id] = key
        listed = known.episodes_of.get(episode.incident_id)
        if listed is not None:
            listed.append(episode)

    async def prefetch(self, keys: Collection[tuple[str, datetime]]) -> None:
        known = self._state.known
        wanted = sorted({fp for fp, at in keys if (fp, at) not in known.states})
        for start in range(0, len(wanted), _PREFETCH_CHUNK):
            chunk = wanted[start : start + _PREFETCH_CHUNK]
            rows = await self._execute(
                _STATES_BY_FINGERPRINTS, {"fingerprints": chunk}, reads=(TABLE,)
            )
            for row in rows:
                key = (row.fingerprint, row.starts_at)
                known.states[key] = _state_of(row)
                known.episode_keys[row.id] = key
        for key in keys:
            known.states.setdefault(key, None)

    async def state(self, fingerprint: str, starts_at: datetime) -> EpisodeState | None:
        key = (fingerprint, starts_at)
        known = self._state.known
        if key in known.episodes_held:
            await self._state.held.flush(self._conn, (TABLE,))
        if key in known.states:
            return known.states[key]
        params = {"fingerprints": [fingerprint], "starts_at": starts_at}
        row = (await self._execute(_STATE, params, reads=(TABLE,))).first()
        state = None if row is None else _state_of(row)
        if self._exclusive:
            known.states[key] = state
            if state is not None:
                known.episode_keys[state.id] = key
        return state

    async def get(self, fingerprint: str, starts_at: datetime) -> AlertEpisode | None:
        # Intake asks ``state``; the whole episode is read when asked (held inserts first).
        params = {"fingerprint": fingerprint, "starts_at": starts_at}
        row = (await self._execute(_GET, params, reads=(TABLE,))).first()
        return None if row is None else to_episode(row)

    async def resolve(self, episode_id: int, ends_at: datetime) -> bool:
        return await self.resolve_for(episode_id, ends_at) is not None

    async def resolve_for(self, episode_id: int, ends_at: datetime) -> int | None:
        result = await self._execute(
            _RESOLVE_RETURNING, {"episode_id": episode_id, "ends_at": ends_at}, reads=(TABLE,)
        )
        home = result.scalar()
        if home is not None:
            self._resolved(episode_id, ends_at)
        return None if home is None else int(home)

    def _resolved(self, episode_id: int, ends_at: datetime) -> None:
        known = self._state.known
        key = known.episode_keys.get(episode_id)
        state = known.states.get(key) if key is not None else None
        if key is None or state is None:
            return
        known.states[key] = replace(state, status=AlertStatus.RESOLVED)
        listed = known.episodes_of.get(state.incident_id)
        if listed is not None:
            listed[:] = [
                replace(e, status=AlertStatus.RESOLVED, ends_at=ends_at)
                if e.id == episode_id
                else e
                for e in listed
            ]

    async def move(
        self, from_incident: int, to_incident: int, *, group_key: str | None = None
    ) -> int:
        params = {"from_incident": from_incident, "to_incident": to_incident}
        if group_key is None:
            moved = await self._execute(_MOVE, params, reads=(TABLE,))
        else:
            moved = await self._execute(
                _MOVE_GROUP, {**params, "of_group": group_key}, reads=(TABLE,)
            )
        self._moved(from_incident, to_incident, group_key)
        return int(moved.rowcount)

    def _moved(self, from_incident: int, to_incident: int, group_key: str | None) -> None:
        """Forget what the move made untrue: the episodes of both incidents are read again."""
        known = self._state.known
        for key, state in list(known.states.items()):
            if state is not None and state.incident_id in (from_incident, to_incident):
                del known.states[key]
        for incident_id in (from_incident, to_incident):
            known.episodes_of.pop(incident_id, None)
        for group, home in list(known.group_homes.items()):
            if home == from_incident and group_key in (None, group):
                known.group_homes[group] = to_incident

    async def prefetch_groups(self, group_keys: Collection[str]) -> None:
        known = self._state.known
        wanted = sorted({key for key in group_keys if key not in known.group_homes})
        if not wanted:
            return
        rows = await self._execute(_HOMES_OF_GROUPS, {"group_keys": wanted}, reads=(TABLE,))
        for row in rows:
            known.group_homes[row.group_key] = row.incident_id
        for key in wanted:
            known.group_homes.setdefault(key, None)

    async def incident_of_group(self, group_key: str) -> int | None:
        known = self._state.known
        if group_key in known.group_homes:
            return known.group_homes[group_key]
        found = await self._execute(_INCIDENT_OF_GROUP, {"group_key": group_key}, reads=(TABLE,))
        home: int | None = found.scalar()
        known.group_homes[group_key] = home
        return home

    async def for_incident(self, incident_id: int) -> Sequence[AlertEpisode]:
        known = self._state.known
        if known.episodes_held:
            await self._state.held.flush(self._conn, (TABLE,))
        listed = known.episodes_of.get(incident_id)
        if listed is not None:
            return sorted(listed, key=lambda e: (e.starts_at, e.id))
        rows = await self._execute(_FOR_INCIDENT, {"incident_id": incident_id}, reads=(TABLE,))
        return [to_episode(row) for row in rows]
