"""Text that came from outside, made safe to put on one log line."""

from __future__ import annotations

# Long enough for any reason we write; short enough that no sender can fill the log.
MAX_LOGGED_CHARS = 300


def printable(text: str, limit: int = MAX_LOGGED_CHARS) -> str:
    """``text`` on one line: control and other non-printable characters as ``\\xNN``-style
    escapes (``repr``'s), cut to ``limit`` characters."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[:limit] + "…"
