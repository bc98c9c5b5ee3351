"""Deny an action request: an approver turns it down, or its requester withdraws it."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from bot.clock import Clock
from bot.domain.action import ActionRequest, ActionState
from bot.domain.actor import Actor
from bot.errors import Conflict, Forbidden
from bot.policy.model import Policy
from bot.ports import Directory, Store, UnitOfWork
from bot.services.remediation import steps as action_steps
from bot.services.remediation.approve import refuse
from bot.services.remediation.rules import may_approve, rules_for
from bot.services.transactions import in_transaction


async def deny_action(
    action_id: int,
    *,
    actor: Actor,
    store: Store,
    clock: Clock,
    policy: Policy,
    directory: Directory,
    approvers: Sequence[str],
    reason: str = "",
) -> ActionRequest:
    """Move a requested action to ``denied``. Allowed for whoever may approve it and for its
    requester; anyone else gets ``Forbidden`` and a timeline entry. ``Conflict`` when the
    action is no longer waiting for approval."""
    action, _ = await action_steps.read(store, action_id)
    now = clock.now()
    if str(actor) != action.requested_by:
        try:
            rules = rules_for(policy, action.verb, action.target)
            allowed = await may_approve(
                actor, approvers=approvers, rules=rules, directory=directory
            )
        except Forbidden:
            allowed = False
        if not allowed:
            why = f"you are not an approver for {action.describe()}"
            raise await refuse(store, action, actor=actor, at=now, attempted="deny", why=why)

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
            actor=str(actor),
            kind="action.denied",
            reason=reason,
        )
        return (denied, True) if denied is not None else (current, False)

    result, changed = await in_transaction(store, work)
    if not changed:
        raise Conflict(
            f"{action.describe()} is {result.state.value}; only a pending request can be denied"
        )
    return result
