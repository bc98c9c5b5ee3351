"""The one place that maps the service's exceptions to HTTP statuses and bodies."""

from __future__ import annotations

import orjson

from lnn_service.errors import (
    BadInput,
    BatchTooLarge,
    InferenceFailed,
    LnnError,
    NotReady,
    NotSupported,
    RegistryError,
    Unauthorized,
)

_STATUS: tuple[tuple[type[LnnError], int], ...] = (
    (BadInput, 400),
    (Unauthorized, 401),
    (BatchTooLarge, 413),
    (RegistryError, 409),  # an admin asked for a version that cannot be loaded
    (NotSupported, 409),
    (NotReady, 503),
    (InferenceFailed, 500),
)

REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def status_for(exc: LnnError) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def error_body(exc: LnnError) -> bytes:
    return orjson.dumps({"error": str(exc) or type(exc).__name__})


def outcome_for(status: int) -> str:
    """The ``outcome`` label of request metrics."""
    if status < 400:
        return "ok"
    if status in (400, 413):
        return "bad_input"
    if status == 401:
        return "unauthorized"
    if status == 503:
        return "unavailable"
    return "error"
