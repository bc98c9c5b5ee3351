"""Execute an approved action exactly once, however many clicks or replicas try at once:
the claim approved → running is a compare-and-set, and only its winner touches the cluster."""

from __future__ import annotations

import dataclasses
import functools
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.action import ActionRequest, ActionState
from bot.domain.actor import Actor
from bot.errors import Conflict
from bot.ports import UnitOfWork
from bot.services.remediation import steps as action_steps
from bot.services.remediation.context import RemediationContext
from bot.services.remediation.run import Runner
from bot.services.transactions import in_transaction


def new_owner() -> str:
    """A token naming one executor's hold on a running action."""
    return secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class _Claim:
    action: ActionRequest
    won: bool
    busy: ActionRequest | None = None


async def claim(
    uow: UnitOfWork, *, action_id: int, actor: str, owner: str, now: datetime, lease: float
) -> _Claim:
    """approved → running by compare-and-set, unless expired or the deployment is busy."""
    action, _ = await action_steps.locked(uow, action_id)
    if action.state is not ActionState.APPROVED:
        return _Claim(action, won=False)
    if now >= action.expires_at:
        expired = await action_steps.expire(uow, action, at=now)
        return _Claim(expired or action, won=False)
    running = await uow.actions.running_on(action.target)
    if running is not None and running.id != action.id:
        return _Claim(action, won=False, busy=running)
    # The unique index on running actions per deployment backs this check against another
    # replica claiming a different action on the same deployment right now.
    claimed = await action_steps.transition(
        uow,
        action,
        dataclasses.replace(
            action,
            state=ActionState.RUNNING,
            owner=owner,
            lease_until=now + timedelta(seconds=lease),
            started_at=now,
        ),
        at=now,
        actor=actor,
        kind="action.started",
        approved_by=list(action.approved_by),
    )
    return _Claim(claimed or action, won=claimed is not None)


async def execute_action(ctx: RemediationContext, action_id: int, *, actor: Actor) -> ActionRequest:
    """Run an approved action to succeeded or failed and return it.

    When the action is not (or no longer) approved, returns it as it is and does nothing:
    another click or replica has it. ``Conflict`` when another action is running on the same
    deployment (this one stays approved until it expires). Rollout polls wait on the
    context's clock, so a test clock moves time instead of sleeping."""
    owner = new_owner()
    now = ctx.clock.now()
    result = await in_transaction(
        ctx.store,
        functools.partial(
            claim,
            action_id=action_id,
            actor=str(actor),
            owner=owner,
            now=now,
            lease=ctx.timings.action_lease,
        ),
    )
    if result.busy is not None:
        raise Conflict(
            f"{result.busy.describe()} (action {result.busy.id}) is running; "
            f"try again when it finishes"
        )
    if not result.won:
        return result.action
    return await Runner(ctx, owner).run(result.action)
