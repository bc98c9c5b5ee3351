"""The graph PNG as matplotlib really draws it (Agg, no display): its size, the dashed
threshold line found in the pixels where the threshold puts it, the series cap, and text from
alerts drawn as text."""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime, timedelta

import numpy as np
from matplotlib.image import imread

from bot.domain.graphs import MAX_SERIES, GraphRequest, Series
from bot.domain.promql import split
from bot.integrations.graphs.render import (
    DPI,
    HEIGHT_IN,
    SERIES_COLORS,
    THRESHOLD_COLOR,
    WIDTH_IN,
    chosen,
    human,
    legend_labels,
    plain,
    render_png,
)

END = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _series(values: list[float], **labels: str) -> Series:
    start = END - timedelta(hours=1)
    step = 3600 / len(values)
    points = tuple(
        ((start + timedelta(seconds=step * i)).timestamp(), v) for i, v in enumerate(values)
    )
    return Series(labels={"__name__": "x", **labels}, points=points)


def _wave(low: float, high: float, n: int = 240) -> list[float]:
    return [low + (high - low) * (0.5 + 0.5 * math.sin(i / 12)) for i in range(n)]


def _request(expr: str, title: str = "LNNHighLatency") -> GraphRequest:
    return GraphRequest.ending(split(expr), title, END)


def _pixels(png: bytes) -> np.ndarray:
    """The image as rows × columns × RGB in 0–255."""
    image = np.asarray(imread(io.BytesIO(png), format="png"), dtype=float)
    pixels: np.ndarray = np.rint(image[:, :, :3] * 255).astype(int)
    return pixels


def _color(hex_color: str) -> np.ndarray:
    return np.array([int(hex_color[i : i + 2], 16) for i in (1, 3, 5)])


def _red_per_row(pixels: np.ndarray) -> np.ndarray:
    """How many pixels of each row are the threshold's red."""
    near = np.abs(pixels - _color(THRESHOLD_COLOR)).sum(axis=2) < 40
    counts: np.ndarray = near.sum(axis=1)
    return counts


def _threshold_row(png: bytes) -> int:
    """The row where the threshold line runs (most red pixels); the line must be long."""
    counts = _red_per_row(_pixels(png))
    row = int(counts.argmax())
    # Dashed across the plot's width (~710 px): well over the legend's short sample.
    assert counts[row] > 250, counts[row]
    return row


def test_the_png_is_slack_preview_sized() -> None:
    png = render_png(_request("x > 0.1"), [_series(_wave(0.0, 0.2))])
    assert png.startswith(PNG_SIGNATURE)
    pixels = _pixels(png)
    assert pixels.shape[:2] == (int(HEIGHT_IN * DPI), int(WIDTH_IN * DPI)) == (450, 800)
    assert 10_000 < len(png) < 200_000


def test_the_threshold_line_is_drawn_where_the_threshold_is() -> None:
    data = [_series(_wave(0.0, 0.2))]
    low = _threshold_row(render_png(_request("x > 0.05"), data))
    middle = _threshold_row(render_png(_request("x > 0.1"), data))
    high = _threshold_row(render_png(_request("x > 0.15"), data))
    # A higher threshold is higher up the image (a smaller row), evenly spaced on a linear axis.
    assert low > middle > high
    assert abs((low - middle) - (middle - high)) <= 2


def test_a_threshold_outside_the_data_is_still_in_view() -> None:
    png = render_png(_request("x > 5"), [_series(_wave(0.0, 0.2))])
    row = _threshold_row(png)
    assert 20 < row < 450 - 20


def test_without_a_threshold_no_line_is_drawn() -> None:
    png = render_png(_request("x"), [_series(_wave(0.0, 0.2))])
    assert _red_per_row(_pixels(png)).max() < 20
    # The series is there, in its own colour.
    near = np.abs(_pixels(png) - _color(SERIES_COLORS[0])).sum(axis=2) < 40
    assert near.sum() > 300


def test_no_series_colour_is_the_threshold_s() -> None:
    assert THRESHOLD_COLOR not in SERIES_COLORS
    red = _color(THRESHOLD_COLOR)
    assert all(np.abs(_color(c) - red).sum() > 120 for c in SERIES_COLORS)


def test_many_series_draw_the_ones_past_the_line_and_count_the_rest() -> None:
    many = [_series([float(i)] * 10, pod=f"pod-{i:02d}") for i in range(MAX_SERIES + 5)]
    top = chosen(many, ">")
    assert [s.labels["pod"] for s in top] == [f"pod-{i:02d}" for i in range(12, 4, -1)]
    bottom = chosen(many, "<")
    assert [s.labels["pod"] for s in bottom] == [f"pod-{i:02d}" for i in range(MAX_SERIES)]
    assert chosen(many, None) == many[:MAX_SERIES]
    png = render_png(_request("x > 3"), many)
    assert png.startswith(PNG_SIGNATURE)


def test_legend_names_what_tells_series_apart() -> None:
    one = legend_labels([_series([1.0], namespace="firebreak", deployment="lnn")])
    assert one == ["deployment=lnn, namespace=firebreak"]
    two = legend_labels(
        [
            _series([1.0], namespace="firebreak", pod="a"),
            _series([1.0], namespace="firebreak", pod="b"),
        ]
    )
    assert two == ["pod=a", "pod=b"]
    assert legend_labels([Series(labels={}, points=())]) == ["value"]


def test_text_from_alerts_is_drawn_as_text() -> None:
    # A `$` would start matplotlib's math mode (and a lone one fail to parse); a leading `_`
    # would hide a legend entry; newlines would break the layout.
    assert plain("cost $5 $x^2$", 60) == r"cost \$5 \$x^2\$"
    assert plain("a\nb\t c", 60) == "a b c"
    assert plain("x" * 100, 10) == "x" * 9 + "…"
    labels = legend_labels([_series([1.0], _hidden="$oops", path="/a$b")])
    assert labels == [r"_hidden=\$oops, path=/a\$b"]
    png = render_png(
        _request('x{path="/a$b"} > 1', title="Alert $with$ {braces} _and\nnewlines"),
        [_series(_wave(0, 2), _hidden="$oops", path="/a$b")],
    )
    assert png.startswith(PNG_SIGNATURE)


def test_gaps_and_infinities_do_not_break_the_drawing() -> None:
    values = _wave(0.0, 1.0)
    values[10:20] = [math.nan] * 10
    values[30] = math.inf
    values[31] = -math.inf
    png = render_png(_request("x > 0.5"), [_series(values)])
    assert _threshold_row(png) > 0


def test_tick_labels_are_short() -> None:
    assert [human(v) for v in (0.05, 15_000, 9e8, 1e12, 0, -2500)] == [
        "0.05",
        "15k",
        "900M",
        "1T",
        "0",
        "-2.5k",
    ]
