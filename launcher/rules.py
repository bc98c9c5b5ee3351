"""Alerting rules made quick for a local run or a test: the shipped rules files, with every
range window and ``for`` duration capped, written to a temporary copy (never a second copy
in git).

The shipped rules use production windows (``rate(...[5m])``, ``for: 5m``) so a drill would
take many minutes to page; capped at e.g. 30 s and 15 s the same expressions fire within a
minute. Only durations are touched: thresholds, labels and annotations stay as shipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from launcher.durations import PART, render, seconds

DEFAULT_WINDOW = "30s"
DEFAULT_FOR = "15s"
# A string literal (left alone: a regex matcher may hold brackets) or a range selector,
# ``[5m]``, or a subquery, ``[10m:1m]`` / ``[10m:]``.
_TOKEN = re.compile(
    r"""(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)"""
    rf"|\[\s*(?P<range>{PART}(?:{PART})*)\s*(?P<sub>:\s*(?P<step>(?:{PART})+)?\s*)?\]"
)
_DURATION_KEYS = ("for", "keep_firing_for")


def shorten_expr(expr: str, window: str = DEFAULT_WINDOW) -> str:
    """``expr`` with every range (and subquery step) longer than ``window`` cut to it."""
    cap = seconds(window)

    def replace(match: re.Match[str]) -> str:
        if match["string"] is not None:
            return match[0]
        span = render(min(seconds(match["range"]), cap))
        if match["sub"] is None:
            return f"[{span}]"
        step = match["step"]
        return f"[{span}:{render(min(seconds(step), cap)) if step else ''}]"

    return _TOKEN.sub(replace, expr)


def longest_window(expr: str) -> float:
    """The longest range (or subquery range) in ``expr``, in seconds; 0 when it has none."""
    spans = [
        seconds(match["range"])
        for match in _TOKEN.finditer(expr)
        if match["string"] is None and match["range"] is not None
    ]
    return max(spans, default=0.0)


def shorten(
    rules: str | Mapping[str, Any], *, window: str = DEFAULT_WINDOW, for_: str = DEFAULT_FOR
) -> str:
    """A rules file (its text or its parsed document) with range windows capped at
    ``window`` and ``for``/``keep_firing_for`` capped at ``for_``; returned as YAML text.

    Durations already shorter are kept, so a ``for: 0s`` rule still fires at once. A rule
    whose ``for`` covered its longest window keeps covering it: a ``rate`` over a window
    reads low until the series is as old as the window (a new target, a restarted
    Prometheus), and such a ``for`` is what keeps a "too little" rule from firing then."""
    doc = yaml.safe_load(rules) if isinstance(rules, str) else rules
    if not isinstance(doc, Mapping) or not isinstance(doc.get("groups"), list):
        raise ValueError("not a Prometheus rules file: no top-level 'groups' list")
    for_cap = seconds(for_)
    groups = []
    for group in doc["groups"]:
        rules_out = []
        for rule in group.get("rules") or []:
            rule = dict(rule)
            before = after = 0.0
            if isinstance(rule.get("expr"), str):
                before = longest_window(rule["expr"])
                rule["expr"] = shorten_expr(rule["expr"], window)
                after = longest_window(rule["expr"])
            for key in _DURATION_KEYS:
                if key in rule:
                    shipped = seconds(str(rule[key]))
                    capped = min(shipped, for_cap)
                    if key == "for" and before and shipped >= before:
                        capped = max(capped, after)
                    rule[key] = render(capped)
            rules_out.append(rule)
        groups.append({**group, "rules": rules_out})
    return yaml.dump(
        {**doc, "groups": groups},
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=1 << 16,
    )


class _Dumper(yaml.SafeDumper):
    """Multi-line expressions stay readable blocks (``|``) rather than quoted strings."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def write_shortened(
    sources: Iterable[Path],
    into: Path,
    *,
    window: str = DEFAULT_WINDOW,
    for_: str = DEFAULT_FOR,
) -> list[Path]:
    """Each rules file shortened into directory ``into`` under its own name; the new paths."""
    into.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sources:
        target = into / source.name
        target.write_text(shorten(source.read_text(), window=window, for_=for_))
        written.append(target)
    return written
