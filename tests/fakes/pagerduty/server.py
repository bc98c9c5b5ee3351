"""A fake PagerDuty over TLS on 127.0.0.1, for the real ``pagerduty`` clients.

    fake = FakePagerDuty(api_token="pd-token")
    tls = make_tls(tmp_path); trust(tls, monkeypatch)           # tests/support/tls.py
    async with run_fake_pagerduty(fake, tls) as url:           # https://127.0.0.1:<port>
        fake.script_events(500, 429, 202)                      # then answers as PagerDuty does
        ...
        assert len(fake.alerts.for_key("firebreak-7")) == 1

Two APIs on one server, as the clients' base URLs allow: the Events API v2
(``POST /v2/enqueue``: ``events``) and the REST API v2 (``GET /oncalls``,
``/escalation_policies``, ``/services`` with ``Authorization: Token token=…``: ``directory``).
Answers can be scripted per API: each request takes the next scripted status first (a
scripted 202 or 200 means "answer normally"); every request is recorded with its answer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.pagerduty.directory import Directory, InvalidInput, Query
from tests.fakes.pagerduty.events import Alerts, validate
from tests.support.tls import TestTls

FAKE_PAGERDUTY_KEY: web.AppKey[FakePagerDuty] = web.AppKey("fake_pagerduty")
SUCCESS = (200, 202)
API_TOKEN = "pd-api-token"


@dataclass(frozen=True, slots=True)
class Scripted:
    """An answer to give instead of the normal one: a status, with ``Retry-After`` if set."""

    status: int
    retry_after: str | None = None


@dataclass(slots=True)
class Recorded:
    """One request and the status it got. ``body`` is the decoded JSON (events), ``query``
    the query string's pairs (REST)."""

    method: str
    path: str
    status: int
    body: Any = None
    query: list[tuple[str, str]] = field(default_factory=list)
    authorization: str = ""


class FakePagerDuty:
    """The controller a test holds: the alerts, the directory, scripts, the request log."""

    def __init__(self, *, api_token: str = API_TOKEN) -> None:
        self.api_token = api_token
        self.alerts = Alerts()
        self.directory = Directory()
        self.events: list[Recorded] = []
        self.rest: list[Recorded] = []
        self._event_script: list[Scripted] = []
        self._rest_script: list[Scripted] = []

    def script_events(self, *answers: int | Scripted) -> None:
        """Queue the next answers of ``POST /v2/enqueue``."""
        self._event_script += [a if isinstance(a, Scripted) else Scripted(a) for a in answers]

    def script_rest(self, *answers: int | Scripted) -> None:
        """Queue the next answers of the REST API."""
        self._rest_script += [a if isinstance(a, Scripted) else Scripted(a) for a in answers]

    def accepted(self) -> list[dict[str, Any]]:
        """The events answered 202, in order."""
        return [r.body for r in self.events if r.status == 202]

    # -- Events API v2 -------------------------------------------------------------------
    async def enqueue(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            event: Any = json.loads(raw)
        except ValueError:
            event = None
        response = _scripted(self._event_script) or self._apply(event)
        self.events.append(Recorded(request.method, request.path, response.status, event))
        return response

    def _apply(self, event: Any) -> web.Response:
        errors = ["Malformed JSON"] if event is None else validate(event)
        if errors:
            body = {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": errors,
            }
            return web.json_response(body, status=400)
        key = self.alerts.apply(event)
        body = {"status": "success", "message": "Event processed", "dedup_key": key}
        return web.json_response(body, status=202)

    # -- REST API v2 ---------------------------------------------------------------------
    def rest_handler(
        self, index: Callable[[Directory, Query], dict[str, Any]]
    ) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.Response:
            response = self._rest(request, index)
            self.rest.append(
                Recorded(
                    request.method,
                    request.path,
                    response.status,
                    query=list(request.query.items()),
                    authorization=request.headers.get("Authorization", ""),
                )
            )
            return response

        return handle

    def _rest(
        self, request: web.Request, index: Callable[[Directory, Query], dict[str, Any]]
    ) -> web.Response:
        scripted = _scripted(self._rest_script)
        if scripted is not None:
            return scripted
        if request.headers.get("Authorization") != f"Token token={self.api_token}":
            return _rest_error(401, "Invalid Credentials", 2006)
        try:
            return web.json_response(index(self.directory, request.query))
        except InvalidInput as exc:
            return _rest_error(400, "Invalid Input Provided", 2001, [str(exc)])


def _scripted(script: list[Scripted]) -> web.Response | None:
    if not script:
        return None
    answer = script.pop(0)
    if answer.status in SUCCESS:
        return None
    headers = {"Retry-After": answer.retry_after} if answer.retry_after is not None else {}
    if answer.status == 429:
        return web.Response(status=429, headers=headers)  # PagerDuty sends no body
    body = {"status": "error", "message": f"scripted {answer.status}"}
    return web.json_response(body, status=answer.status, headers=headers)


def _rest_error(
    status: int, message: str, code: int, errors: list[str] | None = None
) -> web.Response:
    error: dict[str, Any] = {"message": message, "code": code}
    if errors:
        error["errors"] = errors
    return web.json_response({"error": error}, status=status)


def create_app(fake: FakePagerDuty) -> web.Application:
    app = web.Application()
    app[FAKE_PAGERDUTY_KEY] = fake
    app.router.add_post("/v2/enqueue", fake.enqueue)
    app.router.add_get("/oncalls", fake.rest_handler(Directory.list_oncalls))
    app.router.add_get("/escalation_policies", fake.rest_handler(Directory.list_policies))
    app.router.add_get("/services", fake.rest_handler(Directory.list_services))
    return app


@asynccontextmanager
async def run_fake_pagerduty(fake: FakePagerDuty, tls: TestTls) -> AsyncIterator[str]:
    """Serve ``fake`` over TLS on 127.0.0.1, port 0; yields its base URL
    (``https://127.0.0.1:<port>``), the base of both APIs."""
    runner = web.AppRunner(create_app(fake), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls.server_context)
    await site.start()
    try:
        port = runner.addresses[0][1]
        url = f"https://127.0.0.1:{port}"
        fake.directory.base_url = url
        yield url
    finally:
        await runner.cleanup()
