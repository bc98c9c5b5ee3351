"""Translate what kubernetes_asyncio and aiohttp raise into the project's cluster errors.

The API's ``Status.message`` is kept in every error: it is what a responder needs to read in
the incident thread ("the object has been modified", "forbidden: ...", an admission webhook's
reason).
"""

from __future__ import annotations

import json

import aiohttp
from kubernetes_asyncio.client.exceptions import ApiException

from bot.errors import (
    ClusterError,
    ClusterUnavailable,
    DryRunRejected,
    FirebreakError,
    NotFound,
    TargetChanged,
)

_TOO_MANY_REQUESTS = 429


def api_message(body: bytes | str | None, *, fallback: str) -> str:
    """The ``message`` of a Kubernetes ``Status`` body; ``fallback`` when there is none."""
    if not body:
        return fallback
    try:
        status = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raw = body.decode(errors="replace") if isinstance(body, bytes) else body
        return raw.strip()[:500] or fallback
    message = status.get("message") if isinstance(status, dict) else None
    return message if isinstance(message, str) and message else fallback


def from_status(
    status: int, body: bytes | str | None, *, what: str, dry_run: bool
) -> FirebreakError:
    """The error for an API answer with a non-2xx ``status``; ``what`` names the request."""
    message = api_message(body, fallback=f"HTTP {status}")
    if status == 404:
        return NotFound(f"{what}: {message}")
    if status == 409:
        return TargetChanged(f"{what}: {message}")
    if status == _TOO_MANY_REQUESTS or status >= 500:
        return ClusterUnavailable(f"{what}: Kubernetes API answered {status}: {message}")
    if dry_run:
        return DryRunRejected(f"{what} (dry run): {message}")
    return ClusterError(f"{what}: {message}")


def from_exception(exc: BaseException, *, what: str, dry_run: bool) -> FirebreakError:
    """The error for an exception raised while calling the API."""
    if isinstance(exc, ApiException):
        if not exc.status:
            return ClusterError(f"{what}: {exc.reason}")
        return from_status(int(exc.status), exc.body, what=what, dry_run=dry_run)
    if isinstance(exc, aiohttp.ClientError | TimeoutError | OSError):
        return ClusterUnavailable(f"{what}: Kubernetes API unreachable: {exc!r}")
    return ClusterError(f"{what}: {exc!r}")
