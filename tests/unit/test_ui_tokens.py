"""The web page's signed values and small rules, without a server: the session cookie, the
form token, the sign-in link's ticket, the page to return to after signing in, the guessing
limit, the filters, and which alert links are links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import MultiDict

from bot.domain.incident import IncidentStatus, Severity
from bot.errors import BadRequest, Overloaded
from handlers.errors import status_for
from handlers.ui import filters
from handlers.ui.access import return_path
from handlers.ui.config import UiConfig
from handlers.ui.limiter import SignInLimiter
from handlers.ui.record import http_link
from handlers.ui.tokens import (
    TICKET_MAX_SECONDS,
    Session,
    form_token,
    form_token_valid,
    seal,
    ticket_valid,
    unseal,
)
from launcher.sign_in import LINK_SECONDS, sign_in_link

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def _key(token: str) -> bytes:
    key = UiConfig(api_token=token, public_url="http://127.0.0.1:8080").key
    assert key is not None
    return key


KEY = _key("t0ken")


def sealed(user: str = "api-token", hours: int = 12) -> str:
    return seal(Session(user, NOW + timedelta(hours=hours)), KEY)


def test_a_sealed_session_opens_until_it_expires() -> None:
    value = sealed()
    assert unseal(value, KEY, NOW) == Session("api-token", NOW + timedelta(hours=12))
    assert unseal(value, KEY, NOW + timedelta(hours=12) - timedelta(seconds=1)) is not None
    assert unseal(value, KEY, NOW + timedelta(hours=12)) is None


def test_another_key_or_a_rotated_token_opens_nothing() -> None:
    rotated = UiConfig(api_token="new-t0ken", public_url="http://x").key
    assert rotated is not None
    assert rotated != KEY
    assert unseal(sealed(), rotated, NOW) is None
    # The key is derived, never the token itself.
    assert KEY != b"t0ken"


@given(st.integers(min_value=0, max_value=200), st.characters(min_codepoint=33, max_codepoint=126))
def test_changing_any_character_of_a_cookie_voids_it(position: int, char: str) -> None:
    value = sealed()
    index = position % len(value)
    if value[index] == char:
        return
    altered = value[:index] + char + value[index + 1 :]
    assert unseal(altered, KEY, NOW) is None


@given(st.text(max_size=300))
def test_any_text_as_a_cookie_is_no_session_and_no_error(value: str) -> None:
    assert unseal(value, KEY, NOW) is None


def test_the_form_token_belongs_to_its_nonce_and_key() -> None:
    token = form_token(KEY, "nonce-1")
    assert form_token_valid(KEY, "nonce-1", token)
    assert not form_token_valid(KEY, "nonce-2", token)
    assert not form_token_valid(KEY, "", token)
    assert not form_token_valid(KEY, "nonce-1", "")
    other = UiConfig(api_token="other", public_url="http://x").key
    assert other is not None
    assert not form_token_valid(other, "nonce-1", token)


def _ticket(token: str, now: datetime) -> str:
    return sign_in_link("http://b", token, now=now.timestamp()).split("ticket=")[1]


def test_the_launchers_ticket_is_valid_for_a_day_with_its_token_only() -> None:
    ticket = _ticket("t0ken", NOW)
    assert ticket_valid(ticket, "t0ken", NOW)
    assert ticket_valid(ticket, "t0ken", NOW + timedelta(seconds=LINK_SECONDS - 1))
    assert not ticket_valid(ticket, "t0ken", NOW + timedelta(seconds=LINK_SECONDS))
    assert not ticket_valid(ticket, "other", NOW)


def test_a_ticket_dated_too_far_ahead_or_malformed_is_refused() -> None:
    far = _ticket("t0ken", NOW + timedelta(seconds=TICKET_MAX_SECONDS))
    assert not ticket_valid(far, "t0ken", NOW)
    _version, expires, mac = _ticket("t0ken", NOW).split(".")
    for bad in (
        f"v2.{expires}.{mac}",
        f"v1.{expires}",
        f"v1.-{expires}.{mac}",
        f"v1.{int(expires) + 1}.{mac}",
        f"v1.{expires}.{mac[:-1]}",
        "v1.١٧٩٦٦١٤٢٧١." + mac,
        "",
    ):
        assert not ticket_valid(bad, "t0ken", NOW), bad


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, "/ui/"),
        ("/ui/incidents/4?part=timeline", "/ui/incidents/4?part=timeline"),
        ("/ui/?severity=P0&status=open", "/ui/?severity=P0&status=open"),
        ("//evil.example/ui/", "/ui/"),
        ("https://evil.example/ui/", "/ui/"),
        ("/ui/../api/incidents", "/ui/"),
        ("/ui/%2e%2e/api/incidents", "/ui/"),
        ("/ui/.%2E/metrics", "/ui/"),
        ("/ui/..%2fapi/incidents", "/ui/"),
        ("/ui/incidents/4%20x", "/ui/incidents/4%20x"),
        ("/ui/\\\\evil", "/ui/"),
        ("/ui/x\nSet-Cookie: a=b", "/ui/"),
        ("/ui/sign-in", "/ui/"),
        ("/api/incidents", "/ui/"),
        ("/ui/" + "x" * 3000, "/ui/"),
    ],
)
def test_the_page_to_return_to_is_a_page_of_the_ui(raw: str | None, expected: str) -> None:
    assert return_path(raw) == expected


def test_cookies_are_secure_unless_the_public_url_is_plain_http_on_loopback() -> None:
    def secure(url: str) -> bool:
        return UiConfig(api_token="t", public_url=url).secure_cookies

    assert not secure("http://127.0.0.1:8080")
    assert not secure("http://localhost:8080")
    assert not secure("http://[::1]:8080")
    assert secure("http://firebreak.example")
    assert secure("https://127.0.0.1:8443")
    assert secure("https://firebreak.example/base")
    assert UiConfig(api_token=None, public_url="http://x").key is None


def test_guessing_is_limited_per_address_within_the_window() -> None:
    limiter = SignInLimiter(limit=3, window=timedelta(minutes=10))
    for minute in range(3):
        assert limiter.retry_after("10.0.0.1", NOW + timedelta(minutes=minute)) is None
        limiter.failed("10.0.0.1", NOW + timedelta(minutes=minute))
    later = NOW + timedelta(minutes=3)
    assert limiter.retry_after("10.0.0.1", later) == timedelta(minutes=7)
    assert limiter.retry_after("10.0.0.2", later) is None
    assert limiter.retry_after("10.0.0.1", NOW + timedelta(minutes=10)) is None
    limiter.succeeded("10.0.0.1")
    assert limiter.retry_after("10.0.0.1", later) is None


def test_the_limiter_forgets_the_oldest_address_beyond_its_bound() -> None:
    limiter = SignInLimiter(limit=1, window=timedelta(minutes=10), addresses=2)
    for address in ("a", "b", "c"):
        limiter.failed(address, NOW)
    assert limiter.retry_after("a", NOW) is None
    assert limiter.retry_after("c", NOW) is not None


def test_the_filters_become_the_two_tables() -> None:
    default = filters.parse(MultiDict())
    open_table, recent = default.tables()
    assert open_table is not None
    assert open_table.open_only
    assert recent is not None
    assert recent.status is IncidentStatus.RESOLVED
    assert recent.limit == filters.RECENT_MAX
    query = filters.parse(MultiDict(status="acknowledged", severity="P1", service=" lnn "))
    assert query.severity is Severity.P1
    assert query.service == "lnn"
    open_table, recent = query.tables()
    assert recent is None
    assert open_table is not None
    assert open_table.status is IncidentStatus.ACKNOWLEDGED
    assert (open_table.severity, open_table.service) == (Severity.P1, "lnn")
    assert filters.parse(MultiDict(status="resolved")).tables()[0] is None
    with pytest.raises(BadRequest, match="severity"):
        filters.parse(MultiDict(severity="p0"))


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("http://prometheus:9090/graph?g0.expr=up", "http://prometheus:9090/graph?g0.expr=up"),
        ("HTTPS://p.example/g", "https://p.example/g"),
        ("javascript:alert(1)", ""),
        (" javascript:alert(1)", ""),
        ("data:text/html,<script>", ""),
        ("/graph?g0.expr=up", ""),
        ("//p.example/g", ""),
        ("http:///nohost", ""),
        ("http://[::1", ""),
        ("", ""),
    ],
)
def test_only_absolute_http_urls_become_links(url: str, link: str) -> None:
    assert http_link(url) == link


def test_a_form_cookie_that_is_not_utf8_is_no_form_token_not_a_crash() -> None:
    # aiohttp reads a cookie's non-UTF-8 bytes as lone surrogates; encoding them raised
    # UnicodeEncodeError, a 500 with a traceback for anyone posting the sign-in form.
    key = b"k" * 32
    token = form_token(key, "nonce")
    assert form_token_valid(key, "nonce", token)
    assert not form_token_valid(key, "\udcff\udcfe", token)
    assert not form_token_valid(key, "nonce\udcff", form_token(key, "nonce"))


def test_a_full_replica_is_503_on_the_web_page_too() -> None:
    assert status_for(Overloaded("the live streams are full", retry_after=2.0)) == 503
