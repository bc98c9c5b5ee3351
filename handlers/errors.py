"""The one place errors become HTTP statuses.

Webhook senders retry only 5xx, so anything that could succeed later (the database is down,
a conflict, a bug) is a 503 for them; 4xx is kept for requests that will never succeed."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.errors import AuthError, BadRequest, Conflict, NotFound, StorageUnavailable

log = logging.getLogger(__name__)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except AuthError as exc:
        return _error(401, str(exc))
    except BadRequest as exc:
        return _error(400, str(exc))
    except NotFound as exc:
        return _error(404, str(exc))
    except (StorageUnavailable, Conflict) as exc:
        log.warning("%s %s: %s", request.method, request.path, exc)
        return _error(503, f"temporarily unavailable, retry: {exc}")
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error(503, "internal error; the delivery was not stored, retry")
