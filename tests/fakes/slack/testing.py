"""Helpers for tests that drive the real slack_sdk against the fake Slack."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable

import pytest
from slack_sdk.errors import SlackApiError

from tests.fakes.slack.faults import Clock
from tests.fakes.slack.server import FakeSlack

TOKEN = "xoxb-test-0001"
ALICE, BOB, CAROL = "U0ALICE001", "U0BOB00001", "U0CAROL001"
ONCALL = "S0ONCALL01"


def seeded_fake(token: str = TOKEN, *, clock: Clock = time.monotonic) -> FakeSlack:
    """A fake with three people (alice, bob, carol) and the user group ``ONCALL`` = alice, bob."""
    fake = FakeSlack(token=token, clock=clock)
    for user_id, name in ((ALICE, "alice"), (BOB, "bob"), (CAROL, "carol")):
        fake.workspace.add_user(user_id, name)
    fake.workspace.add_usergroup(ONCALL, [ALICE, BOB])
    return fake


@dataclasses.dataclass(frozen=True, slots=True)
class Scene:
    """Channels in the states the error cases need."""

    incident: str
    outside: str
    foreign_ts: str
    card_ts: str


def build_scene(fake: FakeSlack) -> Scene:
    """``incident`` (bot and alice in it, a bot card and a message by alice), ``outside`` (no bot)."""
    incident = fake.workspace.add_channel("inc-errors", members=[ALICE])
    card = fake.workspace.post_message(incident.id, "card", None, None)[1]
    foreign = fake.workspace.add_message(incident.id, ALICE, "hi")
    outside = fake.workspace.add_channel("outside", bot_member=False)
    return Scene(incident.id, outside.id, foreign.ts, card.ts)


def snapshot(fake: FakeSlack) -> list[object]:
    """Everything a failed call must leave unchanged."""
    return [
        (c.name, c.topic, list(c.members), [(m.ts, m.text, m.blocks) for m in c.messages])
        for c in fake.workspace.channels.values()
    ] + [list(fake.workspace.ephemerals)]


async def slack_error(call: Awaitable[object]) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await call
    return info.value


async def error_code(call: Awaitable[object]) -> str:
    """The Web API error code of a call that must fail with HTTP 200."""
    error = await slack_error(call)
    assert error.response.status_code == 200
    return str(error.response["error"])
