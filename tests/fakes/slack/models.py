"""Records of the fake Slack workspace: users, channels, messages (with edit history)."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(slots=True)
class User:
    id: str
    name: str
    is_bot: bool = False
    deleted: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Edit:
    """A message's content before one ``chat.update``."""

    text: str
    blocks: list[dict[str, Any]] | None


@dataclasses.dataclass(slots=True)
class Message:
    ts: str
    user: str
    text: str
    blocks: list[dict[str, Any]] | None
    thread_ts: str | None = None
    edits: list[Edit] = dataclasses.field(default_factory=list)
    # Ids of the files a files.completeUploadExternal shared with this message.
    files: list[str] = dataclasses.field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "message",
            "user": self.user,
            "text": self.text,
            "ts": self.ts,
        }
        if self.blocks is not None:
            body["blocks"] = self.blocks
        if self.thread_ts is not None:
            body["thread_ts"] = self.thread_ts
        if self.files:
            body["files"] = [{"id": file_id} for file_id in self.files]
        return body


@dataclasses.dataclass(frozen=True, slots=True)
class Ephemeral:
    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]] | None
    thread_ts: str | None
    message_ts: str


@dataclasses.dataclass(slots=True)
class Channel:
    id: str
    name: str
    is_private: bool
    creator: str
    created: int
    topic: str = ""
    topic_creator: str = ""
    topic_last_set: int = 0
    members: list[str] = dataclasses.field(default_factory=list)
    messages: list[Message] = dataclasses.field(default_factory=list)

    def message(self, ts: str) -> Message | None:
        return next((m for m in self.messages if m.ts == ts), None)

    def top_level(self) -> list[Message]:
        return [m for m in self.messages if m.thread_ts is None or m.thread_ts == m.ts]

    def replies(self, thread_ts: str) -> list[Message]:
        return [m for m in self.messages if m.thread_ts == thread_ts and m.ts != thread_ts]

    def as_json(self, viewer: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": False,
            "is_general": False,
            "is_member": viewer in self.members,
            "created": self.created,
            "creator": self.creator,
            "topic": {
                "value": self.topic,
                "creator": self.topic_creator,
                "last_set": self.topic_last_set,
            },
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "previous_names": [],
            "num_members": len(self.members),
        }
