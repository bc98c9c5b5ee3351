"""The action repository in memory, with the SQL store's semantics: compare-and-set on
(state, version), one open request per verb and target, one running action per deployment."""

from __future__ import annotations

import dataclasses
from collections.abc import Container, Sequence
from datetime import UTC, datetime

from bot.domain.action import (
    OPEN_STATES,
    ActionRequest,
    ActionState,
    NewAction,
    approvals_from_json,
    approvals_to_json,
)
from bot.domain.actor import Actor
from bot.domain.target import Target
from bot.errors import Conflict, IntegrityViolation


@dataclasses.dataclass(slots=True)
class ActionTable:
    rows: dict[int, ActionRequest] = dataclasses.field(default_factory=dict)
    next_id: int = 1

    def copy(self) -> ActionTable:
        # Rows are frozen dataclasses, so copying the container is enough.
        return ActionTable(dict(self.rows), self.next_id)


def _utc(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: pass a timezone-aware one")
    return at.astimezone(UTC)


class MemoryActions:
    def __init__(self, table: ActionTable, incidents: Container[int]) -> None:
        self._table = table
        self._incidents = incidents

    async def open_or_existing(self, new: NewAction) -> tuple[ActionRequest, bool]:
        if new.incident_id not in self._incidents:
            raise IntegrityViolation(f"incident {new.incident_id} does not exist")
        for row in self._table.rows.values():
            if row.state in OPEN_STATES and (row.target, row.verb) == (new.target, new.verb):
                return row, False
        requested_at = _utc(new.requested_at)
        assert requested_at is not None
        action = ActionRequest(
            id=self._table.next_id,
            incident_id=new.incident_id,
            verb=new.verb,
            target=new.target,
            state=ActionState.REQUESTED,
            # Actors through their stored text, as the SQL store keeps them (no display name).
            requested_by=Actor.parse(str(new.requested_by)),
            requested_at=requested_at,
            expires_at=_utc(new.expires_at) or requested_at,
            updated_at=requested_at,
            approvals_required=new.approvals_required,
            replicas=new.replicas,
            to_revision=new.to_revision,
            autoscaler=new.autoscaler,
            restores=new.restores,
        )
        self._table.next_id += 1
        self._table.rows[action.id] = action
        return action, True

    async def get(self, action_id: int) -> ActionRequest | None:
        return self._table.rows.get(action_id)

    async def update(self, current: ActionRequest, changed: ActionRequest) -> ActionRequest | None:
        stored = self._table.rows.get(current.id)
        if stored is None or (stored.state, stored.version) != (current.state, current.version):
            return None
        # Only the mutable columns change, as in the SQL UPDATE.
        new = dataclasses.replace(
            changed,
            id=stored.id,
            incident_id=stored.incident_id,
            verb=stored.verb,
            target=stored.target,
            requested_by=stored.requested_by,
            requested_at=stored.requested_at,
            replicas=stored.replicas,
            to_revision=stored.to_revision,
            autoscaler=stored.autoscaler,
            restores=stored.restores,
            version=stored.version + 1,
            approvals=approvals_from_json(approvals_to_json(changed.approvals)),
            updated_at=_utc(changed.updated_at) or stored.updated_at,
            expires_at=_utc(changed.expires_at) or stored.expires_at,
            lease_until=_utc(changed.lease_until),
            started_at=_utc(changed.started_at),
            finished_at=_utc(changed.finished_at),
        )
        self._check_unique(new)
        self._table.rows[new.id] = new
        return new

    async def renew_lease(self, action_id: int, *, owner: str, until: datetime) -> bool:
        stored = self._table.rows.get(action_id)
        if stored is None or stored.state is not ActionState.RUNNING or stored.owner != owner:
            return False
        self._table.rows[action_id] = dataclasses.replace(stored, lease_until=_utc(until))
        return True

    async def running_on(self, target: Target) -> ActionRequest | None:
        for row in self._table.rows.values():
            if row.target == target and row.state is ActionState.RUNNING:
                return row
        return None

    async def in_states(self, states: frozenset[ActionState]) -> Sequence[ActionRequest]:
        return [row for _, row in sorted(self._table.rows.items()) if row.state in states]

    async def for_incident(self, incident_id: int) -> Sequence[ActionRequest]:
        return [r for _, r in sorted(self._table.rows.items()) if r.incident_id == incident_id]

    def _check_unique(self, candidate: ActionRequest) -> None:
        """The partial unique indexes of the SQL schema."""
        for other in self._table.rows.values():
            if other.id == candidate.id or other.target != candidate.target:
                continue
            both_open = candidate.state in OPEN_STATES and other.state in OPEN_STATES
            if both_open and other.verb == candidate.verb:
                raise Conflict(f"an open {candidate.verb} on {candidate.target} exists")
            if candidate.state is other.state is ActionState.RUNNING:
                raise Conflict(f"an action is already running on {candidate.target}")
