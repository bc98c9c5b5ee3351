"""``KubeCluster`` against the fake Kubernetes API's HorizontalPodAutoscalers: finding the HPA
that governs a deployment (by name, checked by ``scaleTargetRef``), setting its
``minReplicas`` after a dry run, with 409 retries, and the fake's HPA controller scaling the
deployment up to the new floor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain.autoscaler import Autoscaler
from bot.domain.target import Target
from bot.errors import BadRequest, ClusterError, DryRunRejected, Forbidden, NotFound
from tests.fakes.kube.errors import KubeError
from tests.fakes.kube.server import FakeKube
from tests.support.kube_cluster import NAME, NS, Kube, serve

TARGET = Target(NS, NAME)
MERGE = "application/merge-patch+json"
HPA_PATH = f"/apis/autoscaling/v2/namespaces/{NS}/horizontalpodautoscalers/{NAME}"


@pytest.fixture
async def kube(tmp_path: Path) -> AsyncIterator[Kube]:
    fake = FakeKube()
    fake.add_deployment(NS, NAME, replicas=3, image="lnn:1")
    fake.add_hpa(NS, NAME, min_replicas=3, max_replicas=10)
    async with serve(fake, tmp_path) as kube:
        yield kube


async def test_finds_the_hpa_named_like_the_deployment(kube: Kube) -> None:
    found = await kube.cluster.autoscaler(TARGET)
    rv = kube.fake.hpa(NS, NAME)["metadata"]["resourceVersion"]
    assert found == Autoscaler(NAME, 3, 10, rv)
    assert [r.method for r in kube.fake.requests] == ["GET"]
    assert kube.fake.requests[0].path == HPA_PATH


async def test_no_hpa_and_an_hpa_scaling_something_else_are_none(tmp_path: Path) -> None:
    fake = FakeKube()
    fake.add_deployment(NS, NAME, replicas=3)
    fake.add_deployment(NS, "other", replicas=2)
    async with serve(fake, tmp_path) as kube:
        assert await kube.cluster.autoscaler(TARGET) is None
        fake.add_hpa(NS, NAME, target="other", min_replicas=2, max_replicas=4)
        assert await kube.cluster.autoscaler(TARGET) is None
        assert await kube.cluster.autoscaler(Target(NS, "other")) is None  # named otherwise


async def test_set_min_replicas_dry_runs_then_patches_and_the_hpa_scales_up(kube: Kube) -> None:
    dry = await kube.cluster.set_min_replicas(TARGET, autoscaler=NAME, min_replicas=6, dry_run=True)
    assert not dry.skipped
    assert "would set" in dry.detail
    assert kube.fake.hpa(NS, NAME)["spec"]["minReplicas"] == 3
    done = await kube.cluster.set_min_replicas(TARGET, autoscaler=NAME, min_replicas=6)
    assert done.detail == f"set HPA {NS}/{NAME} minReplicas from 3 to 6"
    assert kube.fake.hpa(NS, NAME)["spec"]["minReplicas"] == 6
    patches = [r for r in kube.writes() if r.path == HPA_PATH]
    assert [r.dry_run for r in patches] == [True, False]
    assert {r.content_type for r in patches} == {"application/merge-patch+json"}
    assert patches[1].body["spec"] == {"minReplicas": 6}
    assert kube.fake.deployment(NS, NAME)["spec"]["replicas"] == 3  # until the HPA acts
    kube.fake.settle()
    deployment = kube.fake.deployment(NS, NAME)
    assert deployment["spec"]["replicas"] == 6
    assert deployment["status"]["readyReplicas"] == 6
    progress = await kube.cluster.rollout(TARGET)
    assert progress.done
    assert progress.desired == 6


async def test_lowering_the_floor_does_not_scale_down(kube: Kube) -> None:
    await kube.cluster.set_min_replicas(TARGET, autoscaler=NAME, min_replicas=6)
    kube.fake.settle()
    await kube.cluster.set_min_replicas(TARGET, autoscaler=NAME, min_replicas=3)
    kube.fake.settle()
    assert kube.fake.hpa(NS, NAME)["spec"]["minReplicas"] == 3
    # Without load metrics the fake HPA keeps what it has, as a quiet real one would for a
    # while; the floor is what firebreak restores.
    assert kube.fake.deployment(NS, NAME)["spec"]["replicas"] == 6


async def test_same_value_is_skipped_and_nothing_is_written(kube: Kube) -> None:
    result = await kube.cluster.set_min_replicas(TARGET, autoscaler=NAME, min_replicas=3)
    assert result.skipped
    assert kube.writes() == []


async def test_above_max_is_refused_before_any_write(kube: Kube) -> None:
    with pytest.raises(ClusterError, match=r"above .*maxReplicas 10"):
        await kube.cluster.set_min_replicas(TARGET, autoscaler=NAME, min_replicas=11)
    with pytest.raises(BadRequest, match="at least 1"):
        await kube.cluster.set_min_replicas(TARGET, autoscaler=NAME, min_replicas=0)
    assert kube.writes() == []


async def test_a_conflict_is_retried_with_a_fresh_read(kube: Kube) -> None:
    kube.fake.faults.conflicts(2)
    result = await kube.cluster.set_min_replicas(TARGET, autoscaler=NAME, min_replicas=5)
    assert not result.skipped
    assert kube.fake.hpa(NS, NAME)["spec"]["minReplicas"] == 5
    assert len([r for r in kube.writes() if r.path == HPA_PATH]) == 3


async def test_a_stale_resource_version_is_a_conflict_on_the_server(kube: Kube) -> None:
    before = kube.fake.hpa(NS, NAME)
    kube.fake.autoscalers.patch(NS, NAME, {"spec": {"maxReplicas": 9}}, MERGE, dry_run=False)
    stale = {
        "metadata": {"resourceVersion": before["metadata"]["resourceVersion"]},
        "spec": {"minReplicas": 4},
    }
    with pytest.raises(KubeError) as caught:
        kube.fake.autoscalers.patch(NS, NAME, stale, MERGE, dry_run=False)
    assert caught.value.code == 409


async def test_dry_run_rejection_and_missing_hpa_are_translated(kube: Kube) -> None:
    kube.fake.faults.reject_dry_run("admission webhook denied the request")
    with pytest.raises(DryRunRejected, match="admission webhook"):
        await kube.cluster.set_min_replicas(TARGET, autoscaler=NAME, min_replicas=6, dry_run=True)
    kube.fake.faults.clear()
    with pytest.raises(NotFound):
        await kube.cluster.set_min_replicas(TARGET, autoscaler="nope", min_replicas=6)


async def test_system_namespaces_are_refused_by_the_actuator(kube: Kube) -> None:
    with pytest.raises(Forbidden):
        await kube.cluster.autoscaler(Target("kube-system", NAME))
    with pytest.raises(Forbidden):
        await kube.cluster.set_min_replicas(
            Target("kube-system", NAME), autoscaler=NAME, min_replicas=4
        )
    assert kube.fake.requests == []
