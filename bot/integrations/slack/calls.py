"""Builders of the Slack outbox calls (target ``slack``) an incident needs, with their binds
and saves wired.

Every call of an incident shares the ordering key ``incident:<id>``, so they leave in the
order they were added: create the channel, set its topic, invite, post the card, then
update it and thread notes under it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
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
from bot.integrations.slack.files import UPLOAD


def _message(text: str, blocks: Sequence[JSON] | None) -> JSON:
    # Slack wants ``text`` beside blocks as the notification and screen-reader fallback.
    args: JSON = {"text": text}
    if blocks is not None:
        args["blocks"] = [dict(block) for block in blocks]
    return args


def _for_incident(
    incident_id: int,
    method: str,
    args: JSON,
    *,
    binds: Mapping[str, str] | None = None,
    saves: Mapping[str, str] | None = None,
) -> OutboundCall:
    # Every call of an incident leaves in order with its others (the ordering key).
    return OutboundCall(
        ordering_key=incident_key(incident_id),
        method=method,
        args=args,
        incident_id=incident_id,
        binds=binds or {},
        saves=saves or {},
    )


def _on_card(incident_id: int, method: str, args: JSON, *, ts_arg: str) -> OutboundCall:
    # The card's channel and ts are known only once post_card's answer is saved.
    return _for_incident(
        incident_id, method, args, binds={"channel": CARD_CHANNEL, ts_arg: CARD_TS}
    )


def create_channel(incident_id: int, name: str, *, is_private: bool = False) -> OutboundCall:
    """``conversations.create``; saves the new (or already existing) channel's id."""
    args: dict[str, Any] = {"name": name}
    if is_private:
        args["is_private"] = True
    return _for_incident(incident_id, "conversations.create", args, saves={CHANNEL: "channel.id"})


def set_topic(incident_id: int, topic: str) -> OutboundCall:
    return _for_incident(
        incident_id, "conversations.setTopic", {"topic": topic}, binds={"channel": CHANNEL}
    )


def invite(incident_id: int, users: Sequence[str]) -> OutboundCall:
    """``conversations.invite`` of Slack user ids (at most 1000; Slack's own limit)."""
    return _for_incident(
        incident_id, "conversations.invite", {"users": ",".join(users)}, binds={"channel": CHANNEL}
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
    return _for_incident(
        incident_id,
        "chat.postMessage",
        _message(text, blocks) | ({"channel": channel} if channel else {}),
        binds={} if channel else {"channel": CHANNEL},
        saves={CARD_CHANNEL: "channel", CARD_TS: "ts"},
    )


def update_card(
    incident_id: int, *, text: str, blocks: Sequence[JSON] | None = None
) -> OutboundCall:
    """``chat.update`` of the card posted by ``post_card``."""
    return _on_card(incident_id, "chat.update", _message(text, blocks), ts_arg="ts")


def post_in_thread(
    incident_id: int, *, text: str, blocks: Sequence[JSON] | None = None
) -> OutboundCall:
    """A note threaded under the card (timeline entries of note)."""
    return _on_card(incident_id, "chat.postMessage", _message(text, blocks), ts_arg="thread_ts")


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


def post_mention(
    incident_id: int,
    *,
    text: str,
    blocks: Sequence[JSON] | None = None,
    channel: str | None = None,
) -> OutboundCall:
    """A message beside the card (not in its thread) that mentions people, so they are
    notified: into the card's channel (the incident's own, or the triage channel of a P2),
    or into ``channel`` when the card has none yet."""
    return _for_incident(
        incident_id,
        "chat.postMessage",
        _message(text, blocks) | ({"channel": channel} if channel else {}),
        binds={} if channel else {"channel": CARD_CHANNEL},
    )


def upload_file(
    incident_id: int | None,
    *,
    filename: str,
    title: str,
    content: str | bytes,
    channel: str | None = None,
    initial_comment: str = "",
    alt_text: str = "",
) -> OutboundCall:
    """A file shared into a channel (``bot.integrations.slack.files``): text (a postmortem)
    or bytes (a PNG), into ``channel``, or into the incident's card channel (its own, or the
    triage channel of a P2) when ``channel`` is ``None``. ``initial_comment`` is the message
    (Slack mrkdwn) it arrives with; ``alt_text`` describes an image for screen readers."""
    args: JSON = {"filename": filename, "title": title}
    if isinstance(content, str):
        args["content"] = content
    else:
        args["content_base64"] = base64.b64encode(content).decode("ascii")
    if initial_comment:
        args["initial_comment"] = initial_comment
    if alt_text:
        args["alt_txt"] = alt_text
    if channel is not None:
        args["channel_id"] = channel
    if incident_id is None:
        if channel is None:
            raise ValueError("a file for no incident needs a channel")
        return OutboundCall(ordering_key=channel_key(channel), method=UPLOAD, args=args)
    return _for_incident(
        incident_id, UPLOAD, args, binds={} if channel else {"channel_id": CARD_CHANNEL}
    )
