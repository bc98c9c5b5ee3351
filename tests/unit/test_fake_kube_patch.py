"""Patch semantics of the fake Kubernetes API: JSON patch (RFC 6902), JSON merge patch
(RFC 7386) and strategic merge patch as the API server applies them to Deployments."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes.kube.errors import KubeError
from tests.fakes.kube.patch import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    apply_patch,
    json_equal,
    json_patch,
    merge_patch,
)
from tests.fakes.kube.strategic import strategic_merge_patch


def _pod_spec() -> dict[str, Any]:
    return {
        "containers": [
            {
                "name": "app",
                "image": "app:1",
                "args": ["--a"],
                "env": [{"name": "A", "value": "1"}],
            },
            {"name": "sidecar", "image": "proxy:1"},
        ],
        "volumes": [{"name": "data", "emptyDir": {}}],
    }


# -- JSON merge patch ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_follows_rfc_7386(target: Any, patch: Any, result: Any) -> None:
    assert merge_patch(target, patch) == result


# -- JSON patch ------------------------------------------------------------------------------
def test_json_patch_operations_apply_in_order() -> None:
    doc: dict[str, Any] = {"metadata": {"annotations": {"a/b": "1"}}, "spec": {"list": [1, 2]}}
    ops = [
        {"op": "add", "path": "/spec/list/-", "value": 3},
        {"op": "add", "path": "/spec/list/0", "value": 0},
        {"op": "remove", "path": "/spec/list/1"},
        {"op": "replace", "path": "/metadata/annotations/a~1b", "value": "2"},
        {"op": "copy", "from": "/spec/list", "path": "/spec/copy"},
        {"op": "move", "from": "/spec/copy", "path": "/spec/moved"},
        {"op": "test", "path": "/spec/moved", "value": [0, 2, 3]},
    ]
    assert json_patch(doc, ops) == {
        "metadata": {"annotations": {"a/b": "2"}},
        "spec": {"list": [0, 2, 3], "moved": [0, 2, 3]},
    }
    assert doc["spec"]["list"] == [1, 2]  # the input is untouched


@pytest.mark.parametrize(
    ("ops", "code"),
    [
        ([{"op": "test", "path": "/spec/replicas", "value": 4}], 422),
        ([{"op": "test", "path": "/spec/paused", "value": 0}], 422),  # false is not 0
        ([{"op": "replace", "path": "/spec/missing", "value": 1}], 422),
        ([{"op": "remove", "path": "/spec/missing"}], 422),
        ([{"op": "add", "path": "/spec/list/9", "value": 1}], 422),
        ([{"op": "jump", "path": "/spec"}], 400),
        ({"op": "add"}, 400),
    ],
)
def test_json_patch_failures_are_status_errors(ops: Any, code: int) -> None:
    doc = {"spec": {"replicas": 3, "paused": False, "list": []}}
    with pytest.raises(KubeError) as caught:
        json_patch(doc, ops)
    assert caught.value.code == code


def test_a_failing_test_operation_applies_nothing() -> None:
    doc = {"spec": {"replicas": 3}}
    ops = [
        {"op": "replace", "path": "/spec/replicas", "value": 5},
        {"op": "test", "path": "/spec/replicas", "value": 3},
    ]
    with pytest.raises(KubeError):
        json_patch(doc, ops)
    assert doc == {"spec": {"replicas": 3}}


def test_json_equality_distinguishes_booleans_from_numbers() -> None:
    assert json_equal({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert not json_equal(True, 1)
    assert not json_equal({"a": 1}, {"a": 1, "b": None})


# -- strategic merge patch -------------------------------------------------------------------
def test_containers_merge_by_name_and_lists_without_a_key_are_replaced() -> None:
    patch = {
        "containers": [
            {
                "name": "app",
                "image": "app:2",
                "args": ["--b"],
                "env": [{"name": "B", "value": "2"}],
            },
            {"name": "new", "image": "new:1"},
        ]
    }
    result = strategic_merge_patch(_pod_spec(), patch)
    app, sidecar, new = result["containers"]
    assert app == {
        "name": "app",
        "image": "app:2",
        "args": ["--b"],  # no merge key: replaced
        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],  # merged by name
    }
    assert sidecar == {"name": "sidecar", "image": "proxy:1"}
    assert new == {"name": "new", "image": "new:1"}


def test_kubectl_set_image_patch_with_element_order() -> None:
    patch = {
        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
        "containers": [{"name": "app", "image": "app:9"}],
    }
    result = strategic_merge_patch(_pod_spec(), patch)
    assert [(c["name"], c["image"]) for c in result["containers"]] == [
        ("sidecar", "proxy:1"),
        ("app", "app:9"),
    ]


def test_directives_delete_replace_retain_and_null() -> None:
    spec = _pod_spec()
    deleted = strategic_merge_patch(spec, {"containers": [{"name": "sidecar", "$patch": "delete"}]})
    assert [c["name"] for c in deleted["containers"]] == ["app"]
    replaced = strategic_merge_patch(spec, {"volumes": [{"name": "x"}, {"$patch": "replace"}]})
    assert replaced["volumes"] == [{"name": "x"}]
    whole = strategic_merge_patch({"a": {"x": 1, "y": 2}}, {"a": {"$patch": "replace", "z": 3}})
    assert whole == {"a": {"z": 3}}
    gone = strategic_merge_patch({"a": {"x": 1}, "b": 1}, {"a": {"$patch": "delete"}, "b": None})
    assert gone == {}
    retained = strategic_merge_patch(
        {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
        {"$retainKeys": ["type"], "type": "Recreate"},
    )
    assert retained == {"type": "Recreate"}
    union = strategic_merge_patch({"finalizers": ["a"]}, {"finalizers": ["b", "a"]})
    assert union == {"finalizers": ["a", "b"]}
    fewer = strategic_merge_patch(
        {"finalizers": ["a", "b"]}, {"$deleteFromPrimitiveList/finalizers": ["a"]}
    )
    assert fewer == {"finalizers": ["b"]}


def test_apply_patch_dispatches_on_content_type_and_refuses_others() -> None:
    doc = {"spec": {"template": {"spec": _pod_spec()}}}
    smp = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:3"}]}}}}
    merged = apply_patch(doc, smp, STRATEGIC_MERGE_PATCH)
    assert len(merged["spec"]["template"]["spec"]["containers"]) == 2
    replaced = apply_patch(doc, smp, MERGE_PATCH)
    assert replaced["spec"]["template"]["spec"]["containers"] == [{"name": "app", "image": "app:3"}]
    assert apply_patch(doc, [{"op": "remove", "path": "/spec"}], JSON_PATCH) == {}
    with pytest.raises(KubeError) as caught:
        apply_patch(doc, {}, "application/apply-patch+yaml")
    assert caught.value.code == 415


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=2), children, max_size=3)
    ),
    max_leaves=10,
)


@given(
    target=st.dictionaries(st.text(max_size=2), _json, max_size=4),
    patch=st.dictionaries(st.text(max_size=2), _json, max_size=4),
)
def test_merge_patch_is_idempotent(target: dict[str, Any], patch: dict[str, Any]) -> None:
    once = merge_patch(target, patch)
    assert merge_patch(once, patch) == once
    assert merge_patch(copy.deepcopy(target), {}) == target
