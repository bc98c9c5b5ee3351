"""The fake Kubernetes API over HTTP: the wire behaviour clients rely on (Status bodies,
preconditions, dry runs, the scale subresource, selectors, watch, faults, request log)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.kube.server import FAKE_KUBE_TOKEN, FakeKube, run_fake_kube
from tests.fakes.kube.testing import ManualClock

NS, NAME = "prod", "lnn-service"
DEPLOY = f"/apis/apps/v1/namespaces/{NS}/deployments/{NAME}"
SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


@pytest.fixture
def fake() -> FakeKube:
    fake = FakeKube(clock=ManualClock())
    fake.add_deployment(NS, NAME, replicas=3)
    return fake


@pytest.fixture
async def http(fake: FakeKube) -> AsyncIterator[aiohttp.ClientSession]:
    async with run_fake_kube(fake) as url:
        headers = {"Authorization": f"Bearer {FAKE_KUBE_TOKEN}"}
        async with aiohttp.ClientSession(base_url=url, headers=headers) as session:
            yield session


async def _call(
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    body: Any = None,
    *,
    content_type: str = "application/json",
    params: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body)
    headers = {"Content-Type": content_type} if body is not None else {}
    async with http.request(method, path, data=data, headers=headers, params=params) as response:
        return response.status, await response.json()


async def test_get_returns_the_deployment_and_a_missing_one_is_a_404_status(
    http: aiohttp.ClientSession,
) -> None:
    status, body = await _call(http, "GET", DEPLOY)
    assert status == 200
    assert body["kind"] == "Deployment"
    assert body["spec"]["replicas"] == 3
    status, body = await _call(http, "GET", f"/apis/apps/v1/namespaces/{NS}/deployments/nope")
    assert status == 404
    assert body["kind"] == "Status"
    assert body["reason"] == "NotFound"
    assert body["message"] == 'deployments.apps "nope" not found'
    assert body["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}


async def test_a_stale_resource_version_gets_409_and_changes_nothing(
    fake: FakeKube, http: aiohttp.ClientSession
) -> None:
    _, current = await _call(http, "GET", DEPLOY)
    fake.set_image(NS, NAME, "ghcr.io/example/lnn-service:2.0.0")  # someone else writes
    current["spec"]["replicas"] = 9
    status, body = await _call(http, "PUT", DEPLOY, current)
    assert status == 409
    assert body["reason"] == "Conflict"
    assert "the object has been modified" in body["message"]
    patch = {
        "metadata": {"resourceVersion": current["metadata"]["resourceVersion"]},
        "spec": {"replicas": 9},
    }
    status, _ = await _call(http, "PATCH", DEPLOY, patch, content_type=MERGE)
    assert status == 409
    assert fake.deployment(NS, NAME)["spec"]["replicas"] == 3
    _, fresh = await _call(http, "GET", DEPLOY)
    fresh["spec"]["replicas"] = 9
    status, body = await _call(http, "PUT", DEPLOY, fresh)
    assert status == 200
    assert body["spec"]["replicas"] == 9
    assert int(body["metadata"]["resourceVersion"]) > int(fresh["metadata"]["resourceVersion"])


async def test_json_patch_test_operation_guards_the_write(
    fake: FakeKube, http: aiohttp.ClientSession
) -> None:
    version = fake.deployment(NS, NAME)["metadata"]["resourceVersion"]
    guarded: list[dict[str, Any]] = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
        {"op": "replace", "path": "/spec/replicas", "value": 5},
    ]
    status, body = await _call(http, "PATCH", DEPLOY, guarded, content_type=JSON_PATCH)
    assert status == 422
    assert body["kind"] == "Status"
    assert fake.deployment(NS, NAME)["spec"]["replicas"] == 3
    guarded[0]["value"] = version
    status, body = await _call(http, "PATCH", DEPLOY, guarded, content_type=JSON_PATCH)
    assert status == 200
    assert body["spec"]["replicas"] == 5


async def test_strategic_merge_patch_merges_containers_by_name_and_bumps_generation(
    fake: FakeKube, http: aiohttp.ClientSession
) -> None:
    patch = {
        "spec": {
            "template": {
                "metadata": {
                    "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}
                },
                "spec": {"containers": [{"name": "app", "env": [{"name": "A", "value": "1"}]}]},
            }
        }
    }
    status, body = await _call(http, "PATCH", DEPLOY, patch, content_type=SMP)
    assert status == 200
    (container,) = body["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "ghcr.io/example/lnn-service:1.0.0"  # kept: merged by name
    assert container["env"] == [{"name": "A", "value": "1"}]
    assert body["metadata"]["generation"] == 2
    assert body["status"]["observedGeneration"] == 1
    fake.settle()
    assert fake.deployment(NS, NAME)["status"]["observedGeneration"] == 2
    assert len(fake.replicasets(NS, NAME)) == 2


async def test_dry_run_validates_and_answers_without_storing(
    fake: FakeKube, http: aiohttp.ClientSession
) -> None:
    before = fake.snapshot()
    dry = {"dryRun": "All"}
    status, body = await _call(
        http, "PATCH", DEPLOY, {"spec": {"replicas": 7}}, content_type=MERGE, params=dry
    )
    assert status == 200
    assert body["spec"]["replicas"] == 7
    assert body["metadata"]["generation"] == 2
    status, body = await _call(
        http, "PATCH", DEPLOY, {"spec": {"replicas": -1}}, content_type=MERGE, params=dry
    )
    assert status == 422
    assert body["reason"] == "Invalid"
    assert "spec.replicas: Invalid value: -1" in body["message"]
    status, scale = await _call(
        http, "PATCH", f"{DEPLOY}/scale", {"spec": {"replicas": 8}}, content_type=MERGE, params=dry
    )
    assert status == 200
    assert scale["spec"]["replicas"] == 8
    fake.settle()
    assert fake.snapshot() == before
    assert [r.dry_run for r in fake.writes()] == [True, True, True]


async def test_scale_subresource_reads_and_writes_replicas(
    fake: FakeKube, http: aiohttp.ClientSession
) -> None:
    status, scale = await _call(http, "GET", f"{DEPLOY}/scale")
    assert status == 200
    assert (scale["kind"], scale["apiVersion"]) == ("Scale", "autoscaling/v1")
    assert scale["spec"] == {"replicas": 3}
    assert scale["status"] == {"replicas": 3, "selector": f"app={NAME}"}
    assert (
        scale["metadata"]["resourceVersion"]
        == fake.deployment(NS, NAME)["metadata"]["resourceVersion"]
    )
    scale["spec"]["replicas"] = 5
    status, body = await _call(http, "PUT", f"{DEPLOY}/scale", scale)
    assert status == 200
    assert body["spec"]["replicas"] == 5
    status, body = await _call(http, "PUT", f"{DEPLOY}/scale", scale)  # same (now stale) version
    assert status == 409
    fake.settle()
    assert len(fake.pods(NS, NAME)) == 5


async def test_injected_conflicts_unavailability_and_dry_run_rejection(
    fake: FakeKube, http: aiohttp.ClientSession
) -> None:
    fake.faults.conflicts(2)
    patch = {"spec": {"replicas": 4}}
    dry = {"dryRun": "All"}
    status, _ = await _call(http, "PATCH", f"{DEPLOY}/scale", patch, content_type=MERGE, params=dry)
    assert status == 200  # dry runs do not use up injected conflicts
    statuses = [
        (await _call(http, "PATCH", f"{DEPLOY}/scale", patch, content_type=MERGE))[0]
        for _ in range(3)
    ]
    assert statuses == [409, 409, 200]
    fake.faults.unavailable(1)
    status, body = await _call(http, "GET", DEPLOY)
    assert status == 503
    assert body["reason"] == "ServiceUnavailable"
    fake.faults.server_errors(1)
    assert (await _call(http, "GET", DEPLOY))[0] == 500
    assert (await _call(http, "GET", DEPLOY))[0] == 200
    fake.faults.reject_dry_run("replicas above the policy bound")
    status, body = await _call(http, "PATCH", DEPLOY, patch, content_type=MERGE, params=dry)
    assert status == 400
    assert body["message"] == (
        'admission webhook "policy.example.com" denied the request: replicas above the policy bound'
    )
    fake.faults.clear()
    assert (await _call(http, "PATCH", DEPLOY, patch, content_type=MERGE, params=dry))[0] == 200


async def test_the_request_log_shows_dry_run_before_apply(
    fake: FakeKube, http: aiohttp.ClientSession
) -> None:
    patch = {"spec": {"replicas": 6}}
    await _call(
        http, "PATCH", f"{DEPLOY}/scale", patch, content_type=MERGE, params={"dryRun": "All"}
    )
    await _call(http, "PATCH", f"{DEPLOY}/scale", patch, content_type=MERGE)
    writes = fake.writes()
    assert [(w.method, w.path, w.dry_run, w.status) for w in writes] == [
        ("PATCH", f"{DEPLOY}/scale", True, 200),
        ("PATCH", f"{DEPLOY}/scale", False, 200),
    ]
    assert writes[0].body == patch
    assert writes[0].content_type == MERGE
    assert fake.writes(include_dry_run=False) == writes[1:]


async def test_list_selectors_for_pods_replicasets_and_events(
    fake: FakeKube, http: aiohttp.ClientSession
) -> None:
    fake.add_deployment(NS, "other", replicas=1)
    _, pods = await _call(
        http, "GET", f"/api/v1/namespaces/{NS}/pods", params={"labelSelector": f"app={NAME}"}
    )
    assert pods["kind"] == "PodList"
    assert len(pods["items"]) == 3
    _, sets = await _call(
        http, "GET", "/apis/apps/v1/replicasets", params={"labelSelector": "app in (other)"}
    )
    assert [rs["metadata"]["name"].split("-")[0] for rs in sets["items"]] == ["other"]
    _, events = await _call(
        http,
        "GET",
        f"/api/v1/namespaces/{NS}/events",
        params={"fieldSelector": f"involvedObject.name={NAME},involvedObject.kind=Deployment"},
    )
    assert events["items"]
    assert {e["reason"] for e in events["items"]} == {"ScalingReplicaSet"}
    _, none = await _call(http, "GET", "/api/v1/namespaces/elsewhere/pods")
    assert none["items"] == []


async def test_a_wrong_token_is_refused(fake: FakeKube) -> None:
    async with run_fake_kube(fake) as url, aiohttp.ClientSession(base_url=url) as session:
        async with session.get(DEPLOY, headers={"Authorization": "Bearer wrong"}) as response:
            assert response.status == 401
        async with session.get(DEPLOY) as response:  # kubectl sends no token over plain HTTP
            assert response.status == 200


async def test_a_watch_streams_changes_from_a_resource_version(
    fake: FakeKube, http: aiohttp.ClientSession
) -> None:
    version = fake.deployment(NS, NAME)["metadata"]["resourceVersion"]
    params = {
        "watch": "true",
        "resourceVersion": version,
        "fieldSelector": f"metadata.name={NAME}",
        "timeoutSeconds": "5",
    }
    async with http.get(f"/apis/apps/v1/namespaces/{NS}/deployments", params=params) as response:
        assert response.status == 200
        fake.update_deployment(NS, NAME, lambda d: d["spec"].update(replicas=4))
        line = await asyncio.wait_for(response.content.readline(), 5)
        event = json.loads(line)
        assert event["type"] == "MODIFIED"
        assert event["object"]["spec"]["replicas"] == 4
        fake.settle()
        line = await asyncio.wait_for(response.content.readline(), 5)
        assert json.loads(line)["object"]["metadata"]["name"] == NAME


async def test_discovery_names_the_scale_subresource(http: aiohttp.ClientSession) -> None:
    _, apps = await _call(http, "GET", "/apis/apps/v1")
    scale = next(r for r in apps["resources"] if r["name"] == "deployments/scale")
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    _, groups = await _call(http, "GET", "/apis")
    assert [g["name"] for g in groups["groups"]] == ["apps", "autoscaling"]
    status, _ = await _call(http, "GET", "/openapi/v2")
    assert status == 404
