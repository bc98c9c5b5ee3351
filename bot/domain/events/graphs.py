"""Typed bodies of the metric graph entries: the graph of the incident's firing alert was
drawn (and its upload to the incident channel queued), or why there is none."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.events.body import OneKind
from bot.domain.events.kinds import EventKind


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphAttached(OneKind, kind=EventKind.GRAPH_ATTACHED):
    """The graph of ``alert``'s expression over the last ``window_minutes``: the series
    asked for (``expr``), the line drawn (``op`` and ``threshold``, absent without one), how
    many series Prometheus answered and the PNG's size in bytes."""

    alert: str = ""
    expr: str = ""
    op: str | None = None
    threshold: float | None = None
    series: int = 0
    window_minutes: int = 0
    size: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphNotDrawn(OneKind, kind=EventKind.GRAPH_UNAVAILABLE):
    """No graph for the incident: ``reason`` (a ``GraphReason`` value: no Prometheus URL set,
    an expression that cannot be graphed, the query failed, no data, no firing alert left)
    and the ``detail`` people read; ``alert`` is the alert it was for, if any."""

    reason: str = ""
    detail: str = ""
    alert: str = ""
