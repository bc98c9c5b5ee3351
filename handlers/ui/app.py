"""Mounts the web page: a sub-application at ``/ui`` with its templates (Jinja2, autoescaped),
static assets, sign-in and error handling, and the security headers every ``/ui`` response
carries. Only the sign-in and sign-out forms accept a POST; no route changes an incident."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.domain.links import UI_PREFIX
from handlers.events import event_stream
from handlers.ui.access import HOME, SIGN_IN, SIGN_OUT, signed_in
from handlers.ui.config import UI_CONFIG, UiConfig
from handlers.ui.errors import ui_errors
from handlers.ui.headers import security_headers
from handlers.ui.limiter import SignInLimiter
from handlers.ui.pages import graph_png, incident_page, incidents_page, postmortem_download
from handlers.ui.sign_in import LIMITER, sign_in, sign_in_form, sign_out

STATIC_DIR = Path(__file__).parent / "static"


def _utc(at: datetime | None) -> str:
    """``2026-12-07 18:55 UTC``: every time on the page, in one zone."""
    if at is None:
        return ""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _iso(at: datetime | None) -> str:
    return at.astimezone(UTC).isoformat() if at is not None else ""


def _relative(path: str) -> str:
    # Routes of the sub-application are written relative to its prefix.
    return path.removeprefix(UI_PREFIX)


async def _home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPPermanentRedirect(location=HOME)


def _session_checked(request: web.Request) -> None:
    """The live stream's check under ``/ui``: ``signed_in`` (a middleware of this
    sub-application) has already required a viewer, as for every page."""


def mount_ui(app: web.Application, config: UiConfig) -> None:
    """Add the web page to ``app`` (which must hold ``handlers.deps.DEPS`` once started)."""
    ui = web.Application(middlewares=[ui_errors, signed_in])
    ui[UI_CONFIG] = config
    ui[LIMITER] = SignInLimiter()
    env = aiohttp_jinja2.setup(
        ui,
        loader=jinja2.PackageLoader("handlers.ui", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        default_helpers=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update({"utc": _utc, "iso": _iso})
    ui.router.add_get("/", incidents_page)
    ui.router.add_get("/incidents/{incident_id}", incident_page)
    ui.router.add_get("/incidents/{incident_id}/postmortem.md", postmortem_download)
    ui.router.add_get("/incidents/{incident_id}/graph.png", graph_png)
    # The pages' live updates: the same stream as GET /api/events, behind the session. No
    # HEAD: it would open a stream.
    ui.router.add_get("/events", event_stream(_session_checked), allow_head=False)
    ui.router.add_get(_relative(SIGN_IN), sign_in_form)
    ui.router.add_post(_relative(SIGN_IN), sign_in)
    ui.router.add_post(_relative(SIGN_OUT), sign_out)
    ui.router.add_static("/static/", STATIC_DIR, name="ui_static")
    # Before the sub-application: its prefix would answer "/ui" with a 404 of its own.
    app.router.add_get(UI_PREFIX, _home)
    app.add_subapp(UI_PREFIX, ui)
    app.on_response_prepare.append(security_headers)
