"""The inbox processor's pacing against the in-memory store: it gives way to a busy intake
without ever stopping, and its background loop runs when woken."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta

import pytest

from bot.clock import FixedClock
from bot.domain.incident import AlertGroup, Delivery, DeliveryOutcome, Source
from bot.errors import StorageUnavailable
from bot.policy.model import Policy
from bot.services.incidents.inbox import InboxProcessor, Processed, ProcessorTimings, retry_delay
from bot.services.incidents.inbox_backlog import inbox_backlog
from handlers.alertmanager_schema import parse_alertmanager
from tests.fakes.memory.store import MemoryStore
from tests.support.inbox import parse_as_before, poison_payload
from tests.support.payloads.alertmanager import alert, body, webhook

_keys = itertools.count()


class ScriptedIntake:
    """An ``Inbox`` whose busy state the test sets: the processor only reads it."""

    def __init__(self) -> None:
        self.quiet = asyncio.Event()
        self.quiet.set()
        self.accepted: list[Delivery] = []

    async def accept(self, delivery: Delivery) -> None:
        self.accepted.append(delivery)

    async def accept_once(self, delivery: Delivery) -> bool:
        self.accepted.append(delivery)
        return True

    def busy(self) -> bool:
        return not self.quiet.is_set()

    async def settled(self) -> None:
        await self.quiet.wait()


async def enqueue(store: MemoryStore, clock: FixedClock, count: int) -> None:
    batch = []
    for _ in range(count):
        n = next(_keys)
        payload = webhook(f"g{n}", [alert("LNNHighLatency", instance=f"i{n}")])
        batch.append(Delivery(Source.ALERTMANAGER, f"k{n}", clock.now(), body(payload), "firing"))
    async with store.transaction() as uow:
        await uow.deliveries.enqueue(batch)


def make(
    store: MemoryStore,
    policy: Policy,
    clock: FixedClock,
    intake: ScriptedIntake,
    seen: list[Processed],
    *,
    max_defer: float = 0.2,
    poll: float = 1.0,
) -> InboxProcessor:
    return InboxProcessor(
        store=store,
        policy=policy,
        clock=clock,
        parse=parse_alertmanager,
        intake=intake,
        on_processed=seen.append,
        timings=ProcessorTimings(batch=8, busy_batch=1, max_defer=max_defer, poll=poll),
    )


async def test_a_quiet_intake_gets_full_batches(policy: Policy, clock: FixedClock) -> None:
    store, intake, seen = MemoryStore(), ScriptedIntake(), list[Processed]()
    await enqueue(store, clock, 20)
    work = make(store, policy, clock, intake, seen)
    assert await work.batch_size() == 8
    assert len(await work.run_once(await work.batch_size())) == 8
    assert store.commits == 2  # the enqueue, then one transaction for the eight


async def test_a_busy_intake_gets_priority_but_processing_goes_on(
    policy: Policy, clock: FixedClock
) -> None:
    store, intake, seen = MemoryStore(), ScriptedIntake(), list[Processed]()
    await enqueue(store, clock, 5)
    work = make(store, policy, clock, intake, seen, max_defer=0.01)
    intake.quiet.clear()  # intake stays busy beyond max_defer
    assert await work.batch_size() == 1
    assert len(await work.run_once(1)) == 1


async def test_intake_going_quiet_ends_the_wait_at_once(policy: Policy, clock: FixedClock) -> None:
    store, intake, seen = MemoryStore(), ScriptedIntake(), list[Processed]()
    work = make(store, policy, clock, intake, seen, max_defer=3600.0)
    intake.quiet.clear()
    sizing = asyncio.create_task(work.batch_size())
    await asyncio.sleep(0)
    assert not sizing.done()
    intake.quiet.set()
    # With an hour's max_defer this only returns because intake went quiet.
    assert await asyncio.wait_for(sizing, 5) == 8


async def test_the_background_loop_processes_what_it_is_woken_for(
    policy: Policy, clock: FixedClock
) -> None:
    store, intake, seen = MemoryStore(), ScriptedIntake(), list[Processed]()
    work = make(store, policy, clock, intake, seen, poll=3600.0)
    await work.start()
    try:
        await enqueue(store, clock, 3)
        work.wake()
        # An hour's poll: only the wake can bring these three through in time.
        async with asyncio.timeout(10):
            while len(seen) < 3:
                await asyncio.sleep(0)
        assert [p.outcome for p in seen] == [DeliveryOutcome.PROCESSED] * 3
        assert (await inbox_backlog(store)).pending == 0
    finally:
        await work.stop()


def test_retry_delay_doubles_up_to_its_cap() -> None:
    timings = ProcessorTimings(retry_base=1.0, retry_cap=10.0)
    assert [retry_delay(n, timings) for n in (1, 2, 3, 4, 5, 6)] == [1, 2, 4, 8, 10, 10]


async def test_stop_right_after_a_wake_returns(policy: Policy, clock: FixedClock) -> None:
    # On Python 3.11 a cancellation landing as ``wait_for`` finishes could be swallowed
    # (gh-86296) and left ``stop`` waiting for ever; the app wakes then stops on shutdown.
    for turns in range(4):
        # An hour's poll: a lost cancellation would leave the loop waiting on it.
        work = make(MemoryStore(), policy, clock, ScriptedIntake(), [], poll=3600.0)
        await work.start()
        for _ in range(50):  # let the loop find nothing to do and park on its wake event
            await asyncio.sleep(0)
        work.wake()
        for _ in range(turns):
            await asyncio.sleep(0)
        async with asyncio.timeout(2):
            await work.stop()


async def enqueue_payloads(store: MemoryStore, clock: FixedClock, *payloads: bytes) -> list[str]:
    keys = [f"k{next(_keys)}" for _ in payloads]
    async with store.transaction() as uow:
        await uow.deliveries.enqueue(
            [
                Delivery(Source.ALERTMANAGER, key, clock.now(), raw, "firing")
                for key, raw in zip(keys, payloads, strict=True)
            ]
        )
    return keys


def poisoned(
    store: MemoryStore, policy: Policy, clock: FixedClock, seen: list[Processed]
) -> InboxProcessor:
    """A processor that reads start times as versions before intake checked them did."""
    return InboxProcessor(
        store=store,
        policy=policy,
        clock=clock,
        parse=parse_as_before,
        on_processed=seen.append,
        timings=ProcessorTimings(max_attempts=3, retry_base=10.0),
    )


async def test_a_delivery_failing_for_a_non_storage_reason_is_held_back_alone_then_failed(
    policy: Policy, clock: FixedClock
) -> None:
    store, seen = MemoryStore(), list[Processed]()
    poison, good = await enqueue_payloads(
        store, clock, body(poison_payload("poison")), body(webhook("g", [alert("LNNHighLatency")]))
    )
    work = poisoned(store, policy, clock, seen)
    first = await work.drain()
    # The poison's OverflowError defers it alone; the delivery behind it goes through.
    assert [(p.pending.delivery.key, p.outcome) for p in first] == [
        (poison, DeliveryOutcome.PENDING),
        (good, DeliveryOutcome.PROCESSED),
    ]
    stored = store.delivery(Source.ALERTMANAGER, poison)
    assert stored is not None
    assert (stored.attempts, stored.not_before) == (1, clock.now() + timedelta(seconds=10))
    assert stored.detail.startswith("OverflowError: ")
    assert await work.drain() == []  # held back, not retried at once
    clock.advance(10)
    assert [p.outcome for p in await work.drain()] == [DeliveryOutcome.PENDING]
    clock.advance(20)
    (last,) = await work.drain()
    assert last.outcome is DeliveryOutcome.FAILED
    stored = store.delivery(Source.ALERTMANAGER, poison)
    assert stored is not None
    assert stored.outcome is DeliveryOutcome.FAILED
    assert stored.attempts == 3
    assert stored.detail.startswith("gave up after 3 attempts: OverflowError: ")
    assert (await inbox_backlog(store)).pending == 0


async def test_a_storage_error_pauses_the_inbox_without_counting_attempts(
    policy: Policy, clock: FixedClock
) -> None:
    store, seen = MemoryStore(), list[Processed]()
    (key,) = await enqueue_payloads(store, clock, body(webhook("g", [alert("LNNHighLatency")])))
    work = poisoned(store, policy, clock, seen)
    store.fail_with = StorageUnavailable("database down")
    with pytest.raises(StorageUnavailable):
        await work.run_once(8)
    store.fail_with = None
    stored = store.delivery(Source.ALERTMANAGER, key)
    assert stored is not None
    assert (stored.outcome, stored.attempts) == (DeliveryOutcome.PENDING, 0)
    assert [p.outcome for p in await work.drain()] == [DeliveryOutcome.PROCESSED]


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for this error")


async def test_a_failure_whose_error_cannot_be_recorded_still_ends_failed(
    policy: Policy, clock: FixedClock
) -> None:
    store = MemoryStore()
    bad, good = await enqueue_payloads(
        store,
        clock,
        body(webhook("bad", [alert("LNNHighLatency")])),
        body(webhook("good", [alert("LNNHighLatency")])),
    )

    def fails_oddly(raw: bytes) -> AlertGroup:
        if b'"bad"' in raw:
            raise Unprintable
        return parse_alertmanager(raw)

    work = InboxProcessor(store=store, policy=policy, clock=clock, parse=fails_oddly)
    done = await work.drain()
    assert [(p.pending.delivery.key, p.outcome) for p in done] == [
        (bad, DeliveryOutcome.FAILED),
        (good, DeliveryOutcome.PROCESSED),
    ]
    assert (
        done[0].detail
        == "gave up after 1 attempts: Unprintable (its message could not be recorded)"
    )
