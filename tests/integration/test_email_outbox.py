"""Email rows through the real outbox worker to a real SMTP server on loopback: sent once,
retried while the server refuses for a while, failed for good on a permanent refusal, and
neither lost nor repeated across a restart."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.clock import FixedClock
from bot.domain.outbox import EMAIL, OutboundCall, OutboxStatus, email_key
from bot.integrations.email.log_sender import EmailLogSender
from bot.integrations.email.sender import EmailSender
from bot.integrations.email.smtp_url import parse_smtp_url
from bot.integrations.outbox.worker import OutboxWorker
from bot.ports import Sender, Store
from tests.support.outbox import enqueue, rows
from tests.support.smtp import SmtpTestServer, smtp_server
from tests.support.sql_store import migrated_store

LEASE_S = 60.0
TO = "liquid-edge-oncall@company.com"


def email(subject: str, *, incident_id: int = 12) -> OutboundCall:
    return OutboundCall(
        ordering_key=email_key(incident_id, 1, TO),
        method="send",
        args={"to": [TO], "subject": subject, "body": f"{subject}\n/incident ack {incident_id}"},
        target=EMAIL,
    )


def make_worker(store: Store, sender: Sender, clock: FixedClock, worker_id: str) -> OutboxWorker:
    return OutboxWorker(
        store,
        {EMAIL: sender},
        clock,
        worker_id=worker_id,
        lease_seconds=LEASE_S,
        rng=random.Random(7),
    )


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[SmtpTestServer]:
    async with smtp_server(tmp_path) as running:
        yield running


@pytest.fixture
def sender(server: SmtpTestServer, clock: FixedClock) -> EmailSender:
    return EmailSender(
        parse_smtp_url(server.url()), from_address="firebreak@example.com", clock=clock
    )


async def test_an_email_row_is_sent_once_and_recorded(
    store: Store, clock: FixedClock, server: SmtpTestServer, sender: EmailSender
) -> None:
    await enqueue(store, clock, email("[firebreak P2] #12 disk filling"))
    worker = make_worker(store, sender, clock, "w1")
    assert await worker.drain() == 1
    [got] = server.received
    assert got.message["Subject"] == "[firebreak P2] #12 disk filling"
    assert got.rcpt_tos == (TO,)
    [row] = await rows(store)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 1)
    assert row.result is not None
    assert row.result["message_id"] == got.message["Message-ID"]
    clock.advance(LEASE_S * 10)
    assert await worker.drain() == 0
    assert len(server.received) == 1


async def test_a_server_refusing_for_a_while_gets_the_mail_once_it_recovers(
    store: Store, clock: FixedClock, server: SmtpTestServer, sender: EmailSender
) -> None:
    server.recorder.refuse(451, "Greylisted, come back later", times=2)
    await enqueue(store, clock, email("first"), email("second"))
    worker = make_worker(store, sender, clock, "w1")
    await worker.drain()
    [first, second] = await rows(store)
    assert (first.status, first.attempts) == (OutboxStatus.PENDING, 1)
    assert (
        first.last_error
        == "recipients refused: liquid-edge-oncall@company.com: 451 Greylisted, come back later"
    )
    assert second.attempts == 0, "the key's later email waits behind the first"
    clock.advance(worker.backoff_base)  # the first backoff is at most backoff_base
    await worker.drain()
    assert server.received == []
    clock.advance(2 * worker.backoff_base)  # the second at most twice that
    await worker.drain()
    assert [r.message["Subject"] for r in server.received] == ["first", "second"]
    first, second = await rows(store)
    assert (first.status, first.attempts) == (OutboxStatus.SENT, 3)
    assert (second.status, second.attempts) == (OutboxStatus.SENT, 1)
    assert server.recorder.attempts == 4


async def test_a_permanent_refusal_is_recorded_failed_and_not_retried(
    store: Store, clock: FixedClock, server: SmtpTestServer, sender: EmailSender
) -> None:
    server.recorder.refuse(550, "5.1.1 Mailbox unavailable")
    await enqueue(store, clock, email("refused"), email("next"))
    worker = make_worker(store, sender, clock, "w1")
    await worker.drain()
    clock.advance(3600)
    assert await worker.drain() == 0
    failed, sent = await rows(store)
    assert (failed.status, failed.attempts) == (OutboxStatus.FAILED, 1)
    assert "550 5.1.1 Mailbox unavailable" in failed.last_error
    assert sent.status is OutboxStatus.SENT, "a failed email does not hold back the next"
    assert [r.message["Subject"] for r in server.received] == ["next"]
    assert server.recorder.attempts == 2


async def test_without_smtp_the_row_is_kept_unconfigured(
    store: Store, clock: FixedClock, server: SmtpTestServer
) -> None:
    await enqueue(store, clock, email("logged only"))
    assert await make_worker(store, EmailLogSender(), clock, "w1").drain() == 1
    [row] = await rows(store)
    assert (row.status, row.last_error) == (OutboxStatus.UNCONFIGURED, "email not configured")
    assert server.recorder.attempts == 0


async def test_a_restart_with_an_unsent_email_sends_it_once(
    database_url: str, clock: FixedClock, server: SmtpTestServer, sender: EmailSender
) -> None:
    async with migrated_store(database_url) as before:
        await enqueue(before, clock, email("across a restart"))
        # The first worker claimed the row and died before sending it: its lease stays.
        async with before.transaction() as uow:
            claimed = await uow.outbox.claim(
                worker="w1", now=clock.now(), lease_seconds=LEASE_S, limit=10
            )
        assert len(claimed) == 1
    assert server.received == []
    async with migrated_store(database_url) as after:
        worker = make_worker(after, sender, clock, "w2")
        assert await worker.drain() == 0, "the dead worker's lease still holds the row"
        clock.advance(LEASE_S + 1)
        assert await worker.drain() == 1
        clock.advance(LEASE_S * 10)
        assert await worker.drain() == 0
        [row] = await rows(after)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 2)
    assert [r.message["Subject"] for r in server.received] == ["across a restart"]


async def test_a_row_already_sent_is_not_sent_again_by_a_new_worker(
    database_url: str, clock: FixedClock, server: SmtpTestServer, sender: EmailSender
) -> None:
    async with migrated_store(database_url) as before:
        await enqueue(before, clock, email("sent before the restart"))
        assert await make_worker(before, sender, clock, "w1").drain() == 1
    assert len(server.received) == 1
    clock.advance(LEASE_S * 10)
    async with migrated_store(database_url) as after:
        assert await make_worker(after, sender, clock, "w2").drain() == 0
        [row] = await rows(after)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 1)
    assert len(server.received) == 1
    assert server.recorder.attempts == 1
