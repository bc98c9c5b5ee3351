"""``launcher.rules.shorten``: the shipped rules with their windows and ``for`` capped, and
nothing else changed (promtool's verdict on the result is in tests/integration)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from launcher.durations import render, seconds
from launcher.rules import shorten, shorten_expr

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(ROOT.glob("deploy/prometheus/*-rules.yaml"))


@pytest.mark.parametrize(
    ("text", "value"),
    [("5m", 300.0), ("1h30m", 5400.0), ("500ms", 0.5), ("1d", 86400.0), ("0", 0.0)],
)
def test_durations_read_as_prometheus_does(text: str, value: float) -> None:
    assert seconds(text) == value


@pytest.mark.parametrize("text", ["5", "m", "5 m", "1.5m", "-5m", ""])
def test_a_malformed_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        seconds(text)


def test_durations_render_exactly() -> None:
    assert [render(v) for v in (90, 0.5, 3600, 0, 15)] == ["1m30s", "500ms", "1h", "0s", "15s"]


def test_ranges_and_subqueries_are_capped_but_strings_and_short_ones_are_not() -> None:
    expr = (
        'rate(a{re=~"x[5m]"}[5m]) + max_over_time(b[1h:5m]) + c[10s] + d[2h:] + e[1h30m] offset 1h'
    )
    assert shorten_expr(expr, "30s") == (
        'rate(a{re=~"x[5m]"}[30s]) + max_over_time(b[30s:30s]) + c[10s] + d[30s:] '
        "+ e[30s] offset 1h"
    )


RULES = """
groups:
  - name: g
    interval: 1m
    rules:
      - alert: Slow
        expr: |
          histogram_quantile(0.99, sum by (namespace, deployment, le) (rate(x_bucket[5m]))) > 0.1
        for: 5m
        keep_firing_for: 2m
        labels: {severity: critical, service: lnn-service}
        annotations: {summary: "p99 {{ $value | humanizeDuration }}", runbook_url: "https://x/y"}
      - alert: Now
        expr: up == 0
        for: 0s
      - record: job:x:rate5m
        expr: sum(rate(x[5m]))
"""


def test_shorten_caps_for_and_windows_and_keeps_everything_else() -> None:
    original = yaml.safe_load(RULES)
    short = yaml.safe_load(shorten(RULES, window="30s", for_="15s"))
    slow, now, record = short["groups"][0]["rules"]
    assert "[30s]" in slow["expr"]
    assert "[5m]" not in slow["expr"]
    # Shipped, its for (5m) covered its window (5m): shortened, it still covers it (30s).
    assert (slow["for"], slow["keep_firing_for"]) == ("30s", "15s")
    assert now["for"] == "0s", "a shorter for is kept"
    assert record["expr"] == "sum(rate(x[30s]))"
    for key in ("labels", "annotations", "alert"):
        assert slow[key] == original["groups"][0]["rules"][0][key]
    assert short["groups"][0]["interval"] == "1m"


def test_a_for_that_covered_its_window_keeps_covering_it_and_a_shorter_one_is_capped() -> None:
    rules = """
groups:
  - name: g
    rules:
      - {alert: Low, expr: "sum(rate(x[5m])) < 10", for: 10m}
      - {alert: Quick, expr: "sum(rate(x[10m])) > 1", for: 1m}
      - {alert: Subquery, expr: "max_over_time(y[20m:1m]) > 1", for: 30m}
"""
    low, quick, subquery = yaml.safe_load(shorten(rules, window="20s", for_="5s"))["groups"][0][
        "rules"
    ]
    # A rate reads low until the series is as old as its window: "too little" must wait it out.
    assert (low["expr"], low["for"]) == ("sum(rate(x[20s])) < 10", "20s")
    assert quick["for"] == "5s"
    assert subquery["for"] == "20s"


def test_shorten_takes_a_parsed_document_too() -> None:
    assert shorten(yaml.safe_load(RULES)) == shorten(RULES)


def test_shorten_refuses_what_is_not_a_rules_file() -> None:
    with pytest.raises(ValueError, match="groups"):
        shorten("route: {receiver: x}\n")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_rule_keeps_its_alerts_and_loses_its_long_windows(path: Path) -> None:
    original = yaml.safe_load(path.read_text())
    short = yaml.safe_load(shorten(path.read_text(), window="30s", for_="15s"))
    before = [r for g in original["groups"] for r in g["rules"]]
    after = [r for g in short["groups"] for r in g["rules"]]
    assert [r.get("alert") for r in after] == [r.get("alert") for r in before]
    for rule in after:
        # At most the cap, or the rule's own window where its shipped for covered it.
        assert seconds(str(rule.get("for", "0s"))) <= 30
        for window in _windows(rule["expr"]):
            assert seconds(window) <= 30, (rule.get("alert"), rule["expr"])


def _windows(expr: str) -> list[str]:
    return [m.split(":")[0] for m in re.findall(r"\[([0-9a-z:]+)\]", expr)]
