"""The outbox's sender for target ``slack``: one Slack Web API call, and what its answer
means for the row (``bot.ports.Sender``).

The real ``slack_sdk`` client is used with its retry handlers switched off: retrying is the
outbox's job (it persists the schedule, so a restart keeps it), and slack_sdk 3.47's async
rate-limit handler misreads ``Retry-After`` (it reads only the header's first character).

Answers are sorted into four outcomes:

* ``SENT`` - Slack confirmed; includes the idempotent cases (``name_taken`` on
  ``conversations.create`` when the channel can be found, ``already_in_channel`` and
  ``cant_invite_self`` on ``conversations.invite``). A file (``files.uploadV2``) is sent
  when its completion shared it (``bot.integrations.slack.files``).
* ``RATE_LIMITED`` - HTTP 429: the method waits ``Retry-After`` seconds.
* ``RETRY`` - connection errors, timeouts, HTTP 5xx and Slack's own transient errors.
* ``FAILED`` - any other Slack error: sending again would fail again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock
from bot.domain.incident import JSON
from bot.domain.outbox import (
    OutboundCall,
    Outcome,
    Pace,
    SendResult,
    lookup,
    parse_retry_after,
)
from bot.integrations.slack.files import (
    COMPLETE_UPLOAD,
    GET_UPLOAD_URL,
    UPLOAD,
    UploadFailed,
    allowed_upload_url,
    post_bytes,
    read_upload,
)
from bot.integrations.slack.pacing import slack_pace

log = logging.getLogger("firebreak.outbox")

TIMEOUT_S = 30
LIST_PAGE_SIZE = 1000
LIST_MAX_PAGES = 20
TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
BENIGN_INVITE_ERRORS = frozenset({"already_in_channel", "cant_invite_self"})
_METHOD_NAME = re.compile(r"[a-z]+(\.[a-zA-Z]+)+")


def make_client(token: str, base_url: str, *, timeout: int = TIMEOUT_S) -> AsyncWebClient:
    """A slack_sdk client that never retries on its own."""
    return AsyncWebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=[])


class _CallFailed(Exception):
    """A Slack call that did not answer ``ok``, tagged with the method that was called."""

    def __init__(self, method: str, error: SlackApiError) -> None:
        super().__init__(method)
        self.method = method
        self.error = error


def _header(headers: object, name: str) -> str | None:
    if isinstance(headers, Mapping):
        for key, value in headers.items():
            if str(key).lower() == name.lower():
                return str(value)
    return None


class SlackSender:
    """Sends outbox calls with the real slack_sdk client."""

    configured = True

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        clock: Clock,
        pacing: Callable[[str, JSON], Pace | None] | None = slack_pace,
    ) -> None:
        self._client = client
        self._clock = clock
        # ``None``: unpaced (tests about other things on a clock that does not move).
        self._pacing = pacing

    @property
    def client(self) -> AsyncWebClient:
        return self._client

    async def send(self, method: str, args: JSON) -> SendResult:
        try:
            if method == "conversations.create":
                answer = await self._create(args)
            elif method == "conversations.invite":
                answer = await self._invite(args)
            elif method == UPLOAD:
                answer = await self._upload(args)
            else:
                answer = await self._api(method, args)
        except _CallFailed as failed:
            return self._classify(failed.method, failed.error)
        except UploadFailed as failed:
            return SendResult(failed.outcome, method, error=failed.error)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return SendResult(Outcome.RETRY, method, error=f"connection: {exc!r}")
        return SendResult(Outcome.SENT, method, answer=answer, kept=summarize(answer))

    def skip(self, call: OutboundCall) -> str:
        return ""  # configured: the worker never skips a Slack call

    def pace(self, method: str, args: JSON) -> Pace | None:
        """Slack's rate tier for the call (``bot.integrations.slack.pacing``)."""
        return None if self._pacing is None else self._pacing(method, args)

    async def _api(self, method: str, args: JSON) -> JSON:
        """Call through slack_sdk's typed method when there is one (its encoding rules),
        else through ``api_call`` with a JSON body."""
        typed = getattr(self._client, method.replace(".", "_"), None)
        try:
            if _METHOD_NAME.fullmatch(method) and callable(typed):
                response = await typed(**args)
            else:
                response = await self._client.api_call(method, json=args)
        except SlackApiError as exc:
            raise _CallFailed(method, exc) from exc
        return dict(response.data) if isinstance(response.data, dict) else {}

    async def _create(self, args: JSON) -> JSON:
        try:
            return await self._api("conversations.create", args)
        except _CallFailed as failed:
            if _error_code(failed.error) != "name_taken":
                raise
            # A first attempt that reached Slack but whose answer was lost created it; or a
            # person did. Either way the incident's channel is the one with that name.
            existing = await self._find_channel(str(args.get("name", "")))
            if existing is None:
                raise
        if not existing.get("is_member") and not existing.get("is_private"):
            await self._api("conversations.join", {"channel": existing["id"]})
        return {"ok": True, "channel": existing, "warning": "name_taken"}

    async def _find_channel(self, name: str) -> JSON | None:
        cursor = ""
        for _ in range(LIST_MAX_PAGES):
            page = await self._api(
                "conversations.list",
                {
                    "types": "public_channel,private_channel",
                    "exclude_archived": True,
                    "limit": LIST_PAGE_SIZE,
                    "cursor": cursor,
                },
            )
            for channel in page.get("channels", []):
                if isinstance(channel, dict) and channel.get("name") == name:
                    return channel
            metadata = page.get("response_metadata") or {}
            cursor = str(metadata.get("next_cursor") or "")
            if not cursor:
                return None
        log.warning(
            "conversations.list: gave up looking for #%s after %d pages", name, LIST_MAX_PAGES
        )
        return None

    async def _expand_groups(self, args: JSON) -> JSON:
        """Responders may be user groups (``S…``); Slack invites users only, so a group is
        read at send time (its members then, not when the incident opened)."""
        users = args.get("users")
        ids = users.split(",") if isinstance(users, str) else [str(u) for u in users or []]
        expanded: list[str] = []
        for ident in (i.strip() for i in ids):
            if ident.startswith("S"):
                answer = await self._api("usergroups.users.list", {"usergroup": ident})
                expanded += [str(u) for u in answer.get("users") or []]
            elif ident:
                expanded.append(ident)
        return {**args, "users": ",".join(dict.fromkeys(expanded))}

    async def _invite(self, args: JSON) -> JSON:
        args = await self._expand_groups(args)
        try:
            return await self._api("conversations.invite", args)
        except _CallFailed as failed:
            if _error_code(failed.error) not in BENIGN_INVITE_ERRORS:
                raise
        users = args.get("users")
        ids = users.split(",") if isinstance(users, str) else list(users or [])
        ids = [str(u).strip() for u in ids if str(u).strip()]
        if len(ids) > 1:
            # Slack refuses the whole list for one member already present: invite one by one
            # so the others still get in. A retry of this row takes the same path.
            for user in ids:
                try:
                    await self._api("conversations.invite", {**args, "users": user})
                except _CallFailed as failed:
                    if _error_code(failed.error) not in BENIGN_INVITE_ERRORS:
                        raise
        return {"ok": True, "channel": {"id": args.get("channel")}, "warning": "already_in_channel"}

    async def _upload(self, args: JSON) -> JSON:
        """The three steps of a file, each attempt from the start (a fresh upload URL): an
        upload Slack never saw completed is discarded, so only the completion shares."""
        upload = read_upload(args)
        wanted: JSON = {"filename": upload.filename, "length": len(upload.data)}
        if upload.alt_txt:
            wanted["alt_txt"] = upload.alt_txt
        if upload.snippet_type:
            wanted["snippet_type"] = upload.snippet_type
        started = await self._api(GET_UPLOAD_URL, wanted)
        url, file_id = started.get("upload_url"), started.get("file_id")
        if not isinstance(url, str) or not isinstance(file_id, str) or not file_id:
            raise UploadFailed(Outcome.RETRY, f"{GET_UPLOAD_URL} answered no upload_url")
        if not allowed_upload_url(url, self._client.base_url):
            log.error("outbox: refused to upload %s to %s", upload.filename, url)
            raise UploadFailed(Outcome.FAILED, "upload_url_refused")
        await post_bytes(
            url,
            upload.data,
            seconds=self._client.timeout,
            tls=self._client.ssl,
            proxy=self._client.proxy,
        )
        share: JSON = {
            "files": [{"id": file_id, "title": upload.title or upload.filename}],
            "channel_id": upload.channel_id,
        }
        if upload.initial_comment:
            share["initial_comment"] = upload.initial_comment
        try:
            await self._api(COMPLETE_UPLOAD, share)
        except _CallFailed as failed:
            if _error_code(failed.error) == "file_not_found":
                # This attempt's upload is gone; the next one uploads afresh.
                raise UploadFailed(Outcome.RETRY, "file_not_found") from failed
            raise
        return {"ok": True, "channel": upload.channel_id, "file": file_id}

    def _classify(self, method: str, error: SlackApiError) -> SendResult:
        response = error.response
        status = getattr(response, "status_code", None) or getattr(response, "status", 0)
        code = _error_code(error)
        if status == 429 or code == "ratelimited":
            header = _header(getattr(response, "headers", None), "Retry-After")
            wait = parse_retry_after(header, now=self._clock.now())
            return SendResult(Outcome.RATE_LIMITED, method, error="ratelimited", retry_after=wait)
        if (isinstance(status, int) and status >= 500) or code in TRANSIENT_ERRORS:
            return SendResult(Outcome.RETRY, method, error=f"HTTP {status}: {code or error}")
        return SendResult(Outcome.FAILED, method, error=code or f"HTTP {status}")


def summarize(answer: Mapping[str, Any]) -> JSON:
    """What to keep of a successful Slack answer: the channel and ``ts`` (a file's id), not
    the echoed message."""
    summary: JSON = {}
    channel = lookup(answer, "channel") or lookup(answer, "channel.id")
    if channel:
        summary["channel"] = channel
    for key in ("ts", "file"):
        value = lookup(answer, key)
        if value:
            summary[key] = value
    return summary


def _error_code(error: SlackApiError) -> str:
    data: Any = getattr(error.response, "data", None)
    if isinstance(data, dict):
        return str(data.get("error") or "")
    return ""
