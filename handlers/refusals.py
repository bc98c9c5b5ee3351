"""One log line per refused request, and nothing a sender wrote is logged as it was written.

A refusal is the sender's problem, not firebreak's: it is logged at WARNING (authentication)
or INFO (anything else), never as an ERROR and never with a traceback, and never with the
body. Whatever came from outside (the path, a reason quoting a field, the peer) has its
control characters escaped, so a forged request cannot write lines that look like ours.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from handlers.body_reader import BODY_SIZE

log = logging.getLogger("firebreak.refused")

# Long enough for any reason we write; short enough that no sender can fill the log.
MAX_LOGGED_CHARS = 300


def printable(text: str, limit: int = MAX_LOGGED_CHARS) -> str:
    """``text`` on one line: control and other non-printable characters as ``\\xNN``-style
    escapes (``repr``'s), cut to ``limit`` characters."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[:limit] + "…"


def _size(request: web.Request) -> str:
    read = request.get(BODY_SIZE)
    if read is not None:
        return f"{read} bytes read"
    if request.content_length is not None:
        return f"{request.content_length} bytes declared, unread"
    return "body unread"


def log_refusal(request: web.Request, status: int, reason: str) -> None:
    """The one line for a request answered with a 4xx: route, status, reason, peer, size."""
    level = logging.WARNING if status == 401 else logging.INFO
    if not log.isEnabledFor(level):
        return
    log.log(
        level,
        "refused %s %s: %d %s (from %s, %s)",
        printable(request.method, 20),
        printable(request.path, 200),
        status,
        printable(reason),
        printable(request.remote or "unknown", 64),
        _size(request),
    )


class MalformedHttpFilter(logging.Filter):
    """Turns aiohttp's "Error handling request" ERROR (with a traceback) for a request its
    parser refused (headers over 8,190 bytes, a bad request line) into one WARNING line.

    aiohttp already answers such requests with 400 and closes the connection; only its log
    line claimed a failure of ours."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and record.levelno > logging.WARNING:
            peer = record.args[0] if isinstance(record.args, tuple) and record.args else None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = "refused malformed HTTP: %d %s (from %s)"
            record.args = (exc.code, printable(exc.message), printable(str(peer), 64))
            record.exc_info, record.exc_text = None, None
        return True


_MALFORMED_HTTP = MalformedHttpFilter()


def quiet_malformed_http() -> None:
    """Install ``MalformedHttpFilter`` on aiohttp's server logger (idempotent)."""
    logging.getLogger("aiohttp.server").addFilter(_MALFORMED_HTTP)
