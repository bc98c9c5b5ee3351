"""The Bolt app: one listener per kind of Slack request, each acknowledging within Slack's
3 seconds. Work that can finish inside a shorter budget answers in the acknowledgement itself
(an ephemeral reply); anything slower acknowledges first and answers through ``respond``.

Bolt runs each listener in a task of its own that nobody awaits once the acknowledgement is
sent, so whatever a listener does after it runs in the app's ``TaskSet`` instead: named, its
failures logged, and cancelled on shutdown before the store and the remediator it uses."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.workers import TaskSet
from handlers.deps import DEPS, Deps
from handlers.errors import slack_reply_for
from handlers.slack.buttons import run_button
from handlers.slack.command.dispatch import CommandContext, run_command
from handlers.slack.events import on_member_joined

log = logging.getLogger(__name__)

# Slack shows an error after 3 s; answering inside the ack is nicer for the person typing,
# so fast commands try that first and keep the rest of the budget for the network.
INLINE_BUDGET_SECONDS = 2.0


async def _reply_in_time(
    tasks: TaskSet, work: Awaitable[str], ack: AsyncAck, respond: AsyncRespond
) -> None:
    task = tasks.spawn(_safely(work), "slack command")
    try:
        text = await asyncio.wait_for(asyncio.shield(task), INLINE_BUDGET_SECONDS)
    except TimeoutError:
        await ack(text=":hourglass_flowing_sand: Working on it…", response_type="ephemeral")
        tasks.spawn(_answer_late(task, respond), "slack command reply")
        return
    await ack(text=text or "Done.", response_type="ephemeral")


async def _answer_late(work: Awaitable[str | None], respond: AsyncRespond) -> None:
    late = await work
    await respond(text=late or "Done.", response_type="ephemeral", replace_original=False)


async def _answer(work: Awaitable[str | None], respond: AsyncRespond) -> None:
    reply = await _safely(work)
    if reply:
        await respond(text=reply, response_type="ephemeral", replace_original=False)


async def _safely(work: Awaitable[str | None]) -> str | None:
    try:
        return await work
    except Exception as exc:  # every failure becomes a reply; the listener must not die silently
        return slack_reply_for(exc)


def build_bolt_app(
    app: web.Application,
    *,
    signing_secret: str,
    client: AsyncWebClient,
    bot_token: str | None,
    tasks: TaskSet,
) -> AsyncApp:
    """The Bolt app. Requests reach it through ``handlers.slack.route``, which verifies them
    with the same ``signing_secret`` (5-minute window) first. The work after an
    acknowledgement runs in ``tasks``, which the composition root stops."""

    def deps() -> Deps:
        return app[DEPS]

    async def authorize(**_: Any) -> AuthorizeResult:
        # A single-workspace bot: no auth.test round trip on the ack path, and commands still
        # answer (inside the ack) when no bot token is configured.
        return AuthorizeResult(enterprise_id=None, team_id=None, bot_token=bot_token)

    bolt = AsyncApp(
        signing_secret=signing_secret,
        client=client,
        authorize=authorize,
        ignoring_self_events_enabled=False,
        raise_error_for_unhandled_request=False,
        # handlers.slack.route verifies every request before Bolt sees it; Bolt's own check
        # would log the body of any request it refused.
        request_verification_enabled=False,
    )

    @bolt.command("/incident")
    async def incident_command(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond
    ) -> None:
        ctx = CommandContext(
            user=str(command.get("user_id", "")),
            channel=str(command.get("channel_id", "")),
        )
        work = run_command(deps(), str(command.get("text", "")), ctx)
        await _reply_in_time(tasks, work, ack, respond)

    @bolt.action(re.compile(r"^firebreak\."))
    async def button(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        tasks.spawn(_answer(run_button(deps(), body), respond), "slack button")

    @bolt.event("member_joined_channel")
    async def member_joined(body: dict[str, Any]) -> None:
        tasks.spawn(_log_failure(on_member_joined(deps(), body)), "slack member_joined_channel")

    return bolt


async def _log_failure(work: Awaitable[None]) -> None:
    try:
        await work
    except Exception:
        # Bolt has already answered 200; Slack would retry on a non-2xx only. A failure to
        # record is logged, and the event's id stays unrecorded so a Slack retry may succeed.
        log.exception("could not process a Slack event")


Listener = Callable[..., Awaitable[None]]
