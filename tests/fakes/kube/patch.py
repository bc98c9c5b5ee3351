"""The three patch formats of the Kubernetes API over plain JSON documents.

- JSON patch (RFC 6902, ``application/json-patch+json``), including ``test`` operations;
- JSON merge patch (RFC 7386, ``application/merge-patch+json``);
- strategic merge patch (``application/strategic-merge-patch+json``), in ``strategic``.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes.kube.errors import KubeError, bad_request
from tests.fakes.kube.strategic import strategic_merge_patch

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: unlike Python's ``==``, ``true`` is not ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if _both_numbers(a, b):
        return bool(a == b)
    return type(a) is type(b) and bool(a == b)


def _both_numbers(a: Any, b: Any) -> bool:
    return isinstance(a, int | float) and isinstance(b, int | float)


def apply_patch(document: dict[str, Any], patch: Any, content_type: str) -> dict[str, Any]:
    """``document`` with ``patch`` applied; the input is not modified."""
    if content_type == JSON_PATCH:
        return json_patch(document, patch)
    if content_type == MERGE_PATCH:
        if not isinstance(patch, dict):
            raise bad_request("a merge patch must be a JSON object")
        result = merge_patch(document, patch)
    elif content_type == STRATEGIC_MERGE_PATCH:
        if not isinstance(patch, dict):
            raise bad_request("a strategic merge patch must be a JSON object")
        result = strategic_merge_patch(document, patch)
    else:
        raise KubeError(
            415,
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{JSON_PATCH}, {MERGE_PATCH}, {STRATEGIC_MERGE_PATCH}",
        )
    if not isinstance(result, dict):
        raise bad_request("the patch replaced the whole object with a non-object")
    return result


# -- JSON merge patch ------------------------------------------------------------------------
def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# -- JSON patch ------------------------------------------------------------------------------
def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"invalid JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _index(container: list[Any], token: str, *, for_add: bool) -> int:
    if token == "-" and for_add:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise _unprocessable(f"invalid array index {token!r}")
    index = int(token)
    if index > len(container) or (index == len(container) and not for_add):
        raise _unprocessable(f"array index {index} out of bounds")
    return index


def _unprocessable(message: str) -> KubeError:
    return KubeError(422, message)


def _parent(document: Any, parts: list[str], path: str) -> Any:
    node = document
    for token in parts[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, for_add=False)]
        else:
            raise _unprocessable(f"doc is missing path: {path!r}")
    return node


def _get(document: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return document
    parent = _parent(document, parts, path)
    token = parts[-1]
    if isinstance(parent, dict):
        if token not in parent:
            raise _unprocessable(f"doc is missing key: {path!r}")
        return parent[token]
    if isinstance(parent, list):
        return parent[_index(parent, token, for_add=False)]
    raise _unprocessable(f"doc is missing path: {path!r}")


def _add(document: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _parent(document, parts, path)
    token = parts[-1]
    if isinstance(parent, dict):
        parent[token] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, token, for_add=True), value)
    else:
        raise _unprocessable(f"doc is missing path: {path!r}")
    return document


def _remove(document: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        raise _unprocessable("cannot remove the whole document")
    parent = _parent(document, parts, path)
    token = parts[-1]
    if isinstance(parent, dict):
        if token not in parent:
            raise _unprocessable(f"remove operation does not apply: doc is missing path: {path!r}")
        del parent[token]
    elif isinstance(parent, list):
        del parent[_index(parent, token, for_add=False)]
    else:
        raise _unprocessable(f"doc is missing path: {path!r}")
    return document


def json_patch(document: dict[str, Any], operations: Any) -> dict[str, Any]:
    """RFC 6902. A failed ``test`` answers 422 like the API server; nothing is applied."""
    if not isinstance(operations, list):
        raise bad_request("a JSON patch must be a JSON array of operations")
    result: Any = copy.deepcopy(document)
    for operation in operations:
        if not isinstance(operation, dict) or not isinstance(operation.get("path"), str):
            raise bad_request(f"invalid JSON patch operation {operation!r}")
        op, path = operation.get("op"), operation["path"]
        if op in ("add", "replace", "test") and "value" not in operation:
            raise bad_request(f"JSON patch operation {op!r} needs a value")
        value = copy.deepcopy(operation.get("value"))
        if op == "add":
            result = _add(result, path, value)
        elif op == "remove":
            result = _remove(result, path)
        elif op == "replace":
            _get(result, path)  # replace needs an existing target
            result = _add(_remove(result, path), path, value) if path else value
        elif op in ("move", "copy"):
            source = operation.get("from")
            if not isinstance(source, str):
                raise bad_request(f"JSON patch operation {op!r} needs 'from'")
            moved = copy.deepcopy(_get(result, source))
            if op == "move":
                result = _remove(result, source)
            result = _add(result, path, moved)
        elif op == "test":
            if not json_equal(_get(result, path), value):
                raise _unprocessable(f"testing value {path} failed: test failed")
        else:
            raise bad_request(f"unknown JSON patch operation {op!r}")
    if not isinstance(result, dict):
        raise bad_request("the patch replaced the whole object with a non-object")
    return result
