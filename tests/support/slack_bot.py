"""The real bot app wired to the fake Slack, and signed requests "from Slack" to drive it."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp
from aiohttp import ClientResponse

from bot.app import create_app
from bot.clock import Clock
from bot.config import Settings
from bot.policy.model import Policy
from tests.fakes.slack.models import Channel, Message
from tests.fakes.slack.server import FakeSlack, run_fake_slack
from tests.fakes.slack.testing import ALICE, ONCALL, TOKEN, seeded_fake
from tests.support.bot_app import (
    AM_AUTH,
    AM_TOKEN,
    API_AUTH,
    API_TOKEN,
    Client,
    MakeClient,
    process_inbox,
)

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
T = TypeVar("T")


def sign(
    body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """Slack's v0 request signature headers for ``body``."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest.hexdigest()}"}


def block_actions_body(
    action_id: str, value: dict[str, Any], *, user: str, channel: str, response_url: str
) -> str:
    """The form body Slack posts when someone clicks a button (``block_actions``)."""
    payload = {
        "type": "block_actions",
        "team": {"id": "T0FAKE0001"},
        "user": {"id": user},
        "api_app_id": "A0FIREBREAK",
        "channel": {"id": channel},
        "container": {"type": "message"},
        "trigger_id": "1.2.3",
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "firebreak.incident",
                "value": json.dumps(value),
                "action_ts": str(time.time()),
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


async def post_slash_command(
    http: aiohttp.ClientSession,
    base_url: str,
    text: str,
    *,
    secret: str,
    slack_url: str,
    user: str = ALICE,
    channel: str = "C0ANY",
) -> None:
    """Post ``/incident text``, signed with ``secret``, to a running bot at ``base_url`` as
    Slack would (its answers go to the fake Slack at ``slack_url``); it must be taken (200)."""
    body = slash_command_body(
        text,
        user=user,
        channel=channel,
        response_url=slack_url.removesuffix("/api/") + "/hooks/cmd",
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body, secret=secret)}
    async with http.post(base_url + "/slack/events", data=body, headers=headers) as response:
        assert response.status == 200, await response.text()


def slash_command_body(text: str, *, user: str, channel: str, response_url: str) -> str:
    """The form body Slack posts for ``/incident text`` typed by ``user`` in ``channel``."""
    form = {
        "token": "legacy",
        "team_id": "T0FAKE0001",
        "channel_id": channel,
        "user_id": user,
        "command": "/incident",
        "text": text,
        "response_url": response_url,
        "trigger_id": "1.2.3",
    }
    return urlencode(form)


def buttons(message: Message) -> dict[str, dict[str, Any]]:
    """Each button of a posted message: its label → its action id and parsed value."""
    found = {}
    for block in message.blocks or []:
        for element in block.get("elements", []):
            if element.get("type") == "button":
                found[element["text"]["text"]] = {
                    "action_id": element["action_id"],
                    "value": json.loads(element["value"]),
                }
    return found


@dataclass
class SlackBot:
    client: Client
    fake: FakeSlack
    triage: Channel
    hooks: str  # base of response_url hooks on the fake

    async def post_signed(
        self, body: str, content_type: str, *, extra: dict[str, str] | None = None, **sig: Any
    ) -> ClientResponse:
        headers = {"Content-Type": content_type, **sign(body, **sig), **(extra or {})}
        return await self.client.post(
            "/slack/events", data=io.BytesIO(body.encode()), headers=headers
        )

    async def command(
        self, text: str, *, user: str = ALICE, channel: str = "C0ELSEWHERE", **sig: Any
    ) -> ClientResponse:
        body = slash_command_body(
            text, user=user, channel=channel, response_url=f"{self.hooks}/cmd-{user}"
        )
        return await self.post_signed(body, "application/x-www-form-urlencoded", **sig)

    async def reply(self, text: str, **kwargs: Any) -> str:
        """The ephemeral text a command answered with (inline in the ack)."""
        resp = await self.command(text, **kwargs)
        assert resp.status == 200, await resp.text()
        return str((await resp.json())["text"])

    async def click(
        self, action_id: str, value: dict[str, Any], *, user: str = ALICE, channel: str = ""
    ) -> ClientResponse:
        body = block_actions_body(
            action_id,
            value,
            user=user,
            channel=channel or self.triage.id,
            response_url=f"{self.hooks}/click-{user}",
        )
        return await self.post_signed(body, "application/x-www-form-urlencoded")

    async def event(
        self, event: dict[str, Any], *, event_id: str, retry: int | None = None
    ) -> ClientResponse:
        body = json.dumps(
            {
                "token": "legacy",
                "team_id": "T0FAKE0001",
                "api_app_id": "A0FIREBREAK",
                "type": "event_callback",
                "event_id": event_id,
                "event_time": int(time.time()),
                "event": event,
            }
        )
        extra = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.post_signed(body, "application/json", extra=extra if retry else None)

    async def alertmanager(self, payload: dict[str, Any]) -> None:
        """Deliver as Alertmanager does, then let the app's inbox process it: the incident,
        its timeline and the outbox rows for Slack exist when this returns."""
        resp = await self.client.post(
            "/webhooks/alertmanager", data=json.dumps(payload).encode(), headers=AM_AUTH
        )
        assert resp.status == 202, await resp.text()
        assert (await resp.json())["status"] == "accepted"
        await process_inbox(self.client.app)

    async def incident(self, incident_id: int) -> dict[str, Any]:
        resp = await self.client.get(f"/api/incidents/{incident_id}", headers=API_AUTH)
        assert resp.status == 200
        body: dict[str, Any] = await resp.json()
        return body

    def incident_channels(self) -> list[Channel]:
        return [c for c in self.fake.workspace.channels.values() if c.name.startswith("inc-")]

    def channel_card(self, channel: Channel) -> Message:
        # Top-level messages with blocks, but not the escalation's mentions beside the card.
        cards = [
            m
            for m in channel.messages
            if m.thread_ts is None and m.blocks and not (m.text or "").startswith("<")
        ]
        assert len(cards) == 1, [m.text for m in channel.messages]
        return cards[0]


async def eventually(check: Callable[[], T | None], *, timeout: float = 15.0) -> T:
    """Poll ``check`` until it returns something truthy (the outbox worker runs in the app)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except (AssertionError, KeyError, IndexError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            last = check()  # raises the check's own assertion if it has one
            assert last, f"not true within {timeout} s"
            return last
        await asyncio.sleep(0.05)


def slack_bot_settings(
    database_url: str, slack_api_url: str, triage_channel: str, **extra: Any
) -> Settings:
    """The bot's settings against a fake Slack at ``slack_api_url``, with the test tokens."""
    return Settings(
        database_url=database_url,
        alertmanager_token=AM_TOKEN,
        api_token=API_TOKEN,
        slack_bot_token=TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack_api_url,
        slack_triage_channel=triage_channel,
        **extra,
    )


@asynccontextmanager
async def slack_bot(
    aiohttp_client: MakeClient,
    database_url: str,
    policy: Policy,
    *,
    clock: Clock | None = None,
    **settings_extra: Any,
) -> AsyncIterator[SlackBot]:
    fake = seeded_fake()
    triage = fake.workspace.add_channel("incident-triage")
    async with run_fake_slack(fake) as base_url:
        settings = slack_bot_settings(database_url, base_url, triage.id, **settings_extra)
        with_responders = replace(policy, responders={"lnn-service": (ALICE, ONCALL)})
        client = await aiohttp_client(create_app(settings, policy=with_responders, clock=clock))
        hooks = base_url.removesuffix("/api/") + "/hooks"
        try:
            yield SlackBot(client=client, fake=fake, triage=triage, hooks=hooks)
        finally:
            await client.close()
