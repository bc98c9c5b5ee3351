"""Generated forgeries against every signed route, and genuine requests split at random points.

Ten thousand forgeries per route (wrong, missing, stale and malformed signatures, timestamps and
tokens, random bodies and content types) each get 401 or 400, store nothing, send nothing to
Slack and log no ERROR; a thousand correctly signed requests, written in pieces, are accepted.
The app runs in a thread of this process (``threaded_bot``) and is reached over loopback."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.policy.model import Policy
from tests.support.bot_app import AM_TOKEN, PD_SECRET
from tests.support.payloads.alertmanager import T0, alert, webhook
from tests.support.payloads.pagerduty import encode, incident_event
from tests.support.raw_http import blocking_request, request_head, split_at
from tests.support.slack_bot import SIGNING_SECRET
from tests.support.threaded_bot import KeepAliveClient, ThreadedBot, threaded_bot

_webhook_ids = itertools.count(1)

FORGERIES_PER_ROUTE = 10_000
SIGNED_REQUESTS = 1_000
# Forgeries per Hypothesis example: the engine's own work per example is the larger cost.
BATCH = 10
# Slack's replay window (slack_sdk's verifier); "stale" and "future" stay well outside it.
WINDOW_S = 300

PROPERTY = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def bot(tmp_path: Path, policy: Policy) -> Iterator[ThreadedBot]:
    with threaded_bot(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", policy) as running:
        yield running


def hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def slack_signature(body: bytes, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    return "v0=" + hmac_hex(secret, f"v0:{timestamp}:".encode() + body)


# -- what a forger may send ------------------------------------------------------------------

# Hypothesis spends most of this test's time generating, so the strategies draw primitives
# only (no strategy is built per example) and bodies are not recursive.

# Header values a client can put on the wire (no CR/LF), some beyond ASCII.
header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=80,
)
CONTENT_TYPES = [
    None,
    "application/json",
    "application/json; charset=utf-8",
    "application/x-www-form-urlencoded",
    "text/plain",
    "multipart/form-data; boundary=x",
]
GENUINE_LOOKING = [
    urlencode({"command": "/incident", "text": "declare Forged", "user_id": "U0ADMIN"}),
    urlencode({"payload": json.dumps({"type": "block_actions", "actions": [{"action_id": "x"}]})}),
    json.dumps({"type": "event_callback", "event_id": "Ev0F", "event": {"type": "x"}}),
    json.dumps({"type": "url_verification", "challenge": "c"}),
    encode(incident_event("incident.triggered", T0)).decode(),
    json.dumps(webhook("g-forged", [alert("Forged")])),
    "{not json",
    "[" * 5000,
]
json_objects = st.dictionaries(
    st.text(max_size=8), st.none() | st.integers() | st.text(max_size=20), max_size=4
).map(json.dumps)
bodies = st.one_of(
    st.binary(max_size=2048),
    st.text(max_size=512).map(str.encode),
    json_objects.map(str.encode),
    st.sampled_from(GENUINE_LOOKING).map(str.encode),
)


def draw_content_type(draw: st.DrawFn) -> str | None:
    choice = draw(st.integers(0, len(CONTENT_TYPES)))
    return draw(header_text) if choice == len(CONTENT_TYPES) else CONTENT_TYPES[choice]


def random_hex(draw: st.DrawFn) -> str:
    return draw(st.binary(min_size=32, max_size=32)).hex()


@dataclass(frozen=True)
class Forgery:
    headers: dict[str, str]
    body: bytes


def _with_content_type(headers: dict[str, str], content_type: str | None) -> dict[str, str]:
    return headers if content_type is None else {**headers, "Content-Type": content_type}


MALFORMED_STAMPS = ["1796614271.663", "abc", "1e9", "", " 1", "0x10", "-5", "١٢٣"]


@st.composite
def slack_forgeries(draw: st.DrawFn) -> Forgery:
    body = draw(bodies)
    now = int(time.time())
    kind = draw(st.sampled_from(["missing", "now", "stale", "future", "text"]))
    timestamp: str | None = None
    if kind == "now":
        timestamp = str(now + draw(st.integers(-60, 60)))
    elif kind == "stale":
        timestamp = str(now - draw(st.integers(WINDOW_S + 60, 10**9)))
    elif kind == "future":
        timestamp = str(now + draw(st.integers(WINDOW_S + 60, 10**9)))
    elif kind == "text":
        pick = draw(st.integers(0, len(MALFORMED_STAMPS)))
        timestamp = draw(header_text) if pick == len(MALFORMED_STAMPS) else MALFORMED_STAMPS[pick]
    stamp = timestamp or str(now)
    right = slack_signature(body, stamp)
    how = draw(
        st.sampled_from(
            ["none", "hex", "secret", "tampered", "flipped", "v1", "text"]
            # The right signature only goes with a timestamp it cannot pass with.
            + (["right"] if kind in ("stale", "future", "text") else [])
        )
    )
    signature: str | None = None
    if how == "hex":
        signature = "v0=" + random_hex(draw)
    elif how == "secret":
        signature = slack_signature(body, stamp, "not-the-signing-secret")
    elif how == "tampered":
        signature = slack_signature(body + b"tampered", stamp)
    elif how == "flipped":
        i = draw(st.integers(3, len(right) - 1))
        signature = right[:i] + ("0" if right[i] != "0" else "1") + right[i + 1 :]
    elif how == "v1":
        signature = "v1=" + right[3:]
    elif how == "text":
        signature = draw(header_text)
    elif how == "right":
        signature = right
        # A generated text that happens to be a current Unix time would make it genuine.
        stripped = stamp.strip()
        assume(
            not (stripped.isascii() and stripped.isdigit() and abs(int(stripped) - now) <= WINDOW_S)
        )
    headers = {}
    if timestamp is not None:
        headers["X-Slack-Request-Timestamp"] = timestamp
    if signature is not None:
        headers["X-Slack-Signature"] = signature
    return Forgery(_with_content_type(headers, draw_content_type(draw)), body)


@st.composite
def pagerduty_forgeries(draw: st.DrawFn) -> Forgery:
    body = draw(bodies)
    right = "v1=" + hmac_hex(PD_SECRET, body)

    def wrong() -> str:
        how = draw(st.sampled_from(["hex", "secret", "tampered", "v0", "upper"]))
        if how == "hex":
            return "v1=" + random_hex(draw)
        if how == "secret":
            return "v1=" + hmac_hex("wrong-secret", body)
        if how == "tampered":
            return "v1=" + hmac_hex(PD_SECRET, body + b"tampered")
        return "v0=" + right[3:] if how == "v0" else right.upper()

    how = draw(st.sampled_from(["none", "empty", "wrong", "several", "text"]))
    signature = {"none": None, "empty": "", "text": None}.get(how)
    if how == "text":
        signature = draw(header_text)
    elif how == "wrong":
        signature = wrong()
    elif how == "several":
        signature = ",".join(wrong() for _ in range(draw(st.integers(2, 4))))
    assume(signature is None or right not in [part.strip() for part in signature.split(",")])
    headers = {} if signature is None else {"X-PagerDuty-Signature": signature}
    if draw(st.booleans()):
        headers["X-Webhook-Id"] = draw(header_text)
    return Forgery(_with_content_type(headers, draw_content_type(draw)), body)


AM_WRONG = [
    f"Basic {AM_TOKEN}",
    f"Bearer {AM_TOKEN}x",
    f"Bearer {AM_TOKEN.upper()}",
    AM_TOKEN,
    "Bearer",
]


@st.composite
def alertmanager_forgeries(draw: st.DrawFn) -> Forgery:
    body = draw(bodies)
    how = draw(st.sampled_from(["none", "bearer-text", "text", *AM_WRONG]))
    authorization: str | None = None
    if how == "bearer-text":
        authorization = "Bearer " + draw(header_text)
    elif how == "text":
        authorization = draw(header_text)
    elif how != "none":
        authorization = how
    scheme, _, token = (authorization or "").partition(" ")
    assume(not (scheme.lower() == "bearer" and token.strip() == AM_TOKEN))
    headers = {} if authorization is None else {"Authorization": authorization}
    return Forgery(_with_content_type(headers, draw_content_type(draw)), body)


def assert_forgeries_refused(
    bot: ThreadedBot,
    caplog: pytest.LogCaptureFixture,
    path: str,
    forgeries: st.SearchStrategy[Forgery],
) -> None:
    client = KeepAliveClient(bot.address)
    statuses: dict[int, int] = {}

    @settings(PROPERTY, max_examples=FORGERIES_PER_ROUTE // BATCH)
    @given(st.lists(st.tuples(forgeries, st.booleans()), min_size=BATCH, max_size=BATCH))
    def refused(batch: list[tuple[Forgery, bool]]) -> None:
        for forgery, raw_bytes in batch:
            status = client.post(path, forgery.body, forgery.headers, raw_bytes=raw_bytes)
            assert status in (400, 401), (status, forgery)
            statuses[status] = statuses.get(status, 0) + 1

    try:
        refused()
    finally:
        client.close()
    assert sum(statuses.values()) >= FORGERIES_PER_ROUTE, statuses
    assert set(bot.stored_rows().values()) == {0}, bot.stored_rows()
    assert bot.fake.requests == []
    assert bot.fake.responses == []
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == [], [r.getMessage() for r in errors[:5]]


def test_forged_slack_requests_are_refused(
    bot: ThreadedBot, caplog: pytest.LogCaptureFixture
) -> None:
    assert_forgeries_refused(bot, caplog, "/slack/events", slack_forgeries())


def test_forged_pagerduty_deliveries_are_refused(
    bot: ThreadedBot, caplog: pytest.LogCaptureFixture
) -> None:
    assert_forgeries_refused(bot, caplog, "/webhooks/pagerduty", pagerduty_forgeries())


def test_alertmanager_deliveries_without_the_token_are_refused(
    bot: ThreadedBot, caplog: pytest.LogCaptureFixture
) -> None:
    assert_forgeries_refused(bot, caplog, "/webhooks/alertmanager", alertmanager_forgeries())


# -- genuine requests, in pieces -------------------------------------------------------------


@dataclass(frozen=True)
class Genuine:
    path: str
    headers: dict[str, str]
    body: bytes
    accepted: int
    check: Callable[[bytes], bool]


@st.composite
def genuine_requests(draw: st.DrawFn) -> Genuine:
    route = draw(st.sampled_from(["slack", "pagerduty", "alertmanager"]))
    if route == "slack":
        challenge = draw(st.text(max_size=40))
        pad = "x" * draw(st.integers(0, 30_000))
        doc = {"type": "url_verification", "challenge": challenge, "token": "t", "card": pad}
        body = json.dumps(doc).encode()
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": slack_signature(body, stamp),
        }
        return Genuine(
            "/slack/events",
            headers,
            body,
            200,
            lambda answer: json.loads(answer) == {"challenge": challenge},
        )
    if route == "pagerduty":
        event = incident_event("incident.triggered", T0, event_id=f"E{draw(st.uuids()).hex}")
        body = encode(event)
        headers = {
            "Content-Type": "application/json",
            "X-PagerDuty-Signature": "v1=" + hmac_hex(PD_SECRET, body),
            # A fresh delivery each time: Hypothesis repeats drawn values, and a redelivery of
            # a stored webhook id is answered 200 "duplicate" rather than 202 "accepted". Fixed
            # width, so the request (which the cuts are drawn over) is as long each time.
            "X-Webhook-Id": f"wh-split-{next(_webhook_ids):012d}",
        }
        return Genuine("/webhooks/pagerduty", headers, body, 202, lambda _: True)
    body = json.dumps(webhook("g-split", [alert("Split")])).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {AM_TOKEN}"}
    return Genuine("/webhooks/alertmanager", headers, body, 202, lambda _: True)


def test_signed_requests_split_at_random_points_are_accepted(
    bot: ThreadedBot, caplog: pytest.LogCaptureFixture
) -> None:
    sent: list[str] = []

    @settings(PROPERTY, max_examples=SIGNED_REQUESTS)
    @given(genuine_requests(), st.randoms(use_true_random=False))
    def accepted(request: Genuine, rng: random.Random) -> None:
        whole = request_head(
            "POST", request.path, request.headers, content_length=len(request.body)
        )
        whole += request.body
        # Anywhere in the request: inside the request line, the headers or the body.
        cuts = [rng.randrange(1, len(whole)) for _ in range(rng.randint(1, 4))]
        response = blocking_request(bot.address, b"", split_at(whole, cuts), pause=0.002)
        assert response.status == request.accepted, (response, request.path)
        assert request.check(response.body), response
        sent.append(request.path)

    accepted()
    assert len(sent) >= SIGNED_REQUESTS
    assert {path: sent.count(path) for path in set(sent)}.keys() == {
        "/slack/events",
        "/webhooks/pagerduty",
        "/webhooks/alertmanager",
    }
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
