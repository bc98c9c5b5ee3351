"""Remediation's view of the world: the action rows, the cluster it acts on, and who may approve."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bot.domain.action import ActionRequest, ActionState, NewAction
from bot.domain.actor import Actor
from bot.domain.autoscaler import Autoscaler
from bot.domain.deployment import ChangeResult, Diagnosis, RolloutProgress, TargetSnapshot
from bot.domain.target import Target


class ActionRepository(Protocol):
    """Action requests. Every change is a compare-and-set in SQL (``UPDATE … WHERE state =
    expected AND version = expected``); uniqueness lives in partial unique indexes."""

    async def open_or_existing(self, new: NewAction) -> tuple[ActionRequest, bool]:
        """Store ``new`` unless the target already has an open (requested, approved, running)
        action of the same verb; then return that one. Returns ``(action, created)``."""
        ...

    async def get(self, action_id: int) -> ActionRequest | None: ...

    async def update(self, current: ActionRequest, changed: ActionRequest) -> ActionRequest | None:
        """Write ``changed`` if the stored row still has ``current``'s state and version.

        Returns the stored action (version bumped), or ``None`` when another writer got there
        first. Raises ``Conflict`` when the write would break a uniqueness rule (a second
        running action on one deployment)."""
        ...

    async def renew_lease(self, action_id: int, *, owner: str, until: datetime) -> bool:
        """Extend a running action's lease; ``False`` if ``owner`` no longer holds it."""
        ...

    async def running_on(self, target: Target) -> ActionRequest | None:
        """The running action on a deployment, if any."""
        ...

    async def in_states(self, states: frozenset[ActionState]) -> Sequence[ActionRequest]:
        """Every action in one of ``states``, oldest first."""
        ...

    async def for_incident(self, incident_id: int) -> Sequence[ActionRequest]:
        """The actions an incident owns, oldest first."""
        ...


class Cluster(Protocol):
    """The Kubernetes operations remediation needs. ``actions/`` implements it over
    kubernetes_asyncio; errors arrive as ``ClusterError`` subclasses (``DryRunRejected``,
    ``TargetChanged``, ``ClusterUnavailable``, ``NotFound``).

    Every mutating method first runs the same request with ``dryRun=All`` when ``dry_run`` is
    true and stops there; callers call it twice (dry run, then for real).
    """

    async def snapshot(self, target: Target) -> TargetSnapshot: ...

    async def scale(self, target: Target, *, replicas: int, dry_run: bool = False) -> ChangeResult:
        """Set ``spec.replicas`` through the scale subresource (absolute; 409s retried)."""
        ...

    async def rollback(
        self,
        target: Target,
        *,
        to_revision: int | None = None,
        expect_resource_version: str | None = None,
        dry_run: bool = False,
    ) -> ChangeResult:
        """What ``kubectl rollout undo`` does; refuses a paused deployment."""
        ...

    async def restart(
        self,
        target: Target,
        *,
        restarted_at: str,
        expect_resource_version: str | None = None,
        dry_run: bool = False,
    ) -> ChangeResult:
        """Stamp ``kubectl.kubernetes.io/restartedAt``; skipped when it already has that value."""
        ...

    async def rollout(self, target: Target) -> RolloutProgress:
        """One look at the rollout, judged as ``kubectl rollout status`` does."""
        ...

    async def diagnose(self, target: Target) -> Diagnosis: ...

    async def autoscaler(self, target: Target) -> Autoscaler | None:
        """The HorizontalPodAutoscaler governing the deployment (named like it, its
        ``scaleTargetRef`` that Deployment), or ``None`` when there is none."""
        ...

    async def set_min_replicas(
        self, target: Target, *, autoscaler: str, min_replicas: int, dry_run: bool = False
    ) -> ChangeResult:
        """Set the ``minReplicas`` of the HPA ``autoscaler`` that governs ``target``
        (absolute; 409s retried); ``BadRequest`` above its ``maxReplicas``."""
        ...


class Directory(Protocol):
    """Whether an approver list admits an actor; the chat adapter implements it (for Slack:
    user ids and user groups)."""

    async def admits(self, actor: Actor, entries: Sequence[str]) -> bool:
        """``True`` when one of ``entries`` names ``actor`` (directly or by a group)."""
        ...
