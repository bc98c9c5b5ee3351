"""Signing in to the incident web page, over real HTTP to the real app on SQLite and
PostgreSQL: the token for a signed session cookie, the trusted proxy header, and everything
that must be refused (a wrong token, a forged, altered or expired cookie, a cross-site post,
a guessing client), each with one log line and never a traceback."""

from __future__ import annotations

import logging
import re

import pytest
from yarl import URL

from bot.clock import FixedClock
from bot.policy.model import Policy
from db.migrate import upgrade_async
from handlers.ui.limiter import LIMIT
from launcher.sign_in import sign_in_link
from tests.support.bot_app import API_TOKEN, Client, MakeClient
from tests.support.web_ui import csrf_of, set_cookie, sign_in, web_app

SESSION = "firebreak_session"


@pytest.fixture
async def client(
    aiohttp_client: MakeClient, database_url: str, policy: Policy, clock: FixedClock
) -> Client:
    await upgrade_async(database_url)
    return await aiohttp_client(web_app(database_url, policy, clock))


@pytest.fixture(autouse=True)
def log_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "firebreak.refused"]


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_a_page_without_a_session_sends_to_sign_in_and_back(client: Client) -> None:
    resp = await client.get("/ui/incidents/7?part=timeline", allow_redirects=False)
    assert resp.status == 303
    location = URL(resp.headers["Location"])
    assert (location.path, dict(location.query)) == (
        "/ui/sign-in",
        {"next": "/ui/incidents/7?part=timeline"},
    )
    assert (await client.get("/ui/", allow_redirects=False)).headers["Location"] == "/ui/sign-in"

    signed = await sign_in(client, next_path="/ui/incidents/7?part=timeline")
    assert signed.status == 303
    assert signed.headers["Location"] == "/ui/incidents/7?part=timeline"


@pytest.mark.parametrize(
    "wanted",
    [
        "//evil.example/ui/",
        "https://evil.example/ui/",
        "/api/incidents",
        "/ui/../api/incidents",
        "/ui/\\evil",
        "javascript:alert(1)",
        "/ui/sign-in?next=//evil.example",
    ],
)
async def test_the_page_to_return_to_is_only_a_page_of_the_ui(client: Client, wanted: str) -> None:
    signed = await sign_in(client, next_path=wanted)
    assert signed.status == 303
    assert signed.headers["Location"] == "/ui/"


async def test_the_right_token_sets_a_signed_session_cookie_with_its_flags(
    client: Client, clock: FixedClock
) -> None:
    signed = await sign_in(client)
    assert signed.status == 303
    cookie = set_cookie(signed, SESSION)
    assert cookie["httponly"] == "True"
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/ui/"
    assert cookie["max-age"] == "43200"
    # The public URL is plain http on loopback: a Secure cookie would never come back.
    assert cookie["secure"] == "False"
    assert API_TOKEN not in cookie["value"]
    page = await client.get("/ui/")
    assert page.status == 200
    assert "Signed in as <strong>api-token</strong>" in await page.text()


async def test_an_https_public_url_makes_every_cookie_secure(
    aiohttp_client: MakeClient, sqlite_url: str, policy: Policy
) -> None:
    client = await aiohttp_client(
        web_app(sqlite_url, policy, public_url="https://firebreak.example")
    )
    form = await client.get("/ui/sign-in")
    nonce = set_cookie(form, "firebreak_csrf")
    assert nonce["secure"] == "True"
    # The test client speaks plain http, so it keeps a Secure cookie to itself: sent by hand,
    # as the browser on https would send it.
    signed = await client.post(
        "/ui/sign-in",
        data={"csrf": csrf_of(await form.text()), "token": API_TOKEN},
        headers={
            "Origin": "https://firebreak.example",
            "Cookie": f"firebreak_csrf={nonce['value']}",
        },
        allow_redirects=False,
    )
    assert signed.status == 303
    assert set_cookie(signed, SESSION)["secure"] == "True"


async def test_a_wrong_token_is_refused_with_one_line_and_no_cookie(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    refused = await sign_in(client, "not-the-token")
    assert refused.status == 401
    assert "That token or link is not right" in await refused.text()
    assert SESSION not in {c.key for c in client.session.cookie_jar}
    assert (await client.get("/ui/", allow_redirects=False)).status == 303
    [line] = refusals(caplog)
    assert line.startswith("refused POST /ui/sign-in: 401 wrong API token")
    assert "not-the-token" not in caplog.text
    metrics = await (await client.get("/metrics")).text()
    assert 'firebreak_auth_failures_total{source="ui"} 1.0' in metrics


@pytest.mark.parametrize("how", ["forged", "altered", "another key", "garbage", "not utf-8"])
async def test_a_cookie_that_does_not_verify_is_refused_and_cleared(
    client: Client, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    value = set_cookie(await sign_in(client), SESSION)["value"]
    version, payload, mac = value.split(".")
    # A payload naming another user, with the MAC of the real one; the real payload with a
    # MAC from a key guessed as the token itself; an unsigned cookie; bytes that are no text.
    forged = {
        "forged": f"{version}.eyJ1IjoibWFsbG9yeSIsImUiOjk5OTk5OTk5OTl9.{mac}",
        "altered": f"{version}.{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{mac}",
        "another key": f"{version}.{payload}.{mac[::-1]}",
        "garbage": "mallory",
        "not utf-8": "v1.\udcff\udcfe.x",
    }[how]
    client.session.cookie_jar.clear()
    resp = await client.get(
        "/ui/", headers={"Cookie": f"{SESSION}={forged}"}, allow_redirects=False
    )
    assert resp.status == 303
    assert resp.headers["Location"] == "/ui/sign-in"
    assert set_cookie(resp, SESSION)["max-age"] == "0"
    assert any("session cookie refused" in line for line in refusals(caplog))
    assert tracebacks(caplog) == []


async def test_an_expired_session_is_refused(client: Client, clock: FixedClock) -> None:
    await sign_in(client)
    clock.advance(43_200 - 1)
    assert (await client.get("/ui/", allow_redirects=False)).status == 200
    clock.advance(1)
    resp = await client.get("/ui/", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/ui/sign-in"


async def test_signing_out_ends_the_session(client: Client) -> None:
    await sign_in(client)
    out = await client.post("/ui/sign-out", allow_redirects=False)
    assert out.status == 303
    assert out.headers["Location"] == "/ui/sign-in"
    assert set_cookie(out, SESSION)["max-age"] == "0"
    assert (await client.get("/ui/", allow_redirects=False)).status == 303


async def test_a_post_without_the_forms_token_or_from_another_site_is_refused(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    form = await client.get("/ui/sign-in")
    token = csrf_of(await form.text())
    cases = [
        ({"token": API_TOKEN}, {}),  # no form token
        ({"token": API_TOKEN, "csrf": token + "x"}, {}),  # not the bot's
        ({"token": API_TOKEN, "csrf": token}, {"Origin": "https://evil.example"}),
        ({"token": API_TOKEN, "csrf": token}, {"Sec-Fetch-Site": "cross-site"}),
        ({"token": API_TOKEN, "csrf": token}, {"Sec-Fetch-Site": "same-site"}),
        ({"token": API_TOKEN, "csrf": token}, {"Sec-Fetch-Site": "cross-site", "Origin": "null"}),
    ]
    for data, headers in cases:
        resp = await client.post("/ui/sign-in", data=data, headers=headers, allow_redirects=False)
        assert resp.status == 403, (data, headers)
        assert SESSION not in resp.headers.get("Set-Cookie", "")
    # The form's own cookie is what the token is checked against: another client's fails.
    client.session.cookie_jar.clear()
    resp = await client.post(
        "/ui/sign-in", data={"token": API_TOKEN, "csrf": token}, allow_redirects=False
    )
    assert resp.status == 403
    assert len(refusals(caplog)) == len(cases) + 1
    assert tracebacks(caplog) == []


async def test_a_browser_posting_the_form_under_no_referrer_signs_in(client: Client) -> None:
    # The page's Referrer-Policy: no-referrer makes Chromium post the form with "Origin: null"
    # and "Sec-Fetch-Site: same-origin" (seen in tests/e2e/test_web_page_browser.py).
    for headers in (
        {"Origin": "null", "Sec-Fetch-Site": "same-origin"},
        {"Origin": "null"},  # a browser that predates Sec-Fetch-Site: the form token decides
    ):
        client.session.cookie_jar.clear()
        form = await client.get("/ui/sign-in")
        data = {"token": API_TOKEN, "csrf": csrf_of(await form.text()), "next": "/ui/"}
        resp = await client.post("/ui/sign-in", data=data, headers=headers, allow_redirects=False)
        assert resp.status == 303, (headers, await resp.text())
        assert SESSION in resp.headers.get("Set-Cookie", "")


async def test_a_body_that_is_not_the_form_is_400_not_a_traceback(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    for data, content_type in (
        (b'{"token": "x"}', "application/json"),
        (b"token=\xff\xfe&csrf=x", "application/x-www-form-urlencoded"),
        (b"token=" + b"a" * 10_000, "application/x-www-form-urlencoded"),
    ):
        resp = await client.post("/ui/sign-in", data=data, headers={"Content-Type": content_type})
        assert resp.status in (400, 413), (content_type, resp.status)
        assert "<h1>" in await resp.text()
    assert tracebacks(caplog) == []


async def test_guessing_is_refused_after_too_many_wrong_tokens(
    client: Client, caplog: pytest.LogCaptureFixture, clock: FixedClock
) -> None:
    for _ in range(LIMIT):
        assert (await sign_in(client, "guess")).status == 401
    blocked = await sign_in(client)
    assert blocked.status == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert SESSION not in blocked.headers.get("Set-Cookie", "")
    assert len(refusals(caplog)) == LIMIT + 1
    # The oldest guess ages out of the window; then the right token signs in.
    clock.advance(600)
    assert (await sign_in(client)).status == 303


async def test_the_launchers_sign_in_link_signs_in_until_it_expires(
    client: Client, clock: FixedClock
) -> None:
    link = sign_in_link("http://127.0.0.1:8080", API_TOKEN, now=clock.now().timestamp())
    path = link.removeprefix("http://127.0.0.1:8080")
    assert API_TOKEN not in link
    form = await client.get(path)
    html = await form.text()
    ticket = re.search(r'name="ticket" value="([^"]*)"', html)
    assert ticket is not None
    data = {"csrf": csrf_of(html), "ticket": ticket.group(1)}
    signed = await client.post("/ui/sign-in", data=data, allow_redirects=False)
    assert signed.status == 303
    client.session.cookie_jar.clear()

    clock.advance(86_400)
    form = await client.get(path)
    data = {"csrf": csrf_of(await form.text()), "ticket": ticket.group(1)}
    assert (await client.post("/ui/sign-in", data=data, allow_redirects=False)).status == 401
    # A ticket made with another token is no ticket.
    other = sign_in_link("http://x", "another-token", now=clock.now().timestamp())
    form = await client.get("/ui/sign-in")
    data = {"csrf": csrf_of(await form.text()), "ticket": other.split("ticket=")[1]}
    assert (await client.post("/ui/sign-in", data=data, allow_redirects=False)).status == 401


async def test_the_trusted_proxy_header_signs_in_the_user_it_names(
    aiohttp_client: MakeClient, sqlite_url: str, policy: Policy, caplog: pytest.LogCaptureFixture
) -> None:
    client = await aiohttp_client(
        web_app(sqlite_url, policy, trusted_proxy_header="X-Forwarded-User")
    )
    page = await client.get("/ui/", headers={"X-Forwarded-User": "alice@example.com"})
    assert page.status == 200
    assert "Signed in as <strong>alice@example.com</strong>" in await page.text()
    assert (await client.get("/ui/", allow_redirects=False)).status == 303
    bad = await client.get("/ui/", headers={"X-Forwarded-User": "   "}, allow_redirects=False)
    assert bad.status == 400
    # Twice (a proxy that appends to the client's header instead of replacing it) is refused.
    twice = await client.get(
        "/ui/",
        headers=[("X-Forwarded-User", "mallory"), ("X-Forwarded-User", "alice@example.com")],
        allow_redirects=False,
    )
    assert twice.status == 400
    assert tracebacks(caplog) == []


async def test_without_the_setting_the_proxy_header_is_ignored(client: Client) -> None:
    resp = await client.get("/ui/", headers={"X-Forwarded-User": "mallory"}, allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/ui/sign-in"


async def test_without_an_api_token_nobody_signs_in_with_one(
    aiohttp_client: MakeClient, sqlite_url: str, policy: Policy
) -> None:
    client = await aiohttp_client(web_app(sqlite_url, policy, api_token=None))
    form = await client.get("/ui/sign-in")
    assert "not configured" in await form.text()
    resp = await client.post("/ui/sign-in", data={"token": ""}, allow_redirects=False)
    assert resp.status == 403
