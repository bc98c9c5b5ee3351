"""What ``GET /api/events`` refuses, over real HTTP: no token (401), an id or incident that is
not a whole number (400), a stream beyond the process's cap (503 with Retry-After). Each
refusal is one log line, never a traceback."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from bot.app import create_app
from bot.config import Settings
from bot.policy.model import Policy
from handlers.events import LIVE_FEED
from tests.support.bot_app import API_AUTH, API_TOKEN, Client, MakeClient, bot_app
from tests.support.sse import SseStream, open_stream

EVENTS = "/api/events"
# A bound for the feed to notice a closed connection (its next round), not a timing.
NOTICE_TIMEOUT_S = 30.0


@pytest.fixture
async def client(aiohttp_client: MakeClient, sqlite_url: str, policy: Policy) -> Client:
    return await aiohttp_client(bot_app(sqlite_url, policy))


def refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "firebreak.refused"]


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info], caplog.text


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {API_TOKEN}"}],
    ids=["none", "wrong", "not-bearer"],
)
async def test_a_stream_without_the_api_token_is_refused(
    client: Client, caplog: pytest.LogCaptureFixture, headers: dict[str, str]
) -> None:
    with caplog.at_level(logging.INFO):
        response = await client.get(EVENTS, headers=headers)
        assert response.status == 401
        assert "error" in await response.json()
    assert [r.levelno for r in refusals(caplog)] == [logging.WARNING]
    no_tracebacks(caplog)
    assert client.app[LIVE_FEED].streams == 0


@pytest.mark.parametrize(
    ("query", "last_event_id", "names"),
    [
        ("after=abc", None, "after"),
        ("after=-1", None, "after"),
        ("after=", None, "after"),
        ("after=1.5", None, "after"),
        ("after=1e3", None, "after"),
        ("after=1&after=2", None, "after given 2 times"),
        ("after=1234567890123456789", None, "after"),
        ("after=%D9%A1%D9%A2", None, "after"),  # Arabic-Indic digits: not ASCII
        ("incident=x", None, "incident"),
        ("incident=0", None, "incident"),
        ("incident=1&incident=2", None, "incident given 2 times"),
        ("", "abc", "Last-Event-ID"),
        ("", "-5", "Last-Event-ID"),
        ("after=3", "x1", "Last-Event-ID"),
        ("after=x", "3", "after"),
    ],
)
async def test_a_bad_id_or_incident_is_400_naming_it(
    client: Client,
    caplog: pytest.LogCaptureFixture,
    query: str,
    last_event_id: str | None,
    names: str,
) -> None:
    headers = dict(API_AUTH)
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    with caplog.at_level(logging.INFO):
        response = await client.get(f"{EVENTS}?{query}", headers=headers)
        assert response.status == 400
        assert names in (await response.json())["error"]
    lines = refusals(caplog)
    assert len(lines) == 1, caplog.text
    assert "400" in lines[0].getMessage()
    assert names in lines[0].getMessage()
    no_tracebacks(caplog)
    assert client.app[LIVE_FEED].streams == 0


async def test_an_empty_last_event_id_counts_as_none(client: Client) -> None:
    live = await open_stream(
        client.session, str(client.make_url(EVENTS)), headers={**API_AUTH, "Last-Event-ID": ""}
    )
    live.close()


async def test_head_is_not_a_way_to_open_a_stream(client: Client) -> None:
    response = await client.head(EVENTS, headers=API_AUTH)
    assert response.status == 405


async def test_streams_beyond_the_cap_get_503_with_retry_after_until_one_closes(
    aiohttp_client: MakeClient,
    sqlite_url: str,
    policy: Policy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(database_url=sqlite_url, api_token=API_TOKEN, events_max_streams=2)
    client = await aiohttp_client(create_app(settings, policy=policy))
    url = str(client.make_url(EVENTS))
    streams: list[SseStream] = [
        await open_stream(client.session, url, headers=API_AUTH) for _ in range(2)
    ]
    with caplog.at_level(logging.INFO):
        refused = await client.get(EVENTS, headers=API_AUTH)
        assert refused.status == 503
        assert refused.headers["Retry-After"] == "5"
        assert "2 event streams" in (await refused.json())["error"]
    assert len(refusals(caplog)) == 1
    no_tracebacks(caplog)

    # A client that leaves frees its place: the feed notices the closed connection.
    streams.pop().close()
    deadline = time.monotonic() + NOTICE_TIMEOUT_S
    while client.app[LIVE_FEED].streams > 1:
        assert time.monotonic() < deadline, "the closed stream still counts"
        await asyncio.sleep(0.05)
    streams.append(await open_stream(client.session, url, headers=API_AUTH))
    for live in streams:
        live.close()
