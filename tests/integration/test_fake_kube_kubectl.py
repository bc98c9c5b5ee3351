"""Fidelity of the fake Kubernetes API, checked with the real kubectl: get, scale, rollout
history / undo / restart / status, a paused deployment, server-side dry runs.

Assertions look at the fake's state and request log rather than kubectl's wording where
kubectl versions differ (Debian bookworm ships 1.20; this machine may have a newer one)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from tests.fakes.kube.kubeconfig import write_kubeconfig
from tests.fakes.kube.objects import CHANGE_CAUSE, RESTARTED_AT, parse_timestamp, revision
from tests.fakes.kube.server import DEFAULT_IMAGE, FakeKube, run_fake_kube
from tests.fakes.kube.testing import Kubectl, ManualClock
from tests.support.binaries import need

pytestmark = pytest.mark.binary

NS, NAME = "prod", "lnn-service"
DEPLOY = f"deployment/{NAME}"
Serve = Callable[[FakeKube], AbstractAsyncContextManager[Kubectl]]
V2, V3 = "ghcr.io/example/lnn-service:2.0.0", "ghcr.io/example/lnn-service:3.0.0"


@pytest.fixture
def kubectl_binary() -> str:
    return need("kubectl")


@pytest.fixture
def serve(kubectl_binary: str, tmp_path: Path) -> Serve:
    @asynccontextmanager
    async def serving(fake: FakeKube) -> AsyncIterator[Kubectl]:
        async with run_fake_kube(fake) as url:
            config = write_kubeconfig(tmp_path / "kubeconfig", url, namespace=NS)
            home = tmp_path / "home"
            home.mkdir(exist_ok=True)
            yield Kubectl(kubectl_binary, config, home)

    return serving


def _image(fake: FakeKube) -> str:
    image: str = fake.deployment(NS, NAME)["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


async def _eventually(condition: Callable[[], bool], *, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_get_lists_deployments_replicasets_pods_and_events(serve: Serve) -> None:
    fake = FakeKube()
    fake.add_deployment(NS, NAME, replicas=3)
    async with serve(fake) as kubectl:
        table = (await kubectl.run("get", "deployments")).stdout.splitlines()
        assert table[0].split()[:2] == ["NAME", "READY"]
        assert table[1].split()[:2] == [NAME, "3/3"]
        listed = json.loads((await kubectl.run("get", "deploy", "-o", "json")).stdout)
        assert [d["metadata"]["name"] for d in listed["items"]] == [NAME]
        assert listed["items"][0]["status"]["readyReplicas"] == 3
        pods = json.loads(
            (await kubectl.run("get", "pods", "-l", f"app={NAME}", "-o", "json")).stdout
        )
        assert len(pods["items"]) == 3
        assert {p["status"]["phase"] for p in pods["items"]} == {"Running"}
        rs = (await kubectl.run("get", "rs", "-o", "name")).stdout.split()
        assert rs == [f"replicaset.apps/{fake.replicasets(NS, NAME)[0]['metadata']['name']}"]
        selector = f"involvedObject.name={NAME}"
        events = json.loads(
            (await kubectl.run("get", "events", "--field-selector", selector, "-o", "json")).stdout
        )
        assert {e["reason"] for e in events["items"]} == {"ScalingReplicaSet"}


async def test_scale_goes_through_the_scale_subresource(serve: Serve) -> None:
    fake = FakeKube()
    fake.add_deployment(NS, NAME, replicas=3)
    async with serve(fake) as kubectl:
        await kubectl.run("scale", DEPLOY, "--replicas=6")
        assert fake.deployment(NS, NAME)["spec"]["replicas"] == 6
        (write,) = fake.writes()
        assert write.method == "PATCH"
        assert write.path.endswith(f"/deployments/{NAME}/scale")
        fake.settle()
        assert len(fake.pods(NS, NAME)) == 6
        stale = await kubectl.run(
            "scale", DEPLOY, "--replicas=2", "--resource-version=1", check=False
        )
        assert stale.returncode != 0
        assert fake.deployment(NS, NAME)["spec"]["replicas"] == 6


async def test_rollout_history_lists_revisions_with_change_causes(serve: Serve) -> None:
    fake = FakeKube()
    fake.add_deployment(NS, NAME)
    fake.set_image(NS, NAME, V2, change_cause="release 2.0.0")
    fake.settle()
    fake.set_image(NS, NAME, V3, change_cause="release 3.0.0")
    fake.settle()
    async with serve(fake) as kubectl:
        lines = (await kubectl.run("rollout", "history", DEPLOY)).stdout.splitlines()
        rows = [line.split(None, 1) for line in lines if line[:1].isdigit()]
        assert rows == [["1", "<none>"], ["2", "release 2.0.0"], ["3", "release 3.0.0"]]
        detail = (await kubectl.run("rollout", "history", DEPLOY, "--revision=2")).stdout
        assert V2 in detail
        assert V3 not in detail


async def test_set_image_then_undo_restores_the_previous_template(serve: Serve) -> None:
    fake = FakeKube()
    fake.add_deployment(NS, NAME)
    original = fake.deployment(NS, NAME)["spec"]["template"]
    async with serve(fake) as kubectl:
        await kubectl.run("set", "image", DEPLOY, f"app={V2}")
        fake.settle()
        assert _image(fake) == V2
        await kubectl.run("rollout", "undo", DEPLOY)
        fake.settle()
        deployment = fake.deployment(NS, NAME)
        assert deployment["spec"]["template"] == original
        assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
        assert [revision(rs) for rs in fake.replicasets(NS, NAME)] == [2, 3]
        assert {p["spec"]["containers"][0]["image"] for p in fake.pods(NS, NAME)} == {DEFAULT_IMAGE}
        undo = fake.writes()[-1]
        assert undo.content_type == "application/json-patch+json"
        assert [op["path"] for op in undo.body] == ["/spec/template", "/metadata/annotations"]


async def test_undo_to_a_given_revision(serve: Serve) -> None:
    fake = FakeKube()
    fake.add_deployment(NS, NAME)
    for image, cause in ((V2, "two"), (V3, "three")):
        fake.set_image(NS, NAME, image, change_cause=cause)
        fake.settle()
    async with serve(fake) as kubectl:
        await kubectl.run("rollout", "undo", DEPLOY, "--to-revision=2")
        fake.settle()
        assert _image(fake) == V2
        deployment = fake.deployment(NS, NAME)
        assert deployment["metadata"]["annotations"][CHANGE_CAUSE] == "two"
        assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4"
        again = await kubectl.run("rollout", "undo", DEPLOY, "--to-revision=4", check=False)
        assert (
            fake.deployment(NS, NAME)["metadata"]["generation"]
            == deployment["metadata"]["generation"]
        )
        assert again.returncode == 0
        assert "skipped" in again.stdout + again.stderr


async def test_undo_of_a_paused_deployment_is_refused(serve: Serve) -> None:
    fake = FakeKube()
    fake.add_deployment(NS, NAME)
    fake.set_image(NS, NAME, V2)
    fake.settle()
    fake.set_paused(NS, NAME, True)
    async with serve(fake) as kubectl:
        result = await kubectl.run("rollout", "undo", DEPLOY, check=False)
        assert result.returncode != 0
        assert "paused" in result.stderr
        assert fake.writes() == []
        assert _image(fake) == V2


async def test_rollout_restart_stamps_restarted_at_and_rolls_a_new_replicaset(serve: Serve) -> None:
    clock = ManualClock()
    fake = FakeKube(clock=clock)
    fake.add_deployment(NS, NAME)
    async with serve(fake) as kubectl:
        await kubectl.run("rollout", "restart", DEPLOY)
        stamp = fake.deployment(NS, NAME)["spec"]["template"]["metadata"]["annotations"][
            RESTARTED_AT
        ]
        assert parse_timestamp(stamp[:19] + "Z") > 0
        fake.settle()
        assert [revision(rs) for rs in fake.replicasets(NS, NAME)] == [1, 2]
        assert all(p["metadata"]["annotations"][RESTARTED_AT] == stamp for p in fake.pods(NS, NAME))


async def test_rollout_status_follows_the_controller_to_completion(serve: Serve) -> None:
    fake = FakeKube(progress_interval=0.05)
    fake.add_deployment(NS, NAME, replicas=4)
    async with serve(fake) as kubectl:
        await kubectl.run("set", "image", DEPLOY, f"app={V2}")
        result = await kubectl.run("rollout", "status", DEPLOY, "--timeout=60s")
        assert "successfully rolled out" in result.stdout
        status = fake.deployment(NS, NAME)["status"]
        assert status["updatedReplicas"] == status["availableReplicas"] == status["replicas"] == 4
        assert "Waiting for" in result.stdout  # it did watch the rollout progress


async def test_rollout_status_times_out_on_a_hung_rollout(serve: Serve) -> None:
    fake = FakeKube(progress_interval=0.05)
    fake.add_deployment(NS, NAME)
    fake.faults.hang_rollout()
    async with serve(fake) as kubectl:
        await kubectl.run("set", "image", DEPLOY, f"app={V2}")
        result = await kubectl.run("rollout", "status", DEPLOY, "--timeout=2s", check=False)
        assert result.returncode != 0
        assert "timed out" in result.stderr
        assert fake.deployment(NS, NAME)["status"].get("updatedReplicas", 0) >= 1


async def test_rollout_status_fails_when_the_progress_deadline_passes(serve: Serve) -> None:
    clock = ManualClock()
    fake = FakeKube(progress_interval=0.05, clock=clock)
    fake.add_deployment(NS, NAME, progress_deadline_seconds=60)
    fake.faults.hang_rollout()
    async with serve(fake) as kubectl:
        await kubectl.run("set", "image", DEPLOY, f"app={V2}")
        watching = await kubectl.start("rollout", "status", DEPLOY, "--timeout=60s")
        await _eventually(lambda: len(fake.replicasets(NS, NAME)) == 2)
        clock.advance(61)
        result = await kubectl.wait(watching, check=False)
        assert result.returncode != 0
        assert "exceeded its progress deadline" in result.stderr


async def test_server_dry_runs_store_nothing(serve: Serve) -> None:
    fake = FakeKube()
    fake.add_deployment(NS, NAME)
    fake.set_image(NS, NAME, V2)
    fake.settle()
    before = fake.snapshot()
    async with serve(fake) as kubectl:
        await kubectl.run("scale", DEPLOY, "--replicas=7", "--dry-run=server")
        await kubectl.run("set", "image", DEPLOY, f"app={V3}", "--dry-run=server")
        await kubectl.run("rollout", "undo", DEPLOY, "--dry-run=server")
        fake.settle()
        assert fake.snapshot() == before
        writes = fake.writes()
        assert len(writes) == 3
        assert all(w.dry_run and w.status == 200 for w in writes)
        fake.faults.reject_dry_run("scaling is frozen")
        refused = await kubectl.run(
            "scale", DEPLOY, "--replicas=7", "--dry-run=server", check=False
        )
        assert refused.returncode != 0
        assert "scaling is frozen" in refused.stderr
