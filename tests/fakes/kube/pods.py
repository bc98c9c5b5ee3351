"""Pods and Events for the fake Kubernetes API: what the ReplicaSet controller and a kubelet
would do (create and delete pods, start them, report readiness), and event recording."""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes.kube.objects import owned_by, owner_reference, parse_timestamp, timestamp
from tests.fakes.kube.state import Obj, ObjectStore

NODE = "fake-node-1"
CRASH_BACKOFF = 10  # seconds between restarts of a crash-looping container


def record_event(
    store: ObjectStore,
    involved: Obj,
    reason: str,
    message: str,
    *,
    component: str,
    type_: str = "Normal",
) -> None:
    """An Event about ``involved``; a repeat of the same reason and message bumps ``count``."""
    meta = involved["metadata"]
    now = timestamp(store.clock())
    for event in store.list("events", meta["namespace"]):
        if (
            event["involvedObject"].get("uid") == meta["uid"]
            and event["reason"] == reason
            and event["message"] == message
        ):
            event["count"] = event.get("count", 1) + 1
            event["lastTimestamp"] = now
            store.update("events", event)
            return
    store.create(
        "events",
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta['name']}.{store.random.getrandbits(64):016x}",
                "namespace": meta["namespace"],
            },
            "involvedObject": {
                "apiVersion": involved["apiVersion"],
                "kind": involved["kind"],
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta["uid"],
                "resourceVersion": meta.get("resourceVersion", ""),
            },
            "reason": reason,
            "message": message,
            "source": {"component": component},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": type_,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": "",
        },
    )


def pods_of(store: ObjectStore, replicaset: Obj) -> list[Obj]:
    namespace = replicaset["metadata"]["namespace"]
    return [pod for pod in store.list("pods", namespace) if owned_by(pod, replicaset)]


def is_ready(pod: Obj) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in pod.get("status", {}).get("conditions", [])
    )


def _conditions(now: str, *, ready: bool) -> list[dict[str, Any]]:
    def condition(kind: str, ok: bool) -> dict[str, Any]:
        return {
            "type": kind,
            "status": "True" if ok else "False",
            "lastProbeTime": None,
            "lastTransitionTime": now,
        }

    return [
        condition("Initialized", True),
        condition("Ready", ready),
        condition("ContainersReady", ready),
        condition("PodScheduled", True),
    ]


def _container_statuses(pod: Obj, *, state: str, restarts: int, now: str) -> list[Obj]:
    statuses = []
    for container in pod["spec"].get("containers", []):
        if state == "running":
            detail: dict[str, Any] = {"running": {"startedAt": now}}
        elif state == "crashing":
            message = (
                f"back-off {CRASH_BACKOFF}s restarting failed container={container['name']} "
                f"pod={pod['metadata']['name']}"
            )
            detail = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
        else:
            detail = {"waiting": {"reason": "ContainerCreating"}}
        statuses.append(
            {
                "name": container["name"],
                "image": container.get("image", ""),
                "imageID": "",
                "ready": state == "running",
                "restartCount": restarts,
                "started": state == "running",
                "state": detail,
                "lastState": {},
            }
        )
    return statuses


def create_pod(store: ObjectStore, replicaset: Obj) -> None:
    template = copy.deepcopy(replicaset["spec"]["template"])
    meta = template.get("metadata", {})
    now = timestamp(store.clock())
    pod: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            **meta,
            "name": f"{replicaset['metadata']['name']}-{store.suffix()}",
            "generateName": f"{replicaset['metadata']['name']}-",
            "namespace": replicaset["metadata"]["namespace"],
            "ownerReferences": [owner_reference(replicaset)],
        },
        "spec": {**template.get("spec", {}), "nodeName": NODE},
        "status": {
            "phase": "Pending",
            "conditions": _conditions(now, ready=False),
            "hostIP": "10.0.0.1",
            "qosClass": "BestEffort",
            "startTime": now,
        },
    }
    pod["status"]["containerStatuses"] = _container_statuses(
        pod, state="creating", restarts=0, now=now
    )
    created = store.create("pods", pod)
    record_event(
        store,
        replicaset,
        "SuccessfulCreate",
        f"Created pod: {created['metadata']['name']}",
        component="replicaset-controller",
    )


def delete_pod(store: ObjectStore, replicaset: Obj, pod: Obj) -> None:
    name = pod["metadata"]["name"]
    store.delete("pods", pod["metadata"]["namespace"], name)
    record_event(
        store,
        replicaset,
        "SuccessfulDelete",
        f"Deleted pod: {name}",
        component="replicaset-controller",
    )


def advance_pod(store: ObjectStore, pod: Obj, *, hung: bool) -> None:
    """The kubelet's turn: a pending pod starts and becomes ready; a hung one crash-loops,
    its restart count growing with the clock (so a settled fake stays settled)."""
    status = pod["status"]
    now_epoch = store.clock()
    now = timestamp(now_epoch)
    restarts = 1 + int((now_epoch - parse_timestamp(status["startTime"])) // CRASH_BACKOFF)
    if status["phase"] == "Pending" or (not hung and not is_ready(pod)):
        status["phase"] = "Running"
        status.setdefault("podIP", f"10.244.0.{store.random.randint(2, 250)}")
        status["podIPs"] = [{"ip": status["podIP"]}]
        status["conditions"] = _conditions(now, ready=not hung)
        status["containerStatuses"] = _container_statuses(
            pod, state="crashing" if hung else "running", restarts=restarts if hung else 0, now=now
        )
    elif not hung or all(s["restartCount"] == restarts for s in status["containerStatuses"]):
        return
    else:
        for container_status in status["containerStatuses"]:
            container_status["restartCount"] = restarts
    store.update("pods", pod)
    if hung:
        container = pod["spec"]["containers"][0]["name"]
        message = (
            f"Back-off restarting failed container {container} in pod {pod['metadata']['name']}"
        )
        record_event(store, pod, "BackOff", message, component="kubelet", type_="Warning")
