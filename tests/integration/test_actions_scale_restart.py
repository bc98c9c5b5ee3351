"""``KubeCluster`` against the fake Kubernetes API: snapshot, scale through the scale
subresource (with 409 retries), the idempotent rolling restart, dry runs, and the guards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from actions.cluster import KubeCluster
from actions.scale import ATTEMPTS
from bot.domain.action import ActionRequest, ActionState, ActionVerb
from bot.domain.target import Target
from bot.errors import (
    BadRequest,
    ClusterError,
    ClusterUnavailable,
    ConfigError,
    DryRunRejected,
    Forbidden,
    NotFound,
    TargetChanged,
)
from bot.services.remediation.run import apply_change
from handlers.slack.actor import slack_actor
from tests.fakes.kube.server import FakeKube
from tests.support.kube_cluster import NAME, NS, Kube, serve

TARGET = Target(NS, NAME)
STAMP = "2025-03-01T12:00:00Z"


@pytest.fixture
async def kube(tmp_path: Path) -> AsyncIterator[Kube]:
    fake = FakeKube()
    fake.add_deployment(NS, NAME, replicas=3, image="lnn:1")
    async with serve(fake, tmp_path) as kube:
        yield kube


async def test_snapshot_reads_what_the_approval_records(kube: Kube) -> None:
    stored = kube.fake.deployment(NS, NAME)
    snap = await kube.cluster.snapshot(TARGET)
    assert snap.resource_version == stored["metadata"]["resourceVersion"]
    assert snap.generation == stored["metadata"]["generation"]
    assert (snap.replicas, snap.revision, snap.paused, snap.restarted_at) == (3, 1, False, None)
    kube.fake.set_image(NS, NAME, "lnn:2")
    kube.fake.settle()
    moved = await kube.cluster.snapshot(TARGET)
    assert moved.revision == 2
    assert moved.template_hash != snap.template_hash
    assert moved.resource_version != snap.resource_version


async def test_scale_dry_runs_first_then_sets_replicas_on_the_scale_subresource(
    kube: Kube,
) -> None:
    dry = await kube.cluster.scale(TARGET, replicas=6, dry_run=True)
    assert not dry.skipped
    assert kube.fake.deployment(NS, NAME)["spec"]["replicas"] == 3
    done = await kube.cluster.scale(TARGET, replicas=6)
    assert not done.skipped
    assert "from 3 to 6" in done.detail
    assert kube.fake.deployment(NS, NAME)["spec"]["replicas"] == 6
    writes = kube.writes()
    assert [(w.method, w.path.rsplit("/", 1)[-1], w.dry_run) for w in writes] == [
        ("PATCH", "scale", True),
        ("PATCH", "scale", False),
    ]
    assert writes[1].body["spec"] == {"replicas": 6}
    kube.fake.settle()
    assert len(kube.fake.pods(NS, NAME)) == 6


async def test_scale_rereads_and_retries_on_409(kube: Kube) -> None:
    kube.fake.faults.conflicts(2)
    result = await kube.cluster.scale(TARGET, replicas=5)
    assert not result.skipped
    assert kube.fake.deployment(NS, NAME)["spec"]["replicas"] == 5
    writes = kube.writes()
    assert [w.status for w in writes] == [409, 409, 200]
    reads = [r for r in kube.fake.requests if r.method == "GET"]
    assert len(reads) == 3  # one fresh read before each attempt


async def test_scale_gives_up_after_a_bounded_number_of_conflicts(kube: Kube) -> None:
    kube.fake.faults.conflicts(100)
    with pytest.raises(TargetChanged, match=f"after {ATTEMPTS} attempts"):
        await kube.cluster.scale(TARGET, replicas=5)
    assert len(kube.writes()) == ATTEMPTS
    assert kube.fake.deployment(NS, NAME)["spec"]["replicas"] == 3


async def test_scale_to_the_current_count_is_skipped_without_a_write(kube: Kube) -> None:
    result = await kube.cluster.scale(TARGET, replicas=3)
    assert result.skipped
    assert kube.writes() == []


async def test_scale_refuses_negative_replicas_before_calling_the_api(kube: Kube) -> None:
    with pytest.raises(BadRequest):
        await kube.cluster.scale(TARGET, replicas=-1)
    assert kube.fake.requests == []


async def test_a_rejected_dry_run_carries_the_apis_message_and_changes_nothing(
    kube: Kube,
) -> None:
    kube.fake.faults.reject_dry_run("replicas above the namespace quota")
    before = kube.fake.snapshot()
    with pytest.raises(DryRunRejected, match="replicas above the namespace quota") as caught:
        await kube.cluster.scale(TARGET, replicas=9, dry_run=True)
    assert "policy.example.com" in str(caught.value)
    with pytest.raises(DryRunRejected, match="namespace quota"):
        await kube.cluster.restart(TARGET, restarted_at=STAMP, dry_run=True)
    assert kube.fake.snapshot() == before


async def test_dry_runs_store_nothing(kube: Kube) -> None:
    kube.fake.set_image(NS, NAME, "lnn:2")
    kube.fake.settle()
    before = kube.fake.snapshot()
    await kube.cluster.scale(TARGET, replicas=7, dry_run=True)
    await kube.cluster.restart(TARGET, restarted_at=STAMP, dry_run=True)
    await kube.cluster.rollback(TARGET, dry_run=True)
    kube.fake.settle()
    assert kube.fake.snapshot() == before
    assert [w.dry_run for w in kube.writes()] == [True, True, True]


async def test_restart_stamps_the_template_and_rolls_new_pods(kube: Kube) -> None:
    old_pods = {p["metadata"]["name"] for p in kube.fake.pods(NS, NAME)}
    snap = await kube.cluster.snapshot(TARGET)
    await kube.cluster.restart(
        TARGET, restarted_at=STAMP, expect_resource_version=snap.resource_version, dry_run=True
    )
    result = await kube.cluster.restart(
        TARGET, restarted_at=STAMP, expect_resource_version=snap.resource_version
    )
    assert not result.skipped
    template = kube.fake.deployment(NS, NAME)["spec"]["template"]
    assert template["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] == STAMP
    write = kube.writes()[-1]
    assert write.content_type.startswith("application/strategic-merge-patch+json")
    assert write.body["metadata"]["resourceVersion"] == snap.resource_version
    kube.fake.settle()
    assert (await kube.cluster.snapshot(TARGET)).revision == 2
    new_pods = {p["metadata"]["name"] for p in kube.fake.pods(NS, NAME)}
    assert len(new_pods) == 3
    assert not new_pods & old_pods


async def test_restart_retried_after_a_crash_restarts_nothing_twice(kube: Kube) -> None:
    snap = await kube.cluster.snapshot(TARGET)
    await kube.cluster.restart(
        TARGET, restarted_at=STAMP, expect_resource_version=snap.resource_version
    )
    kube.fake.settle()
    writes = len(kube.writes())
    # The retry carries the approval's (now stale) version: its own stamp wins, not a 409.
    again = await kube.cluster.restart(
        TARGET, restarted_at=STAMP, expect_resource_version=snap.resource_version
    )
    assert again.skipped
    assert len(kube.writes()) == writes
    kube.fake.settle()
    assert len(kube.fake.replicasets(NS, NAME)) == 2
    assert (await kube.cluster.snapshot(TARGET)).restarted_at == STAMP


async def test_restart_of_a_target_that_moved_since_approval_is_refused(kube: Kube) -> None:
    snap = await kube.cluster.snapshot(TARGET)
    kube.fake.set_image(NS, NAME, "lnn:2")
    with pytest.raises(TargetChanged, match="changed since approval"):
        await kube.cluster.restart(
            TARGET, restarted_at=STAMP, expect_resource_version=snap.resource_version
        )
    assert kube.writes() == []


async def test_restart_losing_a_race_after_its_read_gets_target_changed(kube: Kube) -> None:
    kube.fake.faults.conflicts(1)
    with pytest.raises(TargetChanged):
        await kube.cluster.restart(TARGET, restarted_at=STAMP)
    assert "annotations" not in kube.fake.deployment(NS, NAME)["spec"]["template"]["metadata"]


async def test_restart_of_a_paused_deployment_is_refused(kube: Kube) -> None:
    kube.fake.set_paused(NS, NAME, True)
    with pytest.raises(ClusterError, match="paused"):
        await kube.cluster.restart(TARGET, restarted_at=STAMP)
    assert kube.writes() == []


async def test_kube_system_is_refused_before_any_request(kube: Kube) -> None:
    system = Target("kube-system", "coredns")
    with pytest.raises(Forbidden):
        await kube.cluster.scale(system, replicas=1)
    with pytest.raises(Forbidden):
        await kube.cluster.restart(system, restarted_at=STAMP)
    with pytest.raises(Forbidden):
        await kube.cluster.rollback(system)
    with pytest.raises(Forbidden):
        await kube.cluster.diagnose(system)
    assert kube.fake.requests == []


async def test_a_missing_deployment_is_not_found(kube: Kube) -> None:
    with pytest.raises(NotFound):
        await kube.cluster.snapshot(Target(NS, "nope"))
    with pytest.raises(NotFound):
        await kube.cluster.scale(Target(NS, "nope"), replicas=2)


async def test_server_errors_are_unavailable_and_a_later_call_works(kube: Kube) -> None:
    kube.fake.faults.unavailable(1)
    with pytest.raises(ClusterUnavailable, match="503"):
        await kube.cluster.snapshot(TARGET)
    kube.fake.faults.server_errors(1)
    with pytest.raises(ClusterUnavailable, match="500"):
        await kube.cluster.rollout(TARGET)
    assert (await kube.cluster.snapshot(TARGET)).replicas == 3


async def test_an_unreachable_api_is_unavailable(tmp_path: Path) -> None:
    fake = FakeKube()
    fake.add_deployment(NS, NAME)
    async with serve(fake, tmp_path) as kube:
        pass
    # The server is gone; the kubeconfig still points at its (now closed) port.
    async with await KubeCluster.from_kubeconfig(kube.kubeconfig) as cluster:
        with pytest.raises(ClusterUnavailable, match="unreachable"):
            await cluster.snapshot(TARGET)


def approved(verb: ActionVerb, **fields: Any) -> ActionRequest:
    at = datetime(2025, 3, 1, 12, tzinfo=UTC)
    return ActionRequest(
        id=1,
        incident_id=1,
        verb=verb,
        target=TARGET,
        state=ActionState.RUNNING,
        requested_by=slack_actor("U1"),
        requested_at=at,
        expires_at=at,
        updated_at=at,
        **fields,
    )


async def test_the_one_dispatch_runs_a_stored_request_on_the_cluster(kube: Kube) -> None:
    snap = await kube.cluster.snapshot(TARGET)
    scale = approved(ActionVerb.SCALE, replicas=4)
    rv = snap.resource_version
    dry = await apply_change(kube.cluster, scale, resource_version=rv, dry_run=True)
    done = await apply_change(kube.cluster, scale, resource_version=rv, dry_run=False)
    assert (dry.skipped, done.skipped) == (False, False)
    assert kube.fake.deployment(NS, NAME)["spec"]["replicas"] == 4
    snap = await kube.cluster.snapshot(TARGET)
    restarted = await apply_change(
        kube.cluster,
        approved(ActionVerb.RESTART, restarted_at=STAMP),
        resource_version=snap.resource_version,
        dry_run=False,
    )
    assert not restarted.skipped
    with pytest.raises(BadRequest):
        await apply_change(
            kube.cluster,
            approved(ActionVerb.SCALE, replicas=-1),
            resource_version=snap.resource_version,
            dry_run=False,
        )
    assert [w.dry_run for w in kube.writes()] == [True, False, False]


async def test_configuration_problems_are_config_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        await KubeCluster.from_kubeconfig(tmp_path / "missing")
    broken = tmp_path / "broken"
    broken.write_text("apiVersion: v1\nkind: Config\ncontexts: []\n")
    with pytest.raises(ConfigError, match="current-context"):
        await KubeCluster.from_kubeconfig(broken)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ConfigError, match="in-cluster"):
        KubeCluster.in_cluster()


async def test_from_environment_follows_kubeconfig(
    kube: Kube, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kube.kubeconfig))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")  # KUBECONFIG wins
    async with await KubeCluster.from_environment() as cluster:
        assert (await cluster.snapshot(TARGET)).replicas == 3
