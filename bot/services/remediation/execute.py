"""Execute an approved action exactly once, however many clicks or replicas try at once:
the claim approved → running is a compare-and-set, and only its winner touches the cluster."""

from __future__ import annotations

import functools

from bot.domain.action import ActionRequest
from bot.domain.actor import Actor
from bot.errors import Conflict
from bot.services.remediation import steps as action_steps
from bot.services.remediation.context import RemediationContext
from bot.services.remediation.run import Runner
from bot.services.transactions import in_transaction


async def execute_action(ctx: RemediationContext, action_id: int, *, actor: Actor) -> ActionRequest:
    """Run an approved action to succeeded or failed and return it.

    When the action is not (or no longer) approved, returns it as it is and does nothing:
    another click or replica has it. ``Conflict`` when another action is running on the same
    deployment (this one stays approved until it expires). Rollout polls wait on the
    context's clock, so a test clock moves time instead of sleeping."""
    owner = action_steps.new_owner()
    now = ctx.clock.now()
    result = await in_transaction(
        ctx.store,
        functools.partial(
            action_steps.claim,
            action_id=action_id,
            actor=actor,
            owner=owner,
            now=now,
            lease=ctx.timings.action_lease,
        ),
    )
    if result.busy is not None:
        why = (
            f"{result.busy.describe()} (action {result.busy.id}) is running; "
            f"try again when it finishes"
        )
        # The action stays approved until it expires; the thread is where people learn why
        # it did not start (the execution runs after the click's reply was sent).
        await action_steps.refuse(
            ctx.store, result.action, actor=actor, at=now, attempted="execute", why=why
        )
        raise Conflict(why)
    if not result.won:
        return result.action
    return await Runner(ctx, owner).run(result.action)
