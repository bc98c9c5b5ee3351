"""Drawing a graph as a PNG with matplotlib's Agg canvas: no pyplot, no display, no global
state, so a render may run on a worker thread.

Sized for Slack's inline preview (about 480 pixels wide, where 800 × 450 with 13-point text
stays readable) and for the incident page. One line per series, at most ``MAX_SERIES``: the
ones furthest past the threshold (the highest for ``>``, the lowest for ``<``), the others
counted as "+N more" in the legend; the threshold as a dashed red line that no series colour
resembles; the time axis in UTC. Text from alerts is shown as text: a ``$`` never starts
matplotlib's math mode, and a label starting with ``_`` is not hidden from the legend.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.domain.graphs import MAX_SERIES, GraphRequest, Series

if TYPE_CHECKING:
    from matplotlib.axes import Axes

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 4.5, 100
THRESHOLD_COLOR = "#d62728"
# tab10 without its red, so only the threshold is red.
SERIES_COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#17becf",
)
LABEL_MAX = 60
SUBTITLE_MAX = 90
_SUFFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def plain(text: str, limit: int) -> str:
    """``text`` on one line, cut at ``limit`` characters, as literal text for matplotlib."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return flat.replace("$", r"\$")


def human(value: float, _pos: object = None) -> str:
    """A tick label: ``15k``, ``900M``, ``0.05``."""
    if not math.isfinite(value):
        return str(value)
    for scale, suffix in _SUFFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def legend_labels(series: Sequence[Series]) -> list[str]:
    """Each series named by the labels that tell it from the others (all of them, less
    ``__name__``, when there is one series)."""
    names = [{k: v for k, v in s.labels.items() if k != "__name__"} for s in series]
    keys = sorted({k for labels in names for k in labels})
    if len(names) > 1:
        keys = [k for k in keys if len({labels.get(k) for labels in names}) > 1]
    out = []
    for labels in names:
        text = ", ".join(f"{k}={labels[k]}" for k in keys if k in labels)
        out.append(plain(text or "value", LABEL_MAX))
    return out


def _finite(values: Sequence[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def chosen(series: Sequence[Series], op: str | None) -> list[Series]:
    """The series to draw: at most ``MAX_SERIES``, those furthest past the line first (in
    Prometheus's order without one)."""
    if op is None or len(series) <= MAX_SERIES:
        return list(series[:MAX_SERIES])
    low = op.startswith("<")

    def extreme(s: Series) -> float:
        values = _finite([v for _, v in s.points])
        if not values:
            return math.inf if low else -math.inf
        return min(values) if low else max(values)

    return sorted(series, key=extreme, reverse=not low)[:MAX_SERIES]


def render_png(request: GraphRequest, series: Sequence[Series]) -> bytes:
    """The PNG of ``series`` over ``request``'s window, with its threshold drawn."""
    # Imported here: matplotlib costs ~0.5 s to import, paid by the first graph, not start-up.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, DateFormatter, date2num
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter

    query = request.query
    drawn = chosen(series, query.op)
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    figure.subplots_adjust(left=0.09, right=0.98, top=0.86, bottom=0.12)
    handles: list[Line2D] = []
    labels: list[str] = []
    for index, (one, label) in enumerate(zip(drawn, legend_labels(drawn), strict=True)):
        times = _days([t for t, _ in one.points], date2num)
        values = [v if math.isfinite(v) else math.nan for _, v in one.points]
        (line,) = axes.plot(
            times, values, color=SERIES_COLORS[index % len(SERIES_COLORS)], linewidth=1.8
        )
        handles.append(line)
        labels.append(label)
    if query.threshold is not None:
        line = axes.axhline(
            query.threshold, color=THRESHOLD_COLOR, linestyle=(0, (6, 4)), linewidth=2.0
        )
        handles.append(line)
        labels.append(plain(f"threshold {query.op or ''} {human(query.threshold)}", LABEL_MAX))
        _include(axes, query.threshold, drawn)
    hidden = len(series) - len(drawn)
    if hidden > 0:
        handles.append(Line2D([], [], linestyle="none"))
        labels.append(f"+{hidden} more")
    start, end = _days([request.start.timestamp(), request.end.timestamp()], date2num)
    axes.set_xlim(start, end)
    # matplotlib.dates has no type hints.
    axes.xaxis.set_major_locator(AutoDateLocator(tz=UTC, maxticks=8))  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=UTC))  # type: ignore[no-untyped-call]
    axes.yaxis.set_major_formatter(FuncFormatter(human))
    axes.tick_params(labelsize=11)
    axes.set_xlabel("UTC", fontsize=11)
    axes.grid(True, color="#dddddd", linewidth=0.8)
    figure.suptitle(plain(request.title, LABEL_MAX), fontsize=15, fontweight="bold", y=0.975)
    axes.set_title(plain(query.describe(), SUBTITLE_MAX), fontsize=10, color="#555555")
    if handles:
        axes.legend(handles, labels, loc="best", fontsize=10, framealpha=0.85)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _days(seconds: Sequence[float], date2num: Callable[[Any], Any]) -> list[float]:
    """Unix seconds as matplotlib's date numbers (whatever its ``date.epoch``)."""
    return [float(x) for x in date2num([datetime.fromtimestamp(t, UTC) for t in seconds])]


def _include(axes: Axes, value: float, series: Sequence[Series]) -> None:
    """A y range holding the data and the line at ``value``, with a margin, so the line is
    never drawn on the frame."""
    values = [v for one in series for _, v in one.points if math.isfinite(v)] + [value]
    low, high = min(values), max(values)
    margin = (high - low) * 0.08 or abs(value) * 0.1 or 1.0
    axes.set_ylim(low - margin, high + margin)
