"""Label maps made storable, and bounded keys for unique indexes."""

from __future__ import annotations

import hashlib

from bot.text import clean

MAX_KEY = 200


def clean_map(values: dict[str, str]) -> dict[str, str]:
    return {clean(k): clean(v) for k, v in values.items()}


def bounded_key(text: str) -> str:
    """Keys go into unique B-tree indexes, which cap entry size; long ones are hashed."""
    text = clean(text)
    if len(text) <= MAX_KEY:
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
