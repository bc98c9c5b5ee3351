"""The outbox worker against the fake Slack, driven round by round on a hand-moved clock."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from bot.clock import FixedClock
from bot.domain.outbox import CARD_CHANNEL, CARD_TS, CHANNEL, SLACK, OutboundCall, OutboxStatus
from bot.errors import StorageUnavailable
from bot.integrations.outbox.worker import OutboxWorker
from bot.integrations.slack import calls
from bot.ports import Store
from tests.fakes.memory.store import MemoryStore
from tests.fakes.slack.faults import RecordedRequest
from tests.fakes.slack.server import FakeSlack, run_fake_slack
from tests.fakes.slack.testing import ALICE, BOB, CAROL
from tests.support.outbox import (
    enqueue,
    fake_on,
    make_worker,
    open_incident,
    post,
    rows,
)

NAME = "inc-20261122-0042-lnn-high-latency"


@pytest.fixture
def fake(clock: FixedClock) -> FakeSlack:
    return fake_on(clock)


@pytest.fixture
def worker(store: Store, slack_url: str, clock: FixedClock) -> OutboxWorker:
    return make_worker(store, slack_url, clock)


def incident_flow(incident_id: int) -> list[OutboundCall]:
    return [
        calls.create_channel(incident_id, NAME),
        calls.set_topic(incident_id, "P1 lnn high latency"),
        calls.invite(incident_id, [ALICE, BOB]),
        calls.post_card(incident_id, text="card v1", blocks=[{"type": "divider"}]),
        calls.post_in_thread(incident_id, text="acknowledged by alice"),
        calls.update_card(incident_id, text="card v2"),
    ]


async def test_an_incident_channel_is_built_with_binds_and_saves(
    store: Store, worker: OutboxWorker, fake: FakeSlack, clock: FixedClock
) -> None:
    incident_id = await open_incident(store)
    await enqueue(store, clock, *incident_flow(incident_id))
    assert await worker.drain() == 6
    channel = fake.channel_named(NAME)
    assert channel.topic == "P1 lnn high latency"
    assert set(channel.members) >= {ALICE, BOB}
    card, note = channel.messages
    assert (card.text, [e.text for e in card.edits]) == ("card v2", ["card v1"])
    assert (note.text, note.thread_ts) == ("acknowledged by alice", card.ts)
    async with store.transaction() as uow:
        refs = await uow.chat_refs.refs(incident_id)
        owner = await uow.chat_refs.incident_for_channel(channel.id)
    assert refs == {CHANNEL: channel.id, CARD_CHANNEL: channel.id, CARD_TS: card.ts}
    assert owner == incident_id
    sent = await rows(store)
    assert [(m.status, m.attempts) for m in sent] == [(OutboxStatus.SENT, 1)] * 6
    assert sent[3].result == {"channel": channel.id, "ts": card.ts}
    assert [r.method for r in fake.requests] == [m.call.method for m in sent]


async def test_rows_of_one_key_go_in_order_and_keys_interleave(
    store: Store, worker: OutboxWorker, fake: FakeSlack, clock: FixedClock
) -> None:
    a, b = fake.workspace.add_channel("a"), fake.workspace.add_channel("b")
    await enqueue(store, clock, *(post(ch.id, f"{ch.name}{i}") for i in range(5) for ch in (a, b)))
    assert await worker.run_once() == 2, "one row per key per round"
    assert await worker.drain() == 8
    assert [m.text for m in fake.messages(a.id)] == [f"a{i}" for i in range(5)]
    assert [m.text for m in fake.messages(b.id)] == [f"b{i}" for i in range(5)]


async def test_name_taken_finds_and_joins_the_existing_channel(
    store: Store, worker: OutboxWorker, fake: FakeSlack, clock: FixedClock
) -> None:
    for i in range(1500):  # more than one page of conversations.list
        fake.workspace.add_channel(f"filler-{i:04d}")
    existing = fake.workspace.add_channel(NAME, members=[CAROL], bot_member=False)
    incident_id = await open_incident(store)
    await enqueue(store, clock, *incident_flow(incident_id)[:4])
    assert await worker.drain() == 4
    assert [r.error for r in fake.calls("conversations.create")] == ["name_taken"]
    assert len(fake.calls("conversations.list")) == 2
    assert fake.channel(existing.id).members[:2] == [CAROL, fake.workspace.bot_user.id]
    assert [m.text for m in fake.messages(existing.id)] == ["card v1"]
    async with store.transaction() as uow:
        assert (await uow.chat_refs.refs(incident_id))[CHANNEL] == existing.id
    assert {m.status for m in await rows(store)} == {OutboxStatus.SENT}


async def test_inviting_people_already_there_still_invites_the_rest(
    store: Store, worker: OutboxWorker, fake: FakeSlack, clock: FixedClock
) -> None:
    incident_id = await open_incident(store)
    await enqueue(store, clock, calls.create_channel(incident_id, NAME))
    await worker.drain()
    channel = fake.channel_named(NAME)
    channel.members.append(ALICE)
    await enqueue(store, clock, calls.invite(incident_id, [ALICE, BOB, "U0FAKEBOT1"]))
    await worker.drain()
    assert channel.members == [fake.workspace.bot_user.id, ALICE, BOB]
    assert (await rows(store))[-1].status is OutboxStatus.SENT


async def test_a_permanent_error_fails_its_row_and_blocks_nothing(
    store: Store,
    worker: OutboxWorker,
    fake: FakeSlack,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b = fake.workspace.add_channel("a"), fake.workspace.add_channel("b")
    too_long = post(a.id, "x" * 40_001)
    await enqueue(store, clock, post(a.id, "a1"), too_long, post(a.id, "a3"), post(b.id, "b1"))
    with caplog.at_level(logging.ERROR, logger="firebreak.outbox"):
        await worker.drain()
    assert [m.text for m in fake.messages(a.id)] == ["a1", "a3"]
    assert [m.text for m in fake.messages(b.id)] == ["b1"]
    statuses = [(m.status, m.last_error) for m in await rows(store)]
    assert statuses[1] == (OutboxStatus.FAILED, "msg_too_long")
    assert [s for s, _ in statuses].count(OutboxStatus.SENT) == 3
    assert len(fake.calls("chat.postMessage", ok=False)) == 1, "not retried"
    assert "msg_too_long" in caplog.text


async def test_rows_needing_a_ref_that_never_came_fail_with_missing_ref(
    store: Store, worker: OutboxWorker, fake: FakeSlack, clock: FixedClock
) -> None:
    incident_id = await open_incident(store)
    bad = calls.create_channel(incident_id, "Not A Valid Name")
    await enqueue(store, clock, bad, calls.set_topic(incident_id, "t"))
    await worker.drain()
    assert [(m.status, m.last_error) for m in await rows(store)] == [
        (OutboxStatus.FAILED, "invalid_name_specials"),
        (OutboxStatus.FAILED, "missing_ref:channel"),
    ]
    assert [r.method for r in fake.requests] == ["conversations.create"]


async def test_5xx_is_retried_with_growing_backoff(
    store: Store, worker: OutboxWorker, fake: FakeSlack, clock: FixedClock
) -> None:
    channel = fake.workspace.add_channel("a")
    fake.faults.unavailable(calls=3)
    (message,) = await enqueue(store, clock, post(channel.id, "card"))
    gaps = []
    for _ in range(3):
        assert await worker.run_once() == 1
        (row,) = await rows(store)
        gaps.append((row.not_before - clock.now()).total_seconds())
        assert await worker.run_once() == 0, "not before its time"
        clock.advance(gaps[-1])
    assert await worker.run_once() == 1
    assert [0.5 <= gap / 2**i <= 1.0 for i, gap in enumerate(gaps)] == [True] * 3, gaps
    (row,) = await rows(store)
    assert (row.id, row.status, row.attempts) == (message.id, OutboxStatus.SENT, 4)
    assert [r.status for r in fake.requests] == [503, 503, 503, 200]


async def test_connection_errors_are_retried(store: Store, clock: FixedClock) -> None:
    async with run_fake_slack(fake_on(clock)) as url:
        pass  # the port is closed again: nothing listens there now
    worker = make_worker(store, url, clock, max_attempts=2)
    await enqueue(store, clock, post("C1", "lost?"))
    await worker.run_once()
    (row,) = await rows(store)
    assert (row.status, row.last_error.split(":")[0]) == (OutboxStatus.PENDING, "connection")
    clock.advance(60)
    await worker.run_once()
    (row,) = await rows(store)
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 2)
    assert row.last_error.startswith("gave up after 2 attempts: connection")


async def test_a_rate_limited_method_waits_while_others_go_on(
    store: Store, worker: OutboxWorker, fake: FakeSlack, clock: FixedClock
) -> None:
    a, b = fake.workspace.add_channel("a"), fake.workspace.add_channel("b")
    fake.faults.rate_limit("chat.postMessage", calls=1, retry_after=7)
    topic = OutboundCall(
        ordering_key="other", method="conversations.setTopic", args={"channel": b.id, "topic": "t"}
    )
    await enqueue(store, clock, post(a.id, "a1"), post(b.id, "b1"))
    await worker.run_once()
    assert worker.paused_until("chat.postMessage") == clock.now() + timedelta(seconds=7)
    await enqueue(store, clock, topic)
    assert await worker.run_once() == 1, "only the other method"
    assert fake.channel(b.id).topic == "t"
    clock.advance(6.9)
    assert await worker.run_once() == 0
    clock.advance(0.1)
    await worker.drain()
    assert [m.text for m in fake.messages(a.id)] + [m.text for m in fake.messages(b.id)] == [
        "a1",
        "b1",
    ]
    assert fake.log.retry_after_violations() == []
    assert len(fake.calls("chat.postMessage")) == 3, "the 429, then one call per message"


async def test_without_a_token_rows_are_logged_and_marked_unconfigured(
    store: Store, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.integrations.slack.log_sender import LogSender

    worker = OutboxWorker(store, {SLACK: LogSender()}, clock, worker_id="w1")
    incident_id = await open_incident(store)
    await enqueue(store, clock, *incident_flow(incident_id))
    with caplog.at_level(logging.INFO, logger="firebreak.slack"):
        assert await worker.drain() == 6
    assert {m.status for m in await rows(store)} == {OutboxStatus.UNCONFIGURED}
    assert f"incident {incident_id}: would create channel #{NAME}" in caplog.text
    assert f"incident {incident_id}: chat.postMessage to the incident's channel" in caplog.text
    assert "    | card v1" in caplog.text


async def test_a_confirmed_send_is_not_repeated_while_storage_is_down(
    clock: FixedClock, fake: FakeSlack, slack_url: str
) -> None:
    store = MemoryStore()
    worker = make_worker(store, slack_url, clock, lease_seconds=30)
    channel = fake.workspace.add_channel("a")
    await enqueue(store, clock, post(channel.id, "once"))

    def storage_goes_down(request: RecordedRequest) -> None:
        store.fail_with = StorageUnavailable("database restarting")

    fake.log.listeners.append(storage_goes_down)
    await worker.run_once()  # sent, but the row cannot be marked
    with pytest.raises(StorageUnavailable):
        await worker.run_once()
    clock.advance(60)  # the lease has long expired
    store.fail_with = None
    assert await worker.run_once() == 0, "recorded first, so nothing left to claim"
    (row,) = await rows(store)
    assert (row.status, row.attempts, row.sent_at) == (
        OutboxStatus.SENT,
        1,
        clock.now() - timedelta(seconds=60),
    )
    assert [m.text for m in fake.messages(channel.id)] == ["once"]
