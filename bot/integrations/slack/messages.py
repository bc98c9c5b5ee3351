"""Messages around the card: approval requests, action progress, timeline lines in the thread.

Approval buttons (``Control.APPROVE`` and ``Control.DENY`` of ``bot.domain.controls``, whose
value names the action request) show only while the request waits for approvers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.domain.action import ActionState
from bot.domain.controls import ACTION_REQUEST, INCIDENT, Control
from bot.domain.deployment import RolloutProgress
from bot.domain.events import EventKind
from bot.domain.incident import Incident, IncidentStatus, TimelineEntry
from bot.integrations.slack import kit
from bot.integrations.slack.kit import Block, Message
from bot.integrations.slack.text import (
    date,
    escape,
    inert,
    is_group_id,
    is_user_id,
    link,
    mention,
    truncate,
    who,
)
from bot.policy.model import ActionBounds
from bot.services.entry_text import describe, human_duration

STATE_ICONS = {
    ActionState.REQUESTED: ":raised_hand:",
    ActionState.APPROVED: ":white_check_mark:",
    ActionState.RUNNING: ":hourglass_flowing_sand:",
    ActionState.SUCCEEDED: ":large_green_circle:",
    ActionState.FAILED: ":x:",
    ActionState.DENIED: ":no_entry:",
    ActionState.EXPIRED: ":zzz:",
}
BAR_WIDTH = 10
TITLE_MAX = 200


@dataclass(frozen=True, slots=True)
class ApprovalView:
    """An action request waiting for (or done with) approval.

    ``requester`` and ``approvals`` are Slack user ids; ``change`` describes the effect
    (``replicas 3 → 6``, ``to revision 4``); ``target`` reads ``namespace/deploy/name``."""

    request_id: int
    incident_id: int
    requester: str
    verb: str
    target: str
    change: str
    state: ActionState
    bounds: ActionBounds = field(default_factory=ActionBounds)
    approvals_required: int = 1
    approvals: tuple[str, ...] = ()
    expires_at: datetime | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ProgressView:
    """How an approved action is going; ``detail`` holds an error or the outcome."""

    request_id: int
    verb: str
    target: str
    state: ActionState
    progress: RolloutProgress | None = None
    detail: str = ""
    change: str = ""  # what is applied when it is not the verb alone (an HPA's floor)


def _person(slack_id: str) -> str:
    return mention(slack_id) if is_user_id(slack_id) or is_group_id(slack_id) else escape(slack_id)


def _bounds(bounds: ActionBounds) -> str:
    low, high = bounds.min_replicas, bounds.max_replicas
    if low is None and high is None:
        return "none"
    return f"replicas {low if low is not None else 0}–{high if high is not None else '∞'}"


def render_approval_request(view: ApprovalView, *, now: datetime) -> Message:
    """Who asked for what on which target, within which bounds; Approve/Deny while pending."""
    what = f"{inert(view.verb)} `{inert(view.target)}`"
    icon = STATE_ICONS[view.state]
    lead = f"{icon} {_person(view.requester)} asks to {what}"
    if view.state is not ActionState.REQUESTED:
        lead += f" · *{view.state.value}*"
    approvals = ", ".join(_person(a) for a in view.approvals) or "none yet"
    pairs = [
        ("Action", f"{inert(view.verb)} (request #{view.request_id})"),
        ("Target", f"`{inert(view.target)}`"),
        ("Change", inert(view.change) or "-"),
        ("Bounds", _bounds(view.bounds)),
        ("Approvals", f"{len(view.approvals)} of {view.approvals_required}: {approvals}"),
    ]
    if view.expires_at is not None and view.state is ActionState.REQUESTED:
        left = view.expires_at - now
        pairs.append(("Expires", f"{date(view.expires_at)} (in {human_duration(left)})"))
    blocks: list[Block] = [kit.section(lead), kit.fields(pairs)]
    if view.reason:
        blocks.append(kit.section(f"*Reason:* {inert(view.reason)}"))
    if view.state is ActionState.REQUESTED:
        value = kit.button_value({ACTION_REQUEST: view.request_id})
        blocks.append(
            kit.actions(
                [
                    kit.button(
                        "Approve",
                        action_id=Control.APPROVE,
                        value=value,
                        style="primary",
                        confirmation=kit.confirm(
                            f"Approve request #{view.request_id}?",
                            f"This will {what} on the cluster.",
                            yes="Approve",
                        ),
                    ),
                    kit.button("Deny", action_id=Control.DENY, value=value, style="danger"),
                ],
                block_id="firebreak.approval",
            )
        )
    blocks.append(kit.context(f"Incident #{view.incident_id} · only configured approvers count"))
    text = f"Approval {view.state.value}: {view.verb} {view.target} (request #{view.request_id})"
    return Message(text=kit.fallback(inert(text)), blocks=blocks)


@dataclass(frozen=True, slots=True)
class RestoreOffer:
    """An HPA floor an incident's action raised: ``autoscaler`` reads ``namespace/name``."""

    action_id: int
    target: str
    autoscaler: str
    current: int
    previous: int


def render_restore_offer(incident_id: int, offers: list[RestoreOffer]) -> Message:
    """After the resolution: one line and one "Restore minReplicas to N" button per HPA
    floor the incident raised; a click requests the restore (approved like any action)."""
    blocks: list[Block] = []
    lines = []
    for offer in offers:
        line = (
            f"HPA `{inert(offer.autoscaler)}` still has minReplicas {offer.current} "
            f"(action #{offer.action_id}); it was {offer.previous} before."
        )
        lines.append(line)
        button = kit.button(
            f"Restore minReplicas to {offer.previous}",
            action_id=Control.RESTORE,
            value=kit.button_value({ACTION_REQUEST: offer.action_id}),
        )
        blocks.append(kit.section(f":leftwards_arrow_with_hook: {line}"))
        blocks.append(kit.actions([button], block_id=f"firebreak.restore.{offer.action_id}"))
    text = f"Incident #{incident_id} resolved. " + " ".join(lines)
    return Message(text=kit.fallback(inert(text)), blocks=blocks)


def render_unsilence_offer(incident_id: int, until: datetime) -> Message:
    """After the resolution of a silenced incident: its silence's end and an "Expire the
    silence" button (``/incident unsilence`` by a click)."""
    line = f"Its alerts are still silenced in Alertmanager until {date(until)}."
    button = kit.button(
        "Expire the silence",
        action_id=Control.UNSILENCE,
        value=kit.button_value({INCIDENT: incident_id}),
    )
    blocks = [
        kit.section(f":mute: Incident #{incident_id} resolved. {line}"),
        kit.actions([button], block_id=f"firebreak.unsilence.{incident_id}"),
    ]
    text = f"Incident #{incident_id} resolved. Its alerts are still silenced in Alertmanager."
    return Message(text=kit.fallback(text), blocks=blocks)


def progress_bar(done: int, total: int) -> str:
    """``▓▓▓▓░░░░░░ 2/5``: text, so it renders in every client."""
    if total <= 0:
        return "no replicas desired"
    filled = min(BAR_WIDTH, max(0, round(BAR_WIDTH * done / total)))
    return "▓" * filled + "░" * (BAR_WIDTH - filled) + f" {done}/{total}"


def render_progress(view: ProgressView) -> Message:
    """One thread message per action, updated in place as the rollout moves."""
    icon = STATE_ICONS[view.state]
    what = f"{inert(view.verb)} `{inert(view.target)}`"
    blocks: list[Block] = [
        kit.section(
            f"{icon} *{view.state.value.capitalize()}*: {what} (request #{view.request_id})"
        )
    ]
    if view.change:
        blocks.append(kit.context(inert(view.change)))
    if view.progress is not None:
        p = view.progress
        blocks.append(
            kit.fields(
                [
                    ("Available", progress_bar(p.available, p.desired)),
                    ("Updated", f"{p.updated}/{p.desired}"),
                    ("Ready", f"{p.ready}/{p.desired}"),
                    ("Rollout", "done" if p.done else ("failed" if p.failed else "in progress")),
                ]
            )
        )
        if p.message:
            blocks.append(kit.context(inert(p.message)))
    if view.detail:
        blocks.append(kit.section(inert(view.detail)))
    if view.state is ActionState.FAILED and view.verb != "rollback":
        blocks.append(kit.context("Consider `/incident rollback` if the service is worse off."))
    text = f"{view.verb} {view.target}: {view.state.value}"
    if view.progress is not None and view.progress.message:
        text += f" ({view.progress.message})"
    return Message(text=kit.fallback(inert(text)), blocks=blocks)


# Entries whose people are mentioned in a message of their own (``render_mention``): their
# thread line names them without notifying them a second time.
MENTIONED_APART = frozenset({EventKind.ESCALATION_FIRED, EventKind.PAGE_REQUESTED})


def _named(slack_id: str) -> str:
    return f"`{escape(slack_id)}`"


def render_timeline_entry(entry: TimelineEntry) -> Message:
    """A thread line for a timeline entry: time, actor, what happened."""
    at = entry.at.astimezone(UTC)
    user = _named if entry.kind in MENTIONED_APART else _person
    line = describe(entry, text=inert, user=user)
    body = f"{date(at, layout='{time_secs}')} {who(str(entry.actor))} · {line}"
    text = f"{at.strftime('%H:%M:%S')} {escape(str(entry.actor))} · {line}"
    return Message(text=kit.fallback(text), blocks=[kit.section(body)])


def render_mention(
    incident: Incident, people: Sequence[str], *, reason: str, now: datetime, page: str = ""
) -> Message:
    """Mentions ``people`` (trusted Slack user or user-group ids) about an incident: why
    (``reason``, already escaped), how long it has waited, how to acknowledge, and the
    incident's web ``page`` when there is one."""
    who = " ".join(mention(ident) for ident in people)
    waited = now - incident.created_at
    if incident.status is not IncidentStatus.TRIGGERED:
        waiting = incident.status.value
    elif waited < timedelta(minutes=1):
        # The first level goes out as the incident opens: "unacknowledged for 0 s" says nothing.
        waiting = "new and unacknowledged"
    else:
        waiting = f"unacknowledged for {human_duration(waited)}"
    line = (
        f"{who} :rotating_light: {reason}: {incident.severity.value} incident #{incident.id} "
        f"*{truncate(inert(' '.join(incident.title.split())), TITLE_MAX)}* is {waiting}. "
        f"Acknowledge with `/incident ack {incident.id}` or the card's Acknowledge button."
    )
    if page:
        line += f" {link(page, 'Open the incident page')}."
    text = f"{who} {reason}: {incident.severity.value} incident #{incident.id} is {waiting}"
    return Message(text=kit.fallback(text), blocks=[kit.section(line)])
