"""Request authentication: bearer tokens and PagerDuty signatures, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac

from aiohttp import web

from bot.errors import AuthError


def require_bearer(request: web.Request, expected: str | None, what: str) -> None:
    """Raise ``AuthError`` unless ``Authorization: Bearer <expected>`` was sent.

    An unset token refuses everything: deny by default rather than accept the world."""
    if not expected:
        raise AuthError(f"{what} is not configured on this firebreak (set its token)")
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        _header_bytes(token.strip()), expected.encode()
    ):
        raise AuthError("missing or wrong bearer token")


def _header_bytes(value: str) -> bytes:
    # aiohttp decodes header bytes that are not UTF-8 as lone surrogates; a plain encode()
    # raised on them and an unauthenticated request got a 503 with a traceback. Such a value
    # matches no secret, so it gets its bytes back and fails the comparison like any other.
    return value.encode("utf-8", "surrogateescape")


def pagerduty_signatures(header: str | None, secrets: tuple[str, ...]) -> list[bytes]:
    """The ``v1=`` values of ``X-PagerDuty-Signature``; ``AuthError`` for what can be refused
    before the body is read: no secrets configured, no signature, or no ``v1=`` value."""
    if not secrets:
        raise AuthError("PagerDuty webhooks are not configured (PAGERDUTY_WEBHOOK_SECRETS)")
    if not header:
        raise AuthError("missing X-PagerDuty-Signature")
    offered = [
        _header_bytes(part.strip()[3:])
        for part in header.split(",")
        if part.strip().startswith("v1=")
    ]
    if not offered:
        raise AuthError("X-PagerDuty-Signature offers no v1= signature")
    return offered


def verify_pagerduty_signature(body: bytes, offered: list[bytes], secrets: tuple[str, ...]) -> None:
    """PagerDuty signs the raw body with HMAC-SHA256 per secret and sends ``v1=<hex>`` values
    (``offered``, from :func:`pagerduty_signatures`), several during a secret rotation. Any
    one matching any configured secret is enough."""
    for secret in secrets:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
        # Compare against every offered value so timing does not reveal which one matched.
        if any(hmac.compare_digest(expected, sig) for sig in offered):
            return
    raise AuthError("X-PagerDuty-Signature does not match")
