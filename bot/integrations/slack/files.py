"""Files into Slack through the outbox: the row's arguments, and the upload step between
Slack's two methods.

A file is one outbox row of method ``files.uploadV2`` (the name Slack's SDKs give the
three-step upload): the sender (``bot.integrations.slack.sender``) calls
``files.getUploadURLExternal`` (filename, length), POSTs the bytes to the ``upload_url`` it
answers, then calls ``files.completeUploadExternal`` (``files=[{id, title}]``,
``channel_id``, ``initial_comment``), which shares the file into the channel. slack_sdk's
``files_upload_v2`` does the same three steps but uploads to whatever URL the answer names;
here the URL must be on Slack's file host (``https://files.slack.com``) or on the configured
API base's own origin (the fake Slack on 127.0.0.1 in tests), and nothing else is contacted.

Every attempt of the row does all three steps with a fresh upload URL. Slack discards an
upload that is never completed and shares a file only when it is completed, so a retry after
a failure or a crash anywhere before the completion (no upload URL, the upload refused or
cut, the completion refused or never sent) shares the file once, never twice. What remains
is the outbox's window for every Slack call: a completion that took effect but whose answer
was lost or was a server error (a timeout, a 5xx, a crash before the row is marked sent) is
sent again with the row, and the file is then in the channel twice.

The content is stored in the row: text as ``content`` (UTF-8 when sent), bytes (a PNG) as
``content_base64``.
"""

from __future__ import annotations

import base64
import binascii
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from bot.domain.incident import JSON
from bot.domain.outbox import Outcome

UPLOAD = "files.uploadV2"
GET_UPLOAD_URL = "files.getUploadURLExternal"
COMPLETE_UPLOAD = "files.completeUploadExternal"
# Where Slack's upload URLs point (``https://files.slack.com/upload/v1/…``).
FILES_ORIGIN = ("https", "files.slack.com", 443)
_DEFAULT_PORTS = {"http": 80, "https": 443}


class UploadFailed(Exception):
    """A step of an upload that is not a Web API answer went wrong: ``outcome`` says what it
    means for the row, ``error`` is kept on it."""

    def __init__(self, outcome: Outcome, error: str) -> None:
        super().__init__(error)
        self.outcome = outcome
        self.error = error


@dataclass(frozen=True, slots=True)
class FileUpload:
    """A row's arguments, read back: what to upload, and where to share it."""

    filename: str
    title: str
    data: bytes
    channel_id: str
    initial_comment: str = ""
    alt_txt: str = ""
    snippet_type: str = ""


def _text(args: JSON, key: str) -> str:
    value = args.get(key, "")
    if not isinstance(value, str):
        raise UploadFailed(Outcome.FAILED, f"invalid_file_args: {key} is not text")
    return value


def read_upload(args: JSON) -> FileUpload:
    """The row's arguments (channel bound); ``UploadFailed`` (for good) if they are not an
    upload's: a row only this module builds, so it means a bug, not bad luck."""
    text, encoded = args.get("content"), args.get("content_base64")
    if isinstance(text, str):
        data = text.encode("utf-8")
    elif isinstance(encoded, str):
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise UploadFailed(Outcome.FAILED, "invalid_file_args: content_base64") from exc
    else:
        raise UploadFailed(Outcome.FAILED, "invalid_file_args: no content")
    upload = FileUpload(
        filename=_text(args, "filename"),
        title=_text(args, "title"),
        data=data,
        channel_id=_text(args, "channel_id"),
        initial_comment=_text(args, "initial_comment"),
        alt_txt=_text(args, "alt_txt"),
        snippet_type=_text(args, "snippet_type"),
    )
    if not upload.filename or not upload.channel_id or not data:
        raise UploadFailed(Outcome.FAILED, "invalid_file_args: filename, channel and content")
    return upload


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:  # a port that is not a number
        return ("", "", None)
    return (scheme, (parts.hostname or "").lower(), port)


def allowed_upload_url(url: str, api_base: str) -> bool:
    """Whether ``url`` (from Slack's answer) may receive the bytes: on Slack's file host over
    HTTPS, or on the very origin (scheme, host, port) of the configured API base."""
    origin = _origin(url)
    if not origin[1] or origin[0] not in _DEFAULT_PORTS:
        return False
    return origin in (FILES_ORIGIN, _origin(api_base))


async def post_bytes(
    url: str,
    data: bytes,
    *,
    seconds: float,
    tls: ssl.SSLContext | None = None,
    proxy: str | None = None,
) -> None:
    """POST ``data`` raw to an upload URL (no token: the URL is the credential, and it is
    never followed elsewhere). Slack answers 200 when it took the bytes; ``UploadFailed``
    otherwise: to retry for a 429 or 5xx (a fresh URL next time), for good for another 4xx."""
    client_timeout = aiohttp.ClientTimeout(total=seconds)
    async with (
        aiohttp.ClientSession(timeout=client_timeout) as session,
        session.post(
            url,
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            allow_redirects=False,
            ssl=tls if tls is not None else True,
            proxy=proxy,
        ) as response,
    ):
        status = response.status
        await response.read()
    if status == 200:
        return
    outcome = Outcome.RETRY if status == 429 or status >= 500 else Outcome.FAILED
    raise UploadFailed(outcome, f"upload HTTP {status}")
