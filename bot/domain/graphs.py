"""Metric graphs of an incident's firing alert: what is asked for, what comes back, why
there may be none, and the stored request that makes the graph posted once per incident.

An incident with a channel (P0, P1) opened by Alertmanager wants one graph: a row
(``IncidentGraph``) written in the transaction that opened it. The graph worker
(``bot.services.graphs``) claims it, asks Prometheus and draws outside any transaction, then
records the outcome in one: a ``graph.attached`` entry (the Slack publisher queues the upload
of the stored PNG) or ``graph.unavailable`` saying why (``GraphReason``).

Stdlib only: shared by the services, the store and the adapters.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.incident import Severity
from bot.domain.promql import GraphQuery

# The severities whose incidents get a channel of their own (the Slack publisher's
# ``CHANNEL_SEVERITIES``; a unit test keeps the two equal): only those get a graph posted.
GRAPHED_SEVERITIES = frozenset({Severity.P0, Severity.P1})
# The span graphed, ending now, and about how many points each series gets over it.
WINDOW = timedelta(hours=1)
POINTS = 240
# A graph series legend names at most this many series; the rest are "+N more".
MAX_SERIES = 8


class GraphReason(enum.StrEnum):
    """Why an incident has no graph: no Prometheus to ask, an alert whose expression cannot
    be graphed (no Prometheus graph link, too long, not PromQL firebreak can split), the
    query failed (unreachable, timed out, refused), no points came back, the incident has no
    alert, or drawing failed (a bug, or attempts that never finished)."""

    NO_PROMETHEUS = "no_prometheus"
    NOT_GRAPHABLE = "not_graphable"
    QUERY_FAILED = "query_failed"
    NO_DATA = "no_data"
    NO_ALERT = "no_alert"
    DRAW_FAILED = "draw_failed"


class GraphStatus(enum.StrEnum):
    """``pending`` until the worker records the outcome, once: ``attached`` (a PNG stored
    and its upload queued) or ``unavailable`` (the reason stored)."""

    PENDING = "pending"
    ATTACHED = "attached"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class Series:
    """One series of a range query: its labels and its ``(unix seconds, value)`` points,
    oldest first (values may be NaN or infinite, as Prometheus sends them)."""

    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class GraphRequest:
    """One graph to draw: ``query`` from ``start`` to ``end`` every ``step_seconds``, under
    ``title`` (the alert's name)."""

    query: GraphQuery
    title: str
    start: datetime
    end: datetime
    step_seconds: float

    @classmethod
    def ending(cls, query: GraphQuery, title: str, end: datetime) -> GraphRequest:
        """The last ``WINDOW`` before ``end``, in about ``POINTS`` steps."""
        step = WINDOW.total_seconds() / POINTS
        return cls(query=query, title=title, start=end - WINDOW, end=end, step_seconds=step)


@dataclass(frozen=True, slots=True)
class GraphImage:
    """A drawn graph: the PNG, how many series Prometheus answered (``series``; the legend
    shows at most ``MAX_SERIES``) and how many points were drawn."""

    png: bytes
    series: int
    points: int
    request: GraphRequest


@dataclass(frozen=True, slots=True)
class IncidentGraph:
    """An incident's graph request and its outcome. ``claimed_until``: a worker is drawing
    it (another replica leaves it alone until then); ``attempts`` counts claims."""

    incident_id: int
    status: GraphStatus
    wanted_at: datetime
    attempts: int = 0
    claimed_until: datetime | None = None
    finished_at: datetime | None = None
    reason: str = ""
    png: bytes | None = None
