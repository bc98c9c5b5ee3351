"""Pod template comparison as the deployment controller and kubectl see it: two templates are
the same when they differ only in the ``pod-template-hash`` label a ReplicaSet adds."""

from __future__ import annotations

import copy
import hashlib
import json

from actions.objects import POD_TEMPLATE_HASH_LABEL, JsonObject, mapping


def without_hash(template: JsonObject) -> JsonObject:
    """A deep copy of ``template`` without the ``pod-template-hash`` label (and without an
    empty ``labels`` map left behind, which the API would not keep either)."""
    clean = copy.deepcopy(template)
    metadata = clean.get("metadata")
    if isinstance(metadata, dict):
        labels = metadata.get("labels")
        if isinstance(labels, dict):
            labels.pop(POD_TEMPLATE_HASH_LABEL, None)
            if not labels:
                del metadata["labels"]
    return clean


def equal_ignoring_hash(a: JsonObject, b: JsonObject) -> bool:
    return _canonical(without_hash(a)) == _canonical(without_hash(b))


def template_digest(template: JsonObject) -> str:
    """A stable digest of the pod template (without ``pod-template-hash``): it changes exactly
    when the deployment would roll out new pods."""
    return hashlib.sha256(_canonical(without_hash(template)).encode()).hexdigest()[:16]


def pod_template(workload: JsonObject) -> JsonObject:
    """``spec.template`` of a Deployment or ReplicaSet."""
    return mapping(workload, "spec", "template")


def _canonical(value: JsonObject) -> str:
    return json.dumps(_pruned(value), sort_keys=True, separators=(",", ":"))


def _pruned(value: object) -> object:
    """``value`` without null, empty string, empty map and empty list members: the API omits
    them, and kubectl's semantic comparison treats empty and missing alike."""
    if isinstance(value, dict):
        pruned = {key: _pruned(member) for key, member in value.items()}
        return {key: member for key, member in pruned.items() if not _is_empty(member)}
    if isinstance(value, list):
        return [_pruned(member) for member in value]
    return value


def _is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str | dict | list) and len(value) == 0)
