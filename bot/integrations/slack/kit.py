"""Small Block Kit builders that enforce Slack's documented limits at the point of use.

Every builder takes text that is already safe (escaped, or built from trusted parts) and cuts
it to the limit of the element it builds, with a visible marker, so a message can never be
refused for a length.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bot.integrations.slack.text import ELLIPSIS, truncate

Block = dict[str, Any]

MAX_BLOCKS = 50
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
FIELDS_MAX = 10
HEADER_MAX = 150
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
ACTION_ID_MAX = 255
ACTIONS_ELEMENTS_MAX = 25
CONTEXT_ELEMENTS_MAX = 10
# chat.postMessage truncates `text` beyond 40,000 characters; notifications show far less,
# so the fallback is kept short.
FALLBACK_TEXT_MAX = 3000
# Confirmation dialog limits (title 100, text 300, buttons 30).
CONFIRM_TITLE_MAX = 100
CONFIRM_TEXT_MAX = 300


@dataclass(frozen=True, slots=True)
class Message:
    """A rendered message: ``text`` is the notification fallback, ``blocks`` the layout."""

    text: str
    blocks: list[Block] = field(default_factory=list)

    def as_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``chat.postMessage`` / ``chat.update``."""
        return {"text": self.text, "blocks": self.blocks}


def fallback(text: str) -> str:
    return truncate(text, FALLBACK_TEXT_MAX) or "-"


def header(text: str) -> Block:
    return {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": truncate(text, HEADER_MAX, marker=ELLIPSIS) or "-",
            "emoji": True,
        },
    }


def section(text: str, *, block_id: str | None = None) -> Block:
    block: Block = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": truncate(text, SECTION_TEXT_MAX) or "-"},
    }
    if block_id is not None:
        block["block_id"] = block_id
    return block


def fields(pairs: list[tuple[str, str]]) -> Block:
    """A section of ``*name*\\nvalue`` fields (at most ten; names are trusted)."""
    return {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": truncate(f"*{name}*\n{value}", FIELD_TEXT_MAX)}
            for name, value in pairs[:FIELDS_MAX]
        ],
    }


def context(*texts: str) -> Block:
    return {
        "type": "context",
        "elements": [
            {"type": "mrkdwn", "text": truncate(t, SECTION_TEXT_MAX) or "-"}
            for t in texts[:CONTEXT_ELEMENTS_MAX]
        ],
    }


def button_value(payload: dict[str, int]) -> str:
    """The compact JSON a listener gets back in ``actions[0].value``."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def confirm(title: str, text: str, *, yes: str, no: str = "Cancel") -> Block:
    return {
        "title": {
            "type": "plain_text",
            "text": truncate(title, CONFIRM_TITLE_MAX, marker=ELLIPSIS),
        },
        "text": {"type": "mrkdwn", "text": truncate(text, CONFIRM_TEXT_MAX, marker=ELLIPSIS)},
        "confirm": {"type": "plain_text", "text": yes[:30]},
        "deny": {"type": "plain_text", "text": no[:30]},
    }


def button(
    text: str,
    *,
    action_id: str,
    value: str,
    style: str | None = None,
    confirmation: Block | None = None,
) -> Block:
    element: Block = {
        "type": "button",
        "text": {
            "type": "plain_text",
            "text": truncate(text, BUTTON_TEXT_MAX, marker=ELLIPSIS) or "-",
            "emoji": True,
        },
        "action_id": action_id[:ACTION_ID_MAX],
        # Not cut: a cut JSON value would be silently corrupt. Values are a few small ints.
        "value": value,
    }
    if style is not None:
        element["style"] = style
    if confirmation is not None:
        element["confirm"] = confirmation
    return element


def actions(elements: list[Block], *, block_id: str | None = None) -> Block:
    """An actions block; callers keep ``action_id`` unique within it, as Slack requires."""
    block: Block = {"type": "actions", "elements": elements[:ACTIONS_ELEMENTS_MAX]}
    if block_id is not None:
        block["block_id"] = block_id
    return block
