"""Slack user groups for approver checks: ``usergroups.users.list`` read at click time."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import StorageUnavailable

log = logging.getLogger(__name__)


class SlackDirectory:
    """The ``Directory`` port over the Slack Web API. Without a token every group is empty,
    so group-listed approvers are denied (deny by default) rather than guessed."""

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
