"""Who is looking: a trusted proxy's header, or a session cookie from signing in with the API
token. Every page but the sign-in form and the static assets needs one; without it the
request is sent to sign in (303), with the page to come back to.

A cookie that does not verify (forged, altered, expired, or signed with a token since
rotated) counts as none: it is cleared and the refusal is one log line.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.domain.links import UI_PREFIX
from bot.errors import BadRequest
from handlers.deps import DEPS
from handlers.refusals import log_refusal
from handlers.ui.config import UI_CONFIG, UiConfig
from handlers.ui.tokens import USER_MAX, unseal

SESSION_COOKIE = "firebreak_session"
HOME = f"{UI_PREFIX}/"
SIGN_IN = f"{UI_PREFIX}/sign-in"
SIGN_OUT = f"{UI_PREFIX}/sign-out"
STATIC = f"{UI_PREFIX}/static/"
_OPEN_PATHS = frozenset({SIGN_IN, SIGN_OUT})
NEXT_MAX = 2000


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is signed in (``user``) and how: ``proxy`` (the trusted header) or ``token``."""

    user: str
    via: str


VIEWER = web.RequestKey("ui_viewer", Viewer)
# Set when the request carried a session cookie that did not verify.
REFUSED_COOKIE = web.RequestKey("ui_refused_cookie", bool)


def proxy_user(request: web.Request, config: UiConfig) -> str | None:
    """The user the trusted proxy header names; ``BadRequest`` for a value no proxy sets."""
    if config.trusted_proxy_header is None:
        return None
    values = request.headers.getall(config.trusted_proxy_header, [])
    if not values:
        return None
    if len(values) > 1:
        # A proxy that appends its header rather than replacing the client's would let the
        # client's value (the first) win.
        raise BadRequest(f"{config.trusted_proxy_header} given {len(values)} times")
    user = values[0].strip()
    if not user or len(user) > USER_MAX or not user.isprintable():
        raise BadRequest(f"{config.trusted_proxy_header} does not name a user")
    return user


def viewer_of(request: web.Request) -> Viewer | None:
    """The viewer, or ``None``: not signed in (``REFUSED_COOKIE`` says if a cookie failed)."""
    config = request.config_dict[UI_CONFIG]
    user = proxy_user(request, config)
    if user is not None:
        return Viewer(user, "proxy")
    cookie = request.cookies.get(SESSION_COOKIE)
    key = config.key
    if cookie is None:
        return None
    session = unseal(cookie, key, request.config_dict[DEPS].clock.now()) if key else None
    if session is None:
        request[REFUSED_COOKIE] = True
        return None
    return Viewer(session.user, "token")


def return_path(raw: str | None) -> str:
    """Where to go after signing in: a path of the web page itself, else its home. Never
    another site (``//evil``, ``https://…``) and never a path outside ``/ui/``."""
    if not raw or len(raw) > NEXT_MAX or not raw.startswith(HOME):
        return HOME
    if "\\" in raw or not raw.isprintable() or raw.startswith(SIGN_IN):
        return HOME
    try:
        parts = urlsplit(raw)
    except ValueError:
        return HOME
    # Browsers resolve an escaped dot segment (``%2e%2e``) as ``..``: judged unescaped.
    if parts.scheme or parts.netloc or ".." in unquote(parts.path).split("/"):
        return HOME
    return raw


def to_sign_in(request: web.Request) -> web.HTTPSeeOther:
    """A 303 to the sign-in form that comes back here afterwards; a refused cookie is
    cleared and logged."""
    wanted = request.path_qs if request.method in ("GET", "HEAD") else HOME
    target = SIGN_IN if wanted == HOME else f"{SIGN_IN}?next={quote(wanted, safe='/')}"
    redirect = web.HTTPSeeOther(location=target)
    if request.get(REFUSED_COOKIE):
        log_refusal(request, 303, "session cookie refused (forged, altered or expired)")
        redirect.del_cookie(SESSION_COOKIE, path=HOME)
    return redirect


@web.middleware
async def signed_in(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every page but the sign-in form, sign-out and the static assets needs a viewer."""
    if request.path in _OPEN_PATHS or request.path.startswith(STATIC):
        return await handler(request)
    viewer = viewer_of(request)
    if viewer is None:
        raise to_sign_in(request)
    request[VIEWER] = viewer
    return await handler(request)
