"""Button clicks on firebreak's messages (``block_actions``), one small function per button.

Each returns the ephemeral reply for the person who clicked, or ``None`` when the updated card
says enough. Errors propagate to the listener, which maps them to a reply in one place."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bot.domain.actor import Actor
from bot.domain.controls import ACTION_REQUEST, INCIDENT, SILENCE_REQUEST, SUGGESTION, Control
from bot.errors import BadRequest
from bot.services.incidents.updates import acknowledge, resolve
from handlers.deps import Deps
from handlers.slack.actor import slack_actor
from handlers.slack.command.silencing import silencer_of
from handlers.slack.replies import (
    approval_text,
    denied_text,
    requested_text,
    suggested_text,
)
from handlers.slack.silence_replies import silence_denied_text, silence_text, unsilence_text


class Click:
    """One parsed click: who, which button, and its JSON value."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        actions = body.get("actions") or []
        if not actions or not isinstance(actions[0], Mapping):
            raise BadRequest("a button click without an action")
        action = actions[0]
        self.action_id = str(action.get("action_id", ""))
        try:
            value = json.loads(str(action.get("value", "")))
        except ValueError as exc:
            raise BadRequest("this button carries no readable value") from exc
        if not isinstance(value, dict):
            raise BadRequest("this button carries no readable value")
        self.value: dict[str, Any] = value
        user = body.get("user") or {}
        self.user = str(user.get("id", "")) if isinstance(user, Mapping) else ""
        if not self.user:
            raise BadRequest("a button click without a user")

    @property
    def actor(self) -> Actor:
        """The clicker as the core names actors."""
        return slack_actor(self.user)

    def number(self, key: str) -> int:
        value = self.value.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise BadRequest(f"this button names no valid {key}")
        return value


async def _ack(deps: Deps, click: Click) -> str | None:
    await acknowledge(deps.store, click.number(INCIDENT), actor=click.actor, at=deps.clock.now())
    return None


async def _resolve(deps: Deps, click: Click) -> str | None:
    await resolve(
        deps.store,
        click.number(INCIDENT),
        actor=click.actor,
        at=deps.clock.now(),
        reason="resolved from the incident card",
    )
    return None


async def _request_action(deps: Deps, click: Click) -> str | None:
    index = click.value.get(SUGGESTION)
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise BadRequest("this button names no suggested action")
    result = await deps.remediator.request_suggested(
        click.number(INCIDENT), index, actor=click.actor
    )
    return suggested_text(result)


async def _approve(deps: Deps, click: Click) -> str | None:
    return approval_text(
        await deps.remediator.approve(click.number(ACTION_REQUEST), actor=click.actor)
    )


async def _deny(deps: Deps, click: Click) -> str | None:
    return denied_text(await deps.remediator.deny(click.number(ACTION_REQUEST), actor=click.actor))


async def _restore(deps: Deps, click: Click) -> str | None:
    result = await deps.remediator.restore(click.number(ACTION_REQUEST), actor=click.actor)
    return requested_text(result)


async def _unsilence(deps: Deps, click: Click) -> str | None:
    silenced = await silencer_of(deps).unsilence(click.number(INCIDENT), actor=click.actor)
    return unsilence_text(silenced)


async def _approve_silence(deps: Deps, click: Click) -> str | None:
    made = await silencer_of(deps).approve(
        click.number(INCIDENT), click.number(SILENCE_REQUEST), actor=click.actor
    )
    return silence_text(made)


async def _deny_silence(deps: Deps, click: Click) -> str | None:
    incident_id = click.number(INCIDENT)
    request = await silencer_of(deps).deny(
        incident_id, click.number(SILENCE_REQUEST), actor=click.actor
    )
    return silence_denied_text(incident_id, request)


# Keyed by Control, a StrEnum, so the action id a click carries looks its handler up as is.
BUTTONS: dict[str, Callable[[Deps, Click], Awaitable[str | None]]] = {
    Control.ACK: _ack,
    Control.RESOLVE: _resolve,
    Control.REQUEST_ACTION: _request_action,
    Control.APPROVE: _approve,
    Control.DENY: _deny,
    Control.RESTORE: _restore,
    Control.UNSILENCE: _unsilence,
    Control.APPROVE_SILENCE: _approve_silence,
    Control.DENY_SILENCE: _deny_silence,
}


async def run_button(deps: Deps, body: Mapping[str, Any]) -> str | None:
    click = Click(body)
    handler = BUTTONS.get(click.action_id)
    if handler is None:
        raise BadRequest(f"firebreak does not know the button {click.action_id!r}")
    return await handler(deps, click)
