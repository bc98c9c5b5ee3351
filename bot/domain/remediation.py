"""Remediation vocabulary shared by the approval services (bot/services) and the Kubernetes
actuator (actions/): what an action targets, what the cluster looked like, how a rollout is
going, and the action state machine."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class ActionVerb(enum.StrEnum):
    """One module per verb in ``actions/``. ``diagnose`` is read-only and needs no approval."""

    SCALE = "scale"
    ROLLBACK = "rollback"
    RESTART = "restart"
    DIAGNOSE = "diagnose"

    @property
    def mutates(self) -> bool:
        return self is not ActionVerb.DIAGNOSE


class ActionState(enum.StrEnum):
    """requested → approved → running → succeeded | failed, or denied | expired."""

    REQUESTED = "requested"
    APPROVED = "approved"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DENIED = "denied"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        return self in _FINAL

    def may_become(self, new: ActionState) -> bool:
        return new in TRANSITIONS[self]


_FINAL = frozenset(
    {ActionState.SUCCEEDED, ActionState.FAILED, ActionState.DENIED, ActionState.EXPIRED}
)

TRANSITIONS: dict[ActionState, frozenset[ActionState]] = {
    ActionState.REQUESTED: frozenset(
        {ActionState.APPROVED, ActionState.DENIED, ActionState.EXPIRED}
    ),
    # An approved action whose target moved before it ran fails ("target changed since
    # approval") and asks for a fresh request; it never silently runs on a different state.
    ActionState.APPROVED: frozenset({ActionState.RUNNING, ActionState.FAILED, ActionState.EXPIRED}),
    ActionState.RUNNING: frozenset({ActionState.SUCCEEDED, ActionState.FAILED}),
    ActionState.SUCCEEDED: frozenset(),
    ActionState.FAILED: frozenset(),
    ActionState.DENIED: frozenset(),
    ActionState.EXPIRED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class DeploymentRef:
    """A Deployment in a namespace. Validated (DNS-1123, allowed by policy) before use."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/deploy/{self.name}"


@dataclass(frozen=True, slots=True)
class TargetSnapshot:
    """The deployment as it was when read: recorded at approval, compared before execution."""

    resource_version: str
    generation: int
    replicas: int
    revision: int  # deployment.kubernetes.io/revision of the deployment (0 if unset)
    paused: bool
    restarted_at: str | None  # the kubectl.kubernetes.io/restartedAt template annotation
    template_hash: str  # a digest of the pod template (without pod-template-hash)


@dataclass(frozen=True, slots=True)
class RolloutProgress:
    """What ``kubectl rollout status`` looks at, and its verdict."""

    desired: int
    updated: int
    ready: int
    available: int
    observed_current: bool  # status.observedGeneration >= metadata.generation
    done: bool
    message: str  # e.g. 'Waiting for rollout to finish: 2 of 6 updated replicas are available...'
    failed: bool = False  # ProgressDeadlineExceeded


@dataclass(frozen=True, slots=True)
class ChangeResult:
    """What a mutating call did. ``skipped`` when the target already was in the wanted state."""

    skipped: bool
    detail: str
    revision: int | None = None


@dataclass(frozen=True, slots=True)
class PodSummary:
    name: str
    phase: str
    ready: bool
    restarts: int


@dataclass(frozen=True, slots=True)
class EventSummary:
    at: datetime | None
    type: str
    reason: str
    message: str
    count: int


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """Read-only facts about a deployment, posted to the incident thread."""

    target: DeploymentRef
    snapshot: TargetSnapshot
    progress: RolloutProgress
    revisions: tuple[tuple[int, str], ...]  # (revision, change-cause or image), oldest first
    pods: tuple[PodSummary, ...] = ()
    events: tuple[EventSummary, ...] = field(default_factory=tuple)
