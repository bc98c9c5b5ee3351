"""The one place errors become HTTP statuses.

Webhook senders retry only 5xx, so anything that could succeed later (the database is down,
a conflict, a bug) is a 503 for them; 4xx is kept for requests that will never succeed."""

from __future__ import annotations

import logging
import math

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.errors import (
    AuthError,
    BadRequest,
    ClusterError,
    Conflict,
    FirebreakError,
    Forbidden,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    StorageUnavailable,
    TooManyAttempts,
    UnsupportedEncoding,
)
from bot.text import escape
from handlers.deps import DEPS
from handlers.refusals import log_refusal
from httpguard.text import printable

log = logging.getLogger(__name__)


def _source(request: web.Request) -> str:
    path = request.path
    if path.startswith("/webhooks/"):
        return path.removeprefix("/webhooks/")
    return "slack" if path.startswith("/slack/") else ""


def _error(request: web.Request, status: int, message: str, outcome: str = "") -> web.Response:
    # Refused webhook deliveries are counted too, so a dashboard shows a sender being turned
    # away (503: it will retry; 400: it will not) rather than only what got through.
    source = _source(request) if request.path.startswith("/webhooks/") else ""
    deps = request.app.get(DEPS)
    if outcome and source and deps is not None:
        deps.metrics.delivery(source, outcome)
    return web.json_response({"error": message}, status=status)


def _refuse(request: web.Request, status: int, exc: BadRequest, outcome: str) -> web.Response:
    log_refusal(request, status, str(exc))
    return _error(request, status, str(exc), outcome)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        # A body cut for coming too slowly (httpguard's 408, a TimeoutError too) was logged
        # where it was cut; its connection is gone, so this would be a second line.
        if 400 <= exc.status < 500 and not isinstance(exc, TimeoutError):
            log_refusal(request, exc.status, exc.reason)
        raise
    except AuthError as exc:
        log_refusal(request, 401, str(exc))
        deps = request.app.get(DEPS)
        if deps is not None:
            deps.metrics.refused_auth(_source(request) or "api")
        return _error(request, 401, str(exc))
    except PayloadTooLarge as exc:
        return _refuse(request, 413, exc, "rejected")
    except UnsupportedEncoding as exc:
        return _refuse(request, 415, exc, "rejected")
    except BadRequest as exc:
        return _refuse(request, 400, exc, "rejected")
    except NotFound as exc:
        log_refusal(request, 404, str(exc))
        return _error(request, 404, str(exc))
    except Overloaded as exc:
        log_refusal(request, 503, str(exc))
        busy = _error(request, 503, str(exc))
        busy.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return busy
    except (StorageUnavailable, Conflict) as exc:
        log.warning(
            "%s %s: %s",
            printable(request.method, 20),
            printable(request.path, 200),
            printable(str(exc), 2000),
        )
        return _error(request, 503, f"temporarily unavailable, retry: {exc}", "unavailable")
    except Exception:
        log.exception(
            "unhandled error on %s %s", printable(request.method, 20), printable(request.path, 200)
        )
        return _error(request, 503, "internal error; the delivery was not stored, retry", "failed")


def status_for(exc: FirebreakError) -> int:
    """The HTTP status of a core error where a route renders it itself (the web page's HTML
    pages); the middleware above answers the same statuses as JSON."""
    if isinstance(exc, PayloadTooLarge):
        return 413
    if isinstance(exc, UnsupportedEncoding):
        return 415
    if isinstance(exc, BadRequest):
        return 400
    if isinstance(exc, AuthError):
        return 401
    if isinstance(exc, Forbidden):
        return 403
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, TooManyAttempts):
        return 429
    if isinstance(exc, StorageUnavailable | Conflict | Overloaded):
        return 503
    return 500


def slack_reply_for(exc: BaseException) -> str:
    """What a person sees in Slack when their command or click fails (ephemeral)."""
    # Messages quote what people typed and what APIs said: escaped, so they cannot ping.
    if isinstance(exc, Forbidden):
        return f":no_entry: Refused: {escape(str(exc))}"
    if isinstance(exc, BadRequest | NotFound | Conflict):
        # Conflicts that reach people are states they must know about (a closed request,
        # a busy deployment); transient database clashes were retried before this.
        return f":warning: {escape(str(exc))}"
    if isinstance(exc, StorageUnavailable):
        return (
            ":hourglass: The incident database is busy or unreachable; nothing changed. Try again."
        )
    if isinstance(exc, ClusterError):
        return f":x: Kubernetes said: {escape(str(exc))}"
    if isinstance(exc, FirebreakError):
        return f":x: {escape(str(exc))}"
    log.error("unhandled error in a Slack listener", exc_info=exc)
    return ":x: Something went wrong inside firebreak; nothing changed. The error is logged."
