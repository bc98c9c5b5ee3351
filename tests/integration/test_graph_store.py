"""Graph requests on every store (memory, SQLite, PostgreSQL): wanted once, claimed with a
lease, finished conditionally, the PNG kept; and two workers (two engines on one database, as
two replicas) that both draw the same incident's graph record and upload it once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.clock import FixedClock
from bot.domain.graphs import GraphStatus
from bot.domain.outbox import incident_key
from bot.integrations.slack.files import UPLOAD
from bot.integrations.slack.publisher import SlackPublisher
from bot.policy.model import Policy
from bot.ports import Store
from bot.services.graphs.attach import LEASE, attach_due
from bot.services.graphs.reactor import GraphReactor
from bot.services.publishing import PublishingStore
from tests.fakes.memory.metric_graphs import CannedGraphs
from tests.support.graphs import firing, latency_series
from tests.support.inbox import deliver
from tests.support.sql_store import migrated_store
from tests.support.store_builders import T0, new_incident

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


async def _incident(store: Store, group: str = "g1") -> int:
    async with store.transaction() as uow:
        incident = await uow.incidents.create(new_incident(group_key=group))
    return incident.id


async def test_a_request_is_wanted_once_claimed_with_a_lease_and_finished_once(
    store: Store,
) -> None:
    first, second = await _incident(store, "g1"), await _incident(store, "g2")
    async with store.transaction() as uow:
        await uow.graphs.want(second, at=T0 + timedelta(seconds=1))
        await uow.graphs.want(first, at=T0)
        await uow.graphs.want(first, at=T0 + timedelta(seconds=5))  # already wanted: kept
    async with store.transaction() as uow:
        wanted = await uow.graphs.get(first)
    assert wanted is not None
    assert (wanted.status, wanted.wanted_at, wanted.attempts) == (GraphStatus.PENDING, T0, 0)
    assert (wanted.claimed_until, wanted.finished_at, wanted.png) == (None, None, None)

    until = T0 + LEASE
    async with store.transaction() as uow:
        claimed = await uow.graphs.claim(now=T0, until=until, limit=1)
    assert [(g.incident_id, g.attempts, g.claimed_until) for g in claimed] == [(first, 1, until)]
    async with store.transaction() as uow:
        # The first is held until its lease lapses; the second is free.
        claimed = await uow.graphs.claim(now=T0 + timedelta(seconds=59), until=until, limit=5)
    assert [g.incident_id for g in claimed] == [second]
    later = T0 + LEASE
    async with store.transaction() as uow:
        claimed = await uow.graphs.claim(now=later, until=later + LEASE, limit=5)
    assert [(g.incident_id, g.attempts) for g in claimed] == [(first, 2), (second, 2)]

    async with store.transaction() as uow:
        assert await uow.graphs.finish(first, status=GraphStatus.ATTACHED, at=later, png=PNG)
        assert not await uow.graphs.finish(
            first, status=GraphStatus.UNAVAILABLE, at=later, reason="late"
        )
        assert await uow.graphs.finish(
            second, status=GraphStatus.UNAVAILABLE, at=later, reason="no data"
        )
    async with store.transaction() as uow:
        attached, unavailable = await uow.graphs.get(first), await uow.graphs.get(second)
        # Finished requests are never claimed again.
        assert await uow.graphs.claim(now=later + LEASE * 10, until=later, limit=5) == []
    assert attached is not None
    assert unavailable is not None
    assert (attached.status, attached.png, attached.finished_at) == (
        GraphStatus.ATTACHED,
        PNG,
        later,
    )
    assert attached.claimed_until is None
    assert (unavailable.status, unavailable.reason, unavailable.png) == (
        GraphStatus.UNAVAILABLE,
        "no data",
        None,
    )


async def test_a_request_with_nothing_to_draw_is_stored_finished(store: Store) -> None:
    incident_id = await _incident(store)
    async with store.transaction() as uow:
        await uow.graphs.want(incident_id, at=T0, unavailable="FIREBREAK_PROMETHEUS_URL is not set")
        await uow.graphs.want(incident_id, at=T0)  # never turns it back into a pending one
    async with store.transaction() as uow:
        stored = await uow.graphs.get(incident_id)
        assert await uow.graphs.claim(now=T0, until=T0 + LEASE, limit=5) == []
    assert stored is not None
    assert (stored.status, stored.reason, stored.finished_at) == (
        GraphStatus.UNAVAILABLE,
        "FIREBREAK_PROMETHEUS_URL is not set",
        T0,
    )


def _publishing(inner: Store, policy: Policy, clock: FixedClock) -> PublishingStore:
    return PublishingStore(
        inner,
        [
            GraphReactor(clock, configured=True),
            SlackPublisher(policy=policy, clock=clock, triage_channel="C0TRIAGE"),
        ],
    )


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def test_two_workers_drawing_one_graph_record_and_upload_it_once(
    backend: str, request: pytest.FixtureRequest, policy: Policy, clock: FixedClock
) -> None:
    url: str = request.getfixturevalue(f"{backend}_url")
    async with migrated_store(url) as one, migrated_store(url) as two:
        replica_one, replica_two = _publishing(one, policy, clock), _publishing(two, policy, clock)
        result = await deliver(replica_one, policy, clock, firing())
        (incident_id,) = result.incident_ids
        gate = asyncio.Event()
        graphs = CannedGraphs(latency_series(clock), gate=gate)

        # The first worker claims it and hangs in the query past its lease; the second then
        # claims it too. Both get answers and both try to record.
        first = asyncio.ensure_future(attach_due(replica_one, graphs, clock))
        while not graphs.queries:
            await asyncio.sleep(0.01)
        assert await attach_due(replica_two, CannedGraphs(), clock) == 0  # held: nothing
        clock.advance(LEASE.total_seconds() + 1)
        second = asyncio.ensure_future(attach_due(replica_two, graphs, clock))
        while len(graphs.queries) < 2:
            await asyncio.sleep(0.01)
        gate.set()
        assert list(await asyncio.gather(first, second)) == [1, 1]

        async with one.transaction() as uow:
            kinds = [e.kind for e in await uow.timeline.for_incident(incident_id)]
            rows = await uow.outbox.list(ordering_key=incident_key(incident_id))
            stored = await uow.graphs.get(incident_id)
        assert kinds.count("graph.attached") == 1
        assert "graph.unavailable" not in kinds
        assert [r.call.method for r in rows].count(UPLOAD) == 1
        assert stored is not None
        assert stored.status is GraphStatus.ATTACHED
        assert stored.attempts == 2
