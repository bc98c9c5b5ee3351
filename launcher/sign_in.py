"""The sign-in link ``make run`` prints: the web page's sign-in form with a ticket that signs
the browser in without the API token itself being printed. The ticket is the expiry (Unix
seconds) and an HMAC-SHA256 of it keyed with the API token, as the bot checks it
(``handlers/ui/tokens.py``; the launcher imports nothing of the bot, so the format is spelled
in both places and a test signs in with this link against the bot)."""

from __future__ import annotations

import hashlib
import hmac
import time

# A day: the length of a working session with `make run`; the bot refuses a later expiry
# than a week.
LINK_SECONDS = 86_400
_LABEL = "firebreak ui sign-in link v1"


def sign_in_link(bot_url: str, api_token: str, *, now: float | None = None) -> str:
    """``{bot_url}/ui/sign-in?ticket=v1.<expiry>.<mac>``, valid for ``LINK_SECONDS``."""
    expires = int(time.time() if now is None else now) + LINK_SECONDS
    mac = hmac.new(api_token.encode(), f"{_LABEL} {expires}".encode(), hashlib.sha256)
    return f"{bot_url.rstrip('/')}/ui/sign-in?ticket=v1.{expires}.{mac.hexdigest()}"
