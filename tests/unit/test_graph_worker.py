"""The graph of a P0/P1 incident's firing alert, in the core: wanted with the opening, drawn by
the worker outside any transaction and recorded once, its upload queued for the incident's
channel; or why there is none, on the timeline. Prometheus is the canned port here
(``tests/fakes/memory/metric_graphs.py``); the real one is in
``tests/integration/test_prometheus_graphs.py``."""

from __future__ import annotations

import base64
import math
from typing import Any

from bot.clock import FixedClock
from bot.domain.actor import Actor
from bot.domain.events import EventKind
from bot.domain.graphs import GRAPHED_SEVERITIES, POINTS, WINDOW, GraphStatus, Series
from bot.domain.incident import Severity, TimelineEntry
from bot.domain.outbox import CARD_CHANNEL, OutboundCall, incident_key
from bot.integrations.slack.files import UPLOAD
from bot.integrations.slack.publisher import CHANNEL_SEVERITIES, SlackPublisher
from bot.policy.model import Policy
from bot.services.graphs.attach import LEASE, MAX_ATTEMPTS, attach_due
from bot.services.graphs.reactor import GraphReactor
from bot.services.incidents.declare import declare_incident
from bot.services.incidents.updates import set_severity
from bot.services.publishing import PublishingStore
from tests.fakes.memory.metric_graphs import CannedGraphs
from tests.fakes.memory.store import MemoryStore
from tests.support.graphs import SERIES_EXPR, firing, latency_series
from tests.support.inbox import deliver

ALICE = Actor.parse("slack:U0ALICE001")


class Bot:
    """The publishing store the app builds, as far as graphs go: the graph reactor, then
    the Slack publisher."""

    def __init__(self, policy: Policy, clock: FixedClock, graphs: CannedGraphs) -> None:
        self.inner = MemoryStore()
        self.policy = policy
        self.clock = clock
        self.graphs = graphs
        self.reactor = GraphReactor(clock, configured=graphs.configured)
        slack = SlackPublisher(policy=policy, clock=clock, triage_channel="C0TRIAGE")
        self.store = PublishingStore(self.inner, [self.reactor, slack])

    async def deliver(self, payload: dict[str, Any]) -> int:
        result = await deliver(self.store, self.policy, self.clock, payload)
        (incident_id,) = result.incident_ids
        return incident_id

    async def attach(self) -> int:
        return await attach_due(self.store, self.graphs, self.clock)

    async def timeline(self, incident_id: int) -> list[TimelineEntry]:
        async with self.inner.transaction() as uow:
            return list(await uow.timeline.for_incident(incident_id))

    async def kinds(self, incident_id: int) -> list[str]:
        return [e.kind for e in await self.timeline(incident_id)]

    async def graph_entries(self, incident_id: int) -> list[TimelineEntry]:
        return [e for e in await self.timeline(incident_id) if e.kind.startswith("graph.")]

    async def calls(self, incident_id: int) -> list[OutboundCall]:
        async with self.inner.transaction() as uow:
            rows = await uow.outbox.list(ordering_key=incident_key(incident_id))
        return [row.call for row in rows]

    async def uploads(self, incident_id: int) -> list[OutboundCall]:
        return [c for c in await self.calls(incident_id) if c.method == UPLOAD]

    async def methods(self, incident_id: int) -> list[str]:
        return [c.method for c in await self.calls(incident_id)]


def test_graphed_severities_are_the_ones_with_a_channel() -> None:
    assert GRAPHED_SEVERITIES == CHANNEL_SEVERITIES


async def test_a_p1_opening_wants_its_graph_and_the_worker_posts_it_once(
    policy: Policy, clock: FixedClock
) -> None:
    graphs = CannedGraphs(latency_series(clock))
    bot = Bot(policy, clock, graphs)
    incident_id = await bot.deliver(firing())
    assert bot.reactor.take_wanted()
    # Nothing is asked inside the opening's transaction.
    assert graphs.queries == []
    assert await bot.graph_entries(incident_id) == []

    clock.advance(2)
    assert await bot.attach() == 1
    (asked,) = graphs.queries
    assert asked.query.expr == SERIES_EXPR
    assert (asked.query.op, asked.query.threshold) == (">", 0.1)
    assert (asked.start, asked.end) == (clock.now() - WINDOW, clock.now())
    assert asked.step_seconds == WINDOW.total_seconds() / POINTS == 15
    assert asked.title == "LNNHighLatency"

    (entry,) = await bot.graph_entries(incident_id)
    assert entry.kind == EventKind.GRAPH_ATTACHED
    assert entry.actor == Actor.parse("bot:firebreak")
    assert entry.body["alert"] == "LNNHighLatency"
    assert entry.body["expr"] == SERIES_EXPR
    assert (entry.body["op"], entry.body["threshold"]) == (">", 0.1)
    assert (entry.body["series"], entry.body["window_minutes"]) == (1, 60)
    async with bot.inner.transaction() as uow:
        stored = await uow.graphs.get(incident_id)
    assert stored is not None
    assert stored.status is GraphStatus.ATTACHED
    assert stored.png is not None
    assert stored.png.startswith(b"\x89PNG")
    assert entry.body["size"] == len(stored.png)

    # One upload of that very PNG into the incident's own channel, after its card.
    (upload,) = await bot.uploads(incident_id)
    assert upload.binds == {"channel_id": CARD_CHANNEL}
    assert base64.b64decode(upload.args["content_base64"]) == stored.png
    assert upload.args["filename"] == f"incident-{incident_id}-graph.png"
    assert "*LNNHighLatency*" in upload.args["initial_comment"]
    assert "&gt; 0.1" in upload.args["initial_comment"]  # escaped for mrkdwn
    assert upload.args["alt_txt"].startswith("Line graph of LNNHighLatency")
    methods = await bot.methods(incident_id)
    assert methods.index("conversations.create") < methods.index(UPLOAD)
    # No thread line: the upload is the message (the card is the only post).
    assert methods.count("chat.postMessage") == 1

    # Never again, however often the worker looks.
    clock.advance(LEASE.total_seconds() * 3)
    assert await bot.attach() == 0
    assert len(await bot.graph_entries(incident_id)) == 1
    assert len(await bot.uploads(incident_id)) == 1
    assert len(graphs.queries) == 1


async def test_a_p2_a_declared_and_a_pagerduty_incident_want_no_graph(
    policy: Policy, clock: FixedClock
) -> None:
    graphs = CannedGraphs(latency_series(clock))
    bot = Bot(policy, clock, graphs)
    p2 = await bot.deliver(firing("LNNHighMemory", "warning", group="g-memory"))
    declared = await declare_incident(
        bot.store, policy, title="checkout is slow", actor=ALICE, at=clock.now()
    )
    assert declared.severity in GRAPHED_SEVERITIES
    assert not bot.reactor.take_wanted()
    assert await bot.attach() == 0
    assert await bot.graph_entries(p2) == []
    assert await bot.graph_entries(declared.id) == []
    assert graphs.queries == []


async def test_a_p2_raised_to_p1_gets_its_graph_with_its_room(
    policy: Policy, clock: FixedClock
) -> None:
    graphs = CannedGraphs(latency_series(clock))
    bot = Bot(policy, clock, graphs)
    incident_id = await bot.deliver(firing("LNNHighMemory", "warning", group="g-memory"))
    await set_severity(bot.store, incident_id, Severity.P1, actor=ALICE, at=clock.now())
    assert bot.reactor.take_wanted()
    assert await bot.attach() == 1
    assert [e.kind for e in await bot.graph_entries(incident_id)] == ["graph.attached"]
    assert len(await bot.uploads(incident_id)) == 1
    # Lowered and raised again: it had its graph.
    await set_severity(bot.store, incident_id, Severity.P2, actor=ALICE, at=clock.now())
    await set_severity(bot.store, incident_id, Severity.P0, actor=ALICE, at=clock.now())
    assert not bot.reactor.take_wanted()
    assert await bot.attach() == 0
    assert len(await bot.graph_entries(incident_id)) == 1


async def test_without_a_prometheus_url_the_opening_says_why_and_nothing_is_asked(
    policy: Policy, clock: FixedClock
) -> None:
    graphs = CannedGraphs(latency_series(clock), configured=False)
    bot = Bot(policy, clock, graphs)
    incident_id = await bot.deliver(firing())
    # In the opening's own transaction, right after its entries.
    assert await bot.kinds(incident_id) == ["incident.opened", "alert.firing", "graph.unavailable"]
    (entry,) = await bot.graph_entries(incident_id)
    assert entry.body["reason"] == "no_prometheus"
    assert "FIREBREAK_PROMETHEUS_URL" in entry.body["detail"]
    assert entry.body["alert"] == "LNNHighLatency"
    assert not bot.reactor.take_wanted()
    assert await bot.attach() == 0
    assert graphs.queries == []
    assert await bot.uploads(incident_id) == []
    # The incident opened as it always did: its room and card are queued.
    methods = await bot.methods(incident_id)
    assert methods[0] == "conversations.create"
    assert "chat.postMessage" in methods


async def test_an_alert_with_no_graph_link_is_not_graphed(
    policy: Policy, clock: FixedClock
) -> None:
    graphs = CannedGraphs(latency_series(clock))
    bot = Bot(policy, clock, graphs)
    incident_id = await bot.deliver(firing(url="http://prometheus.local/graph"))
    (entry,) = await bot.graph_entries(incident_id)
    assert entry.body["reason"] == "not_graphable"
    assert "g0.expr" in entry.body["detail"]
    assert await bot.attach() == 0
    assert graphs.queries == []


async def test_a_failed_query_is_on_the_timeline_and_the_incident_opens_as_always(
    policy: Policy, clock: FixedClock
) -> None:
    graphs = CannedGraphs(fail="Prometheus could not be asked: connection refused")
    bot = Bot(policy, clock, graphs)
    incident_id = await bot.deliver(firing())
    assert await bot.attach() == 1
    (entry,) = await bot.graph_entries(incident_id)
    assert entry.kind == EventKind.GRAPH_UNAVAILABLE
    assert entry.body["reason"] == "query_failed"
    assert entry.body["detail"] == "Prometheus could not be asked: connection refused"
    assert await bot.uploads(incident_id) == []
    assert "chat.postMessage" in await bot.methods(incident_id)
    async with bot.inner.transaction() as uow:
        stored = await uow.graphs.get(incident_id)
    assert stored is not None
    assert (stored.status, stored.png) == (GraphStatus.UNAVAILABLE, None)
    assert stored.reason == "Prometheus could not be asked: connection refused"
    # Recorded once: not asked again.
    clock.advance(3600)
    assert await bot.attach() == 0


async def test_no_data_is_said_so(policy: Policy, clock: FixedClock) -> None:
    empty = [Series({"pod": "a"}, ())]
    bot = Bot(policy, clock, CannedGraphs(empty))
    incident_id = await bot.deliver(firing())
    await bot.attach()
    (entry,) = await bot.graph_entries(incident_id)
    assert entry.body["reason"] == "no_data"
    assert SERIES_EXPR in entry.body["detail"]


async def test_a_drawing_that_breaks_is_recorded_and_holds_up_no_other(
    policy: Policy, clock: FixedClock
) -> None:
    graphs = CannedGraphs(latency_series(clock), broken=True)
    bot = Bot(policy, clock, graphs)
    first = await bot.deliver(firing(group="g1"))
    second = await bot.deliver(firing("LNNServiceDown", group="g2"))
    assert await bot.attach() == 2
    for incident_id in (first, second):
        (entry,) = await bot.graph_entries(incident_id)
        assert entry.body["reason"] == "draw_failed"
        assert "the renderer broke" in entry.body["detail"]


async def test_a_request_whose_draws_never_finish_is_given_up_on(
    policy: Policy, clock: FixedClock
) -> None:
    graphs = CannedGraphs(latency_series(clock))
    bot = Bot(policy, clock, graphs)
    incident_id = await bot.deliver(firing())
    # Claims that never finished (the replica died mid-draw), each after the last's lease.
    for _ in range(MAX_ATTEMPTS):
        async with bot.inner.transaction() as uow:
            now = clock.now()
            (claimed,) = await uow.graphs.claim(now=now, until=now + LEASE, limit=4)
            # Held: no other worker takes it until the lease lapses.
            assert await uow.graphs.claim(now=now, until=now + LEASE, limit=4) == []
        clock.advance(LEASE.total_seconds())
    assert claimed.attempts == MAX_ATTEMPTS
    assert await bot.attach() == 1
    (entry,) = await bot.graph_entries(incident_id)
    assert entry.body["reason"] == "draw_failed"
    assert "gave up" in entry.body["detail"]
    assert graphs.queries == []


async def test_the_line_of_a_graph_is_described_on_the_timeline(
    policy: Policy, clock: FixedClock
) -> None:
    from bot.services.entry_text import describe

    bot = Bot(policy, clock, CannedGraphs(latency_series(clock)))
    incident_id = await bot.deliver(firing())
    await bot.attach()
    (entry,) = await bot.graph_entries(incident_id)
    line = describe(entry)
    assert line.startswith("Graph of LNNHighLatency over the last 1 h: histogram_quantile(")
    assert line.endswith(", line at > 0.1 (1 series)")
    assert not math.isnan(float(entry.body["threshold"]))
