"""Strategic merge patch (``application/strategic-merge-patch+json``): lists of objects are
merged by their merge key (containers by ``name``, ...), with the ``$patch``, ``$retainKeys``,
``$setElementOrder/`` and ``$deleteFromPrimitiveList/`` directives.

The strategy of a list is looked up by field name, which is exact for the types the fake
serves (Deployment, Scale, Pod template).
"""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes.kube.errors import bad_request

# Field name → merge key, from the patchMergeKey tags of the Kubernetes API types.
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "ports": "containerPort",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "ownerReferences": "uid",
    "conditions": "type",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "schedulingGates": "name",
}
# Lists of scalars with patchStrategy=merge (union instead of replace).
MERGED_SCALAR_LISTS = frozenset({"finalizers"})


# -- strategic merge patch ---------------------------------------------------------------------
_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVES = "$deleteFromPrimitiveList/"


def strategic_merge_patch(original: Any, patch: dict[str, Any]) -> Any:
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    body = {k: v for k, v in patch.items() if k != "$patch"}
    if directive == "replace":
        return _without_directives(body)
    if directive not in (None, "merge"):
        raise bad_request(f"unknown patch type {directive!r} in strategic merge patch")
    result: dict[str, Any] = copy.deepcopy(original) if isinstance(original, dict) else {}
    retain = body.pop("$retainKeys", None)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    orders = {k[len(_ORDER) :]: v for k, v in body.items() if k.startswith(_ORDER)}
    for key, value in body.items():
        if key.startswith(_ORDER):
            continue
        if key.startswith(_DELETE_PRIMITIVES):
            field = key[len(_DELETE_PRIMITIVES) :]
            if isinstance(result.get(field), list) and isinstance(value, list):
                result[field] = [item for item in result[field] if item not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge_patch(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value)
        else:
            result[key] = value
    for field, order in orders.items():
        if isinstance(result.get(field), list) and isinstance(order, list):
            result[field] = _ordered(field, result[field], order)
    return result


def _without_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_without_directives(item) for item in value]
    return value


def _merge_list(field: str, original: Any, patch: list[Any]) -> list[Any]:
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [
            _without_directives(item)
            for item in patch
            if not (isinstance(item, dict) and "$patch" in item)
        ]
    current = list(copy.deepcopy(original)) if isinstance(original, list) else []
    if field in MERGED_SCALAR_LISTS:
        return current + [item for item in patch if item not in current]
    key = MERGE_KEYS.get(field)
    if key is None or not all(isinstance(item, dict) for item in patch):
        return [_without_directives(item) for item in patch]
    for item in patch:
        position = next(
            (
                i
                for i, old in enumerate(current)
                if isinstance(old, dict) and key in item and old.get(key) == item[key]
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if position is not None:
                del current[position]
        elif position is None:
            current.append(_without_directives(item))
        else:
            current[position] = strategic_merge_patch(current[position], item)
    return current


def _ordered(field: str, items: list[Any], order: list[Any]) -> list[Any]:
    key = MERGE_KEYS.get(field)

    def identity(item: Any) -> Any:
        return item.get(key) if key is not None and isinstance(item, dict) else item

    wanted = [identity(entry) for entry in order]
    ranked = [item for name in wanted for item in items if identity(item) == name]
    return ranked + [item for item in items if identity(item) not in wanted]
