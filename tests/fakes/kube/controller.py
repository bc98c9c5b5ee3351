"""A small deployment controller, after the upstream one: finds or creates the ReplicaSet for
the current pod template (reusing an equal one with the next revision), moves replicas from
old to new within maxSurge/maxUnavailable, runs the pods (through ``pods``), and writes
the Deployment's status and conditions (Available, Progressing, ProgressDeadlineExceeded).

Each ``sync`` is one round; the background task or a test's ``step()`` calls it repeatedly.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from tests.fakes.kube.faults import KubeFaults
from tests.fakes.kube.objects import (
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    NOT_COPIED,
    POD_TEMPLATE_HASH,
    REVISION,
    REVISION_HISTORY,
    equal_ignore_hash,
    owned_by,
    owner_reference,
    revision,
    template_hash,
)
from tests.fakes.kube.pods import (
    advance_pod,
    create_pod,
    delete_pod,
    is_ready,
    pods_of,
    record_event,
)
from tests.fakes.kube.state import Obj, ObjectStore
from tests.fakes.kube.status import sync_status


def _scaled(value: Any, desired: int, *, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * desired / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value or 0)


def surge_and_unavailable(deployment: Obj) -> tuple[int, int]:
    """maxSurge (rounded up) and maxUnavailable (rounded down); never both zero."""
    spec = deployment["spec"]
    desired = spec["replicas"]
    rolling = spec.get("strategy", {}).get("rollingUpdate") or {}
    surge = _scaled(rolling.get("maxSurge", "25%"), desired, round_up=True)
    unavailable = _scaled(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, desired)


class DeploymentController:
    def __init__(self, store: ObjectStore, faults: KubeFaults) -> None:
        self.store = store
        self.faults = faults

    def step(self) -> None:
        for deployment in self.store.list("deployments"):
            self.sync(deployment)

    def sync(self, deployment: Obj) -> None:
        namespace = deployment["metadata"]["namespace"]
        owned = [rs for rs in self.store.list("replicasets", namespace) if owned_by(rs, deployment)]
        for rs in owned:
            for pod in pods_of(self.store, rs):
                advance_pod(
                    self.store, pod, hung=rs["metadata"]["uid"] in self.faults.hung_replicasets
                )
        paused = bool(deployment["spec"].get("paused"))
        new, old, started = self._new_replicaset(deployment, owned, create=not paused)
        if paused:
            active = new or max(
                (rs for rs in old if rs["spec"]["replicas"] > 0), key=revision, default=None
            )
            if active is not None:
                self._scale(deployment, active, deployment["spec"]["replicas"])
        elif deployment["spec"]["strategy"]["type"] == "Recreate":
            self._recreate(deployment, new, old)
        else:
            self._rolling(deployment, new, old)
        replicasets = [
            rs for rs in self.store.list("replicasets", namespace) if owned_by(rs, deployment)
        ]
        for rs in replicasets:
            self._run_replicaset(rs)
        self._cleanup(deployment, [rs for rs in replicasets if new is None or rs != new])
        sync_status(self.store, deployment, new, started=started)

    # -- the ReplicaSet for the current template -----------------------------------------
    def _new_replicaset(
        self, deployment: Obj, owned: list[Obj], *, create: bool
    ) -> tuple[Obj | None, list[Obj], str | None]:
        """The ReplicaSet of the current template (if any), the others, and the Progressing
        reason when this round created or re-adopted it."""
        template = deployment["spec"]["template"]
        found = next(
            (rs for rs in owned if equal_ignore_hash(rs["spec"]["template"], template)), None
        )
        old = [rs for rs in owned if found is None or rs is not found]
        if found is None and not create:
            return None, old, None
        next_revision = max((revision(rs) for rs in old), default=0) + 1
        started = None
        if found is None:
            found = self._create_replicaset(deployment, next_revision)
            started = "NewReplicaSetCreated"
        elif revision(found) < next_revision:  # an older template came back: it is new again
            started = "FoundNewReplicaSet"
            annotations = found["metadata"].setdefault("annotations", {})
            history = [h for h in annotations.get(REVISION_HISTORY, "").split(",") if h]
            annotations[REVISION_HISTORY] = ",".join([*history, str(revision(found))])
            annotations[REVISION] = str(next_revision)
        found = self._copy_annotations(deployment, found)
        if deployment["metadata"].setdefault("annotations", {}).get(REVISION) != str(
            revision(found)
        ):
            deployment["metadata"]["annotations"][REVISION] = str(revision(found))
            deployment.update(self.store.update("deployments", deployment))
        return found, old, started

    def _create_replicaset(self, deployment: Obj, number: int) -> Obj:
        meta = deployment["metadata"]
        template = copy.deepcopy(deployment["spec"]["template"])
        digest = template_hash(template)
        template.setdefault("metadata", {}).setdefault("labels", {})[POD_TEMPLATE_HASH] = digest
        selector = copy.deepcopy(deployment["spec"]["selector"])
        selector.setdefault("matchLabels", {})[POD_TEMPLATE_HASH] = digest
        replicaset: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta['name']}-{digest}",
                "namespace": meta["namespace"],
                "labels": dict(template["metadata"]["labels"]),
                "annotations": {REVISION: str(number)},
                "ownerReferences": [owner_reference(deployment)],
            },
            "spec": {"replicas": 0, "selector": selector, "template": template},
            "status": {"replicas": 0},
        }
        if "minReadySeconds" in deployment["spec"]:
            replicaset["spec"]["minReadySeconds"] = deployment["spec"]["minReadySeconds"]
        created = self.store.create("replicasets", replicaset)
        if self.faults.hang_new_rollouts:
            self.faults.hung_replicasets.add(created["metadata"]["uid"])
        return created

    def _copy_annotations(self, deployment: Obj, replicaset: Obj) -> Obj:
        annotations = replicaset["metadata"].setdefault("annotations", {})
        for key, value in deployment["metadata"].get("annotations", {}).items():
            if key not in NOT_COPIED:
                annotations[key] = value
        surge, _ = surge_and_unavailable(deployment)
        desired = deployment["spec"]["replicas"]
        annotations[DESIRED_REPLICAS] = str(desired)
        annotations[MAX_REPLICAS] = str(desired + surge)
        return self.store.update("replicasets", replicaset)

    # -- scaling -------------------------------------------------------------------------
    def _scale(self, deployment: Obj, replicaset: Obj, replicas: int) -> None:
        before = replicaset["spec"]["replicas"]
        if before == replicas:
            return
        replicaset["spec"]["replicas"] = replicas
        replicaset.update(self.store.update("replicasets", replicaset))
        direction = "up" if replicas > before else "down"
        record_event(
            self.store,
            deployment,
            "ScalingReplicaSet",
            f"Scaled {direction} replica set {replicaset['metadata']['name']} from {before} to {replicas}",
            component="deployment-controller",
        )

    def _available(self, replicaset: Obj) -> int:
        return sum(is_ready(pod) for pod in pods_of(self.store, replicaset))

    def _rolling(self, deployment: Obj, new: Obj | None, old: list[Obj]) -> None:
        assert new is not None
        desired = deployment["spec"]["replicas"]
        surge, max_unavailable = surge_and_unavailable(deployment)
        total = sum(rs["spec"]["replicas"] for rs in [new, *old])
        if new["spec"]["replicas"] > desired:
            self._scale(deployment, new, desired)
        elif total < desired + surge:
            wanted = min(desired, new["spec"]["replicas"] + desired + surge - total)
            self._scale(deployment, new, wanted)
        old_total = sum(rs["spec"]["replicas"] for rs in old)
        if old_total == 0:
            return
        min_available = desired - max_unavailable
        new_unavailable = new["spec"]["replicas"] - self._available(new)
        budget = total - min_available - new_unavailable
        old.sort(key=lambda rs: (rs["metadata"]["creationTimestamp"], rs["metadata"]["name"]))
        for rs in old:  # unhealthy old replicas go first, within the budget
            unhealthy = rs["spec"]["replicas"] - self._available(rs)
            cut = min(budget, unhealthy)
            if cut > 0:
                self._scale(deployment, rs, rs["spec"]["replicas"] - cut)
                budget -= cut
        available = sum(self._available(rs) for rs in [new, *old])
        budget = available - min_available
        for rs in old:
            cut = min(budget, rs["spec"]["replicas"])
            if cut > 0:
                self._scale(deployment, rs, rs["spec"]["replicas"] - cut)
                budget -= cut

    def _recreate(self, deployment: Obj, new: Obj | None, old: list[Obj]) -> None:
        assert new is not None
        for rs in old:
            self._scale(deployment, rs, 0)
        if not any(pods_of(self.store, rs) for rs in old):
            self._scale(deployment, new, deployment["spec"]["replicas"])

    # -- ReplicaSet controller -----------------------------------------------------------
    def _run_replicaset(self, replicaset: Obj) -> None:
        pods = pods_of(self.store, replicaset)
        wanted = replicaset["spec"]["replicas"]
        for _ in range(wanted - len(pods)):
            create_pod(self.store, replicaset)
        # Not-ready pods go first, then the youngest, as the ReplicaSet controller prefers.
        pods.sort(key=lambda p: p["metadata"]["creationTimestamp"], reverse=True)
        pods.sort(key=is_ready)
        for pod in pods[: max(0, len(pods) - wanted)]:
            delete_pod(self.store, replicaset, pod)
        pods = pods_of(self.store, replicaset)
        ready = sum(is_ready(pod) for pod in pods)
        status: dict[str, Any] = {"replicas": len(pods), "fullyLabeledReplicas": len(pods)}
        if ready:
            status["readyReplicas"] = ready
            status["availableReplicas"] = ready
        status["observedGeneration"] = replicaset["metadata"]["generation"]
        if replicaset.get("status") != status:
            replicaset["status"] = status
            self.store.update("replicasets", replicaset)

    def _cleanup(self, deployment: Obj, old: list[Obj]) -> None:
        """Keep at most revisionHistoryLimit old ReplicaSets that are scaled to zero."""
        limit = deployment["spec"].get("revisionHistoryLimit", 10)
        idle = sorted(
            (rs for rs in old if rs["spec"]["replicas"] == 0 and not pods_of(self.store, rs)),
            key=revision,
        )
        for rs in idle[: max(0, len(idle) - limit)]:
            self.store.delete("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"])
