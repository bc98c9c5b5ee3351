"""The Slack side of remediation: one thread message per action request under the incident
card, posted with Approve/Deny when requested and updated in place as the action moves
(approved, running with rollout progress, succeeded or failed)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from bot.clock import Clock
from bot.domain.action import ActionRequest, ActionState, ActionVerb
from bot.domain.actor import SLACK, Actor
from bot.domain.deployment import RolloutProgress
from bot.domain.events import ActionEntry, EventKind, decode
from bot.domain.incident import TimelineEntry
from bot.domain.outbox import CARD_CHANNEL, CARD_TS, OutboundCall, incident_key
from bot.errors import Forbidden
from bot.integrations.slack import calls
from bot.integrations.slack.kit import Message
from bot.integrations.slack.messages import (
    ApprovalView,
    ProgressView,
    RestoreOffer,
    render_approval_request,
    render_progress,
    render_restore_offer,
)
from bot.policy.model import ActionBounds, Policy
from bot.ports import Store
from bot.services.remediation.rules import rules_for

WAITING = frozenset({ActionState.REQUESTED, ActionState.DENIED, ActionState.EXPIRED})


def action_ref(action_id: int) -> str:
    """The chat ref holding the ts of the action's thread message."""
    return f"action_{action_id}_ts"


def _slack_id(actor: Actor) -> str:
    """A Slack user's id, to mention; any other actor as its stored text."""
    return actor.id if actor.source == SLACK and actor.id else str(actor)


def _change(action: ActionRequest) -> str:
    if action.verb is ActionVerb.SCALE and action.autoscaler is not None:
        return hpa_change(action)
    if action.verb is ActionVerb.SCALE:
        before = action.snapshot.replicas if action.snapshot else None
        return f"replicas {before if before is not None else '?'} → {action.replicas}"
    if action.verb is ActionVerb.ROLLBACK:
        revision = action.to_revision or action.rollback_revision
        return f"to revision {revision}" if revision else "to the previous revision"
    return "restart every pod, a few at a time"


def hpa_change(action: ActionRequest) -> str:
    """What an HPA scale will apply, e.g. ``raise HPA firebreak/lnn-service minReplicas 3 → 6
    (max 10); scaling the deployment directly would be undone by the autoscaler``."""
    plan = action.autoscaler
    assert plan is not None
    before, after = plan.min_replicas, action.replicas
    where = f"HPA {action.target.namespace}/{plan.name}"
    if after == before:
        # Nothing moves; an arrow from a number to itself reads as a change.
        text = f"keep {where} minReplicas at {after} (max {plan.max_replicas})"
    else:
        verb = "raise" if after is not None and after > before else "lower"
        if action.restores is not None:
            verb = "restore"
        text = f"{verb} {where} minReplicas {before} → {after} (max {plan.max_replicas})"
    if action.restores is not None:
        return f"{text}, as it was before action #{action.restores}"
    return f"{text}; scaling the deployment directly would be undone by the autoscaler"


def _hpa_result(action: ActionRequest) -> str:
    """The floor an approved HPA scale sets, from the value it found before applying."""
    plan = action.autoscaler
    if plan is None:
        return ""
    before = action.previous_min_replicas
    if before is None:
        before = plan.min_replicas
    where = f"HPA {action.target.namespace}/{plan.name}"
    return f"{where} minReplicas {before} → {action.replicas} (max {plan.max_replicas})"


# A restore in one of these states makes a second offer pointless; a denied, expired or
# failed one leaves the floor raised, so resolving offers it again.
_RESTORING = frozenset(
    {ActionState.REQUESTED, ActionState.APPROVED, ActionState.RUNNING, ActionState.SUCCEEDED}
)


def _raised_floor(action: ActionRequest) -> bool:
    """A succeeded HPA scale that set a floor of the incident's own (not a restore)."""
    return (
        action.state is ActionState.SUCCEEDED
        and action.autoscaler is not None
        and action.restores is None
    )


def restorable(actions: Sequence[ActionRequest]) -> list[ActionRequest]:
    """The HPA scales of an incident whose floor resolving it should offer to put back: per
    deployment the first that succeeded (its previous floor is the one from before the
    incident), unless a restore of it is pending or has succeeded already."""
    restores = {a.restores for a in actions if a.restores is not None and a.state in _RESTORING}
    offers: dict[str, ActionRequest] = {}
    for action in actions:
        if (
            _raised_floor(action)
            and action.previous_min_replicas is not None
            and action.previous_min_replicas != action.replicas
        ):
            offers.setdefault(str(action.target), action)
    return [a for a in offers.values() if a.id not in restores]


def _last_floor(actions: Sequence[ActionRequest], first: ActionRequest) -> int:
    """The floor the incident set last on ``first``'s target (3 → 6 → 8 shows 8)."""
    floors = [
        a.replicas
        for a in actions
        if _raised_floor(a) and a.target == first.target and a.replicas is not None
    ]
    return floors[-1] if floors else first.replicas or 0


def restore_offer(incident_id: int, actions: Sequence[ActionRequest]) -> OutboundCall | None:
    """The thread message with a "Restore minReplicas to N" button per floor this incident
    raised, posted when it resolves; ``None`` when there is nothing to restore."""
    offers = [
        RestoreOffer(
            action_id=a.id,
            target=str(a.target),
            autoscaler=f"{a.target.namespace}/{a.autoscaler.name}" if a.autoscaler else "",
            current=_last_floor(actions, a),
            previous=a.previous_min_replicas or 0,
        )
        for a in restorable(actions)
    ]
    if not offers:
        return None
    message = render_restore_offer(incident_id, offers)
    return calls.post_in_thread(incident_id, text=message.text, blocks=message.blocks)


def _bounds(policy: Policy, action: ActionRequest) -> ActionBounds:
    """The bounds the request was checked against (combined over scenarios, strictest wins),
    so the approver sees the limits that are enforced."""
    try:
        rules = rules_for(policy, action.verb, action.target)
    except Forbidden:  # the policy changed since the request: show no bounds rather than guess
        return ActionBounds()
    return ActionBounds(min_replicas=rules.min_replicas, max_replicas=rules.max_replicas)


def render_action(
    action: ActionRequest,
    *,
    policy: Policy,
    now: datetime,
    progress: RolloutProgress | None = None,
) -> Message:
    """The approval request while it waits (or was refused), the progress once approved."""
    if action.state in WAITING:
        view = ApprovalView(
            request_id=action.id,
            incident_id=action.incident_id,
            requester=_slack_id(action.requested_by),
            verb=action.verb.value,
            target=str(action.target),
            change=_change(action),
            state=action.state,
            bounds=_bounds(policy, action),
            approvals_required=action.approvals_required,
            approvals=tuple(_slack_id(a) for a in action.approved_by),
            expires_at=action.expires_at,
            reason=action.detail,
        )
        return render_approval_request(view, now=now)
    return render_progress(
        ProgressView(
            request_id=action.id,
            verb=action.verb.value,
            target=str(action.target),
            state=action.state,
            progress=progress,
            detail=action.detail,
            change=_hpa_result(action),
        )
    )


def post_action(action: ActionRequest, message: Message) -> OutboundCall:
    """The first message of a request, in the incident card's thread; its ts is kept."""
    return OutboundCall(
        ordering_key=incident_key(action.incident_id),
        method="chat.postMessage",
        args=message.as_kwargs(),
        incident_id=action.incident_id,
        binds={"channel": CARD_CHANNEL, "thread_ts": CARD_TS},
        saves={action_ref(action.id): "ts"},
    )


def update_action(action: ActionRequest, message: Message) -> OutboundCall:
    return OutboundCall(
        ordering_key=incident_key(action.incident_id),
        method="chat.update",
        args=message.as_kwargs(),
        incident_id=action.incident_id,
        binds={"channel": CARD_CHANNEL, "ts": action_ref(action.id)},
    )


def action_ids(entries: Sequence[TimelineEntry]) -> list[tuple[int, bool]]:
    """``(action id, newly requested)`` for each action the entries are about, in order."""
    seen: dict[int, bool] = {}
    for entry in entries:
        event = decode(entry.kind, entry.body)
        if not isinstance(event, ActionEntry) or not isinstance(event.action_id, int):
            continue
        new = event.kind is EventKind.ACTION_REQUESTED
        seen[event.action_id] = seen.get(event.action_id, False) or new
    return list(seen.items())


class ActionProgress:
    """The executor's progress callback: the action's thread message follows the rollout."""

    def __init__(
        self, *, store: Store, policy: Policy, clock: Clock, after_commit: Callable[[], None]
    ) -> None:
        self._store = store
        self._policy = policy
        self._clock = clock
        self._after_commit = after_commit

    async def __call__(self, action: ActionRequest, progress: RolloutProgress) -> None:
        now = self._clock.now()
        message = render_action(action, policy=self._policy, now=now, progress=progress)
        async with self._store.transaction() as uow:
            await uow.outbox.add(update_action(action, message), at=now)
        self._after_commit()
