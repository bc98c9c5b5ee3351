"""Deny an action request: an approver turns it down, or its requester withdraws it."""

from __future__ import annotations

import dataclasses

from bot.domain.action import ActionRequest, ActionState
from bot.domain.actor import Actor
from bot.domain.events import ActionDenied
from bot.errors import Conflict, Forbidden
from bot.ports import UnitOfWork
from bot.services.remediation import steps as action_steps
from bot.services.remediation.context import RemediationContext
from bot.services.remediation.rules import may_approve, rules_for
from bot.services.transactions import in_transaction


async def deny_action(
    ctx: RemediationContext, action_id: int, *, actor: Actor, reason: str = ""
) -> ActionRequest:
    """Move a requested action to ``denied``. Allowed for whoever may approve it and for its
    requester; anyone else gets ``Forbidden`` and a timeline entry. ``Conflict`` when the
    action is no longer waiting for approval."""
    store = ctx.store
    action, _ = await action_steps.read(store, action_id)
    now = ctx.clock.now()
    if actor != action.requested_by:
        try:
            rules = rules_for(ctx.policy, action.verb, action.target)
            allowed = await may_approve(
                actor, approvers=ctx.approvers, rules=rules, directory=ctx.directory
            )
        except Forbidden:
            allowed = False
        if not allowed:
            why = f"you are not an approver for {action.describe()}"
            raise await action_steps.refuse(
                store, action, actor=actor, at=now, attempted="deny", why=why
            )

    async def work(uow: UnitOfWork) -> tuple[ActionRequest, bool]:
        current, _ = await action_steps.locked(uow, action_id)
        if current.state is not ActionState.REQUESTED:
            return current, False
        denied = await action_steps.transition(
            uow,
            current,
            dataclasses.replace(
                current, state=ActionState.DENIED, finished_at=now, detail=reason or "denied"
            ),
            at=now,
            actor=actor,
            event=ActionDenied(reason=reason, by=actor.id),
        )
        return (denied, True) if denied is not None else (current, False)

    result, changed = await in_transaction(store, work)
    if not changed:
        why = f"{action.describe()} is {result.state.value}; only a pending request can be denied"
        await action_steps.refuse(store, result, actor=actor, at=now, attempted="deny", why=why)
        raise Conflict(why)
    return result
