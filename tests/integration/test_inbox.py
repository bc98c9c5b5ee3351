"""The inbox on SQLite and PostgreSQL: group-committed intake, then exactly-once processing.

Intake (``db.intake.inbox.SqlInbox``) must never acknowledge what it did not store; processing
(``bot.services.incidents.inbox.InboxProcessor``) must apply every stored delivery once, in arrival
order, survive a crash in the middle of a batch, and keep a delivery that keeps failing
without letting it block the others.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text

from bot.clock import FixedClock
from bot.domain.incident import AlertGroup, Delivery, DeliveryOutcome, IncidentFilter, Source
from bot.domain.pagerduty import PagerDutyEvent
from bot.errors import StorageUnavailable
from bot.policy.model import Policy
from bot.services.incidents.inbox import InboxProcessor, Processed, ProcessorTimings
from bot.services.incidents.inbox_backlog import inbox_backlog
from bot.services.incidents.intake_pressure import IntakePressure
from db.intake.inbox import SqlInbox
from db.migrate import upgrade_async
from db.repositories.deliveries import INBOX_LOCK_KEY
from db.store import SqlStore
from db.tables import deliveries
from handlers.alertmanager_schema import parse_alertmanager
from handlers.pagerduty_schema import parse_pagerduty
from tests.support.inbox import parse_as_before, poison_payload
from tests.support.payloads.alertmanager import T0, alert, body, webhook
from tests.support.payloads.pagerduty import encode, incident_event

_keys = itertools.count()


def delivery(group_key: str, *, at: datetime = T0, name: str = "LNNHighLatency") -> Delivery:
    payload = webhook(group_key, [alert(name, instance=group_key)])
    return Delivery(Source.ALERTMANAGER, f"key-{next(_keys)}", at, body(payload), "firing")


@pytest.fixture
def sql(sql_store: SqlStore) -> SqlStore:
    return sql_store


async def accepted(store: SqlStore, *sent: Delivery) -> list[Delivery]:
    """Take ``sent`` through intake one after the other, as separate senders would."""
    inbox = SqlInbox(store, pressure=IntakePressure())
    for d in sent:
        await inbox.accept(d)
    await inbox.close()
    return list(sent)


def processor(
    store: SqlStore,
    policy: Policy,
    clock: FixedClock,
    *,
    parse: Callable[[bytes], AlertGroup] = parse_alertmanager,
    timings: ProcessorTimings | None = None,
) -> InboxProcessor:
    return InboxProcessor(store=store, policy=policy, clock=clock, parse=parse, timings=timings)


async def stored_outcomes(store: SqlStore) -> list[tuple[str, str | None]]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            select(deliveries.c.key, deliveries.c.outcome).order_by(deliveries.c.id)
        )
        return [(row.key, row.outcome) for row in rows]


async def incident_count(store: SqlStore) -> int:
    async with store.transaction() as uow:
        return len(await uow.incidents.list(IncidentFilter(limit=10_000)))


async def test_concurrent_accepts_share_commits_and_all_land_pending(sql: SqlStore) -> None:
    commits = 0

    def committed() -> None:
        nonlocal commits
        commits += 1

    inbox = SqlInbox(sql, pressure=IntakePressure(), on_commit=committed)
    sent = [delivery(f"g{i}") for i in range(300)]
    await asyncio.gather(*(inbox.accept(d) for d in sent))
    await inbox.close()
    assert await stored_outcomes(sql) == [(d.key, "pending") for d in sent]
    # All 300 were queued before the first commit finished: far fewer commits than rows.
    assert 1 <= commits < 300
    # Big batches mean deliveries queued behind commits: pressure, which passes with time.
    await asyncio.wait_for(inbox.settled(), 5)
    assert not inbox.busy()


async def test_received_at_reads_back_as_the_same_instant(sql: SqlStore, clock: FixedClock) -> None:
    # The SQLite writer formats timestamps itself; they must read back like the engine's own.
    at = datetime(2026, 11, 22, 5, 6, 7, 89, tzinfo=timezone(timedelta(hours=-5)))
    inbox = SqlInbox(sql, pressure=IntakePressure())
    await inbox.accept(delivery("g", at=at))
    await inbox.close()
    async with sql.transaction() as uow:
        (pending,) = await uow.deliveries.take_pending(
            source=Source.ALERTMANAGER, now=at + timedelta(seconds=1), limit=10
        )
    assert pending.delivery.received_at == at
    assert pending.delivery.received_at.tzinfo is UTC


async def _refuse_inserts(store: SqlStore, refuse: bool) -> None:
    postgres = store.engine.dialect.name == "postgresql"
    async with store.engine.begin() as conn:
        if refuse and postgres:
            await conn.execute(
                text(
                    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'refused by test'; END $$"
                )
            )
            await conn.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON deliveries "
                    "FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            )
        elif refuse:
            await conn.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON deliveries "
                    "BEGIN SELECT RAISE(ABORT, 'refused by test'); END"
                )
            )
        elif postgres:
            await conn.execute(text("DROP TRIGGER refuse ON deliveries"))
            await conn.execute(text("DROP FUNCTION refuse()"))
        else:
            await conn.execute(text("DROP TRIGGER refuse"))


async def test_a_refused_commit_fails_every_waiting_delivery_and_stores_none(
    sql: SqlStore,
) -> None:
    inbox = SqlInbox(sql, pressure=IntakePressure())
    await _refuse_inserts(sql, True)
    results = await asyncio.gather(
        *(inbox.accept(delivery(f"g{i}")) for i in range(20)), return_exceptions=True
    )
    assert all(isinstance(r, StorageUnavailable) for r in results), results
    assert await stored_outcomes(sql) == []
    # The database recovers: the same inbox stores the next deliveries.
    await _refuse_inserts(sql, False)
    again = delivery("g-again")
    await inbox.accept(again)
    await inbox.close()
    assert await stored_outcomes(sql) == [(again.key, "pending")]


async def test_a_full_queue_refuses_at_once(sqlite_url: str) -> None:
    await upgrade_async(sqlite_url)
    store = SqlStore.from_url(sqlite_url)
    inbox = SqlInbox(store, pressure=IntakePressure(), max_waiting=5)
    try:
        # Holding the writer's turn keeps the first commit from finishing, so deliveries queue.
        async with store.writer_turn():
            waiting = [asyncio.create_task(inbox.accept(delivery(f"g{i}"))) for i in range(5)]
            await asyncio.sleep(0)  # let each task queue its delivery
            assert inbox.busy()
            with pytest.raises(StorageUnavailable, match="already waiting"):
                await inbox.accept(delivery("one-too-many"))
        await asyncio.gather(*waiting)
        await inbox.close()
        assert len(await stored_outcomes(store)) == 5
    finally:
        await store.close()


async def test_processing_applies_each_delivery_once_in_arrival_order(
    sql: SqlStore, policy: Policy, clock: FixedClock
) -> None:
    sent = await accepted(sql, *(delivery(f"g{i}") for i in range(40)))
    done = await processor(sql, policy, clock).drain()
    assert [p.pending.delivery.key for p in done] == [d.key for d in sent]
    assert {p.outcome for p in done} == {DeliveryOutcome.PROCESSED}
    assert all(p.result is not None and len(p.result.opened) == 1 for p in done)
    assert await incident_count(sql) == 40
    assert await stored_outcomes(sql) == [(d.key, "processed") for d in sent]
    assert await processor(sql, policy, clock).drain() == []


async def test_two_processors_on_one_database_share_the_work_without_overlap(
    database_url: str, policy: Policy, clock: FixedClock
) -> None:
    # Two replicas: two engines on the same database, draining at the same time.
    await upgrade_async(database_url)
    one, two = SqlStore.from_url(database_url), SqlStore.from_url(database_url)
    try:
        inbox = SqlInbox(one, pressure=IntakePressure())
        sent = [delivery(f"g{i % 30}") for i in range(90)]  # each group three times
        await asyncio.gather(*(inbox.accept(d) for d in sent))
        await inbox.close()
        small = ProcessorTimings(batch=4)
        first, second = await asyncio.gather(
            processor(one, policy, clock, timings=small).drain(),
            processor(two, policy, clock, timings=small).drain(),
        )
        keys = [p.pending.delivery.key for p in first + second]
        assert sorted(keys) == sorted(d.key for d in sent)
        assert len(set(keys)) == len(keys)
        assert await incident_count(one) == 30
    finally:
        await one.close()
        await two.close()


async def test_drain_waits_for_another_replicas_turn(
    postgres_url: str, policy: Policy, clock: FixedClock
) -> None:
    await upgrade_async(postgres_url)
    store = SqlStore.from_url(postgres_url)
    try:
        await accepted(store, *(delivery(f"g{i}") for i in range(5)))
        async with store.engine.connect() as other:
            # Another replica in the middle of a batch holds the processors' lock.
            await other.execute(text("SELECT pg_advisory_lock(:key)"), {"key": INBOX_LOCK_KEY})
            draining = asyncio.create_task(processor(store, policy, clock).drain())
            for _ in range(50):
                await asyncio.sleep(0.01)  # a real wait: the lock is PostgreSQL's
            assert not draining.done()
            await other.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": INBOX_LOCK_KEY})
            await other.commit()
            done = await asyncio.wait_for(draining, 30)
        assert len(done) == 5
        assert await incident_count(store) == 5
    finally:
        await store.close()


class Crash(BaseException):
    """Stands for the process dying in the middle of a batch (not an ``Exception``)."""


async def test_a_crash_mid_batch_rolls_back_effects_and_settlement_together(
    sql: SqlStore, policy: Policy, clock: FixedClock
) -> None:
    await accepted(sql, *(delivery(f"g{i}") for i in range(3)))
    seen: list[bytes] = []

    def dies_on_the_second(raw: bytes) -> AlertGroup:
        seen.append(raw)
        if len(seen) == 2:
            raise Crash
        return parse_alertmanager(raw)

    # All three in one transaction: under load the default 20 ms per batch could commit the
    # first on its own before the crash, which is correct but not what this test is about.
    whole = ProcessorTimings(batch_seconds=600.0)
    with pytest.raises(Crash):
        await processor(sql, policy, clock, parse=dies_on_the_second, timings=whole).drain()
    # The first delivery was applied inside the same transaction: nothing of it remains.
    assert await incident_count(sql) == 0
    assert {outcome for _, outcome in await stored_outcomes(sql)} == {"pending"}
    done = await processor(sql, policy, clock).drain()
    assert len(done) == 3
    assert await incident_count(sql) == 3


async def test_a_failing_delivery_is_retried_then_kept_failed_without_blocking_others(
    sql: SqlStore, policy: Policy, clock: FixedClock
) -> None:
    poison, fine = await accepted(sql, delivery("poison"), delivery("fine"))

    def bug_on_poison(raw: bytes) -> AlertGroup:
        if b'"poison"' in raw:
            raise RuntimeError("a bug in processing")
        return parse_alertmanager(raw)

    timings = ProcessorTimings(max_attempts=2, retry_base=30.0)
    work = processor(sql, policy, clock, parse=bug_on_poison, timings=timings)
    first = await work.drain()
    assert [(p.pending.delivery.key, p.outcome) for p in first] == [
        (poison.key, DeliveryOutcome.PENDING),
        (fine.key, DeliveryOutcome.PROCESSED),
    ]
    assert "a bug in processing" in first[0].detail
    assert await incident_count(sql) == 1
    # Not due again before its backoff.
    clock.advance(29)
    assert await work.drain() == []
    clock.advance(2)
    second = await work.drain()
    assert [(p.pending.delivery.key, p.outcome) for p in second] == [
        (poison.key, DeliveryOutcome.FAILED)
    ]
    assert "gave up after 2 attempts" in second[0].detail
    assert await stored_outcomes(sql) == [(poison.key, "failed"), (fine.key, "processed")]
    async with sql.transaction() as uow:
        assert await uow.deliveries.count_pending() == 0


async def test_the_backlog_counts_what_waits(
    sql: SqlStore, policy: Policy, clock: FixedClock
) -> None:
    await accepted(sql, *(delivery(f"g{i}") for i in range(7)))
    work = processor(sql, policy, clock)
    assert (await inbox_backlog(sql)).pending == 7
    await work.drain()
    assert (await inbox_backlog(sql)).pending == 0
    async with sql.engine.connect() as conn:
        total = (await conn.execute(select(func.count()).select_from(deliveries))).scalar_one()
    assert total == 7


async def stored_failure(store: SqlStore, key: str) -> tuple[str, int, str]:
    async with store.engine.connect() as conn:
        row = (
            await conn.execute(
                select(deliveries.c.outcome, deliveries.c.attempts, deliveries.c.detail).where(
                    deliveries.c.key == key
                )
            )
        ).one()
    return row.outcome, row.attempts, row.detail


async def test_a_poison_delivery_fails_after_its_attempts_and_holds_up_no_other(
    sql: SqlStore, policy: Policy, clock: FixedClock
) -> None:
    # Stored by a version whose intake accepted a startsAt with no UTC value; the store
    # raises OverflowError for it, which once paused the whole inbox as "storage unavailable".
    raw = body(poison_payload("poison"))
    (poison,) = await accepted(sql, Delivery(Source.ALERTMANAGER, "poison", T0, raw, "firing"))
    seen: list[Processed] = []
    work = InboxProcessor(
        store=sql,
        policy=policy,
        clock=clock,
        parse=parse_as_before,
        on_processed=seen.append,
        timings=ProcessorTimings(max_attempts=2, retry_base=10.0, poll=3600.0),
    )

    async def settled(key: str, outcome: DeliveryOutcome, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not any(p.pending.delivery.key == key and p.outcome is outcome for p in seen):
                await asyncio.sleep(0.01)

    await work.start()
    inbox = SqlInbox(sql, pressure=IntakePressure(), on_commit=work.wake)
    try:
        work.wake()
        await settled("poison", DeliveryOutcome.PENDING, 10)
        good = delivery("good")
        sent = asyncio.get_running_loop().time()
        await inbox.accept(good)
        await settled(good.key, DeliveryOutcome.PROCESSED, 10)
        # The bound: a good delivery behind the poison is processed within a second.
        assert asyncio.get_running_loop().time() - sent < 1.0
        clock.advance(10)
        work.wake()
        await settled("poison", DeliveryOutcome.FAILED, 10)
    finally:
        await inbox.close()
        await work.stop()
    outcome, attempts, detail = await stored_failure(sql, poison.key)
    assert (outcome, attempts) == ("failed", 2), detail
    assert detail.startswith("gave up after 2 attempts: OverflowError: "), detail
    assert await stored_outcomes(sql) == [("poison", "failed"), (good.key, "processed")]
    assert await incident_count(sql) == 1


async def test_an_error_text_neither_database_could_store_is_kept_readable(
    sql: SqlStore, policy: Policy, clock: FixedClock
) -> None:
    # PostgreSQL text refuses NUL and neither database takes a lone surrogate: storing such
    # an error as it is failed the deferral itself, and the delivery blocked the inbox again.
    (odd,) = await accepted(sql, delivery("odd"))

    def odd_error(raw: bytes) -> AlertGroup:
        raise RuntimeError("label a\x00b, label \udcff")

    done = await processor(sql, policy, clock, parse=odd_error).drain()
    assert [(p.pending.delivery.key, p.outcome) for p in done] == [
        (odd.key, DeliveryOutcome.PENDING)
    ]
    outcome, attempts, detail = await stored_failure(sql, odd.key)
    assert (outcome, attempts) == ("pending", 1)
    assert detail == "RuntimeError: label a\ufffdb, label ?"


async def test_a_pagerduty_delivery_whose_apply_fails_is_held_back_alone(
    sql: SqlStore, policy: Policy, clock: FixedClock
) -> None:
    inbox = SqlInbox(sql, pressure=IntakePressure())
    raw = {name: encode(incident_event("incident.triggered", T0)) for name in ("poison", "fine")}
    assert await inbox.accept_once(Delivery(Source.PAGERDUTY, "wh-poison", T0, raw["poison"]))
    (alerts,) = await accepted(sql, delivery("alerts"))
    assert await inbox.accept_once(Delivery(Source.PAGERDUTY, "wh-fine", T0, b" " + raw["fine"]))
    await inbox.close()

    def bug_on_poison(body: bytes) -> PagerDutyEvent | None:
        if not body.startswith(b" "):
            raise RuntimeError("a bug in processing")
        return parse_pagerduty(body)

    work = InboxProcessor(
        store=sql,
        policy=policy,
        clock=clock,
        parse=parse_alertmanager,
        parse_pagerduty=bug_on_poison,
        timings=ProcessorTimings(max_attempts=2, retry_base=30.0),
    )
    first = await work.drain()
    assert [(p.pending.delivery.key, p.outcome) for p in first] == [
        ("wh-poison", DeliveryOutcome.PENDING),
        (alerts.key, DeliveryOutcome.PROCESSED),
        ("wh-fine", DeliveryOutcome.PROCESSED),
    ]
    assert "a bug in processing" in first[0].detail
    assert await incident_count(sql) == 2
    clock.advance(31)
    (second,) = await work.drain()
    assert (second.pending.delivery.key, second.outcome) == ("wh-poison", DeliveryOutcome.FAILED)
    assert await stored_outcomes(sql) == [
        ("wh-poison", "failed"),
        (alerts.key, "processed"),
        ("wh-fine", "processed"),
    ]


async def test_concurrent_deliveries_of_one_webhook_id_store_one_row(
    sql: SqlStore, clock: FixedClock
) -> None:
    inbox = SqlInbox(sql, pressure=IntakePressure())
    raw = encode(incident_event("incident.triggered", T0))
    sent = [Delivery(Source.PAGERDUTY, "wh-1", clock.now(), raw) for _ in range(4)]
    stored = await asyncio.gather(*(inbox.accept_once(d) for d in sent))
    other = await inbox.accept_once(Delivery(Source.PAGERDUTY, "wh-2", clock.now(), raw))
    await inbox.close()
    assert sorted(stored) == [False, False, False, True]
    assert other
    assert await stored_outcomes(sql) == [("wh-1", "pending"), ("wh-2", "pending")]


def large_delivery(group_key: str, alerts: int) -> Delivery:
    payload = webhook(
        group_key, [alert("LNNHighLatency", instance=f"i-{n}") for n in range(alerts)]
    )
    return Delivery(Source.ALERTMANAGER, f"key-{next(_keys)}", T0, body(payload), "firing")


async def test_a_batch_of_large_groups_takes_only_what_its_byte_budget_holds(
    sql: SqlStore, policy: Policy, clock: FixedClock
) -> None:
    # A batch of 32 bodies of ~400 KB each read 13 MB to apply the one or two its time
    # allowed. After seeing large bodies the processor takes only as many as the budget holds.
    first = large_delivery("big-0", 200)
    size = len(first.body)
    timings = ProcessorTimings(batch_seconds=60.0, batch_bytes=3 * size + size // 2)
    proc = processor(sql, policy, clock, timings=timings)
    await accepted(sql, first)
    assert len(await proc.run_once(32)) == 1
    await accepted(sql, *(large_delivery(f"big-{n}", 200) for n in range(1, 9)))
    assert len(await proc.run_once(32)) == 3
    await accepted(sql, *(delivery(f"small-{n}") for n in range(40)))
    # The rest of the large ones, 3 per batch (the last with a small one), then a batch sized
    # by that mixed mean, then the small ones 32 at a time again.
    assert [len(await proc.run_once(32)) for _ in range(6)] == [3, 3, 5, 32, 2, 0]
