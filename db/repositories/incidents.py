"""Incidents: at most one open per group key, one per PagerDuty incident id."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Executable, Select, bindparam, func, select, update

from bot.domain.incident import Incident, IncidentFilter, IncidentStatus, NewIncident, Source
from bot.errors import Conflict, NotFound
from db.repositories.base import Repository, upsert
from db.rows import to_incident
from db.tables import OPEN_GROUP_WHERE, RESOLVED, incidents


def _new_values(new: NewIncident) -> dict[str, Any]:
    return {
        "title": new.title,
        "severity": new.severity.value,
        "status": new.status.value,
        "source": new.source.value,
        "service": new.service,
        "scenario": new.scenario,
        "response_minutes": new.response_minutes,
        "group_key": new.group_key,
        "pagerduty_id": new.pagerduty_id,
        "labels": dict(new.labels),
        "created_at": new.created_at,
        "updated_at": new.created_at,
        "status_changed_at": new.status_changed_at,
        "acknowledged_at": new.created_at if new.status is IncidentStatus.ACKNOWLEDGED else None,
        "resolved_at": new.created_at if new.status is IncidentStatus.RESOLVED else None,
    }


class _Lookup:
    """A query for one incident, plain and with ``FOR UPDATE``."""

    def __init__(self, query: Select[Any]) -> None:
        self.plain = query
        self.locked = query.with_for_update()


_BY_ID = _Lookup(select(incidents).where(incidents.c.id == bindparam("incident_id")))
_OPEN_OF_GROUP = _Lookup(
    select(incidents).where(incidents.c.group_key == bindparam("group_key"), OPEN_GROUP_WHERE)
)
_LATEST_OF_GROUP = _Lookup(
    select(incidents)
    .where(incidents.c.group_key == bindparam("group_key"))
    .order_by(incidents.c.id.desc())
    .limit(1)
)
# The partial index of open group keys serves this too: it holds exactly these rows.
_OPEN_GROUPS_IN_SCENARIOS = (
    select(incidents)
    .where(OPEN_GROUP_WHERE, incidents.c.scenario.in_(bindparam("scenarios", expanding=True)))
    .order_by(incidents.c.id)
)
_STORM_CANDIDATES = (
    select(incidents)
    .where(
        incidents.c.created_at >= bindparam("since"),
        incidents.c.group_key.is_not(None),
        incidents.c.source == Source.ALERTMANAGER.value,
        incidents.c.storm_key.is_(None),
        incidents.c.merged_into.is_(None),
    )
    .order_by(incidents.c.id)
)
_SERVICES_STORM_CANDIDATES = _STORM_CANDIDATES.where(
    incidents.c.service.in_(bindparam("services", expanding=True))
)
# Unordered (sorted by the caller): with ORDER BY id, SQLite walks every incident in id order
# instead of the few entries of the storms-only index.
_OPEN_STORMS = select(incidents).where(
    incidents.c.storm_key.is_not(None), incidents.c.status != RESOLVED
)
_OPEN_STORM = _Lookup(
    select(incidents)
    .where(incidents.c.storm_key == bindparam("storm_key"), incidents.c.status != RESOLVED)
    .order_by(incidents.c.id)
    .limit(1)
)
_BY_PAGERDUTY_ID = _Lookup(
    select(incidents).where(incidents.c.pagerduty_id == bindparam("pagerduty_id"))
)
_SAVED = (
    "title",
    "severity",
    "status",
    "service",
    "scenario",
    "response_minutes",
    "group_key",
    "pagerduty_id",
    "labels",
    "updated_at",
    "acknowledged_at",
    "resolved_at",
    "status_changed_at",
    "commander",
    "acknowledged_by",
    "resolved_by",
    "flap_count",
    "silenced_until",
    "merged_into",
    "storm_key",
)
_SAVE = (
    update(incidents)
    .where(incidents.c.id == bindparam("incident_id"))
    .values({name: bindparam(name) for name in _SAVED})
)


@cache
def _latest_of_groups(lock: bool) -> Select[Any]:
    newest = (
        select(func.max(incidents.c.id))
        .where(incidents.c.group_key.in_(bindparam("group_keys", expanding=True)))
        .group_by(incidents.c.group_key)
    )
    query = select(incidents).where(incidents.c.id.in_(newest)).order_by(incidents.c.id)
    return query.with_for_update() if lock else query


@cache
def _open_for_group(dialect: str) -> Executable:
    # OPEN_GROUP_WHERE stays a literal predicate here: see db.tables.
    return (
        upsert(dialect, incidents)
        .on_conflict_do_nothing(
            index_elements=[incidents.c.group_key], index_where=OPEN_GROUP_WHERE
        )
        .returning(*incidents.c)
    )


@cache
def _for_pagerduty(dialect: str) -> Executable:
    return (
        upsert(dialect, incidents)
        .on_conflict_do_nothing(index_elements=[incidents.c.pagerduty_id])
        .returning(*incidents.c)
    )


@cache
def _create(dialect: str) -> Executable:
    return upsert(dialect, incidents).returning(*incidents.c)


def _still_the_storm(incident: Incident, storm_key: str) -> bool:
    return (
        incident.status.is_open and incident.storm_key == storm_key and incident.merged_into is None
    )


class SqlIncidentRepository(Repository):
    """Incidents. What this transaction created, locked or saved it remembers
    (``db.unit_state``) and reads back without a query: no one else can change those rows
    before it commits."""

    async def get(self, incident_id: int, *, for_update: bool = False) -> Incident | None:
        known = self._state.known.incidents.get(incident_id)
        if known is not None:
            return known
        return await self._one(_BY_ID, {"incident_id": incident_id}, for_update)

    async def prefetch_latest(self, group_keys: Collection[str]) -> None:
        known = self._state.known
        wanted = sorted({key for key in group_keys if key not in known.latest})
        if not wanted:
            return
        query = _latest_of_groups(self._postgres)
        rows = await self._execute(query, {"group_keys": wanted}, reads=())
        for row in rows:
            incident = to_incident(row)
            known.remember_incident(incident)
            if incident.group_key is not None:
                known.latest[incident.group_key] = incident.id
        for key in wanted:
            known.latest.setdefault(key, None)

    async def open_for_group(self, new: NewIncident) -> tuple[Incident, bool]:
        if new.group_key is None:
            raise ValueError("open_for_group needs a NewIncident with a group_key")
        if not new.status.is_open:
            raise ValueError("open_for_group opens incidents; a resolved one cannot be the group's")
        created = (
            await self._execute(_open_for_group(self._dialect), _new_values(new), reads=())
        ).first()
        if created is not None:
            incident = self._created(to_incident(created))
            self._state.known.latest[new.group_key] = incident.id
            return incident, True
        # The conflict means an open incident existed when we inserted. Under READ COMMITTED
        # this SELECT sees it unless it was resolved in between: then the caller retries.
        existing = await self._one(_OPEN_OF_GROUP, {"group_key": new.group_key}, for_update=True)
        if existing is None:
            raise Conflict(f"the open incident of group {new.group_key!r} closed meanwhile")
        self._state.known.latest[new.group_key] = existing.id
        return existing, False

    async def latest_for_group(self, group_key: str) -> Incident | None:
        known = self._state.known
        if group_key in known.latest:
            latest = known.latest[group_key]
            cached = known.incidents.get(latest) if latest is not None else None
            if latest is None or cached is not None:
                return cached
        found = await self._one(_LATEST_OF_GROUP, {"group_key": group_key}, for_update=True)
        known.latest[group_key] = found.id if found is not None else None
        return found

    async def open_groups_in(self, scenarios: Collection[str]) -> Sequence[Incident]:
        if not scenarios:
            return []
        wanted = frozenset(scenarios)
        known = self._state.known.open_in.get(wanted)
        if known is not None:
            return list(known)
        rows = await self._execute(
            _OPEN_GROUPS_IN_SCENARIOS, {"scenarios": sorted(scenarios)}, reads=()
        )
        found = [to_incident(row) for row in rows]
        self._state.known.open_in[wanted] = found
        return list(found)

    async def storm_candidates(
        self, since: datetime, *, service: str | None = None
    ) -> Sequence[Incident]:
        known = self._state.known
        if service is None:
            rows = await self._execute(_STORM_CANDIDATES, {"since": since}, reads=())
            return [to_incident(row) for row in rows]
        # Read with the batch's other services when it was prepared; kept up to date by
        # ``_created`` for the rest of the transaction.
        await self.prefetch_storm_candidates((service,), since)
        _, listed = known.recent[service]
        return [i for i in listed if i.created_at >= since and i.id not in known.not_candidates]

    async def prefetch_storm_candidates(self, services: Collection[str], since: datetime) -> None:
        known = self._state.known
        wanted = sorted(
            service
            for service in set(services)
            if service not in known.recent or known.recent[service][0] > since
        )
        if not wanted:
            return
        params = {"since": since, "services": wanted}
        rows = await self._execute(_SERVICES_STORM_CANDIDATES, params, reads=())
        found: dict[str, list[Incident]] = {service: [] for service in wanted}
        for row in rows:
            incident = to_incident(row)
            found[incident.service].append(incident)
        for service, listed in found.items():
            known.recent[service] = (since, listed)

    async def open_storm(self, storm_key: str) -> Incident | None:
        known = self._state.known
        if known.open_storms is None:
            # The open storms are few: one read answers every key for the transaction.
            rows = await self._execute(_OPEN_STORMS, reads=())
            known.open_storms = {}
            for storm in sorted((to_incident(row) for row in rows), key=lambda i: i.id):
                if storm.storm_key is not None:
                    known.open_storms.setdefault(storm.storm_key, storm.id)
        storm_id = known.open_storms.get(storm_key)
        if storm_id is None:
            return None
        locked = await self.get(storm_id, for_update=True)
        if locked is not None and _still_the_storm(locked, storm_key):
            return locked
        # Resolved, re-keyed or merged away after the unlocked read: ask again, locked.
        known.open_storms.pop(storm_key, None)
        again = await self._one(_OPEN_STORM, {"storm_key": storm_key}, for_update=True)
        if again is not None and _still_the_storm(again, storm_key):
            known.open_storms[storm_key] = again.id
            return again
        return None

    async def for_pagerduty(self, new: NewIncident) -> tuple[Incident, bool]:
        if new.pagerduty_id is None:
            raise ValueError("for_pagerduty needs a NewIncident with a pagerduty_id")
        created = (await self._execute(_for_pagerduty(self._dialect), _new_values(new))).first()
        if created is not None:
            return self._created(to_incident(created)), True
        existing = await self._one(
            _BY_PAGERDUTY_ID, {"pagerduty_id": new.pagerduty_id}, for_update=True
        )
        if existing is None:  # pragma: no cover - pagerduty rows are never deleted
            raise Conflict(f"PagerDuty incident {new.pagerduty_id!r} vanished meanwhile")
        return existing, False

    async def create(self, new: NewIncident) -> Incident:
        row = (await self._execute(_create(self._dialect), _new_values(new))).one()
        return self._created(to_incident(row))

    def _created(self, incident: Incident) -> Incident:
        """Remember an incident this transaction created: all its rows are this one's."""
        known = self._state.known
        known.created.add(incident.id)
        known.remember_incident(incident)
        recent = known.recent.get(incident.service)
        if recent is not None and incident.group_key is not None:
            recent[1].append(incident)
        known.episodes_of[incident.id] = []
        known.timers_of[incident.id] = []
        known.runs[incident.id] = 0
        return incident

    async def save(self, incident: Incident) -> None:
        params = {
            "incident_id": incident.id,
            "title": incident.title,
            "severity": incident.severity.value,
            "status": incident.status.value,
            "service": incident.service,
            "scenario": incident.scenario,
            "response_minutes": incident.response_minutes,
            "group_key": incident.group_key,
            "pagerduty_id": incident.pagerduty_id,
            "labels": dict(incident.labels),
            "updated_at": incident.updated_at,
            "acknowledged_at": incident.acknowledged_at,
            "resolved_at": incident.resolved_at,
            "status_changed_at": incident.status_changed_at,
            "commander": incident.commander,
            "acknowledged_by": incident.acknowledged_by,
            "resolved_by": incident.resolved_by,
            "flap_count": incident.flap_count,
            "silenced_until": incident.silenced_until,
            "merged_into": incident.merged_into,
            "storm_key": incident.storm_key,
        }
        if (await self._execute(_SAVE, params, reads=())).rowcount != 1:
            raise NotFound(f"incident {incident.id} does not exist")
        known = self._state.known
        if incident.id in known.incidents:
            known.remember_incident(incident)
        else:
            known.forget_incident(incident)
        known.saved(incident)

    async def list(self, flt: IncidentFilter) -> Sequence[Incident]:
        # Built per call: which conditions apply depends on the filter.
        conditions: list[ColumnElement[bool]] = []
        if flt.status is not None:
            conditions.append(incidents.c.status == flt.status.value)
        if flt.open_only:
            conditions.append(incidents.c.status != RESOLVED)
        if flt.severity is not None:
            conditions.append(incidents.c.severity == flt.severity.value)
        if flt.before_id is not None:
            conditions.append(incidents.c.id < flt.before_id)
        if flt.service is not None:
            conditions.append(incidents.c.service == flt.service)
        query = (
            select(incidents).where(*conditions).order_by(incidents.c.id.desc()).limit(flt.limit)
        )
        return [to_incident(row) for row in await self._execute(query)]

    async def _one(
        self, lookup: _Lookup, params: Mapping[str, Any], for_update: bool
    ) -> Incident | None:
        # SQLite has no row locks; its transactions are already serialised (BEGIN IMMEDIATE).
        query = lookup.locked if for_update and self._postgres else lookup.plain
        row = (await self._execute(query, params, reads=())).first()
        if row is None:
            return None
        incident = to_incident(row)
        if for_update or self._exclusive:
            self._state.known.remember_incident(incident)
        return incident
