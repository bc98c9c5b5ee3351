"""Typed bodies of the remediation timeline entries.

Every entry about one action carries the same facts (``ActionEntry``: its id, its one-line
description, verb, target and state) so each reads on its own; the use case builds the body
with what the step adds and ``about`` fills in the facts from the action it moved.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from bot.domain.action import ActionRequest
from bot.domain.events.body import Family, OneKind
from bot.domain.events.kinds import EventKind
from bot.domain.incident import JSON


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionEntry:
    """The facts every entry about one action carries (filled in by ``about``): its
    id, its one-line description, verb, target, state, and the replicas or revision asked."""

    action_id: int | None = None
    action: str = ""
    verb: str = ""
    target: str = ""
    state: str = ""
    replicas: int | None = None
    to_revision: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionRequested(ActionEntry, OneKind, kind=EventKind.ACTION_REQUESTED):
    """Someone asked for the action; it waits for ``approvals_required`` approvals.
    ``autoscaler`` is the HPA the scale goes through (its name, and its min and max replicas
    when requested), or ``autoscaler_unchecked`` why the cluster could not be asked (it is
    asked again before applying); ``restores`` the action whose HPA floor this one puts back."""

    approvals_required: int
    expires_at: str
    autoscaler: JSON | None = None
    autoscaler_unchecked: str = ""
    restores: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionJoined(ActionEntry, OneKind, kind=EventKind.ACTION_JOINED):
    """A second incident asked for an action already pending on ``owner_incident``."""

    owner_incident: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionRefused(ActionEntry, OneKind, kind=EventKind.ACTION_REFUSED):
    """An attempt to ``attempted`` (approve, deny, execute) the action was refused or failed:
    the person is not allowed, the request is closed, or the cluster answered an error
    (``reason`` says which). The action's state is unchanged."""

    attempted: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionRequestRefused(OneKind, kind=EventKind.ACTION_REQUEST_REFUSED):
    """A request (or a diagnose) refused or failed before any action existed: ``verb`` on
    ``target`` (as asked, which may be an invalid name), and why."""

    verb: str
    target: str
    reason: str
    replicas: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionApproval(
    ActionEntry, Family, kinds=(EventKind.ACTION_APPROVAL, EventKind.ACTION_APPROVED)
):
    """One approval (``action.approval``) or the last one needed (``action.approved``, with the
    target's ``snapshot`` at approval). ``by`` is the approver's id."""

    kind: EventKind
    approvals: int
    approvals_required: int
    snapshot: JSON | None = None
    by: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionDenied(ActionEntry, OneKind, kind=EventKind.ACTION_DENIED):
    """An approver or the requester turned the request down. ``by`` is their id."""

    reason: str = ""
    by: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionExpired(ActionEntry, OneKind, kind=EventKind.ACTION_EXPIRED):
    """Nobody approved or ran the action before ``expired_at``."""

    expired_at: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionStarted(ActionEntry, OneKind, kind=EventKind.ACTION_STARTED):
    """An executor claimed the approved action."""

    approved_by: Sequence[str] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionApplied(ActionEntry, OneKind, kind=EventKind.ACTION_APPLIED):
    """The change was sent to the cluster (or ``skipped``: already as asked).
    ``previous_min_replicas``: the HPA's floor before an HPA scale set it."""

    skipped: bool
    detail: str
    revision: int | None = None
    previous_min_replicas: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionReconciling(ActionEntry, OneKind, kind=EventKind.ACTION_RECONCILING):
    """A replica took over an action a dead one left running."""

    applying: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionReconciled(ActionEntry, OneKind, kind=EventKind.ACTION_RECONCILED):
    """Reconciliation found the change had ``landed`` before the crash."""

    landed: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionFinished(
    ActionEntry, Family, kinds=(EventKind.ACTION_SUCCEEDED, EventKind.ACTION_FAILED)
):
    """The action succeeded or failed; ``detail`` says how, ``snapshot`` what the target was."""

    kind: EventKind
    detail: str = ""
    snapshot: JSON | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionDiagnosed(OneKind, kind=EventKind.ACTION_DIAGNOSED):
    """A read-only look at a deployment (no action row): the facts worth keeping."""

    target: str
    replicas: int | None = None
    revision: int | None = None
    paused: bool = False
    updated: int | None = None
    ready: int | None = None
    available: int | None = None
    rollout: str = ""
    pods: int = 0
    pods_not_ready: int = 0
    restarts: int = 0
    warnings: int = 0
    revisions: Sequence[int] = ()


AboutAction = (
    ActionRequested
    | ActionJoined
    | ActionRefused
    | ActionApproval
    | ActionDenied
    | ActionExpired
    | ActionStarted
    | ActionApplied
    | ActionReconciling
    | ActionReconciled
    | ActionFinished
)
A = TypeVar("A", bound=ActionEntry)


def about(body: A, action: ActionRequest) -> A:
    """``body`` with the facts of ``action`` (as the action is after the step)."""
    return dataclasses.replace(
        body,
        action_id=action.id,
        action=action.describe(),
        verb=action.verb.value,
        target=str(action.target),
        state=action.state.value,
        replicas=action.replicas,
        to_revision=action.to_revision,
    )
