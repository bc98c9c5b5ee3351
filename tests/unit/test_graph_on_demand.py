"""The incident's graph drawn for the incident page on demand: the firing alert's hour up to
now while the incident is open (up to its resolution after), kept a minute per incident,
refusals included; an unknown incident is not found."""

from __future__ import annotations

import asyncio

import pytest

from bot.clock import FixedClock
from bot.domain.actor import Actor
from bot.domain.graphs import WINDOW
from bot.errors import GraphUnavailable, NotFound
from bot.policy.model import Policy
from bot.services.graphs.on_demand import TTL_SECONDS, IncidentGraphs
from bot.services.incidents.updates import resolve
from tests.fakes.memory.metric_graphs import CannedGraphs
from tests.fakes.memory.store import MemoryStore
from tests.support.graphs import LATENCY, SERIES_EXPR, firing, graph_link, latency_series
from tests.support.inbox import deliver
from tests.support.store_builders import alert, new_incident

BOB = Actor.parse("slack:U0BOB00001")


async def _opened(policy: Policy, clock: FixedClock) -> tuple[MemoryStore, int]:
    store = MemoryStore()
    result = await deliver(store, policy, clock, firing())
    (incident_id,) = result.incident_ids
    return store, incident_id


async def test_the_graph_is_drawn_and_kept_a_minute(policy: Policy, clock: FixedClock) -> None:
    store, incident_id = await _opened(policy, clock)
    graphs = CannedGraphs(latency_series(clock))
    page = IncidentGraphs(store, graphs, clock)
    first = await page.png(incident_id)
    assert first.png.startswith(b"\x89PNG")
    assert first.request.query.expr == SERIES_EXPR
    assert first.request.end == clock.now()
    clock.advance(TTL_SECONDS - 1)
    assert await page.png(incident_id) is first
    assert len(graphs.queries) == 1
    # After a minute it follows the incident: drawn again, up to now.
    clock.advance(2)
    again = await page.png(incident_id)
    assert again is not first
    assert again.request.end == clock.now()
    assert len(graphs.queries) == 2


async def test_requests_that_arrive_together_ask_once(policy: Policy, clock: FixedClock) -> None:
    store, incident_id = await _opened(policy, clock)
    gate = asyncio.Event()
    graphs = CannedGraphs(latency_series(clock), gate=gate)
    page = IncidentGraphs(store, graphs, clock)
    waiting = [asyncio.ensure_future(page.png(incident_id)) for _ in range(3)]
    while not graphs.queries:
        await asyncio.sleep(0)
    gate.set()
    drawn = await asyncio.gather(*waiting)
    assert len(graphs.queries) == 1
    assert drawn[0] is drawn[1] is drawn[2]


async def test_a_resolved_incident_shows_the_hour_up_to_its_resolution(
    policy: Policy, clock: FixedClock
) -> None:
    store, incident_id = await _opened(policy, clock)
    clock.advance(600)
    resolved_at = clock.now()
    await resolve(store, incident_id, actor=BOB, at=resolved_at)
    clock.advance(3 * 3600)
    graphs = CannedGraphs(latency_series(clock))
    drawn = await IncidentGraphs(store, graphs, clock).png(incident_id)
    assert (drawn.request.start, drawn.request.end) == (resolved_at - WINDOW, resolved_at)


async def test_refusals_say_why_and_are_kept_too(policy: Policy, clock: FixedClock) -> None:
    store, incident_id = await _opened(policy, clock)
    failing = CannedGraphs(fail="Prometheus did not answer within 10 s")
    page = IncidentGraphs(store, failing, clock)
    with pytest.raises(GraphUnavailable, match="did not answer") as refused:
        await page.png(incident_id)
    assert refused.value.reason == "query_failed"
    with pytest.raises(GraphUnavailable):
        await page.png(incident_id)
    assert len(failing.queries) == 1
    unconfigured = IncidentGraphs(store, CannedGraphs(configured=False), clock)
    with pytest.raises(GraphUnavailable, match="FIREBREAK_PROMETHEUS_URL") as refused:
        await unconfigured.png(incident_id)
    assert refused.value.reason == "no_prometheus"


async def test_an_unknown_incident_is_not_found(clock: FixedClock) -> None:
    page = IncidentGraphs(MemoryStore(), CannedGraphs(), clock)
    with pytest.raises(NotFound):
        await page.png(404)


async def test_the_cache_keeps_the_latest_incidents_only(policy: Policy, clock: FixedClock) -> None:
    store = MemoryStore()
    ids: list[int] = []
    for n in range(3):
        async with store.transaction() as uow:
            incident = await uow.incidents.create(new_incident(group_key=f"g{n}"))
            linked = alert(f"f{n}", generator_url=graph_link(LATENCY))
            await uow.alerts.add(incident.id, linked, incident.severity)
        ids.append(incident.id)
    graphs = CannedGraphs(latency_series(clock))
    page = IncidentGraphs(store, graphs, clock, size=2)
    for incident_id in ids:
        await page.png(incident_id)
    await page.png(ids[2])
    assert len(graphs.queries) == 3
    await page.png(ids[0])  # pushed out by the two after it
    assert len(graphs.queries) == 4
