"""``GET /api/events``: the live feed over real HTTP against the real app, on SQLite and
PostgreSQL. Events arrive as alerts are processed, whether this process or another writer
committed them; a client that reconnects with the last id it saw gets exactly what it missed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.domain.actor import Actor
from bot.domain.events import Note
from bot.policy.model import Policy
from db.migrate import upgrade_async
from db.store import SqlStore
from db.tables import timeline
from handlers.events import LIVE_FEED
from tests.support.bot_app import AM_AUTH, API_AUTH, Client, MakeClient, bot_app, process_inbox
from tests.support.payloads.alertmanager import T0, alert, webhook
from tests.support.sse import SseEvent, SseStream, open_stream
from tests.support.store_builders import new_incident

EVENTS = "/api/events"


@pytest.fixture
async def client(aiohttp_client: MakeClient, database_url: str, policy: Policy) -> Client:
    await upgrade_async(database_url)
    return await aiohttp_client(bot_app(database_url, policy))


@pytest.fixture
async def other_writer(database_url: str) -> AsyncIterator[SqlStore]:
    """A store of its own on the same database: another replica's commits, which do not
    wake this app's feed."""
    store = SqlStore.from_url(database_url)
    yield store
    await store.close()


async def stream(client: Client, **params: str) -> SseStream:
    headers = dict(API_AUTH)
    last = params.pop("last_event_id", None)
    if last is not None:
        headers["Last-Event-ID"] = last
    return await open_stream(
        client.session, str(client.make_url(EVENTS)), headers=headers, params=params
    )


async def fire(client: Client, name: str) -> None:
    """Post a firing group and process it: an incident opens."""
    payload = webhook(f'{{}}:{{alertname="{name}"}}', [alert(name, "critical", pod="lnn-0")])
    response = await client.post(
        "/webhooks/alertmanager", data=json.dumps(payload).encode(), headers=AM_AUTH
    )
    assert response.status == 202, await response.text()
    await process_inbox(client.app)


async def timeline_ids(store: SqlStore, after: int = 0) -> list[int]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            select(timeline.c.id).where(timeline.c.id > after).order_by(timeline.c.id)
        )
        return [row.id for row in rows]


async def caught_up(client: Client) -> None:
    """Have the app's feed read what other writers committed (its poll would, moments later)."""
    await client.app[LIVE_FEED].drain()


def numbers(events: list[SseEvent]) -> list[int]:
    return [event.number for event in events]


def opened(title_part: str) -> Any:
    return lambda data: data["kind"] == "incident.opened" and title_part in data["text"]


def firing(name: str) -> Any:
    return lambda data: data["kind"] == "alert.firing" and name in data["text"]


async def add_notes(store: SqlStore, count: int) -> int:
    """An incident with ``count`` notes, written as another replica would; its id."""
    async with store.transaction() as uow:
        incident = await uow.incidents.create(new_incident(group_key=None))
        for n in range(count):
            await uow.timeline.append(
                incident.id, at=T0, actor=Actor("slack", "U1"), event=Note(text=f"note {n}")
            )
    return incident.id


async def test_an_alert_posted_appears_live_with_its_sentence_and_incident(
    client: Client,
) -> None:
    live = await stream(client)
    await fire(client, "LNNServiceDown")

    events = await live.until(firing("LNNServiceDown"))
    first = next(e for e in events if e.json()["kind"] == "incident.opened")
    data = first.json()
    assert first.number == data["id"]
    assert set(data) == {
        "id",
        "incident_id",
        "seq",
        "kind",
        "at",
        "actor",
        "text",
        "status",
        "severity",
        "title",
        "service",
    }
    assert data["seq"] == 1
    assert data["severity"] == "P0"
    assert data["status"] == "triggered"
    assert data["text"].startswith("Opened as P0: ")
    assert data["at"].endswith("+00:00")
    assert live.retry == [2000]
    # Ids only grow along a stream.
    assert numbers(events) == sorted(set(numbers(events)))
    live.close()


async def test_a_client_that_reconnects_with_its_last_event_id_gets_exactly_what_it_missed(
    client: Client, other_writer: SqlStore
) -> None:
    first = await stream(client)
    await fire(client, "LNNServiceDown")
    seen = await first.until(firing("LNNServiceDown"))
    first.close()
    last = seen[-1].number
    # Nothing was skipped on the first connection either.
    assert (
        numbers(seen)
        == [i for i in await timeline_ids(other_writer) if i >= seen[0].number][: len(seen)]
    )

    # While it is away: this process opens an incident, another writer adds notes.
    await fire(client, "LNNHighLatency")
    noted = await add_notes(other_writer, 3)

    again = await stream(client, last_event_id=str(last))
    missed = await again.until(lambda d: d["incident_id"] == noted and d["text"] == "Note: note 2")
    got = numbers(missed)
    assert got[0] > last
    assert got == (await timeline_ids(other_writer, last))[: len(got)]
    assert any(opened("LNNHighLatency")(e.json()) for e in missed)
    again.close()


async def test_after_resumes_a_page_and_incident_keeps_one_incidents_events(
    client: Client, other_writer: SqlStore
) -> None:
    await fire(client, "LNNServiceDown")
    rendered = (await timeline_ids(other_writer))[-1]
    noted = await add_notes(other_writer, 2)
    await fire(client, "LNNHighLatency")

    page = await stream(client, after=str(rendered))
    everything = await page.until(opened("LNNHighLatency"))
    assert numbers(everything) == (await timeline_ids(other_writer, rendered))[: len(everything)]
    page.close()

    one = await stream(client, after="0", incident=str(noted))
    notes = await one.take(2)
    assert [e.json()["text"] for e in notes] == ["Note: note 0", "Note: note 1"]
    # Then live: the next event of that incident, none of the others' in between.
    await add_notes(other_writer, 1)
    async with other_writer.transaction() as uow:
        await uow.timeline.append(
            noted, at=T0, actor=Actor("slack", "U2"), event=Note(text="later")
        )
    (later,) = await one.take(1)
    assert later.json()["text"] == "Note: later"
    assert {e.json()["incident_id"] for e in [*notes, later]} == {noted}
    one.close()


async def test_the_catch_up_is_bounded_and_the_client_comes_back_for_the_rest(
    client: Client, other_writer: SqlStore
) -> None:
    incident = await add_notes(other_writer, 1_500)
    await caught_up(client)
    first = await stream(client, after="0", incident=str(incident))
    batch = await first.rest()
    assert len(batch) == 1_000
    # Asked back sooner than the usual retry.
    assert first.retry == [2000, 250]
    again = await stream(client, last_event_id=batch[-1].id or "", incident=str(incident))
    rest = await again.take(500)
    got = numbers(batch) + numbers(rest)
    assert got == await timeline_ids(other_writer)
    assert [e.json()["text"] for e in rest[-2:]] == ["Note: note 1498", "Note: note 1499"]
    again.close()


async def test_an_id_the_database_never_gave_counts_from_its_newest(
    client: Client, other_writer: SqlStore
) -> None:
    # A browser tab left open across a database reset: its id is ahead of everything.
    await add_notes(other_writer, 1)
    live = await stream(client, last_event_id="999999")
    incident = await add_notes(other_writer, 1)
    events = await live.until(lambda d: d["incident_id"] == incident and d["kind"] == "note")
    assert all(e.number < 999_999 for e in events)
    live.close()


@pytest.mark.parametrize(
    ("query", "last_event_id", "named"),
    [
        ("after=0&incident=2147483648", None, "incident"),
        ("after=2147483648", None, "after"),
        ("", "2147483648", "Last-Event-ID"),
    ],
)
async def test_an_id_past_its_integer_column_is_400_not_the_database_being_down(
    client: Client, other_writer: SqlStore, query: str, last_event_id: str | None, named: str
) -> None:
    # Entries to catch up on, so the database would be asked about the number.
    await add_notes(other_writer, 2)
    await client.app[LIVE_FEED].drain()
    headers = dict(API_AUTH)
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    response = await client.get(f"{EVENTS}?{query}", headers=headers)
    assert response.status == 400
    assert named in (await response.json())["error"]
    # The largest number the columns hold is still one (a stream, of no incident's events).
    largest = await stream(client, after="0", incident="2147483647")
    largest.close()
