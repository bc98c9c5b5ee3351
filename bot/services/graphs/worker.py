"""The graph worker: draws the graphs incidents want (``attach``), woken when one is wanted
and every ``poll`` for requests another replica wrote or a lapsed lease."""

from __future__ import annotations

from bot.clock import Clock
from bot.errors import StorageUnavailable
from bot.ports import MetricGraphs, Store
from bot.services.graphs.attach import BATCH, attach_due
from bot.workers import Pacing, Worker


def graph_worker(store: Store, graphs: MetricGraphs, clock: Clock, *, poll: float = 10.0) -> Worker:
    """The worker over ``store`` (the publishing store, so an attached graph's upload is
    queued in the transaction that records it). A full batch looks again at once."""

    async def step() -> bool:
        return await attach_due(store, graphs, clock) >= BATCH

    return Worker(
        "graphs",
        step,
        clock=clock,
        pacing=Pacing(poll=poll, backoff_base=poll, backoff_cap=max(poll, 60.0)),
        transient=(StorageUnavailable,),
    )
