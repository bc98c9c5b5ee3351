"""Following a rollout: ``KubeCluster.rollout`` judges each state as ``kubectl rollout
status`` does while the fake's controller steps; a stalled rollout fails at its deadline;
``diagnose`` reports pods, history and events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain.target import Target
from tests.fakes.kube.server import FakeKube
from tests.support.binaries import need
from tests.support.kube_cluster import NAME, NS, Kube, kubectl, serve

TARGET = Target(NS, NAME)
MAX_STEPS = 50


class ManualClock:
    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def kube(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Kube]:
    fake = FakeKube(clock=clock)
    fake.add_deployment(NS, NAME, replicas=4, image="lnn:1", progress_deadline_seconds=60)
    async with serve(fake, tmp_path) as kube:
        yield kube


async def test_a_settled_deployment_is_rolled_out(kube: Kube) -> None:
    progress = await kube.cluster.rollout(TARGET)
    assert progress.done
    assert (progress.desired, progress.updated, progress.ready, progress.available) == (4, 4, 4, 4)


async def test_progress_is_judged_at_every_step_until_done(kube: Kube) -> None:
    kube.fake.set_image(NS, NAME, "lnn:2")
    seen = []
    for _ in range(MAX_STEPS):
        progress = await kube.cluster.rollout(TARGET)
        seen.append(progress)
        if progress.done:
            break
        kube.fake.step()
    assert seen[-1].done, seen[-1]
    assert not seen[0].done
    assert not seen[0].observed_current  # the spec change was not observed yet
    assert any("new replicas have been updated" in p.message for p in seen)
    assert all(p.updated <= p.desired for p in seen)


@pytest.mark.binary
async def test_each_verdict_matches_kubectl_rollout_status(kube: Kube) -> None:
    binary = need("kubectl")
    kube.fake.set_image(NS, NAME, "lnn:2")
    args = ("rollout", "status", f"deployment/{NAME}", "-n", NS, "--watch=false")
    for _ in range(MAX_STEPS):
        ours = await kube.cluster.rollout(TARGET)
        theirs = await asyncio.to_thread(kubectl, binary, kube.kubeconfig, *args)
        assert theirs.returncode == 0, theirs.stderr
        assert theirs.stdout.strip() == ours.message
        if ours.done:
            break
        kube.fake.step()
    else:
        pytest.fail("the rollout did not finish")


async def test_a_stalled_rollout_fails_once_its_deadline_passes(
    kube: Kube, clock: ManualClock
) -> None:
    kube.fake.faults.hang_rollout()
    kube.fake.set_image(NS, NAME, "lnn:broken")
    kube.fake.settle()
    stalled = await kube.cluster.rollout(TARGET)
    assert not stalled.done
    assert not stalled.failed
    clock.now += 61
    kube.fake.settle()
    failed = await kube.cluster.rollout(TARGET)
    assert failed.failed
    assert not failed.done
    assert failed.message == f'deployment "{NAME}" exceeded its progress deadline'


async def test_diagnose_reports_pods_history_and_events(kube: Kube, clock: ManualClock) -> None:
    kube.fake.set_image(NS, NAME, "lnn:2", change_cause="deploy lnn:2")
    kube.fake.settle()
    kube.fake.faults.hang_rollout()
    kube.fake.set_image(NS, NAME, "lnn:3", change_cause="deploy lnn:3")
    kube.fake.settle()
    clock.now += 30
    kube.fake.settle()
    diagnosis = await kube.cluster.diagnose(TARGET)
    assert diagnosis.target == TARGET
    assert diagnosis.snapshot.revision == 3
    assert not diagnosis.progress.done
    assert diagnosis.revisions == ((1, "lnn:1"), (2, "deploy lnn:2"), (3, "deploy lnn:3"))
    expected = {p["metadata"]["name"] for p in kube.fake.pods(NS, NAME)}
    assert {p.name for p in diagnosis.pods} == expected
    crashing = [p for p in diagnosis.pods if not p.ready]
    assert crashing
    assert all(p.phase == "Running" and p.restarts >= 1 for p in crashing)
    assert all(p.ready and p.restarts == 0 for p in diagnosis.pods if p not in crashing)
    reasons = {e.reason for e in diagnosis.events}
    assert "ScalingReplicaSet" in reasons  # the deployment's own events
    assert "BackOff" in reasons  # its pods' events
    assert all(e.type in ("Normal", "Warning") for e in diagnosis.events)
    stamps = [e.at for e in diagnosis.events if e.at is not None]
    assert stamps == sorted(stamps)


async def test_diagnose_ignores_pods_and_events_of_other_deployments(kube: Kube) -> None:
    kube.fake.add_deployment(NS, "other", replicas=2, image="other:1")
    diagnosis = await kube.cluster.diagnose(TARGET)
    assert len(diagnosis.pods) == 4
    assert all(p.name.startswith(NAME) for p in diagnosis.pods)
    other_pods = {p["metadata"]["name"] for p in kube.fake.pods(NS, "other")}
    assert not {e.message for e in diagnosis.events if any(n in e.message for n in other_pods)}
    assert diagnosis.revisions == ((1, "lnn:1"),)
