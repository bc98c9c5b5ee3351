"""Slack's rate tiers kept by the outbox before Slack answers 429, on every store: the fake
Slack enforces the tiers as Slack does (429 past the limit, by its own clock, which is the
test's) and the worker, driven round by round while the test moves the clock, never trips
them. The pace lives in the database, so two workers on one database keep it together."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import pairwise

import pytest

from bot.clock import FixedClock
from bot.domain.outbox import OutboxMessage, OutboxStatus
from bot.integrations.outbox.worker import OutboxWorker
from bot.integrations.slack import calls
from bot.ports import Store
from db.migrate import upgrade_async
from db.store import SqlStore
from tests.fakes.slack.faults import RecordedRequest
from tests.fakes.slack.server import FakeSlack, run_fake_slack
from tests.support.outbox import enqueue, fake_on, make_worker, open_incident, post, rows
from tests.support.store_builders import T0

TIER_2_SECONDS = 3.0  # 20 a minute
CREATIONS = 100


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def fake(clock: FixedClock) -> FakeSlack:
    slack = fake_on(clock)
    slack.faults.enforce_tier("conversations.create", 20, 60)
    slack.faults.enforce_tier("chat.postMessage", 3, 1, per_channel=True)
    return slack


async def queue_creations(store: Store, clock: FixedClock, count: int) -> list[str]:
    """``count`` incidents, each with its channel to create; the names in the order queued."""
    names = [f"inc-{i:03d}" for i in range(count)]
    for i, name in enumerate(names):
        incident_id = await open_incident(store, group_key=f"g{i}")
        await enqueue(store, clock, calls.create_channel(incident_id, name))
    return names


async def run_until_sent(
    workers: Sequence[OutboxWorker], store: Store, clock: FixedClock, *, step: float, limit: int
) -> None:
    """Each step: every worker drains at once, then the clock moves ``step`` seconds."""
    for _ in range(limit):
        await asyncio.gather(*(worker.drain() for worker in workers))
        if not await rows(store, OutboxStatus.PENDING):
            return
        clock.advance(step)
    raise AssertionError(f"rows still pending after {limit} steps")


def gaps(requests: Sequence[RecordedRequest]) -> list[float]:
    times = [r.received_at for r in requests]
    return [later - earlier for earlier, later in pairwise(times)]


def sent_times(messages: Sequence[OutboxMessage]) -> list[datetime]:
    return sorted(m.sent_at for m in messages if m.sent_at is not None)


def assert_all_sent_once(messages: Sequence[OutboxMessage]) -> None:
    # One attempt each: a row given back for its slot did not count a try.
    assert [(m.status, m.attempts) for m in messages] == [(OutboxStatus.SENT, 1)] * len(messages)


async def test_without_pacing_the_fake_slack_answers_429(
    store: Store, fake: FakeSlack, clock: FixedClock
) -> None:
    """The fake does enforce Tier 2: an unpaced worker trips it at the 21st creation."""
    await queue_creations(store, clock, 25)
    async with run_fake_slack(fake) as url:
        await make_worker(store, url, clock).drain()
    assert len(fake.calls("conversations.create", ok=True)) == 20
    assert fake.calls("conversations.create")[20].status == 429


async def test_a_hundred_channel_creations_keep_tier_2_none_lost_in_order(
    store: Store, fake: FakeSlack, clock: FixedClock
) -> None:
    names = await queue_creations(store, clock, CREATIONS)
    async with run_fake_slack(fake) as url:
        worker = make_worker(store, url, clock, paced=True)
        await run_until_sent([worker], store, clock, step=1.0, limit=400)
    creations = fake.calls("conversations.create")
    assert [r.status for r in fake.requests] == [200] * CREATIONS, "no 429, nothing else"
    assert [r.args["name"] for r in creations] == names, "in the order queued"
    assert min(gaps(creations)) >= TIER_2_SECONDS
    # ...and no slower than the tier: each slot is used at the first step that reaches it.
    assert creations[-1].received_at - creations[0].received_at == TIER_2_SECONDS * 99
    messages = await rows(store)
    assert_all_sent_once(messages)
    times = sent_times(messages)
    assert min(b - a for a, b in pairwise(times)) >= timedelta(seconds=TIER_2_SECONDS)
    assert all(fake.channel_named(name).messages == [] for name in names), "all 100 exist"


async def test_two_workers_on_one_database_share_the_pace(
    database_url: str, fake: FakeSlack, clock: FixedClock
) -> None:
    await upgrade_async(database_url)
    stores = [SqlStore.from_url(database_url) for _ in range(2)]
    try:
        names = await queue_creations(stores[0], clock, 30)
        async with run_fake_slack(fake) as url:
            workers = [
                make_worker(s, url, clock, paced=True, worker_id=f"w{i}")
                for i, s in enumerate(stores)
            ]
            await run_until_sent(workers, stores[0], clock, step=1.0, limit=200)
        messages = await rows(stores[0])
    finally:
        for s in stores:
            await s.close()
    creations = fake.calls("conversations.create")
    assert [r.status for r in creations] == [200] * len(names), "together, still no 429"
    assert sorted(str(r.args["name"]) for r in creations) == names, "each channel once"
    assert min(gaps(creations)) >= TIER_2_SECONDS
    assert_all_sent_once(messages)


async def test_posts_to_one_channel_keep_a_second_apart_and_hold_back_no_other(
    store: Store, fake: FakeSlack, clock: FixedClock
) -> None:
    busy, quiet = fake.workspace.add_channel("busy"), fake.workspace.add_channel("quiet")
    await enqueue(store, clock, *(post(busy.id, f"busy-{i}") for i in range(8)))
    await enqueue(store, clock, *(post(quiet.id, f"quiet-{i}") for i in range(3)))
    async with run_fake_slack(fake) as url:
        worker = make_worker(store, url, clock, paced=True)
        await run_until_sent([worker], store, clock, step=0.5, limit=100)
    start = T0.timestamp()
    busy_at = [
        r.received_at - start
        for r in fake.calls("chat.postMessage")
        if r.args["channel"] == busy.id
    ]
    quiet_at = [
        r.received_at - start
        for r in fake.calls("chat.postMessage")
        if r.args["channel"] == quiet.id
    ]
    assert quiet_at == [0.0, 0.0, 0.0], "the quiet channel waits for nobody"
    # A burst of three, then one a second.
    assert busy_at == [0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert {r.status for r in fake.requests} == {200}
    assert [m.text for m in fake.messages(busy.id)] == [f"busy-{i}" for i in range(8)]


async def test_posts_into_an_incident_channel_take_the_bound_channel_s_slot(
    store: Store, fake: FakeSlack, clock: FixedClock
) -> None:
    incident_id = await open_incident(store)
    flow = [calls.create_channel(incident_id, "inc-bound")]
    flow += [calls.post_card(incident_id, text="card", blocks=None)]
    flow += [calls.post_in_thread(incident_id, text=f"note {i}") for i in range(4)]
    await enqueue(store, clock, *flow)
    async with run_fake_slack(fake) as url:
        worker = make_worker(store, url, clock, paced=True)
        await run_until_sent([worker], store, clock, step=0.5, limit=100)
    start = T0.timestamp()
    posted = [r.received_at - start for r in fake.calls("chat.postMessage")]
    assert posted == [0.0, 0.0, 0.0, 1.0, 2.0]
    assert {r.status for r in fake.requests} == {200}
    card, *notes = fake.messages("inc-bound")
    assert (card.text, [n.text for n in notes]) == ("card", [f"note {i}" for i in range(4)])
    assert {n.thread_ts for n in notes} == {card.ts}


async def test_a_429_holds_the_slot_for_every_worker(
    store: Store, fake: FakeSlack, clock: FixedClock
) -> None:
    fake.faults.rate_limit("conversations.create", calls=1, retry_after=10)
    await queue_creations(store, clock, 1)
    async with run_fake_slack(fake) as url:
        first = make_worker(store, url, clock, paced=True, worker_id="w1")
        other = make_worker(store, url, clock, paced=True, worker_id="w2")
        await first.drain()
        incident_id = await open_incident(store, group_key="later")
        await enqueue(store, clock, calls.create_channel(incident_id, "inc-later"))
        # ``other`` never saw the 429 itself: only the held slot keeps it back.
        clock.advance(9)
        await other.drain()
        assert len(fake.calls("conversations.create")) == 1
        clock.advance(1)
        await other.drain()
        clock.advance(TIER_2_SECONDS)
        await other.drain()
    assert [r.status for r in fake.calls("conversations.create")] == [429, 200, 200]
    assert fake.log.retry_after_violations() == []
    assert {m.status for m in await rows(store)} == {OutboxStatus.SENT}
