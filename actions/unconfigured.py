"""The cluster when firebreak has no Kubernetes access (``make run`` on a laptop): every call
says so, and nothing pretends to have acted."""

from __future__ import annotations

from bot.domain.autoscaler import Autoscaler
from bot.domain.deployment import ChangeResult, Diagnosis, RolloutProgress, TargetSnapshot
from bot.domain.target import Target
from bot.errors import ClusterUnavailable

MESSAGE = "Kubernetes is not configured for firebreak (set KUBECONFIG or run it in a pod)"


class UnconfiguredCluster:
    """A ``Cluster`` that refuses everything with ``ClusterUnavailable``."""

    def __init__(self, reason: str = MESSAGE) -> None:
        self.reason = reason

    async def snapshot(self, target: Target) -> TargetSnapshot:
        raise ClusterUnavailable(self.reason)

    async def scale(self, target: Target, *, replicas: int, dry_run: bool = False) -> ChangeResult:
        raise ClusterUnavailable(self.reason)

    async def rollback(
        self,
        target: Target,
        *,
        to_revision: int | None = None,
        expect_resource_version: str | None = None,
        dry_run: bool = False,
    ) -> ChangeResult:
        raise ClusterUnavailable(self.reason)

    async def restart(
        self,
        target: Target,
        *,
        restarted_at: str,
        expect_resource_version: str | None = None,
        dry_run: bool = False,
    ) -> ChangeResult:
        raise ClusterUnavailable(self.reason)

    async def rollout(self, target: Target) -> RolloutProgress:
        raise ClusterUnavailable(self.reason)

    async def diagnose(self, target: Target) -> Diagnosis:
        raise ClusterUnavailable(self.reason)

    async def autoscaler(self, target: Target) -> Autoscaler | None:
        raise ClusterUnavailable(self.reason)

    async def set_min_replicas(
        self, target: Target, *, autoscaler: str, min_replicas: int, dry_run: bool = False
    ) -> ChangeResult:
        raise ClusterUnavailable(self.reason)

    async def close(self) -> None:
        return None
