"""Actions: a remediation someone asked for (verb, target, arguments), as it moves through the
approval state machine. Frozen dataclasses, stdlib only, shared by the use cases in
``bot/services/remediation/``, the SQL store and the in-memory fake. The target is
``bot.domain.target``; what the cluster reports about it is ``bot.domain.deployment``."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeGuard

from bot.domain.actor import Actor
from bot.domain.autoscaler import AutoscalerPlan
from bot.domain.deployment import RolloutProgress, TargetSnapshot
from bot.domain.target import Target
from bot.errors import BadRequest


class ActionVerb(enum.StrEnum):
    """One module per verb in ``actions/``. ``diagnose`` is read-only and needs no approval."""

    SCALE = "scale"
    ROLLBACK = "rollback"
    RESTART = "restart"
    DIAGNOSE = "diagnose"

    @property
    def mutates(self) -> bool:
        return self is not ActionVerb.DIAGNOSE


class ActionState(enum.StrEnum):
    """requested → approved → running → succeeded | failed, or denied | expired."""

    REQUESTED = "requested"
    APPROVED = "approved"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DENIED = "denied"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        return self in _FINAL

    def may_become(self, new: ActionState) -> bool:
        return new in TRANSITIONS[self]


_FINAL = frozenset(
    {ActionState.SUCCEEDED, ActionState.FAILED, ActionState.DENIED, ActionState.EXPIRED}
)

TRANSITIONS: dict[ActionState, frozenset[ActionState]] = {
    ActionState.REQUESTED: frozenset(
        {ActionState.APPROVED, ActionState.DENIED, ActionState.EXPIRED}
    ),
    # An approved action whose target moved before it ran fails ("target changed since
    # approval") and asks for a fresh request; it never silently runs on a different state.
    ActionState.APPROVED: frozenset({ActionState.RUNNING, ActionState.FAILED, ActionState.EXPIRED}),
    ActionState.RUNNING: frozenset({ActionState.SUCCEEDED, ActionState.FAILED}),
    ActionState.SUCCEEDED: frozenset(),
    ActionState.FAILED: frozenset(),
    ActionState.DENIED: frozenset(),
    ActionState.EXPIRED: frozenset(),
}


def is_whole_number(value: object) -> TypeGuard[int]:
    """An ``int`` that is not a ``bool``."""
    # bool is an int in Python; "scale to True" is a bug, not a count.
    return isinstance(value, int) and not isinstance(value, bool)


def check_replicas(value: object) -> int:
    """A replica count: a whole number of at least 0, or ``BadRequest``."""
    if not is_whole_number(value) or value < 0:
        raise BadRequest(f"replicas must be a whole number of at least 0, got {value!r}")
    return value


def check_revision(value: object) -> int:
    """A revision to roll back to: a positive whole number, or ``BadRequest``."""
    if not is_whole_number(value) or value < 1:
        raise BadRequest(f"to_revision must be a positive whole number, got {value!r}")
    return value


# Actions a deployment can have at most one of per verb (the storm rule), and the state in
# which a deployment can have at most one action of any verb.
OPEN_STATES = frozenset({ActionState.REQUESTED, ActionState.APPROVED, ActionState.RUNNING})


@dataclass(frozen=True, slots=True)
class Approval:
    """One approver's click: who and when."""

    actor: Actor
    at: datetime


@dataclass(frozen=True, slots=True)
class NewAction:
    """The fields of an action request about to be stored (state ``requested``)."""

    incident_id: int
    verb: ActionVerb
    target: Target
    requested_by: Actor
    requested_at: datetime
    expires_at: datetime
    approvals_required: int = 1
    replicas: int | None = None
    to_revision: int | None = None
    # A scale of a deployment an HPA governs moves the HPA's minReplicas instead.
    autoscaler: AutoscalerPlan | None = None
    # The action whose HPA floor this one puts back (allowed on a resolved incident).
    restores: int | None = None


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """A stored action request. ``version`` grows with every write; every write is a
    compare-and-set on (``state``, ``version``), so a stale copy can never overwrite."""

    id: int
    incident_id: int
    verb: ActionVerb
    target: Target
    state: ActionState
    requested_by: Actor
    requested_at: datetime
    expires_at: datetime
    updated_at: datetime
    approvals_required: int = 1
    version: int = 1
    replicas: int | None = None
    to_revision: int | None = None
    approvals: tuple[Approval, ...] = ()
    # Fixed at the final approval: the target as approved, the restartedAt stamp a restart
    # writes, and the revision a rollback returns to.
    snapshot: TargetSnapshot | None = None
    restarted_at: str | None = None
    rollback_revision: int | None = None
    # The executor holding the action while it runs; another may take over once the lease
    # has lapsed (the holder crashed), never before.
    owner: str | None = None
    lease_until: datetime | None = None
    # The target as read just before the apply call; set means "the apply may have landed".
    apply_snapshot: TargetSnapshot | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    detail: str = ""
    autoscaler: AutoscalerPlan | None = None
    restores: int | None = None
    # The HPA's minReplicas just before this action set it (recorded with the apply mark),
    # what resolving the incident offers to restore.
    previous_min_replicas: int | None = None

    @property
    def approved_by(self) -> tuple[Actor, ...]:
        return tuple(approval.actor for approval in self.approvals)

    def describe(self) -> str:
        """``scale production/deploy/lnn-service to 6``: for messages and the timeline."""
        text = f"{self.verb.value} {self.target}"
        if self.verb is ActionVerb.SCALE and self.replicas is not None:
            text += f" to {self.replicas}"
            if self.autoscaler is not None:
                text += f" through HPA {self.autoscaler.name} minReplicas"
        if self.verb is ActionVerb.ROLLBACK and self.to_revision is not None:
            text += f" to revision {self.to_revision}"
        return text


# Called while a rollout is followed, with the action and each look at the rollout; the lead
# wires it to the Slack thread message. Its failures never stop the action.
ProgressCallback = Callable[[ActionRequest, RolloutProgress], Awaitable[None]]


def snapshot_to_json(snapshot: TargetSnapshot | None) -> dict[str, Any] | None:
    return None if snapshot is None else dataclasses.asdict(snapshot)


def snapshot_from_json(data: dict[str, Any] | None) -> TargetSnapshot | None:
    if data is None:
        return None
    return TargetSnapshot(
        resource_version=str(data["resource_version"]),
        generation=int(data["generation"]),
        replicas=int(data["replicas"]),
        revision=int(data["revision"]),
        paused=bool(data["paused"]),
        restarted_at=data.get("restarted_at"),
        template_hash=str(data["template_hash"]),
    )


def approvals_to_json(approvals: tuple[Approval, ...]) -> list[dict[str, str]]:
    """The stored form of approvals: each actor as its ``source:id`` text."""
    return [{"actor": str(a.actor), "at": a.at.isoformat()} for a in approvals]


def approvals_from_json(data: list[dict[str, str]]) -> tuple[Approval, ...]:
    """Approvals as ``approvals_to_json`` (or any earlier version) stored them."""
    return tuple(
        Approval(Actor.parse(item["actor"]), datetime.fromisoformat(item["at"])) for item in data
    )
