"""The object store of the fake Kubernetes API: one resourceVersion counter (like etcd's
revision), deep copies in and out, a bounded change log and live watchers."""

from __future__ import annotations

import asyncio
import builtins
import collections
import copy
import dataclasses
import random
import uuid
from collections.abc import Callable
from typing import Any

from tests.fakes.kube.errors import KubeError, already_exists, not_found
from tests.fakes.kube.objects import SAFE_ALPHABET, timestamp

Obj = dict[str, Any]
# resource → API group ("" for core), for error messages.
GROUPS = {
    "deployments": "apps",
    "replicasets": "apps",
    "pods": "",
    "events": "",
    "horizontalpodautoscalers": "autoscaling",
}
# Resources whose spec changes bump metadata.generation.
GENERATIONS = frozenset({"deployments", "replicasets"})
LOG_SIZE = 10_000


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """One stored change, as a watch sends it."""

    resource_version: int
    resource: str
    type: str  # ADDED, MODIFIED, DELETED
    object: Obj


class Watcher:
    """A live watch: changes of one resource (optionally one namespace) queue up here."""

    def __init__(self, resource: str, namespace: str | None) -> None:
        self.resource = resource
        self.namespace = namespace
        self.queue: asyncio.Queue[Change | None] = asyncio.Queue()

    def wants(self, change: Change) -> bool:
        namespace = change.object["metadata"].get("namespace")
        return change.resource == self.resource and self.namespace in (None, namespace)


class ObjectStore:
    def __init__(self, *, clock: Callable[[], float], seed: int = 0) -> None:
        self.clock = clock
        self.random = random.Random(seed)
        self.revision = 1
        self._objects: dict[str, dict[tuple[str, str], Obj]] = collections.defaultdict(dict)
        self.changes: collections.deque[Change] = collections.deque(maxlen=LOG_SIZE)
        self.watchers: set[Watcher] = set()

    # -- reads -----------------------------------------------------------------------------
    def get(self, resource: str, namespace: str, name: str) -> Obj:
        found = self._objects[resource].get((namespace, name))
        if found is None:
            raise not_found(resource, GROUPS.get(resource, ""), name)
        return copy.deepcopy(found)

    def find(self, resource: str, namespace: str, name: str) -> Obj | None:
        found = self._objects[resource].get((namespace, name))
        return copy.deepcopy(found) if found is not None else None

    def list(self, resource: str, namespace: str | None = None) -> list[Obj]:
        return [
            copy.deepcopy(obj)
            for (ns, _), obj in sorted(self._objects[resource].items())
            if namespace in (None, ns)
        ]

    def namespaces(self) -> builtins.list[str]:
        return sorted({ns for objects in self._objects.values() for ns, _ in objects})

    def suffix(self, length: int = 5) -> str:
        return "".join(self.random.choice(SAFE_ALPHABET) for _ in range(length))

    # -- writes ----------------------------------------------------------------------------
    def _bump(self) -> str:
        self.revision += 1
        return str(self.revision)

    def create(self, resource: str, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + self.suffix()
        key = (meta.get("namespace", ""), meta["name"])
        if key in self._objects[resource]:
            raise already_exists(resource, GROUPS.get(resource, ""), meta["name"])
        meta["uid"] = str(uuid.UUID(int=self.random.getrandbits(128), version=4))
        meta["creationTimestamp"] = timestamp(self.clock())
        meta["resourceVersion"] = self._bump()
        if resource in GENERATIONS:
            meta["generation"] = 1
        self._objects[resource][key] = obj
        self._notify(resource, "ADDED", obj)
        return copy.deepcopy(obj)

    def update(self, resource: str, obj: Obj) -> Obj:
        """Store ``obj`` over the current version; a no-op write keeps the resourceVersion.

        The caller checks preconditions; identity and creation fields are kept from the
        stored object, and ``generation`` follows spec changes.
        """
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        current = self._objects[resource].get(key)
        if current is None:
            raise not_found(resource, GROUPS.get(resource, ""), meta["name"])
        obj = copy.deepcopy(obj)
        meta = obj["metadata"]
        for field in ("uid", "creationTimestamp", "resourceVersion", "generation"):
            if field in current["metadata"]:
                meta[field] = current["metadata"][field]
        if resource in GENERATIONS and obj.get("spec") != current.get("spec"):
            meta["generation"] = current["metadata"].get("generation", 0) + 1
        if obj == current:
            return copy.deepcopy(current)
        meta["resourceVersion"] = self._bump()
        self._objects[resource][key] = obj
        self._notify(resource, "MODIFIED", obj)
        return copy.deepcopy(obj)

    def delete(self, resource: str, namespace: str, name: str) -> Obj:
        obj = self._objects[resource].pop((namespace, name), None)
        if obj is None:
            raise not_found(resource, GROUPS.get(resource, ""), name)
        obj["metadata"]["resourceVersion"] = self._bump()
        self._notify(resource, "DELETED", obj)
        return copy.deepcopy(obj)

    # -- watch -----------------------------------------------------------------------------
    def _notify(self, resource: str, kind: str, obj: Obj) -> None:
        change = Change(int(obj["metadata"]["resourceVersion"]), resource, kind, copy.deepcopy(obj))
        self.changes.append(change)
        for watcher in self.watchers:
            if watcher.wants(change):
                watcher.queue.put_nowait(change)

    def changes_since(
        self, resource: str, namespace: str | None, since: int
    ) -> builtins.list[Change]:
        """Stored changes after ``since``; 410 Gone when the log no longer reaches back."""
        if self.changes and since < self.changes[0].resource_version - 1:
            raise KubeError(410, f"too old resource version: {since} ({self.revision})")
        probe = Watcher(resource, namespace)
        return [c for c in self.changes if c.resource_version > since and probe.wants(c)]

    def close_watchers(self) -> None:
        for watcher in self.watchers:
            watcher.queue.put_nowait(None)
