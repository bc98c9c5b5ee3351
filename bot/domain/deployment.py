"""What the cluster says about a deployment: its state when read, how a rollout is going, what
a change did, and the read-only diagnosis. Filled by the actuator (``actions/``), compared and
shown by the remediation use cases."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.target import Target


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

    target: Target
    snapshot: TargetSnapshot
    progress: RolloutProgress
    revisions: tuple[tuple[int, str], ...]  # (revision, change-cause or image), oldest first
    pods: tuple[PodSummary, ...] = ()
    events: tuple[EventSummary, ...] = field(default_factory=tuple)
