"""Untrusted text made storable: no NUL (PostgreSQL text refuses it) and no lone surrogates
(UTF-8 cannot encode them). Intake cleans what senders wrote; the core cleans error texts it
keeps on a row."""

from __future__ import annotations


def clean(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced by U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text
