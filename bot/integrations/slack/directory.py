"""Who a Slack approver list admits. Lists name Slack user ids (``U…``/``W…``) and user-group
ids (``S…``); groups are read with ``usergroups.users.list`` at click time. This is the one
place that knows what those ids look like; the approval rule in the core only asks."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.actor import SLACK, Actor
from bot.errors import StorageUnavailable

log = logging.getLogger(__name__)


def is_group_entry(entry: str) -> bool:
    """A user-group id (``S…``) in an approver list, as opposed to a user id."""
    return entry.startswith("S")


class GroupMembers(Protocol):
    """Who belongs to a Slack user group."""

    async def group_members(self, group_id: str) -> frozenset[str]:
        """The user ids (``U…``/``W…``) in the group; empty for an unknown group."""
        ...


class SlackUserGroups:
    """``GroupMembers`` over the Slack Web API. Without a token every group is empty, so
    group-listed approvers are denied (deny by default) rather than guessed."""

    def __init__(self, client: AsyncWebClient | None) -> None:
        self._client = client

    @property
    def client(self) -> AsyncWebClient | None:
        return self._client

    async def group_members(self, group_id: str) -> frozenset[str]:
        if self._client is None:
            return frozenset()
        try:
            answer = await self._client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            if exc.response.get("error") in ("no_such_subteam", "subteam_not_found"):
                return frozenset()
            # Unknown membership is not "no members": the click is refused as retryable.
            raise StorageUnavailable(f"could not read Slack user group {group_id}") from exc
        except OSError as exc:
            raise StorageUnavailable(f"could not reach Slack for group {group_id}") from exc
        return frozenset(str(user) for user in answer.get("users") or [])


class SlackDirectory:
    """The ``Directory`` port for Slack: only Slack users are admitted, by their user id
    or through a user group listed by its id."""

    def __init__(self, groups: GroupMembers) -> None:
        self._groups = groups

    @classmethod
    def over_api(cls, client: AsyncWebClient | None) -> SlackDirectory:
        return cls(SlackUserGroups(client))

    @property
    def groups(self) -> GroupMembers:
        return self._groups

    async def admits(self, actor: Actor, entries: Sequence[str]) -> bool:
        if actor.source != SLACK or not actor.id:
            return False
        if actor.id in entries:
            return True
        for entry in entries:
            if is_group_entry(entry) and actor.id in await self._groups.group_members(entry):
                return True
        return False
