"""Reading webhook bodies: JSON decoding with a clear 400, a lenient schema base (senders add
fields over time, and refusing them would drop real deliveries), and UTC timestamps."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.errors import BadRequest
from handlers.json_depth import check_json_depth


class Lenient(BaseModel):
    """A payload model that accepts fields it does not know."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


def load_json(body: bytes) -> Any:
    """The decoded body; ``BadRequest`` naming the problem when it is not JSON or nests
    deeper than any sender's payload does."""
    check_json_depth(body)
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from exc


def as_utc(value: datetime) -> datetime:
    """A timestamp sent without an offset is taken as UTC, as both senders document."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def in_utc_range(moment: datetime, what: str) -> datetime:
    """``moment``, whose UTC value must exist: times are stored and compared in UTC, and an
    offset can push a valid-looking time past year 9999 (or before year 1) there. Such a
    time once passed intake only to fail in processing; now ``BadRequest`` names ``what``."""
    try:
        moment.astimezone(UTC)
    except OverflowError as exc:
        raise BadRequest(
            f"{what} is out of range (its UTC time must fall in the years 1 to 9999)"
        ) from exc
    return moment
