"""A file through the outbox (``files.uploadV2``: get an upload URL, POST the bytes, complete)
against the fake Slack over real HTTP with the real slack_sdk client, on every store: a
postmortem longer than one Slack message arrives whole; a failure or a crash between the
steps is retried with a fresh upload and the channel gets the file once; an upload URL
anywhere but Slack's file host or the API base's origin is never contacted."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest

from bot.clock import FixedClock
from bot.domain.actor import Actor
from bot.domain.incident import TimelineEntry
from bot.domain.outbox import CARD_CHANNEL, OutboundCall, OutboxStatus
from bot.integrations.slack import calls
from bot.integrations.slack.sender import make_client
from bot.ports import Store
from bot.services.incidents.postmortem import render_postmortem
from tests.fakes.slack.server import FakeSlack, run_fake_slack
from tests.support.incidents import T0
from tests.support.incidents import incident as support_incident
from tests.support.outbox import TOKEN, enqueue, fake_on, make_worker, open_incident, rows

LEASE_S = 60.0
OPTIONS = {"lease_seconds": LEASE_S, "backoff_base": 1.0, "backoff_cap": 2.0}


def long_postmortem() -> str:
    """A real postmortem of an incident with a long timeline: more than one Slack message."""
    timeline = [
        TimelineEntry(
            1,
            seq,
            T0 + timedelta(seconds=seq),
            Actor.parse("slack:U0ALICE"),
            "note",
            {"text": f"step {seq}: p99 at {seq} ms — ü"},
            "",
            "",
        )
        for seq in range(1, 700)
    ]
    doc = render_postmortem(support_incident(id=1), [], timeline, now=T0 + timedelta(hours=1))
    assert len(doc) > 40_000
    return doc


async def _incident_with_channel(store: Store, fake: FakeSlack) -> tuple[int, str]:
    channel = fake.workspace.add_channel("inc-1-files").id
    incident_id = await open_incident(store)
    async with store.transaction() as uow:
        await uow.chat_refs.save_refs(incident_id, {CARD_CHANNEL: channel})
    return incident_id, channel


def _call(incident_id: int, doc: str) -> OutboundCall:
    return calls.upload_file(
        incident_id,
        filename=f"incident-{incident_id}-postmortem.md",
        title=f"Postmortem of incident #{incident_id}",
        content=doc,
        initial_comment="Postmortem requested by <@U0ALICE>",
    )


async def test_a_postmortem_longer_than_a_message_arrives_whole(store: Store) -> None:
    clock = FixedClock(T0)
    fake = fake_on(clock)
    doc = long_postmortem()
    incident_id, channel = await _incident_with_channel(store, fake)
    await enqueue(store, clock, _call(incident_id, doc))
    async with run_fake_slack(fake) as url:
        worker = make_worker(store, url, clock, paced=True, **OPTIONS)
        assert await worker.drain() == 1
    (row,) = await rows(store)
    assert row.status is OutboxStatus.SENT, row.last_error
    (shared,) = fake.files.shared_in(channel)
    assert shared.text == doc
    assert (shared.filename, shared.title) == (
        "incident-1-postmortem.md",
        "Postmortem of incident #1",
    )
    assert row.result == {"channel": channel, "file": shared.id}
    (message,) = fake.messages(channel)
    assert (message.text, message.files) == ("Postmortem requested by <@U0ALICE>", [shared.id])
    assert [r.method for r in fake.requests] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    assert fake.requests[0].args == {"filename": shared.filename, "length": str(len(doc.encode()))}


@pytest.mark.parametrize(
    ("method", "status", "error"),
    [
        ("files.getUploadURLExternal", 503, "service_unavailable"),
        ("upload", 503, "unavailable"),
        ("upload", 500, "internal"),
        ("files.completeUploadExternal", 500, "internal_error"),
        # Slack answered that this attempt's upload is gone: the next attempt uploads again.
        ("files.completeUploadExternal", 200, "file_not_found"),
    ],
)
async def test_a_failure_between_the_steps_is_retried_with_one_file_in_the_channel(
    store: Store, method: str, status: int, error: str
) -> None:
    clock = FixedClock(T0)
    fake = fake_on(clock)
    doc = long_postmortem()
    incident_id, channel = await _incident_with_channel(store, fake)
    await enqueue(store, clock, _call(incident_id, doc))
    fake.faults.fail(method, status=status, error=error)
    async with run_fake_slack(fake) as url:
        worker = make_worker(store, url, clock, **OPTIONS)
        assert await worker.drain() == 1
        (row,) = await rows(store)
        assert row.status is OutboxStatus.PENDING
        assert row.last_error
        clock.advance(5)
        assert await worker.drain() == 1
    (row,) = await rows(store)
    assert row.status is OutboxStatus.SENT, row.last_error
    (shared,) = fake.files.shared_in(channel)
    assert shared.text == doc
    assert len(fake.messages(channel)) == 1
    # Every attempt asked for its own upload URL; none but the last was shared.
    attempts = fake.calls("files.getUploadURLExternal", ok=True)
    assert len(attempts) == (1 if method == "files.getUploadURLExternal" else 2)
    assert [f.id for f in fake.files.files.values() if f.completed] == [shared.id]


async def test_a_crash_between_the_steps_leaves_one_file_after_the_lease(store: Store) -> None:
    clock = FixedClock(T0)
    fake = fake_on(clock)
    doc = long_postmortem()
    incident_id, channel = await _incident_with_channel(store, fake)
    await enqueue(store, clock, _call(incident_id, doc))
    async with run_fake_slack(fake) as url:
        # Worker "a" claims the row, gets an upload URL and uploads the bytes, and dies before
        # the completion: nothing of it is recorded but its lease.
        async with store.transaction() as uow:
            (claimed,) = await uow.outbox.claim(
                worker="a", now=clock.now(), lease_seconds=LEASE_S, limit=1
            )
        client = make_client(TOKEN, url)
        started = await client.files_getUploadURLExternal(
            filename=str(claimed.call.args["filename"]), length=len(doc.encode())
        )
        async with (
            aiohttp.ClientSession() as session,
            session.post(started["upload_url"], data=doc.encode()) as uploaded,
        ):
            assert uploaded.status == 200
        worker = make_worker(store, url, clock, worker_id="b", **OPTIONS)
        assert await worker.drain() == 0  # a's lease holds
        clock.advance(LEASE_S + 1)
        assert await worker.drain() == 1
    (row,) = await rows(store)
    assert row.status is OutboxStatus.SENT
    (shared,) = fake.files.shared_in(channel)
    assert shared.text == doc
    assert shared.id != started["file_id"]
    # a's upload was never completed: Slack discards it; it is in no channel.
    abandoned = fake.files.files[started["file_id"]]
    assert (abandoned.completed, abandoned.channel) == (False, None)
    assert len(fake.messages(channel)) == 1


async def test_an_upload_url_elsewhere_is_never_contacted(store: Store) -> None:
    clock = FixedClock(T0)
    fake, elsewhere = fake_on(clock), fake_on(clock)
    incident_id, channel = await _incident_with_channel(store, fake)
    await enqueue(store, clock, _call(incident_id, "# short"), _call(incident_id, "# again"))
    async with run_fake_slack(fake) as url, run_fake_slack(elsewhere) as other:
        # Another server on loopback (another port), then a host on the internet.
        for origin in (other.removesuffix("/api/"), "https://files.slack.com.example"):
            fake.files.upload_origin = origin
            worker = make_worker(store, url, clock, **OPTIONS)
            await worker.drain()
    statuses = [(m.status, m.last_error) for m in await rows(store)]
    assert statuses == [(OutboxStatus.FAILED, "upload_url_refused")] * 2
    assert elsewhere.requests == []
    assert fake.calls("upload") == []
    assert fake.files.shared_in(channel) == []
    assert {r.method for r in fake.requests} == {"files.getUploadURLExternal"}
