"""Actors: stored ``source:id`` strings, old and new, read back to the same actor; only the
Slack adapter knows what Slack ids mean."""

from __future__ import annotations

import pytest

from bot.domain.actor import BOT, Actor
from bot.integrations.slack.directory import SlackDirectory
from handlers.slack.actor import slack_actor
from tests.fakes.slack.directory import FakeDirectory
from tests.support.actions import CAROL, ONCALL


@pytest.mark.parametrize(
    ("stored", "actor"),
    [
        ("slack:U123", Actor("slack", "U123")),
        ("system:alertmanager", Actor("system", "alertmanager")),
        ("bot:firebreak", BOT),
        ("bot", Actor("bot", "")),
    ],
)
def test_stored_actor_strings_read_back(stored: str, actor: Actor) -> None:
    assert Actor.parse(stored) == actor
    assert str(Actor.parse(stored)) == stored


def test_actors_are_the_same_whatever_their_display_names() -> None:
    assert slack_actor("U123", "Alice") == slack_actor("U123", "Al") == slack_actor("U123")
    assert len({slack_actor("U123", "Alice"), slack_actor("U123")}) == 1
    assert slack_actor("U123") != Actor("system", "U123")


def test_the_display_name_is_never_stored() -> None:
    assert str(slack_actor("U123", "Alice")) == "slack:U123"
    assert Actor.parse(str(slack_actor("U123", "Alice"))) == slack_actor("U123")


async def test_the_slack_directory_admits_slack_users_and_group_members_only() -> None:
    groups = FakeDirectory()
    directory = SlackDirectory(groups)
    assert await directory.admits(slack_actor(CAROL), (ONCALL,))
    assert await directory.admits(slack_actor("U9"), ("U9",))
    assert not await directory.admits(slack_actor("U9"), (ONCALL, "U8"))
    # Another source never matches, even with an id that looks like a listed one.
    assert not await directory.admits(Actor("system", "U9"), ("U9",))
    assert not await directory.admits(slack_actor(""), ("",))
    # Only S… entries are looked up as groups: a user id is never sent to usergroups.
    lookups = groups.lookups
    assert not await directory.admits(slack_actor("U9"), ("U7", "W8"))
    assert groups.lookups == lookups
