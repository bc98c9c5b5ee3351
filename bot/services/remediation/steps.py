"""The building blocks the action use cases share (they import this module, never each
other): read an action, move it by compare-and-set with its timeline entry, note facts and
refused clicks on its incident's timeline, claim an approved action for one executor."""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.action import ActionRequest, ActionState
from bot.domain.actor import BOT, Actor
from bot.domain.events import (
    AboutAction,
    ActionExpired,
    ActionRefused,
    ActionRequestRefused,
    ActionStarted,
    about,
)
from bot.domain.incident import Incident
from bot.errors import Forbidden, NotFound
from bot.ports import Store, UnitOfWork
from bot.services.transactions import in_transaction


async def locked(uow: UnitOfWork, action_id: int) -> tuple[ActionRequest, Incident]:
    """The action, read again after locking its incident (which serialises timeline appends
    and every change to the incident's actions on PostgreSQL)."""
    first = await uow.actions.get(action_id)
    if first is None:
        raise NotFound(f"no action {action_id}")
    incident = await uow.incidents.get(first.incident_id, for_update=True)
    action = await uow.actions.get(action_id)
    if incident is None or action is None:  # pragma: no cover - rows are never deleted
        raise NotFound(f"no action {action_id}")
    return action, incident


async def read(store: Store, action_id: int) -> tuple[ActionRequest, Incident]:
    """The action and its incident, in a short transaction of their own."""
    async with store.transaction() as uow:
        return await locked(uow, action_id)


async def transition(
    uow: UnitOfWork,
    current: ActionRequest,
    changed: ActionRequest,
    *,
    at: datetime,
    actor: Actor,
    event: AboutAction,
) -> ActionRequest | None:
    """Write ``changed`` by compare-and-set and record ``event`` (its action facts filled in
    from the stored action) on the incident's timeline.

    ``None`` when ``current`` is stale (someone else moved the action first); then nothing
    is written. The caller must hold the incident lock (``locked``)."""
    if current.state is not changed.state and not current.state.may_become(changed.state):
        raise ValueError(f"an action cannot go from {current.state} to {changed.state}")
    stored = await uow.actions.update(current, dataclasses.replace(changed, updated_at=at))
    if stored is None:
        return None
    await uow.timeline.append(stored.incident_id, at=at, actor=actor, event=about(event, stored))
    return stored


async def note(store: Store, action: ActionRequest, *, at: datetime, event: AboutAction) -> None:
    """A timeline entry about ``action`` that changes no state (e.g. what the apply did)."""

    async def work(uow: UnitOfWork) -> None:
        await uow.incidents.get(action.incident_id, for_update=True)
        await uow.timeline.append(action.incident_id, at=at, actor=BOT, event=about(event, action))

    await in_transaction(store, work)


async def expire(uow: UnitOfWork, action: ActionRequest, *, at: datetime) -> ActionRequest | None:
    """Move a requested or approved action past its deadline to ``expired``."""
    return await transition(
        uow,
        action,
        dataclasses.replace(action, state=ActionState.EXPIRED, finished_at=at),
        at=at,
        actor=BOT,
        event=ActionExpired(expired_at=action.expires_at.isoformat()),
    )


async def refuse(
    store: Store, action: ActionRequest, *, actor: Actor, at: datetime, attempted: str, why: str
) -> Forbidden:
    """Record a refused click on the timeline (committed on its own) and return the error."""

    async def work(uow: UnitOfWork) -> None:
        await uow.incidents.get(action.incident_id, for_update=True)
        await uow.timeline.append(
            action.incident_id,
            at=at,
            actor=actor,
            event=about(ActionRefused(attempted=attempted, reason=why), action),
        )

    await in_transaction(store, work)
    return Forbidden(why)


# Asked-for values end up in the entry as typed; bound what one refusal may store.
_ASKED_MAX = 300


async def refuse_request(
    store: Store,
    incident_id: int,
    *,
    actor: Actor,
    at: datetime,
    verb: str,
    target: str,
    why: str,
    replicas: object = None,
) -> None:
    """Record a refused request (or diagnose) on the incident's timeline, committed on its
    own after the refused transaction. Nothing is written when there is no such incident."""

    async def work(uow: UnitOfWork) -> None:
        if await uow.incidents.get(incident_id, for_update=True) is None:
            return
        await uow.timeline.append(
            incident_id,
            at=at,
            actor=actor,
            event=ActionRequestRefused(
                verb=verb[:_ASKED_MAX],
                target=target[:_ASKED_MAX],
                reason=why[: _ASKED_MAX * 3],
                replicas=replicas
                if isinstance(replicas, int) and not isinstance(replicas, bool)
                else None,
            ),
        )

    await in_transaction(store, work)


def new_owner() -> str:
    """A token naming one executor's hold on a running action."""
    return secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class _Claim:
    action: ActionRequest
    won: bool
    busy: ActionRequest | None = None


async def claim(
    uow: UnitOfWork, *, action_id: int, actor: Actor, owner: str, now: datetime, lease: float
) -> _Claim:
    """approved → running by compare-and-set, unless expired or the deployment is busy."""
    action, _ = await locked(uow, action_id)
    if action.state is not ActionState.APPROVED:
        return _Claim(action, won=False)
    if now >= action.expires_at:
        expired = await expire(uow, action, at=now)
        return _Claim(expired or action, won=False)
    running = await uow.actions.running_on(action.target)
    if running is not None and running.id != action.id:
        return _Claim(action, won=False, busy=running)
    # The unique index on running actions per deployment backs this check against another
    # replica claiming a different action on the same deployment right now.
    claimed = await transition(
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
        event=ActionStarted(approved_by=[str(a) for a in action.approved_by]),
    )
    return _Claim(claimed or action, won=claimed is not None)
