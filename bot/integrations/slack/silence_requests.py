"""The Slack side of broad silence requests: one thread message per request under the
incident card, posted with Approve and Deny while it waits, and updated in place (without
buttons) once it is approved and made, denied, lapsed or refused by Alertmanager."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.domain.controls import INCIDENT, SILENCE_REQUEST, Control
from bot.domain.events import (
    EventKind,
    SilenceCreated,
    SilenceDecision,
    SilenceRefused,
    SilenceRequested,
    decode,
)
from bot.domain.incident import TimelineEntry
from bot.domain.outbox import CARD_CHANNEL, CARD_TS, OutboundCall, incident_key
from bot.integrations.slack import kit
from bot.integrations.slack.kit import Block, Message
from bot.integrations.slack.messages import render_timeline_entry
from bot.integrations.slack.text import date, inert, who
from bot.ports import UnitOfWork
from bot.services.entry_text import human_duration
from bot.services.incidents.silence_entries import PendingRequest, requests_of


def request_ref(request: int) -> str:
    """The chat ref holding the ts of the request's thread message (refs are per incident)."""
    return f"silence_request_{request}_ts"


# The kinds that may be about a request; the rest are not decoded (a storm's entries).
_KINDS = frozenset(
    {
        EventKind.SILENCE_REQUESTED,
        EventKind.SILENCE_APPROVED,
        EventKind.SILENCE_DENIED,
        EventKind.SILENCE_REQUEST_EXPIRED,
        EventKind.SILENCE_CREATED,
        EventKind.SILENCE_REFUSED,
    }
)


def _about(entry: TimelineEntry) -> int | None:
    """The request an entry is about, if any."""
    if entry.kind not in _KINDS:
        return None
    event = decode(entry.kind, entry.body)
    if isinstance(event, SilenceRequested):
        return entry.seq
    if isinstance(event, SilenceDecision):
        return event.request
    if isinstance(event, SilenceCreated | SilenceRefused):
        return event.request
    return None


def render_silence_request(
    incident_id: int, request: PendingRequest, *, now: datetime, outcome: TimelineEntry | None
) -> Message:
    """The request: who asks for which matchers, why it is broad, how long; Approve and Deny
    while it waits (``outcome`` ``None``), else what became of it."""
    matchers = ", ".join(f"`{inert(m)}`" for m in request.matchers) or "?"
    lead = (
        f":mute: {who(str(request.by))} asks for a broad silence on incident #{incident_id} "
        f"(request {request.seq}): {matchers}"
    )
    how_long = human_duration(timedelta(seconds=request.asked.seconds))
    pairs = [("Why broad", inert(request.asked.why) or "-"), ("For", how_long)]
    blocks: list[Block] = [kit.section(lead)]
    if outcome is None:
        left = request.expires_at - now
        pairs.append(
            ("Approvable until", f"{date(request.expires_at)} (in {human_duration(left)})")
        )
        blocks.append(kit.fields(pairs))
        value = kit.button_value({INCIDENT: incident_id, SILENCE_REQUEST: request.seq})
        blocks.append(
            kit.actions(
                [
                    kit.button(
                        "Approve",
                        action_id=Control.APPROVE_SILENCE,
                        value=value,
                        style="primary",
                        confirmation=kit.confirm(
                            f"Approve silence request {request.seq}?",
                            "Alertmanager will silence every alert these matchers match, "
                            "other incidents' included.",
                            yes="Approve",
                        ),
                    ),
                    kit.button("Deny", action_id=Control.DENY_SILENCE, value=value, style="danger"),
                ],
                block_id=f"firebreak.silence_request.{incident_id}.{request.seq}",
            )
        )
        text = f"A broad silence on incident #{incident_id} waits for an approver."
    else:
        blocks.append(kit.fields(pairs))
        blocks.extend(render_timeline_entry(outcome).blocks)
        text = f"Broad silence request {request.seq} on incident #{incident_id}: decided."
    return Message(text=kit.fallback(text), blocks=blocks)


async def silence_request_calls(
    uow: UnitOfWork, incident_id: int, entries: Sequence[TimelineEntry], *, now: datetime
) -> list[OutboundCall]:
    """The thread message of each request the entries ask for, and the update of each they
    decide (the last entry about it says what became of it: an approval's silence made or
    refused). A refused click on a request still open changes nothing there."""
    about: dict[int, TimelineEntry] = {}
    for entry in entries:
        request = _about(entry)
        if request is not None:
            about[request] = entry
    if not about:
        return []
    found = requests_of(await uow.timeline.for_incident(incident_id))
    calls: list[OutboundCall] = []
    for request, last in about.items():
        pending = found.get(request)
        if pending is None:
            continue
        outcome = last if pending.decision is not None else None
        message = render_silence_request(incident_id, pending, now=now, outcome=outcome)
        if any(e.seq == request for e in entries):
            calls.append(
                OutboundCall(
                    ordering_key=incident_key(incident_id),
                    method="chat.postMessage",
                    args=message.as_kwargs(),
                    incident_id=incident_id,
                    binds={"channel": CARD_CHANNEL, "thread_ts": CARD_TS},
                    saves={request_ref(request): "ts"},
                )
            )
        elif outcome is not None:
            calls.append(
                OutboundCall(
                    ordering_key=incident_key(incident_id),
                    method="chat.update",
                    args=message.as_kwargs(),
                    incident_id=incident_id,
                    binds={"channel": CARD_CHANNEL, "ts": request_ref(request)},
                )
            )
    return calls
