"""Block Kit checks of the fake Slack: the documented message limits, not the full schema.

Slack answers ``invalid_blocks`` (with ``response_metadata.messages`` naming a JSON pointer)
when a block breaks a limit, and ``invalid_blocks_format`` when ``blocks`` is not a JSON array.
Block types the fake does not know are accepted as they are.
"""

from __future__ import annotations

import json
from typing import Any

MAX_BLOCKS = 50
SECTION_TEXT_MAX = 3000
SECTION_FIELDS_MAX = 10
SECTION_FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
ACTIONS_ELEMENTS_MAX = 25
CONTEXT_ELEMENTS_MAX = 10
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
ID_MAX = 255
TEXT_TYPES = ("plain_text", "mrkdwn")


class BlocksError(Exception):
    """A Block Kit payload Slack would refuse; ``error`` is the Web API error code."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


def parse_blocks(raw: object) -> list[dict[str, Any]] | None:
    """Decode and check a ``blocks`` argument (a JSON string from a form, a list from JSON)."""
    if raw is None or raw == "":
        return None
    value: object = raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise BlocksError("invalid_blocks_format", "blocks is not valid JSON") from exc
    if not isinstance(value, list):
        raise BlocksError("invalid_blocks_format", "blocks must be a JSON array")
    if len(value) > MAX_BLOCKS:
        raise BlocksError(
            "invalid_blocks",
            f"[ERROR] no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]",
        )
    block_ids: set[str] = set()
    for index, block in enumerate(value):
        pointer = f"/blocks/{index}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise BlocksError(
                "invalid_blocks", f"[ERROR] missing required field: type [json-pointer:{pointer}]"
            )
        block_id = block.get("block_id")
        if block_id is not None:
            _check_length(block_id, ID_MAX, f"{pointer}/block_id")
            if block_id in block_ids:
                raise BlocksError(
                    "invalid_blocks",
                    f"[ERROR] duplicate block_id [json-pointer:{pointer}/block_id]",
                )
            block_ids.add(block_id)
        _check_block(block, pointer)
    return value


def _fail(message: str, pointer: str) -> BlocksError:
    return BlocksError("invalid_blocks", f"[ERROR] {message} [json-pointer:{pointer}]")


def _check_length(value: object, limit: int, pointer: str) -> None:
    if not isinstance(value, str):
        raise _fail("must be a string", pointer)
    if len(value) > limit:
        raise _fail(f"must be less than {limit + 1} characters", pointer)


def _check_text(obj: object, limit: int, pointer: str, *, plain_only: bool = False) -> None:
    if not isinstance(obj, dict):
        raise _fail("must be a text object", pointer)
    kind = obj.get("type")
    if kind not in (("plain_text",) if plain_only else TEXT_TYPES):
        raise _fail("invalid text object type", f"{pointer}/type")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        raise _fail("must be a non-empty string", f"{pointer}/text")
    _check_length(text, limit, f"{pointer}/text")


def _check_elements(block: dict[str, Any], limit: int, pointer: str) -> list[Any]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        raise _fail("must provide at least 1 item", f"{pointer}/elements")
    if len(elements) > limit:
        raise _fail(f"no more than {limit} items allowed", f"{pointer}/elements")
    return elements


def _check_block(block: dict[str, Any], pointer: str) -> None:
    kind = block["type"]
    if kind == "section":
        text, fields = block.get("text"), block.get("fields")
        if text is None and fields is None:
            raise _fail("must provide either text or fields", pointer)
        if text is not None:
            _check_text(text, SECTION_TEXT_MAX, f"{pointer}/text")
        if fields is not None:
            if not isinstance(fields, list) or len(fields) > SECTION_FIELDS_MAX:
                raise _fail(f"no more than {SECTION_FIELDS_MAX} items allowed", f"{pointer}/fields")
            for i, field in enumerate(fields):
                _check_text(field, SECTION_FIELD_TEXT_MAX, f"{pointer}/fields/{i}")
    elif kind == "header":
        _check_text(block.get("text"), HEADER_TEXT_MAX, f"{pointer}/text", plain_only=True)
    elif kind == "actions":
        for i, element in enumerate(_check_elements(block, ACTIONS_ELEMENTS_MAX, pointer)):
            if isinstance(element, dict) and element.get("type") == "button":
                _check_button(element, f"{pointer}/elements/{i}")
    elif kind == "context":
        _check_elements(block, CONTEXT_ELEMENTS_MAX, pointer)


def _check_button(button: dict[str, Any], pointer: str) -> None:
    _check_text(button.get("text"), BUTTON_TEXT_MAX, f"{pointer}/text", plain_only=True)
    if "action_id" in button:
        _check_length(button["action_id"], ID_MAX, f"{pointer}/action_id")
    if "value" in button:
        _check_length(button["value"], BUTTON_VALUE_MAX, f"{pointer}/value")
