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
* bare URLs and domains cannot become links on renderers that linkify text (GitHub's
  autolinks, markdown-it's linkify): the first ``/`` of every ``//`` (``http://``,
  ``//host``), the ``.`` of every ``www.`` and every ``.`` followed by a letter
  (``evil.com``: a domain's last dot is always followed by its top-level domain's first
  letter) are backslash-escaped, which a renderer shows as the character itself but which
  splits the text a linkifier reads. So is every ``@`` between two non-blanks, which keeps
  markdown-it from linking emails and ``mailto:``; GitHub still shows an email address as a
  ``mailto:`` link (it reads them after escapes are resolved), whose text is the address
  itself;
* control and format characters (C0 and C1 controls, bidirectional overrides and isolates,
  zero-width spaces and joiners, the byte order mark: Unicode's Cc and Cf) and lone
  surrogates become U+FFFD, so nothing invisible survives and nothing reorders the text
  around it.

Stdlib only: the core builds documents; adapters only carry them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Unicode's Cc, Cf and Cs (as of Unicode 15; ``tests/unit/test_markdown.py`` checks it covers
# the categories of the running Python). Whitespace among them is folded to spaces first.
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ud800-\udfff\ufeff"
    "\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)
_INLINE = re.compile(r"([\\`*_\[\]<>|~&])")
# Where a linkifier would start or continue a link (see the module's rules): applied after
# ``_INLINE``, so a backslash the text had is already doubled and never combines with these.
_AUTOLINK = re.compile(r"(/(?=/)|\.(?=[^\W\d_])|(?<=[wW]{3})\.|(?<=\S)@(?=\S))")
# Block markers a list item's content could start with: ATX heading, bullet, ordered item.
_LEADING = re.compile(r"(#|-|\+|\d{1,9}[.)])")
_BACKTICKS = re.compile(r"`+")


def one_line(text: str) -> str:
    """``text`` on one line: whitespace runs (newlines, tabs, Unicode separators) become one
    space, control characters U+FFFD."""
    return _CONTROL.sub("\ufffd", " ".join(text.split()))


def inline(text: str) -> str:
    """``text`` as literal Markdown text on one line (see the module's rules)."""
    escaped = _AUTOLINK.sub(r"\\\1", _INLINE.sub(r"\\\1", one_line(text)))
    leading = _LEADING.match(escaped)
    if leading is not None:
        end = leading.end() - 1  # the marker's last character: `#`, `-`, `+`, `.` or `)`
        escaped = escaped[:end] + "\\" + escaped[end:]
    return escaped


def heading(text: str) -> str:
    """``inline(text)`` for the end of an ATX heading's line: a trailing ``#`` is escaped,
    or the renderer would read it as the optional closing sequence and drop it."""
    escaped = inline(text)
    body = escaped.removesuffix("#")
    backslashes = len(body) - len(body.rstrip("\\"))
    if body == escaped or backslashes % 2 == 1:  # no trailing `#`, or escaped already
        return escaped
    return body + "\\#"


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
