"""Scaling a deployment that a HorizontalPodAutoscaler governs: the HPA would undo a direct
scale within minutes, so such a scale moves the HPA's ``minReplicas`` instead. Shared by the
request (the plan), the run (the re-check before applying, and when the rollout is done) and
reconciliation; like ``rules`` and ``steps``, it imports no use case.

When the cluster cannot be asked at request time (unreachable, not configured, refused),
the request is planned as a plain scale and says so; execution asks again and refuses to
scale a deployment an HPA turned out to govern, so an approval never applies something other
than what the approver read.

Floors only move up, except by a restore: a scale at or below the HPA's current
``minReplicas`` is refused, and a restore puts back the floor from before an incident only
while the HPA still holds the floor that incident set last (never one another incident or a
person set since), checked at request time and again before applying.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime

from bot.domain.action import ActionRequest, ActionState, ActionVerb
from bot.domain.autoscaler import Autoscaler, AutoscalerPlan
from bot.domain.deployment import RolloutProgress
from bot.domain.target import Target
from bot.errors import BadRequest, ClusterError, Conflict, Forbidden, NotFound
from bot.ports import Cluster, UnitOfWork

log = logging.getLogger(__name__)

UNDONE = "scaling the deployment directly would be undone by the autoscaler"
FRESH = "request it again for a fresh approval"


@dataclass(frozen=True, slots=True)
class ScalePlan:
    """How a scale will be applied: through ``autoscaler`` when one governs the deployment;
    ``unchecked`` says why the cluster could not be asked (then it is checked at execution)."""

    autoscaler: AutoscalerPlan | None = None
    unchecked: str = ""


def check_floor(hpa: Autoscaler, replicas: int, target: Target) -> None:
    """``replicas`` as the HPA's new ``minReplicas``: at least 1, at most its maximum."""
    where = f"HPA {target.namespace}/{hpa.name}"
    if replicas < 1:
        raise BadRequest(f"{where} governs {target}: its minReplicas must be at least 1")
    if replicas > hpa.max_replicas:
        raise Forbidden(
            f"{replicas} replicas is above {where}'s maxReplicas {hpa.max_replicas}; "
            f"{UNDONE}, and firebreak does not raise maxReplicas"
        )


def check_raises(hpa: Autoscaler, replicas: int, target: Target) -> None:
    """Outside a restore an HPA scale only raises the floor: ``Conflict`` for a count at or
    below the current ``minReplicas`` (lowering it would take away someone's floor)."""
    if replicas <= hpa.min_replicas:
        raise Conflict(
            f"HPA {target.namespace}/{hpa.name} already keeps at least {hpa.min_replicas} "
            f"replicas of {target}; firebreak only lowers a floor by restoring one it raised"
        )


async def plan_scale(
    cluster: Cluster, target: Target, replicas: int, *, restoring: bool = False
) -> ScalePlan:
    """The plan for scaling ``target`` to ``replicas``; ``Forbidden``/``BadRequest`` when
    the HPA cannot take that floor, ``Conflict`` when it would not raise it (not a restore).
    A restore needs the HPA: without it there is nothing to put back (``Conflict``)."""
    try:
        found = await cluster.autoscaler(target)
    except (ClusterError, NotFound) as exc:
        if restoring:
            raise Conflict(f"cannot read the HPA of {target} to restore it: {exc}") from exc
        log.warning("planning a plain scale of %s: cannot look for an HPA: %s", target, exc)
        return ScalePlan(unchecked=str(exc))
    if found is None:
        if restoring:
            raise Conflict(f"no HPA governs {target} any more: there is nothing to restore")
        return ScalePlan()
    check_floor(found, replicas, target)
    if not restoring:
        check_raises(found, replicas, target)
    return ScalePlan(autoscaler=AutoscalerPlan.of(found))


async def check_restore(
    uow: UnitOfWork,
    *,
    incident_id: int,
    restores: int,
    target: Target,
    replicas: int,
    plan: ScalePlan,
) -> None:
    """A restore must put back a floor this incident's HPA scale moved, and only while the
    HPA still holds the floor this incident set last: ``Conflict`` when a later HPA scale of
    another incident replaced it, or when the HPA's ``minReplicas`` (as ``plan`` read it) is
    not this incident's last floor (someone else's floor must not be lowered by our
    restore)."""
    restored = await uow.actions.get(restores)
    if (
        restored is None
        or restored.incident_id != incident_id
        or restored.state is not ActionState.SUCCEEDED
        or restored.autoscaler is None
        or restored.previous_min_replicas is None
    ):
        raise Conflict(f"action {restores} moved no HPA floor of incident {incident_id}")
    if restored.target != target or restored.previous_min_replicas != replicas:
        raise Conflict(
            f"action {restores} set the floor of {restored.target}; restoring it means "
            f"minReplicas {restored.previous_min_replicas} there"
        )
    later = await _later_floors(uow, restored)
    foreign = [a for a in later if a.incident_id != incident_id]
    if foreign:
        raise Conflict(
            f"action {foreign[0].id} of incident {foreign[0].incident_id} set the floor of "
            f"{target} to {foreign[0].replicas} after action {restores}; restoring minReplicas "
            f"{replicas} would lower a floor this incident did not set"
        )
    # This incident may have raised the floor again since (3 → 6 → 8): the restore puts
    # back the floor from before the incident, from the last one the incident set.
    expected = later[-1].replicas if later else restored.replicas
    found = plan.autoscaler
    if found is not None and found.min_replicas != expected:
        raise Conflict(
            f"HPA {target.namespace}/{found.name} minReplicas is {found.min_replicas}, not the "
            f"{expected} incident {incident_id} set: it moved since, and restoring "
            f"{replicas} would lower a floor this incident did not set"
        )


async def _later_floors(uow: UnitOfWork, restored: ActionRequest) -> list[ActionRequest]:
    """The succeeded HPA scales of the same target that finished after ``restored`` and were
    not themselves put back by a succeeded restore, oldest first."""
    done = [
        a
        for a in await uow.actions.in_states(frozenset({ActionState.SUCCEEDED}))
        if a.target == restored.target and a.autoscaler is not None and a.id != restored.id
    ]
    undone = {a.restores for a in done if a.restores is not None}

    def when(action: ActionRequest) -> tuple[datetime, int]:
        return (action.finished_at or action.updated_at, action.id)

    later = [
        a for a in done if a.restores is None and a.id not in undone and when(a) > when(restored)
    ]
    return sorted(later, key=when)


@dataclass(frozen=True, slots=True)
class Recheck:
    """The HPA as read just before applying: ``failure`` stops the action; ``note`` is said
    in the result (the floor moved since the request)."""

    autoscaler: Autoscaler | None = None
    failure: str = ""
    note: str = ""


async def recheck(cluster: Cluster, action: ActionRequest) -> Recheck:
    """Read the HPA again before a scale is applied and compare it with the plan."""
    if action.verb is not ActionVerb.SCALE:
        return Recheck()
    assert action.replicas is not None
    target, plan = action.target, action.autoscaler
    try:
        found = await cluster.autoscaler(target)
    except (ClusterError, NotFound) as exc:
        return Recheck(failure=f"cannot check {target} for an HPA: {exc}")
    if plan is None:
        if found is None:
            return Recheck()
        return Recheck(
            failure=f"HPA {target.namespace}/{found.name} governs {target} and {UNDONE}; {FRESH}"
        )
    if found is None or found.name != plan.name:
        return Recheck(failure=f"HPA {target.namespace}/{plan.name} no longer governs {target}")
    if action.restores is not None and found.min_replicas != plan.min_replicas:
        # The request checked that the floor was still the restored action's; anything else
        # now is someone else's floor, which a restore must not lower.
        return Recheck(
            failure=(
                f"HPA {target.namespace}/{plan.name} minReplicas moved since the restore was "
                f"requested ({plan.min_replicas} → {found.min_replicas}); restoring would "
                f"lower a floor this incident did not set"
            )
        )
    try:
        check_floor(found, action.replicas, target)
        if action.restores is None:
            check_raises(found, action.replicas, target)
    except (BadRequest, Forbidden, Conflict) as exc:
        return Recheck(failure=f"{exc}; {FRESH}")
    note = ""
    if found.min_replicas != plan.min_replicas:
        note = (
            f"HPA minReplicas changed since the request "
            f"({plan.min_replicas} → {found.min_replicas})"
        )
    return Recheck(autoscaler=found, note=note)


def reached(action: ActionRequest, progress: RolloutProgress) -> RolloutProgress:
    """``progress`` as judged for an HPA scale: not done until the autoscaler has scaled the
    deployment to the new floor (the patch alone moves no pod)."""
    if action.autoscaler is None or action.replicas is None or not progress.done:
        return progress
    if progress.desired >= action.replicas:
        return progress
    name = action.autoscaler.name
    message = (
        f"Waiting for HPA {name} to scale {action.target.name} to {action.replicas} "
        f"(now {progress.desired})..."
    )
    return dataclasses.replace(progress, done=False, message=message)


async def floor_landed(cluster: Cluster, action: ActionRequest) -> bool | None:
    """For reconciliation: whether the HPA shows this action's floor (``None`` for actions
    that do not go through an HPA; ``False`` also when the HPA is gone)."""
    if action.autoscaler is None:
        return None
    found = await cluster.autoscaler(action.target)
    return found is not None and found.min_replicas == action.replicas


async def floor_moved(cluster: Cluster, action: ActionRequest) -> list[str]:
    """For reconciliation of an HPA scale that has not landed: how the HPA moved since the
    apply mark (not at all when its floor is still the one recorded before the apply)."""
    found = await cluster.autoscaler(action.target)
    if found is None:
        return [f"HPA {action.autoscaler.name if action.autoscaler else '?'} gone"]
    if found.min_replicas != action.previous_min_replicas:
        return [f"minReplicas {action.previous_min_replicas}→{found.min_replicas}"]
    return []
