"""The web page's signed values: the session cookie, the sign-in form's CSRF token and the
sign-in link ``make run`` prints. Each is an HMAC-SHA256 checked in constant time; anything
malformed, forged, tampered with or expired reads as nothing, never as an error.

The sign-in link's ticket is minted by the launcher (``launcher/sign_in.py``), which imports
nothing of the bot: the format is spelled in both places, and a test signs in with the
launcher's link against the bot.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

_VERSION = "v1"
# A ticket dated further ahead than this is refused: the launcher mints them for a day.
TICKET_MAX_SECONDS = 7 * 86_400
_TICKET_LABEL = "firebreak ui sign-in link v1"
USER_MAX = 200


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


@dataclass(frozen=True, slots=True)
class Session:
    """Who signed in, and until when."""

    user: str
    expires: datetime


def seal(session: Session, key: bytes) -> str:
    """The cookie value: ``v1.<payload>.<mac>``, base64url, the MAC over version and payload."""
    payload = _b64(
        json.dumps(
            {"u": session.user, "e": _epoch(session.expires)}, separators=(",", ":")
        ).encode()
    )
    signed = f"{_VERSION}.{payload}"
    return f"{signed}.{_b64(_mac(key, signed))}"


def unseal(value: str, key: bytes, now: datetime) -> Session | None:
    """The session a cookie holds, or ``None``: not ours, altered, or expired."""
    version, _, rest = value.partition(".")
    payload, _, mac = rest.partition(".")
    if version != _VERSION or not payload or not mac:
        return None
    try:
        offered = _unb64(mac)
        expected = _mac(key, f"{version}.{payload}")
        if not hmac.compare_digest(offered, expected):
            return None
        data = json.loads(_unb64(payload))
        user, expires = data["u"], data["e"]
    except (ValueError, TypeError, KeyError, binascii.Error):
        return None
    if not isinstance(user, str) or not isinstance(expires, int) or isinstance(expires, bool):
        return None
    if not user or len(user) > USER_MAX or expires <= _epoch(now):
        return None
    return Session(user=user, expires=datetime.fromtimestamp(expires, UTC))


def form_token(key: bytes, nonce: str) -> str:
    """The sign-in form's hidden token for the ``nonce`` its cookie holds: only the bot can
    make it, so a page elsewhere that planted a cookie still cannot post the form."""
    return _b64(_mac(key, f"csrf {nonce}"))


def form_token_valid(key: bytes, nonce: str, token: str) -> bool:
    # The nonce comes from a cookie: aiohttp reads bytes that are not UTF-8 as lone
    # surrogates, which no encoding takes. A nonce the bot made is base64url, ASCII.
    if not nonce or not token or not nonce.isascii():
        return False
    return hmac.compare_digest(form_token(key, nonce).encode(), token.encode("utf-8", "replace"))


def ticket_valid(ticket: str, api_token: str, now: datetime) -> bool:
    """Whether a sign-in link's ticket (``v1.<expiry epoch>.<hex mac>``, the MAC keyed with the
    API token) is genuine, unexpired and not dated implausibly far ahead."""
    version, _, rest = ticket.partition(".")
    expires, _, mac = rest.partition(".")
    if version != _VERSION or not (expires.isascii() and expires.isdigit()) or len(expires) > 12:
        return False
    remaining = int(expires) - _epoch(now)
    if remaining <= 0 or remaining > TICKET_MAX_SECONDS:
        return False
    expected = hmac.new(
        api_token.encode(), f"{_TICKET_LABEL} {expires}".encode(), hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected.encode(), mac.encode("utf-8", "replace"))
