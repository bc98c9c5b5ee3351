"""What is graphed for an alert: the series and threshold split out of its rule's expression,
read from the alert's generatorURL (parsed, never fetched); every shipped rule included."""

from __future__ import annotations

import math
import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.promql import (
    COMPARISONS,
    FLIPPED,
    MAX_EXPR,
    MAX_URL,
    GraphQuery,
    NotGraphable,
    query_of,
    split,
)

ROOT = Path(__file__).resolve().parents[2]
RULE_FILES = sorted(ROOT.glob("deploy/prometheus/*-rules.yaml"))


def shipped_alerts() -> list[tuple[str, str]]:
    """(alert name, expression) of every alerting rule in ``deploy/prometheus``."""
    found = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    found.append((rule["alert"], rule["expr"]))
    return found


def graph_link(expr: str, host: str = "http://prometheus.example:9090") -> str:
    """A generatorURL as Prometheus writes it."""
    return f"{host}/graph?" + urlencode({"g0.expr": expr, "g0.tab": "1"})


def test_the_shipped_rules_are_found() -> None:
    assert len(shipped_alerts()) >= 20


@pytest.mark.parametrize(("alert", "expr"), shipped_alerts(), ids=lambda v: str(v)[:30])
def test_every_shipped_alert_expression_parses(alert: str, expr: str) -> None:
    query = query_of(graph_link(expr))
    assert query.rule == expr.strip()
    assert query.expr
    # The series is a piece of the rule (modulo whitespace), never something made up.
    squeeze = re.compile(r"\s+")
    assert squeeze.sub("", query.expr) in squeeze.sub("", expr)
    # No comparison survives at the top of the series whose threshold was split off.
    if query.threshold is not None:
        assert split(query.expr).threshold is None


def _by_name() -> dict[str, list[GraphQuery]]:
    out: dict[str, list[GraphQuery]] = {}
    for alert, expr in shipped_alerts():
        out.setdefault(alert, []).append(split(expr))
    return out


def test_the_shipped_thresholds_are_the_runbook_s() -> None:
    queries = _by_name()
    latency = queries["LNNHighLatency"]
    assert sorted((q.op, q.threshold) for q in latency) == [(">", 0.05), (">", 0.1)]
    assert latency[0].expr.startswith("histogram_quantile(0.99,")
    assert [(q.op, q.threshold) for q in queries["LNNHighMemory"]] == [(">", 1e9), (">", 9e8)]
    assert {q.op for q in queries["LNNLowThroughput"]} == {"<"}
    # `== 0 or absent(…)`: the left of the `or` is what the alert reports while a target lives.
    (down,) = queries["LNNServiceDown"]
    assert (down.expr, down.op, down.threshold) == (
        'sum by (namespace, deployment) (up{job="lnn-service"})',
        "==",
        0.0,
    )
    # `a > 10 and on (…) b`: the left of the `and`, with its line.
    (growing,) = queries["FirebreakInboxBacklogGrowing"]
    assert growing.expr == "max by (namespace, deployment) (firebreak_inbox_pending)"
    assert growing.threshold == 10.0
    # A comparison inside label_replace(…) is not at the top: graphed whole, without a line.
    (oom,) = queries["LNNOOMKilled"]
    assert oom.threshold is None
    assert oom.expr.startswith("label_replace(")


@pytest.mark.parametrize(
    ("expr", "series", "op", "threshold"),
    [
        ("up == 0", "up", "==", 0.0),
        ("rate(x[5m]) > 0.5", "rate(x[5m])", ">", 0.5),
        ("x > bool 0.5", "x", ">", 0.5),
        ("x >= BOOL 2", "x", ">=", 2.0),
        ("0.5 < x", "x", ">", 0.5),
        ("10 >= x", "x", "<=", 10.0),
        ("(x) > (0.5)", "x", ">", 0.5),
        ("((a + b > 1))", "a + b", ">", 1.0),
        ("x > -1", "x", ">", -1.0),
        ("x < +1e3", "x", "<", 1000.0),
        ("x != 0x10", "x", "!=", 16.0),
        ("x > .5", "x", ">", 0.5),
        ('x{a!="b", c=~"d|>e"} > 3', 'x{a!="b", c=~"d|>e"}', ">", 3.0),
        ("x{a='>'} <= 3 # why", "x{a='>'}", "<=", 3.0),
        (
            "sum(rate(x[5m:1m] offset 1h)) / sum(y) > 0.01",
            "sum(rate(x[5m:1m] offset 1h)) / sum(y)",
            ">",
            0.01,
        ),
        ("a > 1 unless on (x) b", "a", ">", 1.0),
        ("a > 1 and b > 2 or c", "a", ">", 1.0),
        ("(a > 1 or b) and c", "a", ">", 1.0),
        ("order > 1", "order", ">", 1.0),
        ("x > 1\n# a comment\n", "x", ">", 1.0),
    ],
)
def test_a_top_level_comparison_splits(expr: str, series: str, op: str, threshold: float) -> None:
    query = split(expr)
    assert (query.expr, query.op, query.threshold) == (series, op, threshold)


@pytest.mark.parametrize(
    ("expr", "series"),
    [
        ("a >= b", "a"),  # two series: the left one is what the alert reports
        ("a > 1 + 1", "a"),  # an expression, not a number: no line
        ("x > Inf", "x"),  # no line at infinity
        ("x > NaN", "x"),
        ("label_replace(x > 1, 'a', 'b', 'c', 'd')", "label_replace(x > 1, 'a', 'b', 'c', 'd')"),
        ("absent(up)", "absent(up)"),
        ("(up)", "up"),
    ],
)
def test_without_a_numeric_threshold_there_is_no_line(expr: str, series: str) -> None:
    query = split(expr)
    assert (query.expr, query.op, query.threshold) == (series, None, None)
    assert query.describe() == series


def test_describe_names_the_line() -> None:
    assert split("x > 0.1").describe() == "x > 0.1"
    assert split("x < 15000").describe() == "x < 15000"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("", "no generatorURL"),
        ("ftp://prom/graph?g0.expr=up", "not an http"),
        ("javascript:alert(1)//?g0.expr=up", "not an http"),
        ("/graph?g0.expr=up", "not an http"),
        ("http:///graph?g0.expr=up", "not an http"),
        ("http://prom/graph?g0.tab=1", "no g0.expr"),
        ("http://prom/graph?g0.expr=", "no g0.expr"),
        ("http://prom/graph?g0.expr=%20%20", "no g0.expr"),
        ("http://[::1/graph?g0.expr=up", "not a URL"),
        ("http://prom/graph?g0.expr=" + "x" * MAX_URL, "longer than"),
        ("http://prom/graph?g0.expr=" + "x" * (MAX_EXPR + 1), "longer than"),
        ("http://prom/graph?g0.expr=sum(x", "unclosed"),
        ("http://prom/graph?g0.expr=sum(x]", "unbalanced"),
        ('http://prom/graph?g0.expr=x{a="b}', "unterminated"),
        ("http://prom/graph?g0.expr=%3E+1", "nothing to graph"),
        ("http://prom/graph?g0.expr=x%00", "NUL"),
        ("http://prom/graph?g0.expr=%23+only+a+comment", "empty"),
        ("http://prom/graph?g0.expr=%23+a+comment%0A%3E+1", "nothing to graph"),
    ],
)
def test_what_cannot_be_graphed_says_why(url: str, why: str) -> None:
    with pytest.raises(NotGraphable, match=re.escape(why)):
        query_of(url)


def test_only_the_expression_is_taken_from_the_url() -> None:
    query = query_of("https://evil.example:1/graph?g0.expr=up+%3E+1&g0.range_input=1h")
    assert query == GraphQuery(expr="up", rule="up > 1", threshold=1.0, op=">")


# -- properties --------------------------------------------------------------------------

_NAME = st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True).filter(
    lambda n: n.lower() not in {"or", "and", "unless", "bool", "inf", "nan"}
)
_VALUE = st.text(alphabet=st.sampled_from(list("ab01 ><=!~|()[]{}#,\"\\'`or and")), max_size=12)


@st.composite
def _selector(draw: st.DrawFn) -> str:
    name = draw(_NAME)
    matchers = draw(
        st.lists(st.tuples(_NAME, st.sampled_from(["=", "!=", "=~", "!~"]), _VALUE), max_size=3)
    )
    if not matchers:
        return name
    inner = ", ".join(f"{k}{op}{_quoted(v)}" for k, op, v in matchers)
    return f"{name}{{{inner}}}"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def _series(draw: st.DrawFn) -> str:
    base = draw(_selector())
    shape = draw(st.integers(0, 4))
    if shape == 1:
        return f"rate({base}[{draw(st.integers(1, 59))}m])"
    if shape == 2:
        by = ", ".join(draw(st.lists(_NAME, min_size=1, max_size=3)))
        return f"sum by ({by}) ({base})"
    if shape == 3:
        other = draw(_selector())
        return f"{base} / {other}"
    if shape == 4:
        return f"histogram_quantile(0.99, sum by (le) (rate({base}[5m])))"
    return base


_NUMBERS = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15)


@given(series=_series(), op=st.sampled_from(COMPARISONS), number=_NUMBERS, modifier=st.booleans())
def test_series_op_number_splits_back(series: str, op: str, number: float, modifier: bool) -> None:
    expr = f"{series} {op} {'bool ' if modifier else ''}{number!r}"
    query = split(expr)
    assert (query.expr, query.op, query.threshold) == (series, op, number)


@given(series=_series(), op=st.sampled_from(COMPARISONS), number=_NUMBERS)
def test_number_op_series_reads_the_other_way_round(series: str, op: str, number: float) -> None:
    query = split(f"{number!r} {op} {series}")
    assert (query.expr, query.op, query.threshold) == (series, FLIPPED[op], number)


@given(
    series=_series(),
    op=st.sampled_from(COMPARISONS),
    number=_NUMBERS,
    set_op=st.sampled_from(["and", "or", "unless", "and on (a)", "unless ignoring (b)"]),
    other=_series(),
)
def test_a_set_operator_keeps_its_left_side(
    series: str, op: str, number: float, set_op: str, other: str
) -> None:
    query = query_of(graph_link(f"{series} {op} {number!r} {set_op} {other} > 1"))
    assert (query.expr, query.op, query.threshold) == (series, op, number)


@given(st.text(max_size=300))
def test_any_text_is_split_or_refused_never_crashes(text: str) -> None:
    try:
        query = split(text)
    except NotGraphable:
        return
    assert query.threshold is None or math.isfinite(query.threshold)
    assert query.expr
