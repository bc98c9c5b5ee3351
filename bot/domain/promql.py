"""What to graph for an alert: its rule's expression, read from the alert's ``generatorURL``
(Prometheus's graph link, ``…/graph?g0.expr=…``), split into the series and the threshold.

The URL is parsed, never fetched: only the ``g0.expr`` query parameter is used, and only a
configured Prometheus is ever asked about it. A rule's expression is usually a comparison
(``rate(x[5m]) > 0.1``): the series is its left side and the threshold its right when that is
a number (``0.5 < x`` is read the other way round; ``> bool`` is a comparison too). A set
operator above it (``a > 10 and on (x) b``, ``a == 0 or absent(…)``) keeps the values of its
left side, so that side is what is graphed. A comparison of two series (``a > b``) graphs
``a``, the values the alert reports, with no line; any other expression is graphed whole.

PromQL precedence, loosest first: ``or``; ``and``, ``unless``; the comparisons; ``+ -``;
``* / % atan2``; ``^``. Only operators outside brackets and strings count (``{a!="b"}`` and
``[5m]`` hold none), and ``#`` starts a comment.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

# Bounds on what a payload may make firebreak send to Prometheus.
MAX_URL = 16 * 1024
MAX_EXPR = 4 * 1024
EXPR_PARAM = "g0.expr"

COMPARISONS = ("==", "!=", ">=", "<=", ">", "<")
SET_OPERATORS = ("or", "and", "unless")
# The reading of each comparison with its operands swapped (``0.5 < x`` is ``x > 0.5``).
FLIPPED = {"==": "==", "!=": "!=", ">=": "<=", "<=": ">=", ">": "<", "<": ">"}
_CLOSE = {"(": ")", "[": "]", "{": "}"}
_WORD = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[iI][nN][fF]|[nN][aA][nN])"
)


class NotGraphable(ValueError):
    """The alert carries nothing firebreak can graph; the message says why."""


@dataclass(frozen=True, slots=True)
class GraphQuery:
    """What to ask Prometheus for (``expr``), and the line the alert fires across: the
    comparison ``op`` (as in ``series op threshold``) and ``threshold``, both ``None`` when
    the expression has no numeric threshold. ``rule`` is the whole expression, as written."""

    expr: str
    rule: str
    threshold: float | None = None
    op: str | None = None

    def describe(self) -> str:
        """``expr > 0.1`` (the series and its line), or just the series."""
        if self.threshold is None or self.op is None:
            return self.expr
        return f"{self.expr} {self.op} {self.threshold:g}"


@dataclass(frozen=True, slots=True)
class _Token:
    """An operator found at the top level: where it starts and ends in the expression."""

    text: str
    start: int
    end: int


def query_of(generator_url: str) -> GraphQuery:
    """The graph of an alert whose ``generatorURL`` is ``generator_url``; ``NotGraphable``
    when it is not an http(s) URL holding a ``g0.expr`` of bounded length."""
    if not generator_url:
        raise NotGraphable("the alert has no generatorURL")
    if len(generator_url) > MAX_URL:
        raise NotGraphable(f"the generatorURL is longer than {MAX_URL} characters")
    try:
        parts = urlsplit(generator_url)
    except ValueError as exc:
        raise NotGraphable(f"the generatorURL is not a URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise NotGraphable("the generatorURL is not an http(s) URL")
    values = parse_qs(parts.query, keep_blank_values=True).get(EXPR_PARAM, [])
    expr = values[0].strip() if values else ""
    if not expr:
        raise NotGraphable(f"the generatorURL has no {EXPR_PARAM} (not a Prometheus graph link)")
    return split(expr)


def split(expr: str) -> GraphQuery:
    """``expr`` (a rule's expression) as its series and threshold; see the module doc."""
    rule = expr.strip()
    if len(rule) > MAX_EXPR:
        raise NotGraphable(f"the expression is longer than {MAX_EXPR} characters")
    if "\x00" in rule:
        raise NotGraphable("the expression holds a NUL character")
    series = _left_of_sets(_unwrap(rule))
    comparison = _root(series, COMPARISONS)
    if comparison is None:
        whole = _unwrap(series)
        if not whole:
            raise NotGraphable("the expression is empty (comments at most)")
        return GraphQuery(expr=whole, rule=rule)
    left = series[: comparison.start].strip()
    right = _skip_bool(series[comparison.end :])
    op = comparison.text
    number = _number(right)
    if number is None and (swapped := _number(left)) is not None:
        left, number, op = right, swapped, FLIPPED[op]
    graphed = _unwrap(left)
    if not graphed:
        raise NotGraphable(f"nothing to graph on the left of {op!r}")
    if number is None:
        # Two series compared: the left one is what the alert reports.
        return GraphQuery(expr=graphed, rule=rule)
    return GraphQuery(expr=graphed, rule=rule, threshold=number, op=op)


def _left_of_sets(expr: str) -> str:
    """The leftmost operand under top-level set operators, loosest first: they are
    left-associative, so the first one at the loosest level splits it off."""
    while True:
        found = _operators(expr, ("or",)) or _operators(expr, ("and", "unless"))
        if not found:
            return expr
        expr = _unwrap(expr[: found[0].start])
        if not expr:
            raise NotGraphable("nothing to graph on the left of a set operator")


def _root(expr: str, level: tuple[str, ...]) -> _Token | None:
    """The rightmost top-level operator of ``level`` (the root of a left-associative chain),
    or ``None``."""
    found = _operators(expr, level)
    return found[-1] if found else None


def _operators(expr: str, level: tuple[str, ...]) -> list[_Token]:
    """Every operator of ``level`` outside brackets, strings and comments, in order."""
    found: list[_Token] = []
    stack: list[str] = []
    i, n = 0, len(expr)
    while i < n:
        char = expr[i]
        if char in "\"'`":
            i = _string_end(expr, i)
            continue
        if char == "#":
            end = expr.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if char in _CLOSE:
            stack.append(_CLOSE[char])
            i += 1
            continue
        if char in ")]}":
            if not stack or stack.pop() != char:
                raise NotGraphable(f"unbalanced {char!r} at {i}")
            i += 1
            continue
        if stack:
            i += 1
            continue
        word = _WORD.match(expr, i)
        if word is not None:
            if word.group().lower() in level and _is_operator_position(expr, i):
                found.append(_Token(word.group().lower(), i, word.end()))
            i = word.end()
            continue
        two = expr[i : i + 2]
        if two in ("==", "!=", ">=", "<="):
            if two in level:
                found.append(_Token(two, i, i + 2))
            i += 2
            continue
        if char in "<>" and char in level:
            found.append(_Token(char, i, i + 1))
        i += 1
    if stack:
        raise NotGraphable(f"unclosed {stack[-1]!r}")
    return found


def _is_operator_position(expr: str, start: int) -> bool:
    """A set-operator word is one only after an operand: not at the start, nor after
    another operator (a metric may not be called ``or``, but a label value inside braces is
    never looked at here)."""
    before = expr[:start].rstrip()
    return bool(before) and before[-1] not in "(,+-*/%^=<>!"


def _string_end(expr: str, start: int) -> int:
    """The index just past the string literal starting at ``start``."""
    quote = expr[start]
    i = start + 1
    while i < len(expr):
        if expr[i] == "\\" and quote != "`":
            i += 2
            continue
        if expr[i] == quote:
            return i + 1
        i += 1
    raise NotGraphable("an unterminated string in the expression")


def _skip_bool(text: str) -> str:
    """The right operand of a comparison without its ``bool`` modifier."""
    stripped = text.strip()
    word = _WORD.match(stripped)
    if word is not None and word.group().lower() == "bool":
        return stripped[word.end() :].strip()
    return stripped


def _unwrap(text: str) -> str:
    """``text`` without whitespace and redundant outer parentheses."""
    text = _strip_comments(text).strip()
    while text.startswith("(") and _closing(text, 0) == len(text) - 1:
        text = text[1:-1].strip()
    return text


def _strip_comments(text: str) -> str:
    if "#" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in "\"'`":
            end = _string_end(text, i)
            out.append(text[i:end])
            i = end
        elif char == "#":
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _closing(text: str, start: int) -> int:
    """The index of the bracket closing the one at ``start``."""
    depth = 0
    i = start
    while i < len(text):
        char = text[i]
        if char in "\"'`":
            i = _string_end(text, i)
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _number(text: str) -> float | None:
    """``text`` as a PromQL number literal (parentheses allowed), else ``None``; a value
    that is not finite is no line to draw."""
    literal = _unwrap(text)
    if not literal or _NUMBER.fullmatch(literal) is None:
        return None
    sign = -1.0 if literal.startswith("-") else 1.0
    digits = literal.lstrip("+-")
    value = float(int(digits, 16)) if digits.lower().startswith("0x") else float(digits)
    value *= sign
    return value if math.isfinite(value) else None
