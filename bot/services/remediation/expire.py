"""Expire requests nobody approved in time, and approvals nobody acted on in time."""

from __future__ import annotations

from bot.domain.action import ActionRequest, ActionState
from bot.ports import UnitOfWork
from bot.services.remediation import steps as action_steps
from bot.services.remediation.context import RemediationContext
from bot.services.transactions import in_transaction

_WAITING = frozenset({ActionState.REQUESTED, ActionState.APPROVED})


async def expire_actions(ctx: RemediationContext) -> list[ActionRequest]:
    """Move every requested or approved action past its ``expires_at`` to ``expired``, each
    with a timeline entry by firebreak. Safe to run on every replica at once."""
    store, now = ctx.store, ctx.clock.now()
    async with store.transaction() as uow:
        due = [a for a in await uow.actions.in_states(_WAITING) if now >= a.expires_at]
    expired: list[ActionRequest] = []
    for candidate in due:

        async def work(uow: UnitOfWork, action_id: int = candidate.id) -> ActionRequest | None:
            action, _ = await action_steps.locked(uow, action_id)
            if action.state not in _WAITING or now < action.expires_at:
                return None
            return await action_steps.expire(uow, action, at=now)

        done = await in_transaction(store, work)
        if done is not None:
            expired.append(done)
    return expired
