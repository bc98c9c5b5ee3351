"""The outbox worker running for real (its own loop, the wall clock) against Slack failing:
503s, then a 429 with Retry-After, then recovery; two workers on one database; a worker
process killed with SIGKILL and restarted."""

from __future__ import annotations

import signal
import sys
from collections import Counter
from pathlib import Path

from bot.clock import SystemClock
from bot.domain.outbox import OutboxStatus
from bot.ports import Store
from db.migrate import upgrade_async
from db.store import SqlStore
from tests.fakes.slack.server import FakeSlack, run_fake_slack
from tests.fakes.slack.testing import seeded_fake
from tests.support.outbox import (
    TOKEN,
    enqueue,
    make_worker,
    post,
    rows,
    wait_until,
)
from tests.support.processes import spawn, stop_process, tail

REPO = Path(__file__).resolve().parents[2]
CHANNELS = ("alpha", "bravo", "charlie")
PER_CHANNEL = 6
FAST = {"poll_interval": 0.05, "backoff_base": 0.05, "backoff_cap": 0.2}


def seed_channels(fake: FakeSlack) -> dict[str, str]:
    return {name: fake.workspace.add_channel(name).id for name in CHANNELS}


async def enqueue_posts(store: Store, channels: dict[str, str]) -> None:
    calls = [post(cid, f"{name}-{i}") for i in range(PER_CHANNEL) for name, cid in channels.items()]
    await enqueue(store, SystemClock(), *calls)


def assert_each_message_once_in_order(fake: FakeSlack, channels: dict[str, str]) -> None:
    for name, cid in channels.items():
        assert [m.text for m in fake.messages(cid)] == [f"{name}-{i}" for i in range(PER_CHANNEL)]
    sent = Counter(str(r.args.get("text")) for r in fake.calls("chat.postMessage", ok=True))
    assert set(sent.values()) == {1}, "a message went out twice"
    assert len(sent) == PER_CHANNEL * len(CHANNELS)


async def all_sent(store: Store) -> bool:
    return all(m.status is OutboxStatus.SENT for m in await rows(store))


async def test_503_then_429_then_recovery(store: Store) -> None:
    fake = seeded_fake(TOKEN)
    channels = seed_channels(fake)
    async with run_fake_slack(fake) as url:
        fake.faults.unavailable_for(0.6)
        fake.faults.rate_limit("chat.postMessage", calls=1, retry_after=1)
        worker = make_worker(store, url, SystemClock(), **FAST)
        await worker.start()
        try:
            await enqueue_posts(store, channels)
            worker.wake()
            await wait_until(lambda: all_sent(store))
        finally:
            await worker.stop()
    statuses = Counter(r.status for r in fake.requests)
    assert statuses[503] >= 3, "retried through the outage"
    assert statuses[429] == 1
    assert fake.log.retry_after_violations() == []
    (limited,) = [r for r in fake.requests if r.status == 429]
    after = [r for r in fake.calls("chat.postMessage") if r.seq > limited.seq]
    assert min(r.received_at for r in after) >= limited.received_at + 1
    assert_each_message_once_in_order(fake, channels)


async def test_two_workers_on_one_database_send_each_row_once(database_url: str) -> None:
    await upgrade_async(database_url)
    stores = [SqlStore.from_url(database_url) for _ in range(2)]
    fake = seeded_fake(TOKEN)
    channels = seed_channels(fake)
    try:
        async with run_fake_slack(fake) as url:
            workers = [
                make_worker(s, url, SystemClock(), worker_id=f"w{i}", batch_size=2, **FAST)
                for i, s in enumerate(stores)
            ]
            await enqueue_posts(stores[0], channels)
            for worker in workers:
                await worker.start()
            try:
                await wait_until(lambda: all_sent(stores[1]))
            finally:
                for worker in workers:
                    await worker.stop()
    finally:
        for store in stores:
            await store.close()
    assert len(fake.calls("chat.postMessage")) == PER_CHANNEL * len(CHANNELS)
    assert_each_message_once_in_order(fake, channels)


async def test_a_killed_worker_process_resumes_after_restart(
    database_url: str, tmp_path: Path
) -> None:
    await upgrade_async(database_url)
    store = SqlStore.from_url(database_url)
    fake = seeded_fake(TOKEN)
    channels = seed_channels(fake)
    log_path = tmp_path / "worker.log"
    try:
        async with run_fake_slack(fake) as url:
            env = {
                "FIREBREAK_DATABASE_URL": database_url,
                "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_API_URL": url,
                "OUTBOX_TEST_LEASE_SECONDS": "1",
                "PATH": "/usr/bin:/bin",
                "PYTHONUNBUFFERED": "1",
            }
            argv = [sys.executable, "-m", "tests.support.outbox_worker_process"]
            await enqueue_posts(store, channels)
            # Slack confirms five calls, then is down: the worker is retrying, and no call
            # has succeeded without the worker hearing of it.
            fake.faults.unavailable_after(5)
            first = spawn(argv, env=env, log_path=log_path, cwd=REPO)
            try:

                async def five_sent_then_retrying() -> bool:
                    sent = await rows(store, OutboxStatus.SENT)
                    return len(sent) == 5 and any(r.status == 503 for r in fake.requests)

                await wait_until(five_sent_then_retrying)
                before = {m.id: m.sent_at for m in await rows(store, OutboxStatus.SENT)}
                first.send_signal(signal.SIGKILL)
                assert first.wait(timeout=10) == -signal.SIGKILL
            finally:
                stop_process(first)
            assert len(await rows(store, OutboxStatus.PENDING)) == len(channels) * PER_CHANNEL - 5
            fake.faults.clear()
            second = spawn(argv, env=env, log_path=log_path, cwd=REPO)
            try:
                await wait_until(lambda: all_sent(store))
            finally:
                stop_process(second)
            after = {m.id: m.sent_at for m in await rows(store, OutboxStatus.SENT)}
    finally:
        await store.close()
    assert all(after[i] == at for i, at in before.items()), "sent rows were not touched"
    assert len(fake.calls("chat.postMessage", ok=True)) == PER_CHANNEL * len(CHANNELS), tail(
        log_path
    )
    assert_each_message_once_in_order(fake, channels)
