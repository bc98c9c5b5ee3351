"""Make untrusted strings storable: no NUL (PostgreSQL text refuses it), no lone surrogates
(UTF-8 cannot encode them), and bounded keys for unique indexes."""

from __future__ import annotations

import hashlib

MAX_KEY = 200


def clean(text: str) -> str:
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def clean_map(values: dict[str, str]) -> dict[str, str]:
    return {clean(k): clean(v) for k, v in values.items()}


def bounded_key(text: str) -> str:
    """Keys go into unique B-tree indexes, which cap entry size; long ones are hashed."""
    text = clean(text)
    if len(text) <= MAX_KEY:
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
