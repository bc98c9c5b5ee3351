"""Markdown made from untrusted text: alert labels and annotations, notes people typed,
service names, error messages.

The postmortem is Markdown that people render (a wiki, a Git host, firebreak's page) and read
raw (Slack shows an uploaded ``.md`` file as text), so text is escaped where a CommonMark or
GitHub-flavoured renderer would read it as structure, and nowhere else:

* every run of whitespace (newlines too) becomes one space, so a value can never start a
  new block (a heading, a list item, a table row, a setext underline);
* the characters that open inline structure are backslash-escaped: emphasis and
  strikethrough (``* _ ~``), code spans (`````), links and images (``[ ]``), raw HTML and
  autolinks (``< >``), entity references (``&``), table cells (``|``) and the backslash
  itself;
* a value placed at the start of a list item cannot become a heading, a quote, a list or an
  ordered list item: a leading ``#``, ``-``, ``+`` or ``1.`` is escaped too;
* control characters become U+FFFD, so nothing invisible survives.

Stdlib only: the core builds documents; adapters only carry them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_INLINE = re.compile(r"([\\`*_\[\]<>|~&])")
# Block markers a list item's content could start with: ATX heading, bullet, ordered item.
_LEADING = re.compile(r"(#|-|\+|\d{1,9}[.)])")
_BACKTICKS = re.compile(r"`+")


def one_line(text: str) -> str:
    """``text`` on one line: whitespace runs (newlines, tabs, Unicode separators) become one
    space, control characters U+FFFD."""
    return _CONTROL.sub("\ufffd", " ".join(text.split()))


def inline(text: str) -> str:
    """``text`` as literal Markdown text on one line (see the module's rules)."""
    escaped = _INLINE.sub(r"\\\1", one_line(text))
    leading = _LEADING.match(escaped)
    if leading is not None:
        end = leading.end() - 1  # the marker's last character: `#`, `-`, `+`, `.` or `)`
        escaped = escaped[:end] + "\\" + escaped[end:]
    return escaped


def code(text: str) -> str:
    """``text`` as a code span on one line: fenced by one backtick more than its longest
    run of backticks, padded when it starts or ends with one (CommonMark's rule). Not for
    table cells, where a ``|`` would still end the cell."""
    body = one_line(text)
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    fence = "`" * (longest + 1)
    if body.startswith("`") or body.endswith("`"):
        body = f" {body} "
    return f"{fence}{body}{fence}"


def table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    """A GitHub-flavoured table; cells are Markdown already (escape text with ``inline``)."""
    titles = list(header)
    lines = ["| " + " | ".join(titles) + " |", "|" + " --- |" * len(titles)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return lines
