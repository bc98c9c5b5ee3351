"""The real kubernetes_asyncio client against the fake, configured from the kubeconfig the
helper writes: the calls the actuator makes (read, patch, scale, dry run, 409, pods, events,
replicasets, watch)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.rest import ApiException

from tests.fakes.kube.kubeconfig import write_kubeconfig
from tests.fakes.kube.server import FakeKube, run_fake_kube
from tests.fakes.kube.testing import ManualClock

NS, NAME = "prod", "lnn-service"


@pytest.fixture
def fake() -> FakeKube:
    fake = FakeKube(clock=ManualClock(), require_token=True)
    fake.add_deployment(NS, NAME, replicas=3)
    return fake


@pytest.fixture
async def api(fake: FakeKube, tmp_path: Path) -> AsyncIterator[client.ApiClient]:
    async with run_fake_kube(fake) as url:
        configuration = client.Configuration()
        await config.load_kube_config(
            config_file=str(write_kubeconfig(tmp_path / "kubeconfig", url, namespace=NS)),
            client_configuration=configuration,
        )
        async with client.ApiClient(configuration) as api_client:
            yield api_client


async def test_read_patch_and_scale_a_deployment(fake: FakeKube, api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    deployment = await apps.read_namespaced_deployment(NAME, NS)
    assert deployment.spec.replicas == 3
    assert deployment.metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    assert deployment.status.ready_replicas == 3
    scale = await apps.patch_namespaced_deployment_scale(NAME, NS, {"spec": {"replicas": 5}})
    assert scale.spec.replicas == 5
    assert scale.status.selector == f"app={NAME}"
    assert (await apps.read_namespaced_deployment_scale(NAME, NS)).spec.replicas == 5
    assert fake.requests[-2].content_type == "application/strategic-merge-patch+json"
    patch = {
        "spec": {
            "template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "x"}}}
        }
    }
    patched = await apps.patch_namespaced_deployment(NAME, NS, patch)
    assert patched.spec.template.metadata.annotations == {"kubectl.kubernetes.io/restartedAt": "x"}
    fake.settle()
    assert len(fake.pods(NS, NAME)) == 5
    assert (
        fake.deployment(NS, NAME)["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
        == "2"
    )


async def test_dry_run_and_conflict_arrive_as_the_client_expects(
    fake: FakeKube, api: client.ApiClient
) -> None:
    apps = client.AppsV1Api(api)
    answer = await apps.patch_namespaced_deployment_scale(
        NAME, NS, {"spec": {"replicas": 9}}, dry_run="All"
    )
    assert answer.spec.replicas == 9
    assert fake.deployment(NS, NAME)["spec"]["replicas"] == 3
    stale = await apps.read_namespaced_deployment(NAME, NS)
    fake.set_image(NS, NAME, "ghcr.io/example/lnn-service:2.0.0")
    stale.spec.replicas = 4
    with pytest.raises(ApiException) as caught:
        await apps.replace_namespaced_deployment(NAME, NS, stale)
    assert caught.value.status == 409
    assert '"reason":"Conflict"' in str(caught.value.body)
    json_patch = [
        {
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": stale.metadata.resource_version,
        },
        {"op": "replace", "path": "/spec/replicas", "value": 4},
    ]
    with pytest.raises(ApiException) as caught:
        await apps.patch_namespaced_deployment(NAME, NS, json_patch)
    assert caught.value.status == 422
    fake.faults.reject_dry_run("no")
    with pytest.raises(ApiException) as caught:
        await apps.patch_namespaced_deployment(NAME, NS, {"spec": {"paused": True}}, dry_run="All")
    assert caught.value.status == 400
    assert "denied the request: no" in str(caught.value.body)


async def test_pods_events_and_replicasets_of_a_deployment(
    fake: FakeKube, api: client.ApiClient
) -> None:
    fake.faults.hang_rollout()
    fake.set_image(NS, NAME, "ghcr.io/example/lnn-service:broken", change_cause="broken build")
    fake.settle()
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    pods = await core.list_namespaced_pod(NS, label_selector=f"app={NAME}")
    phases = {(p.status.phase, p.status.container_statuses[0].ready) for p in pods.items}
    assert phases == {("Running", True), ("Running", False)}
    crashing = [p for p in pods.items if not p.status.container_statuses[0].ready]
    assert crashing[0].status.container_statuses[0].restart_count >= 1
    events = await core.list_namespaced_event(NS, field_selector=f"involvedObject.name={NAME}")
    assert {e.reason for e in events.items} == {"ScalingReplicaSet"}
    assert all(e.involved_object.kind == "Deployment" for e in events.items)
    sets = await apps.list_namespaced_replica_set(NS, label_selector=f"app={NAME}")
    revisions = sorted(
        int(rs.metadata.annotations["deployment.kubernetes.io/revision"]) for rs in sets.items
    )
    assert revisions == [1, 2]
    newest = max(
        sets.items, key=lambda rs: rs.metadata.annotations["deployment.kubernetes.io/revision"]
    )
    assert newest.metadata.annotations["kubernetes.io/change-cause"] == "broken build"
    assert newest.metadata.owner_references[0].kind == "Deployment"


async def test_watch_a_deployment_until_its_rollout_is_observed(
    fake: FakeKube, api: client.ApiClient
) -> None:
    apps = client.AppsV1Api(api)
    fake.set_image(NS, NAME, "ghcr.io/example/lnn-service:2.0.0")
    fake.settle()
    seen = []
    async with watch.Watch() as stream:
        async for event in stream.stream(
            apps.list_namespaced_deployment,
            NS,
            field_selector=f"metadata.name={NAME}",
            timeout_seconds=5,
        ):
            seen.append(event["type"])
            deployment = event["object"]
            if (
                deployment.status.updated_replicas == 3
                and deployment.status.observed_generation == 2
            ):
                break
    assert seen == ["ADDED"]
