"""One log line per refused request, and nothing a sender wrote is logged as it was written.

A refusal is the sender's problem, not firebreak's: it is logged at WARNING (authentication)
or INFO (anything else), never as an ERROR and never with a traceback, and never with the
body. Whatever came from outside (the path, a reason quoting a field, the peer) has its
control characters escaped, so a forged request cannot write lines that look like ours.
"""

from __future__ import annotations

import logging

from aiohttp import web

from handlers.body_reader import BODY_SIZE
from httpguard.text import printable

log = logging.getLogger("firebreak.refused")


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
