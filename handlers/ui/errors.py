"""Errors as HTML pages under ``/ui/``: a refused request gets a page saying why with the
status of ``handlers.errors.status_for`` and one log line, never a traceback; a bug gets a
plain 500 page and its traceback in the log."""

from __future__ import annotations

import logging
import math

import aiohttp_jinja2
from aiohttp import web
from aiohttp.typedefs import Handler

from bot.errors import FirebreakError, Overloaded, TooManyAttempts
from handlers.errors import status_for
from handlers.refusals import log_refusal
from handlers.ui.access import VIEWER
from httpguard.text import printable

log = logging.getLogger(__name__)

TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Refused",
    404: "Not found",
    405: "Not allowed",
    413: "Too large",
    415: "Not accepted",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}


def error_page(request: web.Request, status: int, message: str) -> web.Response:
    context = {
        "title": TITLES.get(status, "Error"),
        "status": status,
        "message": message,
        "viewer": request.get(VIEWER),
    }
    return aiohttp_jinja2.render_template("error.html", request, context, status=status)


@web.middleware
async def ui_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status in (404, 405):
            log_refusal(request, exc.status, exc.reason)
            message = "There is no such page." if exc.status == 404 else "The page is read-only."
            page = error_page(request, exc.status, message)
            if isinstance(exc, web.HTTPMethodNotAllowed):
                page.headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
            return page
        raise
    except FirebreakError as exc:
        status = status_for(exc)
        if isinstance(exc, Overloaded):
            # A full replica (the live streams' cap) or one shutting down: come back soon.
            log_refusal(request, status, str(exc))
            busy = error_page(request, status, "The bot is busy; try again in a moment.")
            busy.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
            return busy
        if status >= 500:
            log.warning(
                "%s %s: %s", request.method, printable(request.path, 200), printable(str(exc))
            )
            return error_page(request, status, "The incident database is busy; try again.")
        log_refusal(request, status, str(exc))
        page = error_page(request, status, str(exc))
        if isinstance(exc, TooManyAttempts):
            page.headers["Retry-After"] = str(max(1, round(exc.retry_after)))
        return page
    except Exception:
        log.exception("unhandled error on %s %s", request.method, printable(request.path, 200))
        return error_page(request, 500, "The error is logged.")
