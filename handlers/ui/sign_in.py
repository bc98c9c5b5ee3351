"""``GET``/``POST /ui/sign-in`` and ``POST /ui/sign-out``.

The form posts the API token (or the ticket of ``make run``'s sign-in link), compared in
constant time, for a signed session cookie: ``HttpOnly``, ``SameSite=Strict``, ``Secure``
unless the public URL is plain http on loopback, lasting ``FIREBREAK_UI_SESSION_SECONDS``.
Against cross-site forgery the post must come from the page's own origin (``Origin`` and
``Sec-Fetch-Site``, when the browser sends them) and carry the form's token, which only the
bot can make for the nonce in the form's own cookie. Wrong tokens are counted per client
address (``handlers.ui.limiter``); each refusal is one log line.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from urllib.parse import parse_qs

import aiohttp_jinja2
from aiohttp import web

from bot.errors import AuthError, BadRequest, Forbidden, TooManyAttempts
from handlers.body_reader import read_body
from handlers.deps import DEPS
from handlers.refusals import log_refusal
from handlers.ui.access import HOME, SESSION_COOKIE, SIGN_IN, return_path, viewer_of
from handlers.ui.config import UI_CONFIG, UiConfig
from handlers.ui.limiter import SignInLimiter
from handlers.ui.tokens import Session, form_token, form_token_valid, seal, ticket_valid

CSRF_COOKIE = "firebreak_csrf"
FORM_MAX = 8 * 1024
FORM_SECONDS = 3600
# Who signed in with the API token: the token names no person.
API_USER = "api-token"
LIMITER = web.AppKey("ui_sign_in_limiter", SignInLimiter)
_FORM_TYPE = "application/x-www-form-urlencoded"


def _cookie(
    response: web.StreamResponse,
    config: UiConfig,
    name: str,
    value: str,
    *,
    path: str,
    max_age: int,
) -> None:
    response.set_cookie(
        name,
        value,
        path=path,
        max_age=max_age,
        httponly=True,
        samesite="Strict",
        secure=config.secure_cookies,
    )


def same_origin(request: web.Request, config: UiConfig) -> None:
    """``Forbidden`` for a post a browser says came from another site."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        # Set by the browser itself (no page can forge it): it says all there is to say.
        if site not in ("same-origin", "none"):
            raise Forbidden(f"a sign-in posted from another site ({site})")
        return
    origin = request.headers.get("Origin")
    # Under this page's Referrer-Policy: no-referrer, a browser posts the form with
    # "Origin: null"; the form token (bound to its cookie, SameSite=Strict) still holds.
    if origin is None or origin == "null":
        return
    own = {config.public_origin, f"{request.scheme}://{request.host}".lower()}
    if origin.lower() not in own:
        raise Forbidden("a sign-in posted from another origin")


def _form_page(
    request: web.Request, *, next_path: str, ticket: str = "", status: int = 200, message: str = ""
) -> web.Response:
    config = request.config_dict[UI_CONFIG]
    key = config.key
    nonce = secrets.token_urlsafe(32) if key else ""
    context = {
        "title": "Sign in",
        "viewer": None,
        "configured": key is not None,
        "proxy_header": config.trusted_proxy_header,
        "csrf": form_token(key, nonce) if key else "",
        "next_path": next_path,
        "ticket": ticket,
        "message": message,
    }
    response = aiohttp_jinja2.render_template("sign_in.html", request, context, status=status)
    if key:
        _cookie(response, config, CSRF_COOKIE, nonce, path=SIGN_IN, max_age=FORM_SECONDS)
    return response


async def sign_in_form(request: web.Request) -> web.Response:
    next_path = return_path(request.query.get("next"))
    if viewer_of(request) is not None:
        raise web.HTTPSeeOther(location=next_path)
    ticket = request.query.get("ticket", "")
    return _form_page(request, next_path=next_path, ticket=ticket[:200])


async def _form(request: web.Request) -> dict[str, str]:
    if request.content_type != _FORM_TYPE:
        raise BadRequest(f"the sign-in form is sent as {_FORM_TYPE}")
    body = await read_body(request, FORM_MAX)
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=10, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("the sign-in form is not readable") from exc
    return {name: values[0] for name, values in fields.items() if values}


def _credential_valid(fields: dict[str, str], api_token: str, request: web.Request) -> bool:
    token = fields.get("token", "").strip()
    if token:
        return hmac.compare_digest(token.encode("utf-8", "replace"), api_token.encode())
    ticket = fields.get("ticket", "").strip()
    return bool(ticket) and ticket_valid(ticket, api_token, request.config_dict[DEPS].clock.now())


async def sign_in(request: web.Request) -> web.StreamResponse:
    config = request.config_dict[UI_CONFIG]
    deps = request.config_dict[DEPS]
    same_origin(request, config)
    key, api_token = config.key, config.api_token
    if key is None or not api_token:
        raise Forbidden("signing in with the API token is not configured (FIREBREAK_API_TOKEN)")
    fields = await _form(request)
    next_path = return_path(fields.get("next"))
    if not form_token_valid(key, request.cookies.get(CSRF_COOKIE, ""), fields.get("csrf", "")):
        raise Forbidden("the sign-in form expired or did not come from this page; reload it")
    now = deps.clock.now()
    limiter = request.config_dict[LIMITER]
    address = request.remote or "unknown"
    wait = limiter.retry_after(address, now)
    if wait is not None:
        raise TooManyAttempts(
            "too many wrong tokens from this address", retry_after=wait.total_seconds()
        )
    if not _credential_valid(fields, api_token, request):
        limiter.failed(address, now)
        log_refusal(request, 401, str(AuthError("wrong API token or expired sign-in link")))
        deps.metrics.refused_auth("ui")
        return _form_page(
            request,
            next_path=next_path,
            status=401,
            message="That token or link is not right (or the link has expired).",
        )
    limiter.succeeded(address)
    session = Session(user=API_USER, expires=now + timedelta(seconds=config.session_seconds))
    response = web.HTTPSeeOther(location=next_path)
    _cookie(
        response,
        config,
        SESSION_COOKIE,
        seal(session, key),
        path=HOME,
        max_age=config.session_seconds,
    )
    response.del_cookie(CSRF_COOKIE, path=SIGN_IN)
    raise response


async def sign_out(request: web.Request) -> web.StreamResponse:
    """Ends the cookie session (a proxy's header signs the next request in again)."""
    same_origin(request, request.config_dict[UI_CONFIG])
    response = web.HTTPSeeOther(location=SIGN_IN)
    response.del_cookie(SESSION_COOKIE, path=HOME)
    raise response
