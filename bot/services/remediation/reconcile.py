"""After a restart: settle actions an executor left behind, by looking at the cluster,
never by blindly applying again.

A running action whose executor's lease has lapsed is taken over and then:

* never got as far as applying (no apply mark) → the normal guarded path: compare with the
  approval snapshot, dry run, apply;
* was marked as applying and the change is visible (replicas at the target, the approved
  ``restartedAt`` stamp, the rollback's revision gone from history with a newer revision
  live) → follow the rollout to its end;
* was marked as applying, the change is not visible and the spec has not moved since the
  mark → the apply never landed: the guarded path again;
* otherwise the target moved in a way that is not ours → failed, "needs a human".

A scale through an HPA has landed when the HPA's ``minReplicas`` is the action's count; it
has not landed and may run again when the floor is still the one recorded with the apply
mark. The deployment's replica count is the HPA's to move, so it is no sign either way; for
any verb, a deployment an HPA governs moving only its replicas has not "moved" (``changes_since``).

Approved actions nobody claimed (the process died between the approval and the claim) are
executed through the same claim as a click, or expire when their window has passed.
"""

from __future__ import annotations

import dataclasses
import functools
from datetime import datetime, timedelta

from bot.domain.action import ActionRequest, ActionState, ActionVerb
from bot.domain.actor import BOT
from bot.domain.deployment import TargetSnapshot
from bot.domain.events import ActionReconciled, ActionReconciling
from bot.ports import Cluster, UnitOfWork
from bot.services.remediation import steps as action_steps
from bot.services.remediation.autoscaler import floor_landed, floor_moved
from bot.services.remediation.context import RemediationContext
from bot.services.remediation.run import CLUSTER_ERRORS, Runner, changes_since
from bot.services.transactions import in_transaction


async def reconcile_actions(ctx: RemediationContext) -> list[ActionRequest]:
    """Settle every abandoned running action and every unclaimed approved one; returns them
    in their final (or, if another replica holds one, current) state."""
    store, clock, lease_seconds = ctx.store, ctx.clock, ctx.timings.action_lease
    owner = action_steps.new_owner()
    runner = Runner(ctx, owner)
    async with store.transaction() as uow:
        pending = await uow.actions.in_states(
            frozenset({ActionState.RUNNING, ActionState.APPROVED})
        )
    settled: list[ActionRequest] = []
    for action in pending:
        now = clock.now()
        if action.state is ActionState.APPROVED:
            result = await in_transaction(
                store,
                functools.partial(
                    action_steps.claim,
                    action_id=action.id,
                    actor=BOT,
                    owner=owner,
                    now=now,
                    lease=lease_seconds,
                ),
            )
            settled.append(await runner.run(result.action) if result.won else result.action)
            continue
        if action.lease_until is not None and action.lease_until > now:
            continue  # its executor is alive (it renews the lease while it works)
        taken = await in_transaction(
            store,
            functools.partial(_take_over, seen=action, owner=owner, now=now, lease=lease_seconds),
        )
        if taken is None:
            continue
        settled.append(await _settle(runner, taken))
    return settled


async def _take_over(
    uow: UnitOfWork, *, seen: ActionRequest, owner: str, now: datetime, lease: float
) -> ActionRequest | None:
    action, _ = await action_steps.locked(uow, seen.id)
    if action.version != seen.version or action.state is not ActionState.RUNNING:
        return None
    return await action_steps.transition(
        uow,
        action,
        dataclasses.replace(action, owner=owner, lease_until=now + timedelta(seconds=lease)),
        at=now,
        actor=BOT,
        event=ActionReconciling(applying=action.apply_snapshot is not None),
    )


async def _settle(runner: Runner, action: ActionRequest) -> ActionRequest:
    if action.apply_snapshot is None:
        return await runner.run(action)
    autoscaled = action.autoscaler is not None
    try:
        current = await runner.cluster.snapshot(action.target)
        landed = await _landed(runner.cluster, action, action.apply_snapshot, current)
        changes: list[str] = []
        if not landed:  # a landed change needs no account of what else moved
            changes = await changes_since(runner.cluster, action, action.apply_snapshot, current)
            if autoscaled:
                changes += await floor_moved(runner.cluster, action)
    except CLUSTER_ERRORS as exc:
        detail = f"needs a human: cannot read the target to reconcile ({exc})"
        return await runner.finish(action, ActionState.FAILED, detail)
    if landed:
        await action_steps.note(
            runner.store, action, at=runner.clock.now(), event=ActionReconciled(landed=True)
        )
        return await runner.follow(action)
    if not changes:
        return await runner.run(action)
    detail = (
        f"needs a human: the target moved while firebreak was down ({', '.join(changes)}) "
        "and not as this action would have moved it"
    )
    return await runner.finish(action, ActionState.FAILED, detail)


async def _landed(
    cluster: Cluster, action: ActionRequest, before: TargetSnapshot, now: TargetSnapshot
) -> bool:
    """Whether the cluster shows this action's change."""
    through_hpa = await floor_landed(cluster, action)
    if through_hpa is not None:
        return through_hpa
    if action.verb is ActionVerb.SCALE:
        return now.replicas == action.replicas
    if action.verb is ActionVerb.RESTART:
        return action.restarted_at is not None and now.restarted_at == action.restarted_at
    if action.verb is ActionVerb.ROLLBACK:
        if now.revision <= before.revision or now.template_hash == before.template_hash:
            return False
        # Rolling back to revision N re-labels N's ReplicaSet as the newest revision, so N
        # leaves the history; a new deployment by someone else would leave N in place.
        history = {revision for revision, _ in (await cluster.diagnose(action.target)).revisions}
        return action.rollback_revision not in history
    return False
