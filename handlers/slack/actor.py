"""Slack users as actors: the one place a Slack user id becomes the core's ``Actor``."""

from __future__ import annotations

from bot.domain.actor import SLACK, Actor


def slack_actor(user_id: str, display: str | None = None) -> Actor:
    """The actor for a Slack user id (``U…``/``W…``), as timeline entries name it."""
    return Actor(SLACK, user_id, display)
