"""Builders of the Slack outbox calls (target ``slack``) an incident needs, with their binds
and saves wired.

Every call of an incident shares the ordering key ``incident:<id>``, so they leave in the
order they were added: create the channel, set its topic, invite, post the card, then
update it and thread notes under it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.domain.incident import JSON
from bot.domain.outbox import (
    CARD_CHANNEL,
    CARD_TS,
    CHANNEL,
    OutboundCall,
    channel_key,
    incident_key,
)


def _message(text: str, blocks: Sequence[JSON] | None) -> JSON:
    # Slack wants ``text`` beside blocks as the notification and screen-reader fallback.
    args: JSON = {"text": text}
    if blocks is not None:
        args["blocks"] = [dict(block) for block in blocks]
    return args


def create_channel(incident_id: int, name: str, *, is_private: bool = False) -> OutboundCall:
    """``conversations.create``; saves the new (or already existing) channel's id."""
    args: dict[str, Any] = {"name": name}
    if is_private:
        args["is_private"] = True
    return OutboundCall(
        ordering_key=incident_key(incident_id),
        method="conversations.create",
        args=args,
        incident_id=incident_id,
        saves={CHANNEL: "channel.id"},
    )


def set_topic(incident_id: int, topic: str) -> OutboundCall:
    return OutboundCall(
        ordering_key=incident_key(incident_id),
        method="conversations.setTopic",
        args={"topic": topic},
        incident_id=incident_id,
        binds={"channel": CHANNEL},
    )


def invite(incident_id: int, users: Sequence[str]) -> OutboundCall:
    """``conversations.invite`` of Slack user ids (at most 1000; Slack's own limit)."""
    return OutboundCall(
        ordering_key=incident_key(incident_id),
        method="conversations.invite",
        args={"users": ",".join(users)},
        incident_id=incident_id,
        binds={"channel": CHANNEL},
    )


def post_card(
    incident_id: int,
    *,
    text: str,
    blocks: Sequence[JSON] | None = None,
    channel: str | None = None,
) -> OutboundCall:
    """Post the incident card into the incident's channel, or into ``channel`` (the triage
    channel of a P2); saves where it landed so updates and thread notes can find it."""
    return OutboundCall(
        ordering_key=incident_key(incident_id),
        method="chat.postMessage",
        args=_message(text, blocks) | ({"channel": channel} if channel else {}),
        incident_id=incident_id,
        binds={} if channel else {"channel": CHANNEL},
        saves={CARD_CHANNEL: "channel", CARD_TS: "ts"},
    )


def update_card(
    incident_id: int, *, text: str, blocks: Sequence[JSON] | None = None
) -> OutboundCall:
    """``chat.update`` of the card posted by ``post_card``."""
    return OutboundCall(
        ordering_key=incident_key(incident_id),
        method="chat.update",
        args=_message(text, blocks),
        incident_id=incident_id,
        binds={"channel": CARD_CHANNEL, "ts": CARD_TS},
    )


def post_in_thread(
    incident_id: int, *, text: str, blocks: Sequence[JSON] | None = None
) -> OutboundCall:
    """A note threaded under the card (timeline entries of note)."""
    return OutboundCall(
        ordering_key=incident_key(incident_id),
        method="chat.postMessage",
        args=_message(text, blocks),
        incident_id=incident_id,
        binds={"channel": CARD_CHANNEL, "thread_ts": CARD_TS},
    )


def post_to_channel(
    channel: str,
    *,
    text: str,
    blocks: Sequence[JSON] | None = None,
    incident_id: int | None = None,
) -> OutboundCall:
    """A message into a known channel. With ``incident_id`` it is ordered with the
    incident's other calls; without, with the other calls into that channel."""
    key = incident_key(incident_id) if incident_id is not None else channel_key(channel)
    return OutboundCall(
        ordering_key=key,
        method="chat.postMessage",
        args=_message(text, blocks) | {"channel": channel},
        incident_id=incident_id,
    )
