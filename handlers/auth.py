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
        token.strip().encode(), expected.encode()
    ):
        raise AuthError("missing or wrong bearer token")


def _offered(header: str) -> list[bytes]:
    return [
        part.strip()[3:].encode() for part in header.split(",") if part.strip().startswith("v1=")
    ]


def check_pagerduty_header(header: str | None, secrets: tuple[str, ...]) -> None:
    """What can be refused before the body is read: no secrets configured, no signature,
    or a header that offers no ``v1=`` value."""
    if not secrets:
        raise AuthError("PagerDuty webhooks are not configured (PAGERDUTY_WEBHOOK_SECRETS)")
    if not header:
        raise AuthError("missing X-PagerDuty-Signature")
    if not _offered(header):
        raise AuthError("X-PagerDuty-Signature offers no v1= signature")


def verify_pagerduty_signature(body: bytes, header: str | None, secrets: tuple[str, ...]) -> None:
    """PagerDuty signs the raw body with HMAC-SHA256 per secret and sends ``v1=<hex>`` values,
    several during a secret rotation. Any one matching any configured secret is enough."""
    check_pagerduty_header(header, secrets)
    offered = _offered(header or "")
    for secret in secrets:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
        # Compare against every offered value so timing does not reveal which one matched.
        if any(hmac.compare_digest(expected, sig) for sig in offered):
            return
    raise AuthError("X-PagerDuty-Signature does not match")
