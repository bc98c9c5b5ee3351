"""A minimal OpenAPI v2 document in protobuf, for kubectl 1.20 (Debian bookworm).

Before a ``--dry-run=server`` patch, that kubectl downloads ``/openapi/v2`` (protobuf only) and
checks that the PATCH operation of the resource's group/version/kind takes a ``dryRun`` query
parameter. The document holds just that: for each served kind, one path whose PATCH operation
carries the ``x-kubernetes-group-version-kind`` extension and the ``dryRun`` parameter. Newer
kubectl versions do not ask for it.

Field numbers are those of gnostic's ``openapi.v2`` messages (Document, Paths, PathItem,
Operation, ParametersItem, Parameter, NonBodyParameter, QueryParameterSubSchema, NamedAny, Any).
"""

from __future__ import annotations

# kubectl asks with "...spec.v2@v1.0+protobuf"; the answer's type has a dot instead of the "@",
# which Go's media type parser would reject.
PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"

_PATCHABLE = [
    ("/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "apps", "v1", "Deployment"),
    ("/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", "autoscaling", "v1", "Scale"),
    (
        "/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/{name}",
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
    ),
]


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _message(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2): strings and embedded messages."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _text(number: int, value: str) -> bytes:
    return _message(number, value.encode())


def _patch_path(path: str, group: str, version: str, kind: str) -> bytes:
    query = _text(2, "query") + _text(4, "dryRun") + _text(6, "string")
    parameter = _message(1, _message(2, _message(3, query)))  # ParametersItem → NonBody → Query
    gvk = f"group: {group}\nkind: {kind}\nversion: {version}\n"
    extension = _text(1, "x-kubernetes-group-version-kind") + _message(2, _text(2, gvk))
    operation = _text(5, f"patch{kind}") + _message(8, parameter) + _message(13, extension)
    return _text(1, path) + _message(2, _message(8, operation))  # NamedPathItem → PathItem.patch


def openapi_v2() -> bytes:
    """The serialized ``openapi.v2.Document``."""
    info = _text(1, "Kubernetes") + _text(2, "v1.32.0")
    paths = b"".join(_message(2, _patch_path(*entry)) for entry in _PATCHABLE)
    return _text(1, "2.0") + _message(2, info) + _message(8, paths)
