"""The incident page's actions: each request with who asked and when, its approvals, the
server-side dry run, the rollout, and its own timeline entries in order.

What a rollout looked like while it ran is followed in Slack (one thread message updated in
place); the database keeps the action's state, its timestamps and the final word
(``detail``), which is what this shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain.action import ActionRequest, ActionState
from bot.domain.events import EventKind
from bot.domain.incident import TimelineEntry
from handlers.ui.record import EntryView, entry_view

_NEVER_RAN = frozenset({ActionState.DENIED, ActionState.EXPIRED})
_WAITING = frozenset({ActionState.REQUESTED, ActionState.APPROVED})


@dataclass(frozen=True, slots=True)
class ApprovalView:
    by: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ActionView:
    """One action request as the page shows it."""

    id: int
    what: str
    state: str
    requested_by: str
    requested_at: datetime
    expires_at: datetime
    approvals: list[ApprovalView]
    approvals_required: int
    dry_run: str
    rollout: str
    started_at: datetime | None
    finished_at: datetime | None
    steps: list[EntryView]

    @property
    def final(self) -> bool:
        return ActionState(self.state).is_final


def _dry_run(action: ActionRequest, applied: bool) -> str:
    if applied:
        return "passed"
    if action.state is ActionState.FAILED and action.detail.startswith("dry run"):
        return action.detail
    if action.state in _WAITING:
        return "not yet: it runs after the last approval, before the change"
    if action.state is ActionState.RUNNING:
        return "in progress"
    return "not run"


def _rollout(action: ActionRequest, applied: bool) -> str:
    if action.state is ActionState.RUNNING:
        return "rolling out (progress in the Slack thread)" if applied else "starting"
    if action.state is ActionState.SUCCEEDED:
        return action.detail or "done"
    if action.state is ActionState.FAILED:
        return action.detail or "failed"
    if action.state in _NEVER_RAN:
        return f"never ran ({action.state.value})"
    return "not started"


def action_views(
    actions: Sequence[ActionRequest], timeline: Sequence[TimelineEntry]
) -> list[ActionView]:
    """The incident's actions, oldest first, each with the entries that name it."""
    steps: dict[int, list[TimelineEntry]] = {}
    for entry in timeline:
        action_id = entry.body.get("action_id") if entry.kind.startswith("action.") else None
        if isinstance(action_id, int) and not isinstance(action_id, bool):
            steps.setdefault(action_id, []).append(entry)
    views = []
    for action in actions:
        own = steps.get(action.id, [])
        applied = any(e.kind == EventKind.ACTION_APPLIED for e in own)
        views.append(
            ActionView(
                id=action.id,
                what=action.describe(),
                state=action.state.value,
                requested_by=str(action.requested_by),
                requested_at=action.requested_at,
                expires_at=action.expires_at,
                approvals=[ApprovalView(str(a.actor), a.at) for a in action.approvals],
                approvals_required=action.approvals_required,
                dry_run=_dry_run(action, applied),
                rollout=_rollout(action, applied),
                started_at=action.started_at,
                finished_at=action.finished_at,
                steps=[entry_view(e) for e in own],
            )
        )
    return views
