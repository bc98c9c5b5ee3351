"""Splitting the text of a slash command into words, the way people type it in Slack.

Double or single quotes group words (``"LNN is down"``), but only at the start of a word or
right after ``=`` (``--service="api gateway"``), so an apostrophe inside a word (``can't``)
stays a letter. Typographic quotes, which Slack clients substitute as you type, count as
plain ones. An unclosed quote is a usage error, never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import UsageError

_QUOTES = {"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'"}
_OPENERS = ('"', "'")


@dataclass(frozen=True, slots=True)
class Word:
    """One word: its text with quotes removed, where it ended in the input, and whether it
    began with a quote (a quoted ``"--x"`` is a word, not an option)."""

    text: str
    end: int
    quoted: bool


def normalise(text: str) -> str:
    """Typographic quotes to ASCII; NBSP (which Slack inserts) to a space."""
    out = "".join(_QUOTES.get(ch, ch) for ch in text)
    return out.replace("\u00a0", " ").strip()


def _quoted(text: str, start: int, usage: str) -> tuple[str, int]:
    """The quoted span opening at ``start``: its content and the index after the close.
    Inside it, a backslash escapes the quote character and itself."""
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in (quote, "\\"):
            out.append(text[i + 1])
            i += 2
            continue
        if ch == quote:
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise UsageError(f"A {quote} quote is not closed.\n{usage}")


def split(text: str, usage: str) -> list[Word]:
    """The words of ``text`` (already normalised). ``usage`` is shown on a quoting error."""
    words: list[Word] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        parts: list[str] = []
        quoted = False
        while i < n and not text[i].isspace():
            opens_here = not parts or parts[-1].endswith("=")
            if text[i] in _OPENERS and opens_here:
                quoted = quoted or not parts
                chunk, i = _quoted(text, i, usage)
                parts.append(chunk)
            else:
                parts.append(text[i])
                i += 1
        words.append(Word("".join(parts), i, quoted))
    return words


def rest(text: str, after: Word | None) -> str:
    """The raw text after ``after`` (all of it for ``None``), stripped, with one pair of
    surrounding quotes removed: free text such as a note keeps the user's own spacing."""
    tail = text[after.end if after is not None else 0 :].strip()
    if len(tail) >= 2 and tail[0] in _OPENERS and tail[-1] == tail[0]:
        tail = tail[1:-1].strip()
    return tail


def first(text: str) -> list[Word]:
    """Only the first whitespace-separated word, as typed: free-text commands (notes,
    reasons) must not fail on a quote the user left open."""
    stripped = text.lstrip()
    if not stripped:
        return []
    head = stripped.split(None, 1)[0]
    end = len(text) - len(stripped) + len(head)
    return [Word(head, end, head[0] in _OPENERS)]
