"""An in-memory fake of the ``bot.ports.Cluster`` port, for unit tests of the action services.

Deployments keep replicas, a pod template, a revision history (as the deployment controller
numbers ReplicaSets: a template that comes back takes the next revision and leaves its old
number), ``generation`` (spec changes) and ``resourceVersion`` (every change, status too).
Rollouts move only when told (``advance``). Fault switches stand in for an unreachable API,
a rejected dry run, a 409, and a crash of the caller in the middle of an apply.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from bot.domain.deployment import (
    ChangeResult,
    Diagnosis,
    PodSummary,
    RolloutProgress,
    TargetSnapshot,
)
from bot.domain.target import Target
from bot.errors import ClusterError, ClusterUnavailable, DryRunRejected, NotFound, TargetChanged
from tests.fakes.memory.autoscalers import AutoscalerCalls, MemoryAutoscalers

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
Template = dict[str, Any]


class SimulatedCrash(BaseException):
    """The calling process dies mid-call (think SIGKILL): nothing in firebreak catches it."""


def template_of(image: str, **annotations: str) -> Template:
    return {"image": image, "annotations": dict(annotations)}


def digest(template: Template) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:16]


@dataclasses.dataclass
class FakeDeployment:
    ref: Target
    replicas: int
    template: Template
    history: dict[int, Template]
    revision: int
    generation: int = 1
    observed_generation: int = 1
    resource_version: int = 1
    paused: bool = False
    updated: int = 0
    available: int = 0

    def snapshot(self) -> TargetSnapshot:
        return TargetSnapshot(
            resource_version=str(self.resource_version),
            generation=self.generation,
            replicas=self.replicas,
            revision=self.revision,
            paused=self.paused,
            restarted_at=self.template["annotations"].get(RESTARTED_AT),
            template_hash=digest(self.template),
        )

    def progress(self, *, failed: bool) -> RolloutProgress:
        observed = self.observed_generation >= self.generation
        desired = self.replicas
        name = self.ref.name
        if not observed:
            message = "Waiting for deployment spec update to be observed..."
        elif self.updated < desired:
            message = (
                f'Waiting for deployment "{name}" rollout to finish: '
                f"{self.updated} out of {desired} new replicas have been updated..."
            )
        elif self.available < desired:
            message = (
                f'Waiting for deployment "{name}" rollout to finish: '
                f"{self.available} of {desired} updated replicas are available..."
            )
        else:
            message = f'deployment "{name}" successfully rolled out'
        done = observed and self.updated == desired and self.available == desired
        if failed and not done:
            message = f'deployment "{name}" exceeded its progress deadline'
        return RolloutProgress(
            desired=desired,
            updated=self.updated,
            ready=self.available,
            available=self.available,
            observed_current=observed,
            done=done,
            message=message,
            failed=failed and not done,
        )

    def change_spec(self) -> None:
        self.generation += 1
        self.resource_version += 1

    def set_template(self, template: Template) -> int:
        """Make ``template`` current as the deployment controller would; its revision."""
        for revision, old in list(self.history.items()):
            if old == template:
                del self.history[revision]
        self.revision = max([*self.history, self.revision]) + 1
        self.history[self.revision] = template
        self.template = template
        self.updated = 0
        self.available = self.replicas
        self.change_spec()
        return self.revision


class MemoryCluster(AutoscalerCalls):
    """The Cluster port in memory. ``applied`` lists every call that changed a deployment."""

    def __init__(self) -> None:
        self.deployments: dict[Target, FakeDeployment] = {}
        self.calls: list[str] = []
        self.applied: list[tuple[str, Target, str]] = []
        self.hpas = MemoryAutoscalers()
        self.autoscaler_reads: list[Target] = []  # apart from ``calls``: see AutoscalerCalls
        # Fault switches.
        self.unavailable = False
        self.reject_dry_run: str | None = None
        self.conflict_on_apply = False
        self.crash_before_apply = False
        self.crash_after_apply = False
        self.unavailable_after_apply = False
        self.rollout_fails = False
        self.stalled = False

    # -- test controls ----------------------------------------------------------------------

    def add(
        self, namespace: str, name: str, *, replicas: int = 3, images: tuple[str, ...] = ("v1",)
    ) -> Target:
        """A settled deployment whose history holds one revision per image, oldest first."""
        ref = Target(namespace, name)
        history = {i + 1: template_of(image) for i, image in enumerate(images)}
        self.deployments[ref] = FakeDeployment(
            ref=ref,
            replicas=replicas,
            template=history[len(images)],
            history=history,
            revision=len(images),
            updated=replicas,
            available=replicas,
        )
        return ref

    def get(self, ref: Target) -> FakeDeployment:
        return self.deployments[ref]

    def advance(self, steps: int = 1) -> None:
        """Let every rollout move ``steps`` pods along (a status update: no new generation)."""
        if self.stalled:
            return
        for dep in self.deployments.values():
            for _ in range(steps):
                before = (dep.observed_generation, dep.updated, dep.available)
                dep.observed_generation = dep.generation
                dep.updated = min(dep.replicas, dep.updated + 1)
                dep.available = min(dep.replicas, max(dep.available, dep.updated))
                if (dep.observed_generation, dep.updated, dep.available) != before:
                    dep.resource_version += 1

    def settle(self) -> None:
        self.advance(max([d.replicas for d in self.deployments.values()], default=0) + 1)

    def scale_by_someone_else(self, ref: Target, replicas: int) -> None:
        dep = self.get(ref)
        dep.replicas = replicas
        dep.updated = min(dep.updated, replicas)
        dep.available = min(dep.available, replicas)
        dep.change_spec()

    def deploy_by_someone_else(self, ref: Target, image: str) -> None:
        self.get(ref).set_template(template_of(image))

    # -- the port ---------------------------------------------------------------------------

    def _find(self, ref: Target, call: str) -> FakeDeployment:
        self.calls.append(f"{call} {ref}")
        if self.unavailable:
            raise ClusterUnavailable("connection refused")
        dep = self.deployments.get(ref)
        if dep is None:
            raise NotFound(f'deployments.apps "{ref.name}" not found')
        return dep

    def _before_change(self, dep: FakeDeployment, expect: str | None, *, dry_run: bool) -> None:
        if expect is not None and expect != str(dep.resource_version):
            raise TargetChanged(
                f'Operation cannot be fulfilled on deployments.apps "{dep.ref.name}": '
                "the object has been modified"
            )
        if dry_run and self.reject_dry_run is not None:
            raise DryRunRejected(self.reject_dry_run)
        if not dry_run and self.conflict_on_apply:
            raise TargetChanged("the object has been modified; please apply your changes again")
        if not dry_run and self.crash_before_apply:
            raise SimulatedCrash("killed before the apply reached the API")

    def _after_change(self, verb: str, dep: FakeDeployment, detail: str) -> None:
        self.applied.append((verb, dep.ref, detail))
        if self.crash_after_apply:
            raise SimulatedCrash("killed after the apply reached the API")
        if self.unavailable_after_apply:
            raise ClusterUnavailable("connection reset while reading the response")

    async def snapshot(self, target: Target) -> TargetSnapshot:
        return self._find(target, "snapshot").snapshot()

    async def scale(self, target: Target, *, replicas: int, dry_run: bool = False) -> ChangeResult:
        dep = self._find(target, f"scale{' dry-run' if dry_run else ''}")
        self._before_change(dep, None, dry_run=dry_run)
        if dep.replicas == replicas:
            return ChangeResult(True, f"already at {replicas} replicas")
        if dry_run:
            return ChangeResult(False, f"would scale to {replicas}")
        dep.replicas = replicas
        dep.updated = min(dep.updated, replicas)
        dep.available = min(dep.available, replicas)
        dep.change_spec()
        self._after_change("scale", dep, str(replicas))
        return ChangeResult(False, f"scaled to {replicas}")

    async def rollback(
        self,
        target: Target,
        *,
        to_revision: int | None = None,
        expect_resource_version: str | None = None,
        dry_run: bool = False,
    ) -> ChangeResult:
        dep = self._find(target, f"rollback{' dry-run' if dry_run else ''}")
        if dep.paused:
            raise ClusterError("you cannot rollback a paused deployment; resume it first")
        wanted = to_revision or max([r for r in dep.history if r < dep.revision], default=0)
        if wanted not in dep.history:
            raise ClusterError(f"unable to find specified revision {wanted} in history")
        self._before_change(dep, expect_resource_version, dry_run=dry_run)
        if dep.history[wanted] == dep.template:
            return ChangeResult(True, f"already at revision {wanted}", revision=dep.revision)
        if dry_run:
            return ChangeResult(False, f"would roll back to revision {wanted}", revision=wanted)
        revision = dep.set_template(dep.history[wanted])
        self._after_change("rollback", dep, str(wanted))
        return ChangeResult(False, f"rolled back to revision {wanted}", revision=revision)

    async def restart(
        self,
        target: Target,
        *,
        restarted_at: str,
        expect_resource_version: str | None = None,
        dry_run: bool = False,
    ) -> ChangeResult:
        dep = self._find(target, f"restart{' dry-run' if dry_run else ''}")
        if dep.template["annotations"].get(RESTARTED_AT) == restarted_at:
            return ChangeResult(True, f"already restarted at {restarted_at}")
        self._before_change(dep, expect_resource_version, dry_run=dry_run)
        if dry_run:
            return ChangeResult(False, "would restart")
        template = json.loads(json.dumps(dep.template))
        template["annotations"][RESTARTED_AT] = restarted_at
        revision = dep.set_template(template)
        self._after_change("restart", dep, restarted_at)
        return ChangeResult(False, f"restarted at {restarted_at}", revision=revision)

    async def rollout(self, target: Target) -> RolloutProgress:
        return self._find(target, "rollout").progress(failed=self.rollout_fails)

    async def diagnose(self, target: Target) -> Diagnosis:
        dep = self._find(target, "diagnose")
        pods = tuple(
            PodSummary(f"{dep.ref.name}-{i}", "Running", i < dep.available, 0)
            for i in range(dep.replicas)
        )
        return Diagnosis(
            target=target,
            snapshot=dep.snapshot(),
            progress=dep.progress(failed=self.rollout_fails),
            revisions=tuple((rev, tpl["image"]) for rev, tpl in sorted(dep.history.items())),
            pods=pods,
        )
