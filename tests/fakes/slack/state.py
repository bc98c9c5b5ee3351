"""The fake Slack workspace: users, user groups, channels, messages, and the rules of each method.

Every operation raises ``SlackError(code)`` with the Web API error code Slack documents for that
case; the HTTP layer (``server``) turns it into ``{"ok": false, "error": code}``.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Sequence
from typing import Any

from tests.fakes.slack.blocks import BlocksError, parse_blocks
from tests.fakes.slack.models import Channel, Edit, Ephemeral, Message, User

CHANNEL_NAME_MAX = 80
TOPIC_MAX = 250
TEXT_MAX = 40_000
INVITE_MAX = 30
LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX = 100, 1000
_NAME_ALLOWED = re.compile(r"[a-z0-9_-]+")


class SlackError(Exception):
    """A Web API error answer (HTTP 200, ``ok: false``)."""

    def __init__(self, error: str, *, messages: list[str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []


class Workspace:
    """One Slack workspace as seen by one bot token."""

    def __init__(self, *, team_id: str = "T0FAKE0001", team: str = "Firebreak Test") -> None:
        self.team_id = team_id
        self.team = team
        self.bot_id = "B0FAKEBOT1"
        self.bot_user = User(id="U0FAKEBOT1", name="firebreak", is_bot=True)
        self.users: dict[str, User] = {self.bot_user.id: self.bot_user}
        self.usergroups: dict[str, list[str]] = {}
        self.channels: dict[str, Channel] = {}
        self.ephemerals: list[Ephemeral] = []
        self._channel_seq = 0
        self._last_ts_us = 0

    # -- seeding (tests) -------------------------------------------------------------------
    def add_user(self, user_id: str, name: str | None = None, *, deleted: bool = False) -> User:
        user = User(id=user_id, name=name or user_id.lower(), deleted=deleted)
        self.users[user_id] = user
        return user

    def add_usergroup(self, group_id: str, users: list[str]) -> None:
        self.usergroups[group_id] = list(users)

    def add_channel(
        self,
        name: str,
        *,
        members: Sequence[str] = (),
        is_private: bool = False,
        bot_member: bool = True,
    ) -> Channel:
        channel = self._new_channel(name, is_private=is_private, creator=next(iter(members), ""))
        channel.members.extend(members)
        if bot_member and self.bot_user.id not in channel.members:
            channel.members.append(self.bot_user.id)
        return channel

    def add_message(self, channel_id: str, user: str, text: str) -> Message:
        """A message someone else posted (the bot cannot update it)."""
        message = Message(ts=self.next_ts(), user=user, text=text, blocks=None)
        self.channels[channel_id].messages.append(message)
        return message

    # -- lookups -----------------------------------------------------------------------------
    def next_ts(self) -> str:
        """A message timestamp: wall-clock microseconds, strictly increasing in the workspace."""
        self._last_ts_us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
        seconds, micros = divmod(self._last_ts_us, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def channel_named(self, name: str) -> Channel | None:
        return next((c for c in self.channels.values() if c.name == name), None)

    def visible_channel(self, ref: object) -> Channel:
        """Resolve an id (or, where Slack allows it, ``#name``); private channels need membership."""
        if not isinstance(ref, str) or not ref:
            raise SlackError("channel_not_found")
        channel = self.channels.get(ref) or self.channel_named(ref.removeprefix("#"))
        if channel is None or (channel.is_private and self.bot_user.id not in channel.members):
            raise SlackError("channel_not_found")
        return channel

    def member_channel(self, ref: object) -> Channel:
        channel = self.visible_channel(ref)
        if self.bot_user.id not in channel.members:
            raise SlackError("not_in_channel")
        return channel

    def _new_channel(self, name: str, *, is_private: bool, creator: str) -> Channel:
        self._channel_seq += 1
        channel_id = f"C{self._channel_seq:08X}FK"
        channel = Channel(
            id=channel_id,
            name=name,
            is_private=is_private,
            creator=creator,
            created=int(time.time()),
        )
        self.channels[channel_id] = channel
        return channel

    # -- methods -----------------------------------------------------------------------------
    def create_channel(self, name: object, *, is_private: bool) -> Channel:
        if not isinstance(name, str) or not name:
            raise SlackError("invalid_name_required")
        if len(name) > CHANNEL_NAME_MAX:
            raise SlackError("invalid_name_maxlength")
        if not _NAME_ALLOWED.fullmatch(name):
            raise SlackError("invalid_name_specials")
        if not re.search(r"[a-z0-9]", name):
            raise SlackError("invalid_name_punctuation")
        if self.channel_named(name) is not None:
            raise SlackError("name_taken")
        channel = self._new_channel(name, is_private=is_private, creator=self.bot_user.id)
        channel.members.append(self.bot_user.id)
        return channel

    def set_topic(self, channel_ref: object, topic: object) -> Channel:
        channel = self.member_channel(channel_ref)
        text = topic if isinstance(topic, str) else ""
        if len(text) > TOPIC_MAX:
            raise SlackError("too_long")
        channel.topic, channel.topic_creator = text, self.bot_user.id
        channel.topic_last_set = int(time.time())
        return channel

    def invite(self, channel_ref: object, users: object) -> Channel:
        channel = self.member_channel(channel_ref)
        ids = [u.strip() for u in users.split(",") if u.strip()] if isinstance(users, str) else []
        if not ids:
            raise SlackError("no_user")
        if len(ids) > INVITE_MAX:
            raise SlackError("invalid_arguments")
        for user_id in ids:
            if user_id == self.bot_user.id:
                raise SlackError("cant_invite_self")
            user = self.users.get(user_id)
            if user is None or user.deleted:
                raise SlackError("user_not_found")
            if user_id in channel.members:
                raise SlackError("already_in_channel")
        channel.members.extend(dict.fromkeys(ids))
        return channel

    def join(self, channel_ref: object) -> tuple[Channel, bool]:
        """Join a public channel; the flag says whether the bot was already a member."""
        channel = self.visible_channel(channel_ref)
        if channel.is_private:
            raise SlackError("method_not_supported_for_channel_type")
        already = self.bot_user.id in channel.members
        if not already:
            channel.members.append(self.bot_user.id)
        return channel, already

    def _content(self, text: object, raw_blocks: object) -> tuple[str, list[dict[str, Any]] | None]:
        try:
            blocks = parse_blocks(raw_blocks)
        except BlocksError as exc:
            raise SlackError(exc.error, messages=[exc.message]) from exc
        body = text if isinstance(text, str) else ""
        if not body and not blocks:
            raise SlackError("no_text")
        if len(body) > TEXT_MAX:
            raise SlackError("msg_too_long")
        return body, blocks

    def post_message(
        self, channel_ref: object, text: object, blocks: object, thread_ts: object
    ) -> tuple[Channel, Message]:
        channel = self.member_channel(channel_ref)
        body, parsed = self._content(text, blocks)
        thread = thread_ts if isinstance(thread_ts, str) and thread_ts else None
        message = Message(
            ts=self.next_ts(), user=self.bot_user.id, text=body, blocks=parsed, thread_ts=thread
        )
        channel.messages.append(message)
        return channel, message

    def update_message(
        self, channel_ref: object, ts: object, text: object, blocks: object
    ) -> tuple[Channel, Message]:
        channel = self.visible_channel(channel_ref)
        message = channel.message(ts) if isinstance(ts, str) else None
        if message is None:
            raise SlackError("message_not_found")
        if message.user != self.bot_user.id:
            raise SlackError("cant_update_message")
        body, parsed = self._content(text, blocks)
        message.edits.append(Edit(text=message.text, blocks=message.blocks))
        message.text, message.blocks = body, parsed
        return channel, message

    def post_ephemeral(
        self, channel_ref: object, user_id: object, text: object, blocks: object, thread_ts: object
    ) -> Ephemeral:
        channel = self.member_channel(channel_ref)
        if not isinstance(user_id, str) or user_id not in self.users:
            raise SlackError("user_not_found")
        if user_id not in channel.members:
            raise SlackError("user_not_in_channel")
        body, parsed = self._content(text, blocks)
        thread = thread_ts if isinstance(thread_ts, str) and thread_ts else None
        ephemeral = Ephemeral(channel.id, user_id, body, parsed, thread, self.next_ts())
        self.ephemerals.append(ephemeral)
        return ephemeral

    def list_channels(
        self, types: object, cursor: object, limit: object
    ) -> tuple[list[Channel], str]:
        """One page of ``conversations.list`` and the cursor of the next ("" on the last).

        ``types`` takes ``public_channel`` (the default) and ``private_channel``; private
        channels show only to members. Cursors are opaque base64 strings, as on Slack.
        """
        wanted = (
            {t.strip() for t in (types or "public_channel").split(",")}
            if isinstance(types, str | None)
            else set()
        )
        try:
            size = LIST_LIMIT_DEFAULT if limit in (None, "") else int(str(limit))
        except ValueError:
            raise SlackError("invalid_limit") from None
        if not 1 <= size <= LIST_LIMIT_MAX:
            raise SlackError("invalid_limit")
        start = 0
        if isinstance(cursor, str) and cursor:
            try:
                start = int(base64.b64decode(cursor, validate=True).decode().removeprefix("next:"))
            except (binascii.Error, UnicodeDecodeError, ValueError):
                raise SlackError("invalid_cursor") from None
        visible = [
            c
            for c in self.channels.values()
            if ("private_channel" if c.is_private else "public_channel") in wanted
            and (not c.is_private or self.bot_user.id in c.members)
        ]
        page = visible[start : start + size]
        more = start + size < len(visible)
        next_cursor = base64.b64encode(f"next:{start + size}".encode()).decode() if more else ""
        return page, next_cursor

    def usergroup_users(self, group_id: object) -> list[str]:
        if not isinstance(group_id, str) or group_id not in self.usergroups:
            raise SlackError("no_such_subteam")
        return list(self.usergroups[group_id])

    def user_info(self, user_id: object) -> dict[str, Any]:
        user = self.users.get(user_id) if isinstance(user_id, str) else None
        if user is None:
            raise SlackError("user_not_found")
        return {
            "id": user.id,
            "team_id": self.team_id,
            "name": user.name,
            "real_name": user.name,
            "deleted": user.deleted,
            "is_bot": user.is_bot,
            "profile": {"real_name": user.name, "display_name": user.name},
        }
