"""Bad and unauthenticated input at the three signed routes, over real HTTP to the real app:
every refusal is a 4xx (never a 5xx a sender would retry), one log line without the body,
and nothing is stored."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.policy.model import Policy
from handlers.json_depth import MAX_JSON_DEPTH
from tests.support.bot_app import AM_AUTH, PD_SECRET, MakeClient, inbox_rows
from tests.support.payloads.alertmanager import T0, alert, webhook
from tests.support.payloads.pagerduty import encode, incident_event
from tests.support.payloads.pagerduty import sign as pd_sign
from tests.support.raw_http import send_in_parts
from tests.support.slack_bot import SlackBot, sign, slack_bot


@pytest.fixture
async def bot(
    aiohttp_client: MakeClient, sqlite_url: str, policy: Policy
) -> AsyncIterator[SlackBot]:
    async with slack_bot(
        aiohttp_client, sqlite_url, policy, pagerduty_webhook_secrets=PD_SECRET
    ) as running:
        yield running


async def metric(bot: SlackBot, name: str, **labels: str) -> float:
    text = await (await bot.client.get("/metrics")).text()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


@pytest.fixture(autouse=True)
def log_info(caplog: pytest.LogCaptureFixture) -> None:
    # Refusals other than 401 are logged at INFO.
    caplog.set_level(logging.INFO)


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "firebreak.refused"]


def nested(depth: int) -> str:
    """JSON text nesting arrays and objects ``depth`` levels deep (built as text: the
    standard library's encoder would itself recurse)."""
    opens = "".join("[" if i % 2 else '{"k":' for i in range(depth))
    closes = "".join("]" if i % 2 else "}" for i in reversed(range(depth)))
    return opens + '"bottom"' + closes


def with_deep(doc: dict[str, Any], where: str, depth: int) -> str:
    """``doc`` as JSON with the placeholder string ``where`` replaced by deep nesting."""
    return json.dumps(doc).replace(json.dumps(where), nested(depth))


# ---------------------------------------------------------------------------------------------
# Slack: the route verifies before Bolt sees anything
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "timestamp", ["1796614271.663", "abc", "1e9", "", " 1796614271", "١٧٩٦٦١٤٢٧١", "-1"]
)
async def test_a_slack_timestamp_that_is_not_an_integer_is_401(
    bot: SlackBot, caplog: pytest.LogCaptureFixture, timestamp: str
) -> None:
    body = urlencode({"command": "/incident", "text": "declare Forged"})
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        # Signed with the right secret over that very timestamp: only its form is wrong.
        "X-Slack-Signature": sign(body)["X-Slack-Signature"],
    }
    resp = await bot.client.post("/slack/events", data=body.encode(), headers=headers)
    assert resp.status == 401, await resp.text()
    assert await metric(bot, "firebreak_auth_failures_total", source="slack") == 1
    assert errors(caplog) == []
    assert len(refusals(caplog)) == 1


async def test_an_unsigned_json_body_that_is_not_json_is_401_not_503(
    bot: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    resp = await bot.client.post(
        "/slack/events", data=b"{this is not json", headers={"Content-Type": "application/json"}
    )
    assert resp.status == 401
    assert errors(caplog) == []


async def test_a_signed_body_bolt_cannot_read_is_400(bot: SlackBot) -> None:
    for body, content_type in (("{not json", "application/json"), ("[1, 2]", "application/json")):
        resp = await bot.post_signed(body, content_type)
        assert resp.status == 400, (body, await resp.text())
    resp = await bot.client.post(
        "/slack/events",
        data=b"payload=\xff\xfe",
        headers={"Content-Type": "application/x-www-form-urlencoded", **sign("payload=")},
    )
    assert resp.status == 400


async def test_bolt_never_logs_a_forged_body(
    bot: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_looking = "payload=" + json.dumps({"type": "block_actions", "marker": "FORGED-BODY"})
    resp = await bot.post_signed(
        secret_looking, "application/x-www-form-urlencoded", secret="not-the-secret"
    )
    assert resp.status == 401
    assert not [r for r in caplog.records if "FORGED-BODY" in r.getMessage()]
    [line] = refusals(caplog)
    assert line.levelno == logging.WARNING
    assert line.getMessage().startswith("refused POST /slack/events: 401 X-Slack-Signature")
    assert f"{len(secret_looking)} bytes read" in line.getMessage()


async def test_credentials_that_are_not_utf8_are_401_not_a_traceback(
    bot: SlackBot, caplog: pytest.LogCaptureFixture, sqlite_url: str
) -> None:
    # aiohttp reads header bytes that are not UTF-8 as lone surrogates; encoding those for
    # the comparison raised, and an unauthenticated request got a 503 with a traceback.
    base = str(bot.client.make_url(""))
    payload = json.dumps(webhook("g-bytes", [alert("Bytes")])).encode()
    for method, path, headers in (
        ("POST", "/webhooks/alertmanager", {"Authorization": "Bearer \xff\xfe"}),
        ("POST", "/webhooks/pagerduty", {"X-PagerDuty-Signature": "v1=\xff\xfe"}),
        ("GET", "/api/incidents", {"Authorization": "Bearer \xe9t\xe9"}),
        (
            "POST",
            "/slack/events",
            {"X-Slack-Request-Timestamp": "\xff", "X-Slack-Signature": "v0=\xff"},
        ),
    ):
        parts = [payload] if method == "POST" else []
        response = await send_in_parts(base, path, headers, parts, pause=0, method=method)
        assert response.status == 401, (path, response)
    assert errors(caplog) == []
    assert len(refusals(caplog)) == 4
    assert await inbox_rows(sqlite_url) == []


async def test_the_web_pages_ways_in_refuse_bytes_that_are_not_utf8_without_a_traceback(
    bot: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    # The web page's routes (/ui/...) take a cookie, a query and a form: none of their bytes
    # may turn into a 5xx or a traceback.
    base = str(bot.client.make_url(""))
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for method, path, headers, body, status in (
        ("GET", "/ui/", {"Cookie": "firebreak_session=v1.\xff\xfe.\xff"}, b"", 303),
        ("GET", "/ui/incidents/1", {"Cookie": "firebreak_session=\xe9t\xe9"}, b"", 303),
        ("GET", "/ui/sign-in?next=%FF%FE", {}, b"", 200),
        ("GET", "/ui/?service=%FF", {}, b"", 303),
        ("POST", "/ui/sign-in", form, b"csrf=%FF&token=\xff\xfe", 400),
        ("POST", "/ui/sign-out", {"Origin": "http://\xff"}, b"", 403),
    ):
        parts = [body] if body else []
        response = await send_in_parts(base, path, headers, parts, pause=0, method=method)
        assert response.status == status, (method, path, response)
    assert errors(caplog) == []


async def test_signed_deep_json_with_a_charset_is_400(
    bot: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    # Bolt picks JSON by the media type without parameters; the depth check must too (a
    # body that starts with "{" is JSON to both whatever its type, so this one does not).
    body = "[" * 5_000 + "]" * 5_000
    resp = await bot.post_signed(body, "application/json; charset=utf-8")
    assert resp.status == 400, await resp.text()
    assert errors(caplog) == []
    [line] = refusals(caplog)
    assert "nested deeper than" in line.getMessage()


# ---------------------------------------------------------------------------------------------
# Nesting depth: 400 on every route, however deep, without reaching a recursive parser
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 50_000])
async def test_json_nested_too_deep_is_400_on_every_route(
    bot: SlackBot, caplog: pytest.LogCaptureFixture, sqlite_url: str, depth: int
) -> None:
    am = with_deep(webhook("g-deep", [alert("Deep")]) | {"extension": "DEEP"}, "DEEP", depth)
    resp = await bot.client.post("/webhooks/alertmanager", data=am, headers=AM_AUTH)
    assert resp.status == 400, await resp.text()

    event = incident_event("incident.triggered", T0)
    event["event"]["data"]["extension"] = "DEEP"
    body = with_deep(event, "DEEP", depth).encode()
    headers = {
        "Content-Type": "application/json",
        "X-PagerDuty-Signature": pd_sign(body, PD_SECRET),
    }
    resp = await bot.client.post("/webhooks/pagerduty", data=body, headers=headers)
    assert resp.status == 400, await resp.text()

    slack_event = {"type": "event_callback", "event_id": "Ev0DEEP", "event": {"x": "DEEP"}}
    resp = await bot.post_signed(with_deep(slack_event, "DEEP", depth), "application/json")
    assert resp.status == 400, await resp.text()
    click = with_deep({"type": "block_actions", "actions": "DEEP"}, "DEEP", depth)
    resp = await bot.post_signed(urlencode({"payload": click}), "application/x-www-form-urlencoded")
    assert resp.status == 400, await resp.text()

    assert errors(caplog) == []
    assert len(refusals(caplog)) == 4
    assert all("nested deeper than" in r.getMessage() for r in refusals(caplog))
    assert await inbox_rows(sqlite_url) == []


async def test_real_nesting_below_the_bound_is_accepted(bot: SlackBot) -> None:
    # The webhook object is one level; brackets inside strings are text, not nesting.
    doc = webhook("g-nested", [alert("Nested", summary="[" * 500)]) | {"extension": "DEEP"}
    am = with_deep(doc, "DEEP", MAX_JSON_DEPTH - 1)
    resp = await bot.client.post("/webhooks/alertmanager", data=am, headers=AM_AUTH)
    assert resp.status == 202, await resp.text()
    # A command's text is not JSON, however many brackets it holds.
    command = "command=/incident&user_id=U0ALICE001&channel_id=C0X&text=help+" + "{" * 200
    resp = await bot.post_signed(command, "application/x-www-form-urlencoded")
    assert resp.status == 200, await resp.text()


# ---------------------------------------------------------------------------------------------
# Content-Encoding: refused unread (415), after authentication wherever that needs no body
# ---------------------------------------------------------------------------------------------


async def test_compressed_bodies_are_415_and_unauthenticated_ones_401(
    bot: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    payload = json.dumps(webhook("g-gzip", [alert("Gzip")])).encode()
    zipped = gzip.compress(payload)
    gz = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    resp = await bot.client.post("/webhooks/alertmanager", data=zipped, headers=gz | AM_AUTH)
    assert resp.status == 415
    resp = await bot.client.post("/webhooks/alertmanager", data=zipped, headers=gz)
    assert resp.status == 401
    body = encode(incident_event("incident.triggered", T0))
    signed = gz | {"X-PagerDuty-Signature": pd_sign(body, PD_SECRET)}
    resp = await bot.client.post("/webhooks/pagerduty", data=gzip.compress(body), headers=signed)
    assert resp.status == 415
    resp = await bot.client.post(
        "/slack/events", data=gzip.compress(b"x=1"), headers=gz | sign("x=1")
    )
    assert resp.status == 415
    assert errors(caplog) == []
    assert [r.getMessage().split(": ")[1][:3] for r in refusals(caplog)] == [
        "415",
        "401",
        "415",
        "415",
    ]
    # An explicit identity encoding is no encoding.
    resp = await bot.client.post(
        "/webhooks/alertmanager", data=payload, headers=AM_AUTH | {"Content-Encoding": "identity"}
    )
    assert resp.status == 202


async def test_a_body_over_the_slack_limit_is_refused_unread(
    bot: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    body = "text=" + "x" * (1024 * 1024)
    resp = await bot.post_signed(body, "application/x-www-form-urlencoded")
    assert resp.status == 413
    [line] = refusals(caplog)
    assert "bytes declared, unread" in line.getMessage()
