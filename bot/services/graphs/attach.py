"""Drawing the graphs incidents want, once each: claim, draw outside any transaction,
record in one.

A round claims a few pending requests with a lease (one short transaction, which also reads
each incident's alerts), then asks Prometheus and renders with no transaction open: no
network inside a transaction. Each outcome is recorded in a transaction of its own that
locks the incident first (the order every writer of an incident's rows keeps) and finishes
the request conditionally: a ``graph.attached`` entry (the Slack publisher queues the upload
of the stored PNG in the same transaction) or ``graph.unavailable`` with the reason. A
replica that lost its lease meanwhile finds the request finished and records nothing; one
that died mid-draw leaves the lease to lapse, and the request is drawn again, at most
``MAX_ATTEMPTS`` times.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from bot.clock import Clock
from bot.domain.actor import BOT
from bot.domain.events import GraphAttached, GraphNotDrawn
from bot.domain.graphs import WINDOW, GraphImage, GraphReason, GraphStatus, IncidentGraph
from bot.domain.incident import AlertEpisode, Incident
from bot.errors import GraphUnavailable
from bot.ports import MetricGraphs, Store, UnitOfWork
from bot.services.graphs.choice import draw, graphed_alert, request_for
from bot.services.transactions import in_transaction

log = logging.getLogger(__name__)

# Longer than a query (its timeout) and a render take together, so a slow draw is never
# taken over; after a crash the request waits this long before it is drawn again.
LEASE = timedelta(seconds=60)
# Claims of one request before it is recorded as unavailable (a draw that kills the process).
MAX_ATTEMPTS = 3
BATCH = 4


@dataclass(frozen=True, slots=True)
class _Claimed:
    """A claimed request with what drawing it needs, read in the claim's transaction."""

    graph: IncidentGraph
    incident: Incident | None
    alerts: tuple[AlertEpisode, ...]


async def attach_due(
    store: Store, graphs: MetricGraphs, clock: Clock, *, limit: int = BATCH
) -> int:
    """Draw and record up to ``limit`` wanted graphs; how many were claimed."""
    now = clock.now()

    async def claim(uow: UnitOfWork) -> list[_Claimed]:
        claimed = await uow.graphs.claim(now=now, until=now + LEASE, limit=limit)
        out = []
        for graph in claimed:
            incident = await uow.incidents.get(graph.incident_id)
            alerts = tuple(await uow.alerts.for_incident(graph.incident_id))
            out.append(_Claimed(graph, incident, alerts))
        return out

    batch = await in_transaction(store, claim)
    for claimed in batch:
        await _attach(store, graphs, clock, claimed)
    return len(batch)


async def _attach(store: Store, graphs: MetricGraphs, clock: Clock, claimed: _Claimed) -> None:
    incident_id = claimed.graph.incident_id
    alert_name = ""
    outcome: GraphImage | GraphUnavailable
    try:
        if claimed.graph.attempts > MAX_ATTEMPTS:
            raise GraphUnavailable(
                GraphReason.DRAW_FAILED,
                f"gave up after {MAX_ATTEMPTS} attempts that never finished",
            )
        alert = graphed_alert(claimed.alerts)
        alert_name = alert.name
        outcome = await draw(graphs, request_for(alert, end=clock.now()))
    except GraphUnavailable as exc:
        outcome = exc
    except Exception as exc:
        # A bug drawing one graph must not hold up the others, nor be retried for ever.
        log.exception("incident #%d: drawing its graph failed", incident_id)
        outcome = GraphUnavailable(GraphReason.DRAW_FAILED, f"drawing the graph failed: {exc!r}")
    await in_transaction(store, lambda uow: _record(uow, incident_id, alert_name, outcome, clock))


async def _record(
    uow: UnitOfWork,
    incident_id: int,
    alert: str,
    outcome: GraphImage | GraphUnavailable,
    clock: Clock,
) -> None:
    now = clock.now()
    # The incident first, its request second: the order every writer keeps.
    incident = await uow.incidents.get(incident_id, for_update=True)
    if incident is None:
        return
    if incident.merged_into is not None:
        # Its alerts and its room moved to the incident it was merged into.
        await uow.graphs.finish(
            incident_id,
            status=GraphStatus.UNAVAILABLE,
            at=now,
            reason=f"merged into #{incident.merged_into}",
        )
        return
    if isinstance(outcome, GraphUnavailable):
        if await uow.graphs.finish(
            incident_id, status=GraphStatus.UNAVAILABLE, at=now, reason=outcome.detail
        ):
            event = GraphNotDrawn(reason=outcome.reason, detail=outcome.detail, alert=alert)
            await uow.timeline.append(incident_id, at=now, actor=BOT, event=event)
            log.info("incident #%d: no graph (%s): %s", incident_id, outcome.reason, outcome.detail)
        return
    if not await uow.graphs.finish(
        incident_id, status=GraphStatus.ATTACHED, at=now, png=outcome.png
    ):
        return
    query = outcome.request.query
    attached = GraphAttached(
        alert=alert,
        expr=query.expr,
        op=query.op,
        threshold=query.threshold,
        series=outcome.series,
        window_minutes=int(WINDOW.total_seconds() // 60),
        size=len(outcome.png),
    )
    await uow.timeline.append(incident_id, at=now, actor=BOT, event=attached)
    log.info(
        "incident #%d: graph of %s drawn (%d series, %d bytes)",
        incident_id,
        alert or "its alert",
        outcome.series,
        len(outcome.png),
    )
