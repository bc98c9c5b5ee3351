"""Every overlay, rendered by the real ``kubectl kustomize``, is what the deployment guide asks
(non-root, read-only root filesystem, requests and limits, probes, the LNN service's 3-10 HPA
at 70 % CPU), keeps the settings Secret out while referencing it, carries the alert rules the
rules files hold, scrapes with the labels the rules and the bot rely on, and agrees with the
shipped policy on namespaces and label selectors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.manifests import (
    BASE,
    DEPLOY,
    Doc,
    of_kind,
    only,
    overlays,
    pod_specs,
    render,
    selector_text,
)

pytestmark = pytest.mark.binary

ROOT = DEPLOY.parent
NAMESPACE = "firebreak"
SETTINGS_SECRET = "firebreak-settings"
UID = 10001
# The deployment guide's LNN figures: 512 MB per instance, 3 to 10 replicas at 70 % CPU.
LNN_MEMORY_REQUEST = "512Mi"
# The LNN memory alerts fire above 900 MB (warning) and 1 GB (critical): below the limit, or
# the kernel kills the process before either can fire.
LNN_CRITICAL_MEMORY_BYTES = 1e9
MEMORY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}


def memory_bytes(quantity: str) -> float:
    for unit, factor in MEMORY_UNITS.items():
        if quantity.endswith(unit):
            return float(quantity[: -len(unit)]) * factor
    return float(quantity)


def test_there_is_a_production_overlay() -> None:
    assert DEPLOY / "overlays" / "production" in overlays()


@pytest.fixture(scope="module", params=overlays(), ids=lambda path: path.name)
def rendered(request: pytest.FixtureRequest) -> list[Doc]:
    directory: Path = request.param
    return render(directory)


def containers(docs: list[Doc]) -> list[tuple[Doc, Doc, Doc]]:
    """(workload, pod spec, container) for every container, init containers included."""
    found = [
        (workload, pod, container)
        for workload, pod in pod_specs(docs)
        for container in [*pod.get("initContainers", []), *pod["containers"]]
    ]
    assert found
    return found


def test_everything_namespaced_is_in_the_firebreak_namespace(rendered: list[Doc]) -> None:
    cluster_scoped = {"Namespace"}
    assert only(rendered, "Namespace")["metadata"]["name"] == NAMESPACE
    for doc in rendered:
        if doc["kind"] not in cluster_scoped:
            assert doc["metadata"].get("namespace") == NAMESPACE, doc["metadata"]


def test_every_container_runs_as_non_root_on_a_read_only_root(rendered: list[Doc]) -> None:
    for workload, pod, container in containers(rendered):
        where = f"{workload['kind']}/{workload['metadata']['name']}/{container['name']}"
        context = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
        assert context.get("runAsNonRoot") is True, where
        assert context.get("runAsUser") == UID, where  # the image's user (Dockerfile)
        assert context.get("readOnlyRootFilesystem") is True, where
        assert context.get("allowPrivilegeEscalation") is False, where
        assert context.get("capabilities", {}).get("drop") == ["ALL"], where
        assert not context.get("privileged", False), where


def test_every_container_has_requests_and_limits(rendered: list[Doc]) -> None:
    for workload, _, container in containers(rendered):
        where = f"{workload['kind']}/{workload['metadata']['name']}/{container['name']}"
        resources = container.get("resources", {})
        for kind in ("requests", "limits"):
            assert set(resources.get(kind, {})) >= {"cpu", "memory"}, f"{where}: {kind}"
        requested = memory_bytes(resources["requests"]["memory"])
        assert requested <= memory_bytes(resources["limits"]["memory"]), where


def test_every_long_running_container_has_readiness_and_liveness_probes(
    rendered: list[Doc],
) -> None:
    for workload, _, container in containers(rendered):
        if workload["kind"] in {"Job", "CronJob"}:
            continue  # runs to completion: nothing routes traffic to it
        where = f"{workload['kind']}/{workload['metadata']['name']}/{container['name']}"
        ports = {port["name"] for port in container["ports"]}
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["port"] in ports, f"{where}: {probe}"


def test_every_container_runs_the_one_pinned_image(rendered: list[Doc]) -> None:
    images = {container["image"] for _, _, container in containers(rendered)}
    (image,) = images  # the bot, the migration and the LNN service share the image
    name, _, tag = image.rpartition(":")
    assert "@sha256:" in image or (name and tag and tag != "latest"), image


def test_the_lnn_service_scales_3_to_10_at_70_percent_cpu_within_its_memory(
    rendered: list[Doc],
) -> None:
    hpa = only(rendered, "HorizontalPodAutoscaler", "lnn-service")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 10)
    cpu = [
        metric["resource"]["target"]
        for metric in hpa["spec"]["metrics"]
        if metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    ]
    assert cpu == [{"type": "Utilization", "averageUtilization": 70}]
    lnn = only(rendered, "Deployment", "lnn-service")
    assert "replicas" not in lnn["spec"]  # the autoscaler owns the count
    (container,) = lnn["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["requests"]["memory"] == LNN_MEMORY_REQUEST
    assert memory_bytes(container["resources"]["limits"]["memory"]) > LNN_CRITICAL_MEMORY_BYTES


def test_the_bot_runs_two_replicas_kept_through_disruptions(rendered: list[Doc]) -> None:
    bot = only(rendered, "Deployment", "firebreak")
    assert bot["spec"]["replicas"] == 2
    budget = only(rendered, "PodDisruptionBudget", "firebreak")
    assert budget["spec"]["minAvailable"] == 1
    assert budget["spec"]["selector"] == bot["spec"]["selector"]
    service = only(rendered, "Service", "firebreak")
    assert service["spec"]["selector"] == bot["spec"]["selector"]["matchLabels"]


def test_the_settings_secret_is_referenced_never_contained(rendered: list[Doc]) -> None:
    assert not of_kind(rendered, "Secret")
    referenced = {
        (workload["metadata"]["name"], source["secretRef"]["name"])
        for workload, _, container in containers(rendered)
        for source in container.get("envFrom", [])
        if "secretRef" in source
    }
    assert referenced == {
        ("firebreak", SETTINGS_SECRET),
        ("firebreak-db-upgrade", SETTINGS_SECRET),
    }


def test_a_job_migrates_the_database_with_the_bots_image(rendered: list[Doc]) -> None:
    job = only(rendered, "Job", "firebreak-db-upgrade")
    (migrate,) = job["spec"]["template"]["spec"]["containers"]
    (serve,) = only(rendered, "Deployment", "firebreak")["spec"]["template"]["spec"]["containers"]
    assert migrate["args"] == ["db", "upgrade"]
    assert migrate["image"] == serve["image"]
    assert serve["args"][0] == "serve"


def test_network_policies_admit_only_the_listed_traffic(rendered: list[Doc]) -> None:
    policies = {doc["metadata"]["name"]: doc["spec"] for doc in of_kind(rendered, "NetworkPolicy")}
    deny = [spec for spec in policies.values() if spec["podSelector"] == {}]
    assert deny == [{"podSelector": {}, "policyTypes": ["Ingress"]}]

    bot = policies["firebreak"]
    assert bot["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "firebreak"}
    assert [rule["ports"] for rule in bot["ingress"]] == [[{"protocol": "TCP", "port": 8080}]]

    lnn = policies["lnn-service"]
    assert lnn["policyTypes"] == ["Ingress", "Egress"]
    assert "egress" not in lnn  # it calls nothing
    (rule,) = lnn["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8090}]
    sources = [
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for peer in rule["from"]
    ]
    assert sorted(sources) == ["firebreak", "prometheus"]


def rules_groups() -> list[Any]:
    """The groups of every rules file, in file-name order (as render_prometheusrule.py)."""
    files = sorted((DEPLOY / "prometheus").glob("*-rules.yaml"))
    assert DEPLOY / "prometheus" / "lnn-rules.yaml" in files
    return [group for path in files for group in yaml.safe_load(path.read_text())["groups"]]


def test_the_prometheus_rule_holds_exactly_the_rules_files(rendered: list[Doc]) -> None:
    rule = only(rendered, "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    # On a difference: python3 deploy/base/render_prometheusrule.py
    assert rule["spec"]["groups"] == rules_groups()


def test_the_scrapes_label_series_with_namespace_and_deployment(rendered: list[Doc]) -> None:
    monitors = {doc["metadata"]["name"]: doc for doc in of_kind(rendered, "ServiceMonitor")}
    assert set(monitors) == {"lnn-service", "firebreak"}
    for name, monitor in monitors.items():
        # The job label is the Service's name: lnn-rules.yaml selects job="lnn-service".
        selector = monitor["spec"]["selector"]["matchLabels"].items()
        (service,) = [
            doc
            for doc in of_kind(rendered, "Service")
            if selector <= doc["metadata"]["labels"].items()
        ]
        assert service["metadata"]["name"] == name
        ((endpoint),) = monitor["spec"]["endpoints"]
        assert endpoint["port"] == service["spec"]["ports"][0]["name"]
        assert endpoint["path"] == "/metrics"
        relabel = {r["targetLabel"]: r["sourceLabels"] for r in endpoint["relabelings"]}
        assert relabel == {
            "namespace": ["__meta_kubernetes_namespace"],
            "deployment": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
        }
        # So `deployment` names the Deployment firebreak acts on.
        deployment = only(rendered, "Deployment", name)
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == name


def test_the_policy_allows_the_manifests_namespace_and_selects_their_pods(
    rendered: list[Doc],
) -> None:
    policy = yaml.safe_load((ROOT / "bot" / "policy" / "default.yaml").read_text())
    section = policy["kubernetes"]
    namespaces = {doc["metadata"]["namespace"] for doc in of_kind(rendered, "Deployment")}
    assert set(section["namespaces"]) == namespaces
    assert section["default_namespace"] in namespaces
    selectors = {
        doc["metadata"]["name"]: selector_text(doc["spec"]["selector"]["matchLabels"])
        # The bot's own selector too: its self-alerts' triage names its pods (read-only).
        for doc in of_kind(rendered, "Deployment")
    }
    assert section["selectors"] == selectors


def test_the_base_renders_on_its_own() -> None:
    assert only(render(BASE), "Deployment", "firebreak")
