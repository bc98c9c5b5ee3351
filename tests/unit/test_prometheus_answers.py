"""Reading Prometheus's ``query_range`` answers: values as Prometheus writes them (strings,
``NaN`` and ``+Inf`` included), items it would never send skipped, and anything that is not
a matrix refused."""

from __future__ import annotations

import math

import pytest

from bot.errors import MetricsQueryFailed
from bot.integrations.prometheus_query import series_of


def test_a_matrix_is_read_with_its_labels_and_values() -> None:
    answer = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {
                    "metric": {"deployment": "lnn-service", "namespace": "firebreak"},
                    "values": [[1765188000, "0.25"], [1765188015.5, "NaN"], [1765188030, "+Inf"]],
                },
                {"metric": {}, "values": [[1765188000, "oops"], ["bad"], None]},
                "not an item",
            ],
        },
    }
    first, second = series_of(answer)
    assert first.labels == {"deployment": "lnn-service", "namespace": "firebreak"}
    assert first.points[0] == (1765188000.0, 0.25)
    assert first.points[1][0] == 1765188015.5
    assert math.isnan(first.points[1][1])
    assert first.points[2][1] == math.inf
    assert second.labels == {}
    assert len(second.points) == 1
    assert math.isnan(second.points[0][1])


@pytest.mark.parametrize(
    "answer",
    [
        {"status": "success", "data": {"resultType": "vector", "result": []}},
        {"status": "success", "data": []},
        {"status": "success"},
    ],
)
def test_anything_but_a_matrix_is_refused(answer: dict[str, object]) -> None:
    with pytest.raises(MetricsQueryFailed, match="not a matrix"):
        series_of(answer)


def test_an_empty_matrix_is_no_series() -> None:
    assert series_of({"data": {"resultType": "matrix", "result": None}}) == []
