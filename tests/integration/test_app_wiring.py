"""The composition root: one Slack client shared by everyone who talks to Slack, and every
background worker running while the app serves and stopped once it has shut down."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.app import EXECUTIONS, OUTBOX, PROCESSOR, REMEDIATOR, SLACK_WORK, SWEEPER, create_app
from bot.config import Settings
from bot.domain.outbox import SLACK
from bot.integrations.slack.directory import SlackDirectory, SlackUserGroups
from bot.integrations.slack.sender import SlackSender
from bot.policy.model import Policy
from handlers.slack.route import SLACK as SLACK_ENDPOINT

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[[web.Application], Awaitable[Client]]


def settings(sqlite_url: str) -> Settings:
    return Settings(
        database_url=sqlite_url,
        slack_bot_token="xoxb-test-0001",
        slack_signing_secret="signing-secret",
        slack_api_url="http://127.0.0.1:9/api/",
    )


async def test_sender_directory_and_bolt_share_one_slack_client(
    aiohttp_client: MakeClient, sqlite_url: str, policy: Policy
) -> None:
    client = await aiohttp_client(create_app(settings(sqlite_url), policy=policy))
    app = client.app
    sender = app[OUTBOX].senders[SLACK]
    directory = app[REMEDIATOR].ctx.directory
    assert isinstance(sender, SlackSender)
    assert isinstance(directory, SlackDirectory)
    assert isinstance(directory.groups, SlackUserGroups)
    assert sender.client is directory.groups.client
    assert sender.client is app[SLACK_ENDPOINT].bolt.client


async def test_workers_run_while_serving_and_stop_on_shutdown(
    aiohttp_client: MakeClient, sqlite_url: str, policy: Policy
) -> None:
    client = await aiohttp_client(create_app(settings(sqlite_url), policy=policy))
    app = client.app
    workers = [app[OUTBOX].worker, app[PROCESSOR].worker, app[SWEEPER]]
    assert [w.running for w in workers] == [True, True, True]
    await client.close()
    assert [w.running for w in workers] == [False, False, False]


async def test_one_off_tasks_stop_first_and_in_order_on_shutdown(
    aiohttp_client: MakeClient, sqlite_url: str, policy: Policy
) -> None:
    client = await aiohttp_client(create_app(settings(sqlite_url), policy=policy))
    app = client.app
    assert app[REMEDIATOR].executions is app[EXECUTIONS]
    seen: dict[str, dict[str, bool]] = {}

    async def cut_off(name: str) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            # What is still there when this task is cancelled.
            seen[name] = {
                "executions": not app[EXECUTIONS].stopped,
                "processor": app[PROCESSOR].worker.running,
                "outbox": app[OUTBOX].worker.running,
            }

    app[EXECUTIONS].spawn(cut_off("execution"), "execute action 1")
    app[SLACK_WORK].spawn(cut_off("slack"), "slack button")
    await asyncio.sleep(0)
    await client.close()
    # Slack's work may approve (start executions) and reads the inbox: it stops before both.
    assert seen["slack"] == {"executions": True, "processor": True, "outbox": True}
    # An execution reports progress through the outbox: it stops before the outbox does.
    assert seen["execution"] == {"executions": False, "processor": False, "outbox": True}
    assert app[EXECUTIONS].stopped
    assert app[SLACK_WORK].stopped
