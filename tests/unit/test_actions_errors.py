"""Library errors become the project's cluster errors, keeping the API's message; targets
and parameters are checked before anything reaches the cluster."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio.client.exceptions import ApiException

from actions.api import label_selector
from actions.errors import api_message, from_exception, from_status
from actions.rollback import undo_patch
from actions.targets import check_target
from bot.domain.action import check_replicas, check_revision
from bot.domain.target import Target
from bot.errors import (
    BadRequest,
    ClusterError,
    ClusterUnavailable,
    DryRunRejected,
    Forbidden,
    NotFound,
    TargetChanged,
)


def status_body(code: int, message: str) -> bytes:
    return json.dumps(
        {"kind": "Status", "status": "Failure", "message": message, "code": code}
    ).encode()


@pytest.mark.parametrize(
    ("status", "dry_run", "kind"),
    [
        (404, False, NotFound),
        (404, True, NotFound),
        (409, False, TargetChanged),
        (409, True, TargetChanged),
        (500, False, ClusterUnavailable),
        (503, True, ClusterUnavailable),
        (429, False, ClusterUnavailable),
        (422, True, DryRunRejected),
        (403, True, DryRunRejected),
        (422, False, ClusterError),
    ],
)
def test_statuses_map_to_errors(status: int, dry_run: bool, kind: type[Exception]) -> None:
    error = from_status(status, status_body(status, "the reason"), what="patch x", dry_run=dry_run)
    assert type(error) is kind
    assert "the reason" in str(error)


def test_a_rejected_dry_run_carries_the_api_message() -> None:
    message = 'admission webhook "policy.example" denied the request: image not signed'
    error = from_status(400, status_body(400, message), what="patch x", dry_run=True)
    assert isinstance(error, DryRunRejected)
    assert message in str(error)


def test_bodies_that_are_not_a_status_still_give_a_message() -> None:
    assert api_message(b"upstream connect error", fallback="x") == "upstream connect error"
    assert api_message(b"", fallback="HTTP 502") == "HTTP 502"
    assert api_message(b"[1]", fallback="HTTP 500") == "HTTP 500"


def test_library_exceptions_are_translated() -> None:
    api = ApiException(status=409, reason="Conflict")
    api.body = status_body(409, "the object has been modified")
    assert isinstance(from_exception(api, what="w", dry_run=False), TargetChanged)
    refused = aiohttp.ClientConnectionError("connection refused")
    assert isinstance(from_exception(refused, what="w", dry_run=False), ClusterUnavailable)
    assert isinstance(from_exception(TimeoutError(), what="w", dry_run=True), ClusterUnavailable)
    unprepared = ApiException(status=0, reason="Cannot prepare a request message")
    assert type(from_exception(unprepared, what="w", dry_run=False)) is ClusterError


@pytest.mark.parametrize("namespace", ["kube-system", "kube-public", "kube-node-lease"])
def test_system_namespaces_are_forbidden(namespace: str) -> None:
    with pytest.raises(Forbidden):
        check_target(Target(namespace, "coredns"))


@pytest.mark.parametrize(
    ("namespace", "name"),
    [("Prod", "lnn"), ("prod", "lnn_service"), ("prod", "-lnn"), ("a" * 64, "lnn"), ("", "x")],
)
def test_names_kubernetes_would_reject_are_refused(namespace: str, name: str) -> None:
    with pytest.raises(BadRequest):
        check_target(Target(namespace, name))


def test_valid_names_pass() -> None:
    target = Target("production", "lnn-service.v2")
    assert check_target(target) is target


def test_label_selector_renders_labels_and_expressions() -> None:
    deployment: dict[str, Any] = {
        "spec": {
            "selector": {
                "matchLabels": {"app": "lnn", "tier": "api"},
                "matchExpressions": [
                    {"key": "env", "operator": "In", "values": ["prod", "canary"]},
                    {"key": "skip", "operator": "DoesNotExist"},
                    {"key": "zone", "operator": "NotIn", "values": ["b"]},
                    {"key": "owner", "operator": "Exists"},
                ],
            }
        }
    }
    assert label_selector(deployment) == (
        "app=lnn,tier=api,env in (canary,prod),!skip,zone notin (b),owner"
    )


def test_undo_patch_restores_the_template_and_annotations_as_kubectl_does() -> None:
    deployment = {
        "metadata": {
            "annotations": {
                "deployment.kubernetes.io/revision": "3",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
                "kubernetes.io/change-cause": "bump to 3",
                "team": "ml",
            }
        }
    }
    replicaset: dict[str, Any] = {
        "metadata": {
            "annotations": {
                "deployment.kubernetes.io/revision": "2",
                "deployment.kubernetes.io/desired-replicas": "4",
                "deployment.kubernetes.io/max-replicas": "5",
                "kubernetes.io/change-cause": "bump to 2",
            }
        },
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "lnn", "pod-template-hash": "h2"}},
                "spec": {"containers": [{"name": "lnn", "image": "lnn:2"}]},
            }
        },
    }
    patch = undo_patch(deployment, replicaset, resource_version="41")
    assert patch == [
        {"op": "replace", "path": "/metadata/resourceVersion", "value": "41"},
        {
            "op": "replace",
            "path": "/spec/template",
            "value": {
                "metadata": {"labels": {"app": "lnn"}},
                "spec": {"containers": [{"name": "lnn", "image": "lnn:2"}]},
            },
        },
        {
            "op": "replace",
            "path": "/metadata/annotations",
            # The deployment keeps its own bookkeeping; everything else comes from the
            # ReplicaSet (an annotation only the deployment had is dropped, as with kubectl).
            "value": {
                "deployment.kubernetes.io/revision": "3",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
                "kubernetes.io/change-cause": "bump to 2",
            },
        },
    ]
    assert replicaset["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == "h2"


def test_arguments_are_checked_by_the_one_rule() -> None:
    # The request use case and the actuator's last-line guard both call these.
    assert check_replicas(6) == 6
    assert check_replicas(0) == 0
    assert check_revision(2) == 2
    for replicas in (None, -1, True, "6", 6.0):
        with pytest.raises(BadRequest):
            check_replicas(replicas)
    for revision in (None, 0, -2, True, "2"):
        with pytest.raises(BadRequest):
            check_revision(revision)
