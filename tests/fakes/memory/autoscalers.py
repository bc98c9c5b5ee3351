"""HorizontalPodAutoscalers for the in-memory cluster: each governs one deployment, and, as
the HPA controller would, raising its floor above the deployment's replicas scales the
deployment up (by ``MemoryCluster.set_min_replicas``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.domain.autoscaler import Autoscaler
from bot.domain.deployment import ChangeResult
from bot.domain.target import Target
from bot.errors import ClusterError, ClusterUnavailable, NotFound

if TYPE_CHECKING:
    from tests.fakes.memory.cluster import FakeDeployment


@dataclasses.dataclass
class FakeAutoscaler:
    name: str
    min_replicas: int
    max_replicas: int
    resource_version: int = 1

    def read(self) -> Autoscaler:
        return Autoscaler(
            self.name, self.min_replicas, self.max_replicas, str(self.resource_version)
        )


class MemoryAutoscalers:
    """The HPAs, keyed by the deployment they govern."""

    def __init__(self) -> None:
        self.by_target: dict[Target, FakeAutoscaler] = {}

    def add(
        self, ref: Target, *, min_replicas: int = 3, max_replicas: int = 10, name: str = ""
    ) -> FakeAutoscaler:
        hpa = FakeAutoscaler(name or ref.name, min_replicas, max_replicas)
        self.by_target[ref] = hpa
        return hpa

    def get(self, ref: Target) -> FakeAutoscaler:
        return self.by_target[ref]

    def change_min_by_someone_else(self, ref: Target, min_replicas: int) -> None:
        hpa = self.by_target[ref]
        hpa.min_replicas = min_replicas
        hpa.resource_version += 1

    def check(self, ref: Target, name: str, min_replicas: int) -> None:
        """What the actuator refuses: an HPA that is not there, a floor above its maximum."""
        hpa = self.by_target.get(ref)
        if hpa is None or hpa.name != name:
            raise NotFound(f'horizontalpodautoscalers.autoscaling "{name}" not found')
        if min_replicas > hpa.max_replicas:
            raise ClusterError(
                f"minReplicas {min_replicas} is above maxReplicas {hpa.max_replicas}"
            )

    def set_min(
        self, ref: Target, min_replicas: int, deployment: FakeDeployment, *, dry_run: bool
    ) -> ChangeResult:
        """Set the floor; the HPA controller's reaction (scaling up to it) happens at once."""
        hpa = self.by_target[ref]
        before = hpa.min_replicas
        if before == min_replicas:
            return ChangeResult(True, f"HPA already has minReplicas {before}")
        if dry_run:
            return ChangeResult(False, f"would set minReplicas {before} to {min_replicas}")
        hpa.min_replicas = min_replicas
        hpa.resource_version += 1
        if deployment.replicas < min_replicas:
            deployment.replicas = min_replicas
            deployment.change_spec()
        return ChangeResult(False, f"set minReplicas from {before} to {min_replicas}")


class AutoscalerCalls:
    """The HPA methods of the ``Cluster`` port, mixed into ``MemoryCluster``: they use its
    deployments, fault switches and call log. Every scale request looks for an HPA, so the
    lookups go to ``autoscaler_reads``, not ``calls``, which tests of what an approval or an
    execution did to the cluster read."""

    hpas: MemoryAutoscalers
    autoscaler_reads: list[Target]
    unavailable: bool
    _find: Callable[[Target, str], FakeDeployment]
    _before_change: Callable[..., None]
    _after_change: Callable[[str, FakeDeployment, str], None]

    async def autoscaler(self, target: Target) -> Autoscaler | None:
        self.autoscaler_reads.append(target)
        if self.unavailable:
            raise ClusterUnavailable("connection refused")
        hpa = self.hpas.by_target.get(target)
        return None if hpa is None else hpa.read()

    async def set_min_replicas(
        self, target: Target, *, autoscaler: str, min_replicas: int, dry_run: bool = False
    ) -> ChangeResult:
        dep = self._find(target, f"set_min_replicas{' dry-run' if dry_run else ''}")
        self.hpas.check(target, autoscaler, min_replicas)
        self._before_change(dep, None, dry_run=dry_run)
        result = self.hpas.set_min(target, min_replicas, dep, dry_run=dry_run)
        if not result.skipped and not dry_run:
            self._after_change("set_min_replicas", dep, str(min_replicas))
        return result
