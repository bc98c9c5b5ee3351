"""Slack's file upload as the fake serves it, after Slack's method reference.

1. ``files.getUploadURLExternal`` (``filename``, ``length`` in bytes; ``alt_txt``,
   ``snippet_type``) answers ``upload_url`` and ``file_id``. The URL is on the fake's own
   server (``/upload/v1/<ticket>``), as Slack's is on ``files.slack.com``.
2. A POST of the bytes to that URL, raw or multipart-encoded, answers HTTP 200 with
   ``OK - <length>``; anything else is a failure (non-200), as Slack documents. The fake
   also refuses a body whose size is not the length announced in step 1 (400), and a second
   upload to the same URL (410): Slack reserves the length in step 1.
3. ``files.completeUploadExternal`` (``files``: a JSON array of ``{"id", "title"}``;
   ``channel_id`` or ``channels``; ``initial_comment``, ``thread_ts``) shares the files
   into the channel as one message. Slack says it "can only be called once" and that an
   upload never completed is discarded: a file id the fake never handed out, whose bytes
   never arrived, or that was completed already is ``file_not_found``; ``files`` missing or
   malformed is ``invalid_arguments``.

A file never completed stays out of every channel; tests read what was shared with
``shared_in`` and every file with ``files``.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tests.fakes.slack.faults import Clock, FaultPlan, RequestLog
from tests.fakes.slack.models import Message
from tests.fakes.slack.state import TEXT_MAX, SlackError, Workspace

ALT_TXT_MAX = 1000
SNIPPET_TYPES = frozenset({"text", "markdown", "python", "json", "yaml", "diff", "shell"})
SNIPPET_MAX = 1024 * 1024
UPLOAD_PATH = "/upload/v1/"


@dataclasses.dataclass(slots=True)
class StoredFile:
    """One file from ``files.getUploadURLExternal`` on: ``data`` once uploaded, ``channel``
    and ``message_ts`` once completed into a channel."""

    id: str
    filename: str
    length: int
    ticket: str
    alt_txt: str = ""
    snippet_type: str = ""
    data: bytes | None = None
    title: str = ""
    completed: bool = False
    channel: str | None = None
    message_ts: str | None = None

    @property
    def text(self) -> str:
        """The uploaded bytes as UTF-8 text."""
        assert self.data is not None, f"{self.id} was never uploaded"
        return self.data.decode("utf-8")

    def as_json(self, user: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "created": int(time.time()),
            "name": self.filename,
            "title": self.title or self.filename,
            "size": self.length,
            "user": user,
            "mode": "hosted",
            "is_external": False,
            # Slack shares asynchronously: the answer to the completion lists no shares yet.
            "channels": [],
            "shares": {},
        }


class FileStore:
    """The workspace's files, keyed by id, and the upload tickets that lead to them."""

    def __init__(self) -> None:
        self.files: dict[str, StoredFile] = {}
        self._by_ticket: dict[str, str] = {}
        self._seq = 0
        # Where upload URLs point: the fake's own origin unless a test says otherwise.
        self.upload_origin: str | None = None

    def shared_in(self, channel_id: str) -> list[StoredFile]:
        """The files completed into ``channel_id``, in the order they were shared."""
        return [f for f in self.files.values() if f.completed and f.channel == channel_id]

    # -- step 1 ----------------------------------------------------------------------------
    def start(self, args: dict[str, Any], origin: str) -> dict[str, Any]:
        filename = args.get("filename")
        if not isinstance(filename, str) or not filename:
            raise SlackError("invalid_arguments")
        length = _length(args.get("length"))
        alt_txt = args.get("alt_txt") or ""
        if not isinstance(alt_txt, str):
            raise SlackError("invalid_arguments")
        if len(alt_txt) > ALT_TXT_MAX:
            raise SlackError("alt_txt_too_large")
        snippet_type = args.get("snippet_type") or ""
        if snippet_type and snippet_type not in SNIPPET_TYPES:
            raise SlackError("unknown_snippet_type")
        if snippet_type and length > SNIPPET_MAX:
            raise SlackError("snippet_too_large")
        self._seq += 1
        file_id = f"F{self._seq:08X}FK"
        ticket = secrets.token_urlsafe(24)
        self.files[file_id] = StoredFile(
            file_id, filename, length, ticket, alt_txt=alt_txt, snippet_type=snippet_type
        )
        self._by_ticket[ticket] = file_id
        base = (self.upload_origin or origin).rstrip("/")
        return {"upload_url": f"{base}{UPLOAD_PATH}{ticket}", "file_id": file_id}

    # -- step 2 ----------------------------------------------------------------------------
    def receive(self, ticket: str, body: bytes) -> tuple[int, str]:
        """The upload URL's answer (status, text) to ``body``."""
        file_id = self._by_ticket.get(ticket)
        if file_id is None:
            return 404, "unknown upload"
        stored = self.files[file_id]
        if stored.data is not None:
            return 410, "already uploaded"
        if len(body) != stored.length:
            return 400, f"expected {stored.length} bytes, got {len(body)}"
        stored.data = body
        return 200, f"OK - {len(body)}"

    # -- step 3 ----------------------------------------------------------------------------
    def complete(self, workspace: Workspace, args: dict[str, Any]) -> dict[str, Any]:
        wanted = _files_argument(args.get("files"))
        channel_ids = _channels(args)
        if len(channel_ids) > 1 and args.get("thread_ts"):
            raise SlackError("invalid_arguments")
        channels = [workspace.member_channel(c) for c in channel_ids]
        comment = args.get("initial_comment") or ""
        if not isinstance(comment, str) or len(comment) > TEXT_MAX:
            raise SlackError("msg_too_long" if isinstance(comment, str) else "invalid_arguments")
        found: list[StoredFile] = []
        for item in wanted:
            stored = self.files.get(item["id"])
            if stored is None or stored.data is None or stored.completed:
                raise SlackError("file_not_found")
            found.append(stored)
        thread = args.get("thread_ts") if isinstance(args.get("thread_ts"), str) else None
        for stored, item in zip(found, wanted, strict=True):
            stored.completed = True
            stored.title = str(item.get("title") or stored.filename)
        for channel in channels:
            message = Message(
                ts=workspace.next_ts(),
                user=workspace.bot_user.id,
                text=comment,
                blocks=None,
                thread_ts=thread or None,
                files=[f.id for f in found],
            )
            channel.messages.append(message)
            for stored in found:
                stored.channel, stored.message_ts = channel.id, message.ts
        return {"files": [f.as_json(workspace.bot_user.id) for f in found]}


def _length(value: object) -> int:
    if isinstance(value, bool):
        raise SlackError("invalid_arguments")
    try:
        length = int(str(value))
    except ValueError:
        raise SlackError("invalid_arguments") from None
    if length == 0:
        raise SlackError("missing_argument")
    if length < 0:
        raise SlackError("invalid_arguments")
    return length


def _files_argument(raw: object) -> list[dict[str, Any]]:
    """``files`` as slack_sdk sends it (a JSON string) or as a JSON body holds it (a list)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise SlackError("invalid_arguments") from None
    if not isinstance(raw, list) or not raw:
        raise SlackError("invalid_arguments")
    items: list[dict[str, Any]] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise SlackError("invalid_arguments")
        items.append(item)
    return items


def _channels(args: dict[str, Any]) -> list[str]:
    channel_id = args.get("channel_id")
    channels = args.get("channels")
    ids = [channel_id] if isinstance(channel_id, str) and channel_id else []
    if isinstance(channels, str):
        ids += [c.strip() for c in channels.split(",") if c.strip()]
    if len(ids) > 100:
        raise SlackError("channels_limit_exceeded")
    return list(dict.fromkeys(ids))


def upload_route(
    files: FileStore, log: RequestLog, faults: FaultPlan, clock: Clock
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The handler of the upload URLs: the bytes raw, or the first file of a multipart
    form; each request logged as method ``upload``, with ``faults.fail("upload")`` honoured."""

    async def upload(request: web.Request) -> web.Response:
        ticket = request.match_info["ticket"]
        record = log.add(
            method="upload",
            args={"ticket": ticket},
            received_at=clock(),
            http_method=request.method,
            content_type=request.content_type,
        )
        fault = faults.method_fault("upload")
        if fault is not None:
            record.status, record.error = fault.status, fault.error
            return web.Response(status=fault.status, text=fault.error)
        if request.content_type == "multipart/form-data":
            form = await request.post()
            parts = [v for v in form.values() if isinstance(v, web.FileField)]
            body = parts[0].file.read() if parts else b""
        else:
            body = await request.read()
        record.args["bytes"] = len(body)
        status, text = files.receive(ticket, body)
        record.status, record.error = status, None if status == 200 else text
        return web.Response(status=status, text=text)

    return upload
