"""What the web page needs of the settings, built by the composition root (``bot/app.py``)
and kept on the page's sub-application."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

# Plain http is tolerated only here: a browser on the same machine, as under `make run`.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
_KEY_LABEL = b"firebreak web page keys v1"


@dataclass(frozen=True, slots=True)
class UiConfig:
    """``api_token`` signs people in (and, derived, signs their cookies: every replica shares
    it, and rotating it ends every session); ``public_url`` is where browsers reach the bot;
    ``trusted_proxy_header`` names the header an SSO proxy sets (``None``: not trusted);
    ``session_seconds`` is how long a session lasts."""

    api_token: str | None
    public_url: str
    trusted_proxy_header: str | None = None
    session_seconds: int = 43_200

    @property
    def secure_cookies(self) -> bool:
        """Cookies are ``Secure`` unless the public URL is plain http on loopback."""
        parts = urlsplit(self.public_url)
        return not (parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS)

    @property
    def public_origin(self) -> str:
        """``https://firebreak.example``: what a browser sends as ``Origin`` from the page."""
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}".lower()

    @property
    def key(self) -> bytes | None:
        """The key cookies and form tokens are signed with, derived from the API token (so
        it is never used as is); ``None`` without one: nobody can sign in with a token."""
        if not self.api_token:
            return None
        return hmac.new(self.api_token.encode(), _KEY_LABEL, hashlib.sha256).digest()


UI_CONFIG = web.AppKey("ui_config", UiConfig)
