"""The headers every ``/ui`` response carries, pages, errors, redirects and assets alike: a
strict Content-Security-Policy (scripts, styles, images and connections from the bot only,
no inline script, no framing), no MIME sniffing, no referrer (a sign-in link's ticket stays
here), and no caching of pages that show incidents."""

from __future__ import annotations

from aiohttp import web

from bot.domain.links import UI_PREFIX
from handlers.ui.access import STATIC

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def is_ui(path: str) -> bool:
    return path == UI_PREFIX or path.startswith(UI_PREFIX + "/")


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: runs for every response of the app; touches only ``/ui``."""
    if not is_ui(request.path):
        return
    response.headers.update(HEADERS)
    if not request.path.startswith(STATIC):
        response.headers["Cache-Control"] = "no-store"
