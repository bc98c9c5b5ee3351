"""``KubeCluster.rollback`` does what ``kubectl rollout undo`` does, checked against the fake
and against the real kubectl from the same starting state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.domain.target import Target
from bot.errors import ClusterError, DryRunRejected, NotFound, TargetChanged
from tests.fakes.kube.server import FakeKube
from tests.support.binaries import need
from tests.support.kube_cluster import NAME, NS, Kube, kubectl, serve

TARGET = Target(NS, NAME)


def with_history(*images: str, seed: int = 0) -> FakeKube:
    """A deployment rolled out through ``images`` (revision 1 is the first), settled."""
    fake = FakeKube(seed=seed)
    fake.add_deployment(NS, NAME, replicas=3, image=images[0])
    for image in images[1:]:
        fake.set_image(NS, NAME, image, change_cause=f"deploy {image}")
        fake.settle()
    return fake


def image(fake: FakeKube) -> str:
    containers = fake.deployment(NS, NAME)["spec"]["template"]["spec"]["containers"]
    return str(containers[0]["image"])


@pytest.fixture
async def kube(tmp_path: Path) -> AsyncIterator[Kube]:
    async with serve(with_history("lnn:1", "lnn:2", "lnn:3"), tmp_path) as kube:
        yield kube


async def test_rollback_restores_the_previous_revision(kube: Kube) -> None:
    snap = await kube.cluster.snapshot(TARGET)
    assert snap.revision == 3
    dry = await kube.cluster.rollback(
        TARGET, expect_resource_version=snap.resource_version, dry_run=True
    )
    assert (dry.skipped, dry.revision) == (False, 2)
    assert image(kube.fake) == "lnn:3"
    result = await kube.cluster.rollback(TARGET, expect_resource_version=snap.resource_version)
    assert (result.skipped, result.revision) == (False, 2)
    assert image(kube.fake) == "lnn:2"
    deployment = kube.fake.deployment(NS, NAME)
    assert "pod-template-hash" not in deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["metadata"]["annotations"]["kubernetes.io/change-cause"] == "deploy lnn:2"
    kube.fake.settle()
    # The controller adopts the old ReplicaSet again under the next revision number.
    after = await kube.cluster.snapshot(TARGET)
    assert after.revision == 4
    assert (await kube.cluster.rollout(TARGET)).done


async def test_rollback_sends_one_json_patch_with_the_version_as_precondition(
    kube: Kube,
) -> None:
    snap = await kube.cluster.snapshot(TARGET)
    await kube.cluster.rollback(TARGET, dry_run=True)
    await kube.cluster.rollback(TARGET)
    dry, real = kube.writes()
    assert (dry.dry_run, real.dry_run) == (True, False)
    assert real.content_type.startswith("application/json-patch+json")
    assert real.body[0] == {
        "op": "replace",
        "path": "/metadata/resourceVersion",
        "value": snap.resource_version,
    }
    assert [op["path"] for op in real.body[1:]] == ["/spec/template", "/metadata/annotations"]


async def test_rollback_to_a_given_revision(kube: Kube) -> None:
    result = await kube.cluster.rollback(TARGET, to_revision=1)
    assert result.revision == 1
    assert image(kube.fake) == "lnn:1"


async def test_rollback_to_a_revision_that_does_not_exist(kube: Kube) -> None:
    with pytest.raises(NotFound, match="revision 9"):
        await kube.cluster.rollback(TARGET, to_revision=9)
    assert kube.writes() == []


async def test_rollback_is_skipped_when_already_at_the_target(kube: Kube) -> None:
    result = await kube.cluster.rollback(TARGET, to_revision=3)
    assert result.skipped
    assert "already matches revision 3" in result.detail
    assert kube.writes() == []


async def test_rollback_of_a_paused_deployment_is_refused(kube: Kube) -> None:
    kube.fake.set_paused(NS, NAME, True)
    with pytest.raises(ClusterError, match="paused"):
        await kube.cluster.rollback(TARGET)
    assert kube.writes() == []
    assert image(kube.fake) == "lnn:3"


async def test_rollback_of_a_target_changed_since_approval_is_refused(kube: Kube) -> None:
    snap = await kube.cluster.snapshot(TARGET)
    kube.fake.set_image(NS, NAME, "lnn:4")
    with pytest.raises(TargetChanged, match="changed since approval"):
        await kube.cluster.rollback(TARGET, expect_resource_version=snap.resource_version)
    assert kube.writes() == []


async def test_a_change_between_read_and_patch_answers_409_as_target_changed(
    kube: Kube,
) -> None:
    kube.fake.faults.conflicts(1)
    with pytest.raises(TargetChanged):
        await kube.cluster.rollback(TARGET)
    assert image(kube.fake) == "lnn:3"


async def test_a_rejected_rollback_dry_run_stops_with_the_message(kube: Kube) -> None:
    kube.fake.faults.reject_dry_run("image lnn:2 is not signed")
    with pytest.raises(DryRunRejected, match="image lnn:2 is not signed"):
        await kube.cluster.rollback(TARGET, dry_run=True)
    assert image(kube.fake) == "lnn:3"


async def test_a_deployment_without_history_has_nothing_to_roll_back_to(
    tmp_path: Path,
) -> None:
    async with serve(with_history("lnn:1"), tmp_path) as kube:
        with pytest.raises(NotFound, match="no rollout history"):
            await kube.cluster.rollback(TARGET)


def _spec_and_annotations(fake: FakeKube) -> dict[str, Any]:
    deployment = fake.deployment(NS, NAME)
    return {"spec": deployment["spec"], "annotations": deployment["metadata"]["annotations"]}


@pytest.mark.binary
@pytest.mark.parametrize("to_revision", [None, 1])
async def test_rollback_ends_where_kubectl_rollout_undo_ends(
    tmp_path: Path, to_revision: int | None
) -> None:
    binary = need("kubectl")
    images = ("lnn:1", "lnn:2", "lnn:3")
    theirs, ours = with_history(*images), with_history(*images)
    assert _spec_and_annotations(theirs) == _spec_and_annotations(ours)
    args = ["rollout", "undo", f"deployment/{NAME}", "-n", NS]
    if to_revision is not None:
        args.append(f"--to-revision={to_revision}")
    (tmp_path / "theirs").mkdir()
    (tmp_path / "ours").mkdir()
    async with serve(theirs, tmp_path / "theirs") as kube:
        done = await asyncio.to_thread(kubectl, binary, kube.kubeconfig, *args)
        assert done.returncode == 0, done.stderr
        assert "rolled back" in done.stdout
    async with serve(ours, tmp_path / "ours") as kube:
        result = await kube.cluster.rollback(TARGET, to_revision=to_revision)
        assert not result.skipped
    assert _spec_and_annotations(theirs) == _spec_and_annotations(ours)
    theirs.settle()
    ours.settle()
    assert _spec_and_annotations(theirs) == _spec_and_annotations(ours)
    assert [rs["spec"]["template"] for rs in theirs.replicasets(NS, NAME)] == [
        rs["spec"]["template"] for rs in ours.replicasets(NS, NAME)
    ]
