"""Approve an action request. Deny by default: only configured approvers, never the
requester, two distinct approvers for risky actions, and never after the request lapsed.
The final approval records the target's snapshot, which execution later compares against."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.domain.action import ActionRequest, ActionState, ActionVerb, Approval, snapshot_to_json
from bot.domain.actor import Actor
from bot.domain.deployment import TargetSnapshot
from bot.domain.events import ActionApproval, EventKind
from bot.domain.incident import Incident
from bot.errors import ClusterError, Conflict, FirebreakError, Forbidden, NotFound
from bot.policy.model import Policy
from bot.ports import Cluster, Directory, Store, UnitOfWork
from bot.services.remediation import steps as action_steps
from bot.services.remediation.context import RemediationContext
from bot.services.remediation.rules import may_approve, required_approvals, rules_for
from bot.services.transactions import in_transaction

# What reading the target at the final approval may raise (NotFound: the deployment is
# gone; Conflict: a rollback has no revision to go back to).
CLUSTER_ERRORS = (ClusterError, NotFound, Conflict)
# Each lost compare-and-set means another approval landed; an action needs at most three.
ATTEMPTS = 6


@dataclass(frozen=True, slots=True)
class ApprovalResult:
    """``ready`` when the action is approved and may be executed now; ``changed`` when this
    click counted. ``message`` is for the clicker (ephemeral)."""

    action: ActionRequest
    changed: bool
    ready: bool
    message: str


def restart_stamp(at: datetime) -> str:
    """The ``kubectl.kubernetes.io/restartedAt`` value, RFC 3339 in UTC as kubectl writes it."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _refusal(
    action: ActionRequest,
    actor: Actor,
    *,
    policy: Policy,
    directory: Directory,
    approvers: Sequence[str],
) -> str | None:
    if actor == action.requested_by:
        return f"you requested {action.describe()}; someone else must approve it"
    try:
        rules = rules_for(policy, action.verb, action.target)
    except Forbidden as exc:
        return str(exc)
    if not await may_approve(actor, approvers=approvers, rules=rules, directory=directory):
        return f"you are not an approver for {action.describe()}"
    return None


async def _rollback_revision(cluster: Cluster, action: ActionRequest, snap: TargetSnapshot) -> int:
    history = [revision for revision, _ in (await cluster.diagnose(action.target)).revisions]
    if action.to_revision is not None:
        if action.to_revision not in history:
            raise Conflict(f"{action.target} has no revision {action.to_revision} to roll back to")
        return action.to_revision
    earlier = [revision for revision in history if revision < snap.revision]
    if not earlier:
        raise Conflict(f"{action.target} has no earlier revision to roll back to")
    return max(earlier)


async def _final(
    action: ActionRequest,
    approvals: tuple[Approval, ...],
    *,
    cluster: Cluster,
    now: datetime,
    ttl: float,
) -> ActionRequest:
    snap = await cluster.snapshot(action.target)
    return dataclasses.replace(
        action,
        state=ActionState.APPROVED,
        approvals=approvals,
        snapshot=snap,
        restarted_at=restart_stamp(now) if action.verb is ActionVerb.RESTART else None,
        rollback_revision=await _rollback_revision(cluster, action, snap)
        if action.verb is ActionVerb.ROLLBACK
        else None,
        # A fresh window to run in: an approval given now is about the target as it is now.
        expires_at=now + timedelta(seconds=ttl),
    )


def _closed(action: ActionRequest) -> Conflict:
    reason = f": {action.detail}" if action.detail else ""
    return Conflict(f"{action.describe()} is {action.state.value}{reason}; request it again")


async def approve_action(
    ctx: RemediationContext, action_id: int, *, approver: Actor
) -> ApprovalResult:
    """Count ``approver``'s approval; ``Forbidden`` (and a timeline entry) if not allowed.

    Raises ``Conflict`` when the request is closed (denied, expired, failed) or cannot be
    approved now; a click on an already approved or running action changes nothing."""
    store, clock, policy = ctx.store, ctx.clock, ctx.policy
    for _ in range(ATTEMPTS):
        action, incident = await action_steps.read(store, action_id)
        now = clock.now()
        why = await _refusal(
            action, approver, policy=policy, directory=ctx.directory, approvers=ctx.approvers
        )
        if why is not None:
            raise await action_steps.refuse(
                store, action, actor=approver, at=now, attempted="approve", why=why
            )
        if action.state in (ActionState.APPROVED, ActionState.RUNNING, ActionState.SUCCEEDED):
            return ApprovalResult(
                action, False, action.state is ActionState.APPROVED, f"already {action.state}"
            )
        if action.state is not ActionState.REQUESTED:
            raise await _failed(ctx, action, approver, _closed(action))
        if now >= action.expires_at:
            await in_transaction(store, functools.partial(_expire, action_id=action_id, now=now))
            raise Conflict(f"{action.describe()} expired unapproved; request it again")
        if approver in action.approved_by:
            return ApprovalResult(action, False, False, _waiting(action))
        try:
            stored = await _record(
                store,
                action,
                incident,
                approver,
                cluster=ctx.cluster,
                now=now,
                policy=policy,
                ttl=ctx.timings.approval_ttl,
            )
        except CLUSTER_ERRORS as exc:
            # The last approval reads the target (its snapshot, a rollback's revision): the
            # deployment may be gone or the API down. The request stays open.
            raise await _failed(ctx, action, approver, exc) from exc
        if stored is not None:
            ready = stored.state is ActionState.APPROVED
            return ApprovalResult(stored, True, ready, "approved" if ready else _waiting(stored))
    raise await _failed(
        ctx, action, approver, Conflict(f"action {action_id} kept changing; try again")
    )


async def _failed(
    ctx: RemediationContext, action: ActionRequest, approver: Actor, exc: FirebreakError
) -> FirebreakError:
    """Record on the timeline (committed on its own) that this approval did not count, and
    return the error for the clicker."""
    await action_steps.refuse(
        ctx.store,
        action,
        actor=approver,
        at=ctx.clock.now(),
        attempted="approve",
        why=f"the approval failed: {exc}",
    )
    return exc


def _waiting(action: ActionRequest) -> str:
    missing = action.approvals_required - len(action.approvals)
    return f"waiting for {missing} more approver{'s' if missing != 1 else ''}"


async def _record(
    store: Store,
    action: ActionRequest,
    incident: Incident,
    approver: Actor,
    *,
    cluster: Cluster,
    now: datetime,
    policy: Policy,
    ttl: float,
) -> ActionRequest | None:
    # The incident's severity may have risen since the request: recompute the bar.
    needed = max(
        action.approvals_required,
        required_approvals(rules_for(policy, action.verb, action.target), incident.severity),
    )
    approvals = (*action.approvals, Approval(approver, now))
    counted = dataclasses.replace(action, approvals_required=needed, approvals=approvals)
    final = len(approvals) >= needed
    changed = (
        await _final(counted, approvals, cluster=cluster, now=now, ttl=ttl) if final else counted
    )

    async def work(uow: UnitOfWork) -> ActionRequest | None:
        return await action_steps.transition(
            uow,
            action,
            changed,
            at=now,
            actor=approver,
            event=ActionApproval(
                kind=EventKind.ACTION_APPROVED if final else EventKind.ACTION_APPROVAL,
                approvals=len(approvals),
                approvals_required=needed,
                snapshot=snapshot_to_json(changed.snapshot),
                by=approver.id,
            ),
        )

    return await in_transaction(store, work)


async def _expire(uow: UnitOfWork, *, action_id: int, now: datetime) -> None:
    action, _ = await action_steps.locked(uow, action_id)
    if action.state in (ActionState.REQUESTED, ActionState.APPROVED) and now >= action.expires_at:
        await action_steps.expire(uow, action, at=now)
