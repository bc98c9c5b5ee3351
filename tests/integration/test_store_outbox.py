"""The outbox storage contract, run alike on the in-memory fake, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from bot.domain.outbox import (
    CARD_CHANNEL,
    CARD_TS,
    CHANNEL,
    OutboundCall,
    OutboxMessage,
    OutboxStatus,
    incident_key,
)
from bot.errors import IntegrityViolation
from bot.ports import Store
from db.migrate import upgrade_async
from db.store import SqlStore
from tests.support.store_builders import T0, at, new_incident

A, B = "A", "B"


def post(key: str, text: str, *, incident_id: int | None = None) -> OutboundCall:
    return OutboundCall(
        ordering_key=key,
        method="chat.postMessage",
        args={"channel": "C1", "text": text},
        incident_id=incident_id,
    )


async def add(store: Store, *calls: OutboundCall, when: float = 0) -> list[OutboxMessage]:
    async with store.transaction() as uow:
        return [await uow.outbox.add(call, at=at(when)) for call in calls]


async def claim(
    store: Store,
    worker: str = "w1",
    *,
    now: float = 0,
    lease: float = 60,
    limit: int = 10,
    paused: Sequence[str] = (),
) -> list[OutboxMessage]:
    async with store.transaction() as uow:
        found = await uow.outbox.claim(
            worker=worker, now=at(now), lease_seconds=lease, limit=limit, paused_methods=paused
        )
    return list(found)


def texts(messages: Sequence[OutboxMessage]) -> list[str]:
    return [str(m.call.args["text"]) for m in messages]


async def test_add_round_trips_the_call(store: Store) -> None:
    async with store.transaction() as uow:
        incident, _ = await uow.incidents.open_for_group(new_incident())
    call = OutboundCall(
        ordering_key=incident_key(incident.id),
        method="chat.update",
        args={"text": "card v2", "blocks": [{"type": "divider"}]},
        incident_id=incident.id,
        binds={"channel": CARD_CHANNEL, "ts": CARD_TS},
        saves={CARD_TS: "ts"},
    )
    (added,) = await add(store, call)
    async with store.transaction() as uow:
        fetched = await uow.outbox.get(added.id)
    assert fetched == added
    assert fetched.call == call
    assert (fetched.status, fetched.attempts, fetched.last_error) == (OutboxStatus.PENDING, 0, "")
    assert fetched.not_before == fetched.created_at == T0
    assert (fetched.sent_at, fetched.finished_at, fetched.result) == (None, None, None)


async def test_claim_takes_only_the_oldest_unsent_row_of_each_key(store: Store) -> None:
    await add(store, post(A, "a1"), post(B, "b1"), post(A, "a2"), post(B, "b2"))
    first = await claim(store)
    assert texts(first) == ["a1", "b1"]
    assert [m.attempts for m in first] == [1, 1]
    assert await claim(store, "w2") == [], "leased heads hold back their keys"
    async with store.transaction() as uow:
        assert await uow.outbox.mark_sent(first[0].id, at=at(1), result={"ts": "1.0"})
    assert texts(await claim(store, "w2", now=1)) == ["a2"]


async def test_an_expired_lease_lets_another_worker_take_the_row(store: Store) -> None:
    (message,) = await add(store, post(A, "a1"))
    await claim(store, "w1", lease=30)
    assert await claim(store, "w2", now=29) == []
    (again,) = await claim(store, "w2", now=30)
    assert (again.id, again.attempts) == (message.id, 2)
    async with store.transaction() as uow:
        lost = await uow.outbox.reschedule(message.id, worker="w1", not_before=at(99), error="x")
        assert not lost, "the old holder must not clobber the new lease"
        assert await uow.outbox.mark_sent(message.id, at=at(31), result={})
        assert not await uow.outbox.mark_sent(message.id, at=at(32), result={})
        sent = await uow.outbox.get(message.id)
    assert sent is not None
    assert (sent.status, sent.sent_at, sent.finished_at) == (OutboxStatus.SENT, at(31), at(31))


async def test_renewing_a_lease_keeps_the_row_until_another_worker_took_it(store: Store) -> None:
    (message,) = await add(store, post(A, "a1"))
    await claim(store, "w1", lease=30)
    async with store.transaction() as uow:
        # Run out but not taken over: still w1's, and renewed from the time it names.
        assert await uow.outbox.renew(message.id, worker="w1", until=at(70))
        assert not await uow.outbox.renew(message.id, worker="w2", until=at(99))
    assert await claim(store, "w2", now=69) == []
    (taken,) = await claim(store, "w2", now=70)
    assert taken.id == message.id
    async with store.transaction() as uow:
        assert not await uow.outbox.renew(message.id, worker="w1", until=at(200))
        assert await uow.outbox.renew(message.id, worker="w2", until=at(200))
        assert await uow.outbox.mark_sent(message.id, at=at(71), result={})
        assert not await uow.outbox.renew(message.id, worker="w2", until=at(300))
    assert await claim(store, "w3", now=500) == []


async def test_not_before_and_paused_methods_hold_back_a_key(store: Store) -> None:
    create = OutboundCall(ordering_key=B, method="conversations.create", args={"name": "x"})
    await add(store, post(A, "a1"), create, post(B, "b-after-create"))
    assert texts(await claim(store, limit=1)) == ["a1"], "limit"
    (claimed_b,) = await claim(store, paused=["chat.postMessage"])
    assert claimed_b.call.method == "conversations.create"
    async with store.transaction() as uow:
        assert await uow.outbox.reschedule(
            claimed_b.id, worker="w1", not_before=at(10), error="service_unavailable"
        )
        rescheduled = await uow.outbox.get(claimed_b.id)
    assert rescheduled is not None
    assert (rescheduled.not_before, rescheduled.last_error) == (at(10), "service_unavailable")
    assert await claim(store, now=9.9) == []
    assert [m.id for m in await claim(store, now=10)] == [claimed_b.id]


async def test_a_paused_head_holds_back_its_key_but_not_others(store: Store) -> None:
    await add(store, post(A, "a1"), OutboundCall(ordering_key=A, method="chat.update", args={}))
    await add(store, OutboundCall(ordering_key=B, method="conversations.invite", args={}))
    claimed = await claim(store, paused=["chat.postMessage"])
    assert [m.call.method for m in claimed] == ["conversations.invite"]


@pytest.mark.parametrize("outcome", ["failed", "unconfigured"])
async def test_a_finished_row_releases_its_key(store: Store, outcome: str) -> None:
    await add(store, post(A, "a1"), post(A, "a2"))
    (head,) = await claim(store)
    async with store.transaction() as uow:
        if outcome == "failed":
            assert not await uow.outbox.mark_failed(head.id, worker="w2", at=at(1), error="x")
            assert await uow.outbox.mark_failed(
                head.id, worker="w1", at=at(1), error="channel_not_found"
            )
        else:
            assert await uow.outbox.mark_unconfigured(head.id, worker="w1", at=at(1))
        done = await uow.outbox.get(head.id)
        pending = await uow.outbox.list(status=OutboxStatus.PENDING)
    assert done is not None
    assert (done.status.value, done.finished_at, done.sent_at) == (outcome, at(1), None)
    assert done.last_error
    assert texts(pending) == ["a2"]
    assert texts(await claim(store, now=1)) == ["a2"]


async def test_list_filters_by_status_and_key(store: Store) -> None:
    await add(store, post(A, "a1"), post(B, "b1"), post(A, "a2"))
    async with store.transaction() as uow:
        assert texts(await uow.outbox.list(ordering_key=A)) == ["a1", "a2"]
        assert texts(await uow.outbox.list(limit=2)) == ["a1", "b1"]
        assert await uow.outbox.list(status=OutboxStatus.SENT) == []


async def test_a_rolled_back_transaction_leaves_no_row(store: Store) -> None:
    class Boom(Exception):
        pass

    async def add_then_fail() -> None:
        async with store.transaction() as uow:
            await uow.outbox.add(post(A, "lost"), at=T0)
            raise Boom

    with pytest.raises(Boom):
        await add_then_fail()
    assert await claim(store) == []


async def test_chat_refs_merge_and_find_the_incident_of_a_channel(store: Store) -> None:
    async with store.transaction() as uow:
        first, _ = await uow.incidents.open_for_group(new_incident())
        second, _ = await uow.incidents.open_for_group(new_incident(group_key="other"))
        assert await uow.chat_refs.refs(first.id) == {}
        await uow.chat_refs.save_refs(first.id, {CHANNEL: "C1"})
        await uow.chat_refs.save_refs(first.id, {CARD_CHANNEL: "C1", CARD_TS: "1.1"})
        await uow.chat_refs.save_refs(first.id, {CARD_TS: "1.2"})
        # A P2 card in the shared triage channel is no incident's own channel.
        await uow.chat_refs.save_refs(second.id, {CARD_CHANNEL: "CTRIAGE", CARD_TS: "2.1"})
    async with store.transaction() as uow:
        assert await uow.chat_refs.refs(first.id) == {
            CHANNEL: "C1",
            CARD_CHANNEL: "C1",
            CARD_TS: "1.2",
        }
        assert await uow.chat_refs.incident_for_channel("C1") == first.id
        assert await uow.chat_refs.incident_for_channel("CTRIAGE") is None
        assert await uow.chat_refs.incident_for_channel("C404") is None


async def test_rows_and_refs_need_an_existing_incident(store: Store) -> None:
    with pytest.raises(IntegrityViolation):
        async with store.transaction() as uow:
            await uow.outbox.add(post(A, "x", incident_id=404), at=T0)
    with pytest.raises(IntegrityViolation):
        async with store.transaction() as uow:
            await uow.chat_refs.save_refs(404, {CHANNEL: "C1"})


@pytest.mark.postgres
async def test_concurrent_claims_on_postgres_never_share_a_row(postgres_url: str) -> None:
    await upgrade_async(postgres_url)
    stores = [SqlStore.from_url(postgres_url) for _ in range(4)]
    try:
        await add(stores[0], *(post(f"k{i % 8}", f"m{i}") for i in range(64)))
        claimed: dict[int, str] = {}
        sent_order: list[str] = []

        async def work(store: Store, worker: str) -> None:
            for _ in range(200):
                batch = await claim(store, worker, limit=3)
                if not batch and len(claimed) == 64:
                    return
                for message in batch:
                    assert message.id not in claimed, (
                        f"{worker} took {claimed.get(message.id)}'s row"
                    )
                    claimed[message.id] = worker
                    sent_order.append(str(message.call.args["text"]))
                    async with store.transaction() as uow:
                        assert await uow.outbox.mark_sent(message.id, at=T0, result={})
                await asyncio.sleep(0)

        await asyncio.gather(*(work(s, f"w{i}") for i, s in enumerate(stores)))
    finally:
        for store in stores:
            await store.close()
    assert len(claimed) == 64
    assert len(set(claimed.values())) > 1, "the work was shared"
    for key in range(8):
        mine = [t for t in sent_order if int(t[1:]) % 8 == key]
        assert mine == sorted(mine, key=lambda t: int(t[1:])), f"key k{key} out of order"


async def test_a_row_keeps_its_target_and_shares_its_key_with_other_targets(
    store: Store,
) -> None:
    page = OutboundCall(ordering_key=A, method="enqueue", args={"summary": "p1"}, target="pager")
    await add(store, post(A, "a1"), page)
    (head,) = await claim(store)
    assert head.call.target == "slack"  # the default: every row before targets was Slack's
    async with store.transaction() as uow:
        assert await uow.outbox.mark_sent(head.id, at=at(1), result={})
    (paged,) = await claim(store, now=1)
    assert (paged.call.target, paged.call.method, paged.call.args) == (
        "pager",
        "enqueue",
        {"summary": "p1"},
    )


async def test_an_unconfigured_row_keeps_the_reason_its_sender_gave(store: Store) -> None:
    await add(store, post(A, "a1"))
    (head,) = await claim(store)
    async with store.transaction() as uow:
        reason = "SLACK_BOT_TOKEN is not set"
        assert await uow.outbox.mark_unconfigured(head.id, worker="w1", at=at(1), reason=reason)
        done = await uow.outbox.get(head.id)
    assert done is not None
    assert (done.status, done.last_error) == (OutboxStatus.UNCONFIGURED, reason)
