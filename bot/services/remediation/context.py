"""What every remediation use case works with, in one object: the store, the cluster, the
clock, the policy, who may approve, the timings and where rollout progress goes. Built once
by the composition root (``bot/app.py``) and handed to each use case as its first argument."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.domain.action import ProgressCallback
from bot.policy.model import Policy
from bot.ports import Cluster, Directory, Store


@dataclass(frozen=True, slots=True)
class Timings:
    """Seconds: request lifetime, rollout deadline and poll, executor lease, expiry sweep."""

    approval_ttl: float = 600
    rollout_deadline: float = 600
    rollout_poll: float = 2.0
    action_lease: float = 60
    expiry_sweep: float = 30


@dataclass(frozen=True, slots=True)
class RemediationContext:
    """The shared dependencies of the remediation use cases. ``approvers`` are the settings'
    approver entries (what they mean is the ``directory``'s business); ``progress`` is told
    about each look at a rollout being followed (its failures never stop the action)."""

    store: Store
    cluster: Cluster
    clock: Clock
    policy: Policy
    directory: Directory
    approvers: tuple[str, ...] = ()
    timings: Timings = Timings()
    progress: ProgressCallback | None = None
