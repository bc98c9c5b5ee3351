"""Action requests: compare-and-set transitions, one open request per verb and target, one
running action per deployment (both partial unique indexes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Executable, Row, bindparam, select, update

from bot.domain.action import (
    ActionRequest,
    ActionState,
    ActionVerb,
    NewAction,
    approvals_from_json,
    approvals_to_json,
    snapshot_from_json,
    snapshot_to_json,
)
from bot.domain.actor import Actor
from bot.domain.autoscaler import plan_from_json, plan_to_json
from bot.domain.target import Target
from bot.errors import Conflict
from db.repositories.base import Repository, upsert
from db.tables import OPEN_ACTION_WHERE, actions

_RUNNING = ActionState.RUNNING.value


def to_action(row: Row[Any]) -> ActionRequest:
    return ActionRequest(
        id=row.id,
        incident_id=row.incident_id,
        verb=ActionVerb(row.verb),
        target=Target(row.namespace, row.deployment),
        state=ActionState(row.state),
        requested_by=Actor.parse(row.requested_by),
        requested_at=row.requested_at,
        expires_at=row.expires_at,
        updated_at=row.updated_at,
        approvals_required=row.approvals_required,
        version=row.version,
        replicas=row.replicas,
        to_revision=row.to_revision,
        approvals=approvals_from_json(row.approvals),
        snapshot=snapshot_from_json(row.snapshot),
        restarted_at=row.restarted_at,
        rollback_revision=row.rollback_revision,
        owner=row.owner,
        lease_until=row.lease_until,
        apply_snapshot=snapshot_from_json(row.apply_snapshot),
        started_at=row.started_at,
        finished_at=row.finished_at,
        detail=row.detail,
        autoscaler=plan_from_json(row.autoscaler),
        restores=row.restores,
        previous_min_replicas=row.previous_min_replicas,
    )


def _mutable(action: ActionRequest) -> dict[str, Any]:
    """The columns a transition may change; identity and the request itself never do."""
    return {
        "state": action.state.value,
        "expires_at": action.expires_at,
        "updated_at": action.updated_at,
        "approvals_required": action.approvals_required,
        "approvals": approvals_to_json(action.approvals),
        "snapshot": snapshot_to_json(action.snapshot),
        "restarted_at": action.restarted_at,
        "rollback_revision": action.rollback_revision,
        "owner": action.owner,
        "lease_until": action.lease_until,
        "apply_snapshot": snapshot_to_json(action.apply_snapshot),
        "started_at": action.started_at,
        "finished_at": action.finished_at,
        "detail": action.detail,
        "previous_min_replicas": action.previous_min_replicas,
    }


# The keys of ``_mutable``: the columns every transition sets.
_MUTABLE = (
    "state",
    "expires_at",
    "updated_at",
    "approvals_required",
    "approvals",
    "snapshot",
    "restarted_at",
    "rollback_revision",
    "owner",
    "lease_until",
    "apply_snapshot",
    "started_at",
    "finished_at",
    "detail",
    "previous_min_replicas",
)

_OPEN_ON_TARGET = select(actions).where(
    actions.c.namespace == bindparam("namespace"),
    actions.c.deployment == bindparam("deployment"),
    actions.c.verb == bindparam("verb"),
    OPEN_ACTION_WHERE,
)
_GET = select(actions).where(actions.c.id == bindparam("action_id"))
# Compare-and-set on (state, version).
_UPDATE = (
    update(actions)
    .where(
        actions.c.id == bindparam("action_id"),
        actions.c.state == bindparam("current_state"),
        actions.c.version == bindparam("current_version"),
    )
    .values({name: bindparam(name) for name in (*_MUTABLE, "version")})
    .returning(*actions.c)
)
_RENEW_LEASE = (
    update(actions)
    .where(
        actions.c.id == bindparam("action_id"),
        actions.c.state == _RUNNING,
        actions.c.owner == bindparam("lease_owner"),
    )
    .values(lease_until=bindparam("until"))
)
_RUNNING_ON = select(actions).where(
    actions.c.namespace == bindparam("namespace"),
    actions.c.deployment == bindparam("deployment"),
    actions.c.state == _RUNNING,
)
_IN_STATES = (
    select(actions)
    .where(actions.c.state.in_(bindparam("states", expanding=True)))
    .order_by(actions.c.id)
)
_FOR_INCIDENT = (
    select(actions).where(actions.c.incident_id == bindparam("incident_id")).order_by(actions.c.id)
)


@cache
def _open(dialect: str) -> Executable:
    return (
        upsert(dialect, actions)
        .on_conflict_do_nothing(
            index_elements=[actions.c.namespace, actions.c.deployment, actions.c.verb],
            index_where=OPEN_ACTION_WHERE,
        )
        .returning(*actions.c)
    )


class SqlActionRepository(Repository):
    async def open_or_existing(self, new: NewAction) -> tuple[ActionRequest, bool]:
        values: dict[str, Any] = {
            "incident_id": new.incident_id,
            "verb": new.verb.value,
            "namespace": new.target.namespace,
            "deployment": new.target.name,
            "state": ActionState.REQUESTED.value,
            "version": 1,
            "requested_by": str(new.requested_by),
            "requested_at": new.requested_at,
            "expires_at": new.expires_at,
            "updated_at": new.requested_at,
            "approvals_required": new.approvals_required,
            "approvals": [],
            "replicas": new.replicas,
            "to_revision": new.to_revision,
            "detail": "",
            "autoscaler": plan_to_json(new.autoscaler),
            "restores": new.restores,
        }
        created = (await self._execute(_open(self._dialect), values)).first()
        if created is not None:
            return to_action(created), True
        target = {
            "namespace": new.target.namespace,
            "deployment": new.target.name,
            "verb": new.verb.value,
        }
        existing = (await self._execute(_OPEN_ON_TARGET, target)).first()
        if existing is None:
            raise Conflict(f"the open {new.verb.value} on {new.target} closed meanwhile")
        return to_action(existing), False

    async def get(self, action_id: int) -> ActionRequest | None:
        row = (await self._execute(_GET, {"action_id": action_id})).first()
        return None if row is None else to_action(row)

    async def update(self, current: ActionRequest, changed: ActionRequest) -> ActionRequest | None:
        params = {
            **_mutable(changed),
            "version": current.version + 1,
            "action_id": current.id,
            "current_state": current.state.value,
            "current_version": current.version,
        }
        row = (await self._execute(_UPDATE, params)).first()
        return None if row is None else to_action(row)

    async def renew_lease(self, action_id: int, *, owner: str, until: datetime) -> bool:
        params = {"action_id": action_id, "lease_owner": owner, "until": until}
        result = await self._execute(_RENEW_LEASE, params)
        return bool(result.rowcount == 1)

    async def running_on(self, target: Target) -> ActionRequest | None:
        params = {"namespace": target.namespace, "deployment": target.name}
        row = (await self._execute(_RUNNING_ON, params)).first()
        return None if row is None else to_action(row)

    async def in_states(self, states: frozenset[ActionState]) -> Sequence[ActionRequest]:
        params = {"states": sorted(s.value for s in states)}
        return [to_action(row) for row in await self._execute(_IN_STATES, params)]

    async def for_incident(self, incident_id: int) -> Sequence[ActionRequest]:
        rows = await self._execute(_FOR_INCIDENT, {"incident_id": incident_id})
        return [to_action(row) for row in rows]
