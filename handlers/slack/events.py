"""Slack Events API callbacks. Each event is recorded once by its ``event_id`` (in the same
transaction as its effect), so a Slack retry (``X-Slack-Retry-Num``) changes nothing twice,
yet an event whose first attempt never got recorded is still processed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.errors import BadRequest
from bot.services.incidents.participants import record_participant
from handlers.deps import Deps
from handlers.slack.actor import slack_actor


async def on_member_joined(deps: Deps, body: Mapping[str, Any]) -> None:
    event = body.get("event")
    event_id = body.get("event_id")
    if not isinstance(event, Mapping) or not isinstance(event_id, str) or not event_id:
        raise BadRequest("an event callback without event or event_id")
    await record_participant(
        deps.store,
        event_id=event_id,
        channel=str(event.get("channel", "")),
        who=slack_actor(str(event.get("user", ""))),
        at=deps.clock.now(),
        raw=json.dumps(body, sort_keys=True).encode(),
    )
