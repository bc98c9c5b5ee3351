"""The rendered manifests (real ``kubectl kustomize``, the base and every overlay) give the
bot exactly the least privilege remediation needs, in its own namespace, and run the LNN
service as the deployment guide says (3 to 10 replicas under an autoscaler)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.manifests import BASE, of_kind, only, overlays, render

NAMESPACE = "firebreak"

EXPECTED_RULES = {
    ("apps", "deployments", "get"),
    ("apps", "deployments", "list"),
    ("apps", "deployments", "watch"),
    ("apps", "replicasets", "get"),
    ("apps", "replicasets", "list"),
    ("apps", "replicasets", "watch"),
    ("", "pods", "get"),
    ("", "pods", "list"),
    ("", "pods", "watch"),
    ("", "events", "get"),
    ("", "events", "list"),
    ("", "events", "watch"),
    ("apps", "deployments", "patch"),
    ("apps", "deployments/scale", "patch"),
    # Scaling an autoscaled deployment raises (and later restores) its HPA's minReplicas.
    ("autoscaling", "horizontalpodautoscalers", "get"),
    ("autoscaling", "horizontalpodautoscalers", "patch"),
}


@pytest.fixture(
    scope="module", params=[BASE, *overlays()], ids=lambda path: str(path.relative_to(BASE.parent))
)
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    directory: Path = request.param
    return render(directory)


@pytest.mark.binary
def test_the_role_grants_exactly_the_remediation_rules(rendered: list[dict[str, Any]]) -> None:
    role = only(rendered, "Role")
    assert role["metadata"]["namespace"] == NAMESPACE
    granted = set()
    for rule in role["rules"]:
        assert set(rule) <= {"apiGroups", "resources", "verbs"}, rule  # no resourceNames etc.
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    granted.add((group, resource, verb))
    assert granted == EXPECTED_RULES


@pytest.mark.binary
def test_nothing_is_cluster_wide_wildcarded_or_about_secrets(
    rendered: list[dict[str, Any]],
) -> None:
    kinds = {doc["kind"] for doc in rendered}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding"}
    for role in of_kind(rendered, "Role"):
        for rule in role["rules"]:
            values = [*rule["apiGroups"], *rule["resources"], *rule["verbs"]]
            assert "*" not in values
            assert "secrets" not in rule["resources"]
            assert not {"create", "update", "delete", "deletecollection"} & set(rule["verbs"])


@pytest.mark.binary
def test_the_binding_gives_the_role_to_the_bots_service_account_only(
    rendered: list[dict[str, Any]],
) -> None:
    account = only(rendered, "ServiceAccount")
    binding = only(rendered, "RoleBinding")
    role = only(rendered, "Role")
    assert account["metadata"]["namespace"] == binding["metadata"]["namespace"] == NAMESPACE
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": NAMESPACE}
    ]
    bot = only(rendered, "Deployment", "firebreak")
    assert bot["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]


@pytest.mark.binary
def test_only_the_bot_carries_an_api_token(rendered: list[dict[str, Any]]) -> None:
    lnn = only(rendered, "Deployment", "lnn-service")
    assert lnn["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    assert "serviceAccountName" not in lnn["spec"]["template"]["spec"]


@pytest.mark.binary
def test_the_lnn_service_scales_from_3_to_10_under_its_autoscaler(
    rendered: list[dict[str, Any]],
) -> None:
    hpa = only(rendered, "HorizontalPodAutoscaler", "lnn-service")
    assert hpa["metadata"]["namespace"] == NAMESPACE
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 10)
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "lnn-service",
    }
    lnn = only(rendered, "Deployment", "lnn-service")
    assert "replicas" not in lnn["spec"]  # the autoscaler owns the count
    service = only(rendered, "Service", "lnn-service")
    assert service["spec"]["selector"] == lnn["spec"]["selector"]["matchLabels"]
