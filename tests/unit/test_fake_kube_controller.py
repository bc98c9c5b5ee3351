"""The fake's deployment controller, stepped by hand: revisions, ReplicaSet reuse, rolling
update bounds, readiness, progress deadline, pause, history limit."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.kube.objects import (
    CHANGE_CAUSE,
    POD_TEMPLATE_HASH,
    REVISION,
    REVISION_HISTORY,
    revision,
)
from tests.fakes.kube.pods import is_ready
from tests.fakes.kube.server import DEFAULT_IMAGE, FakeKube
from tests.fakes.kube.testing import ManualClock

NS, NAME = "prod", "lnn-service"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake(clock: ManualClock) -> FakeKube:
    fake = FakeKube(clock=clock)
    fake.add_deployment(NS, NAME, replicas=4)
    return fake


def _images(fake: FakeKube) -> list[str]:
    return [pod["spec"]["containers"][0]["image"] for pod in fake.pods(NS, NAME)]


def _status(fake: FakeKube) -> dict[str, Any]:
    status: dict[str, Any] = fake.deployment(NS, NAME)["status"]
    return status


def _condition(fake: FakeKube, kind: str) -> dict[str, Any]:
    return next(c for c in _status(fake)["conditions"] if c["type"] == kind)


def test_a_new_deployment_is_rolled_out_at_revision_one(fake: FakeKube) -> None:
    deployment = fake.deployment(NS, NAME)
    (rs,) = fake.replicasets(NS, NAME)
    assert deployment["metadata"]["annotations"][REVISION] == "1"
    assert rs["metadata"]["annotations"][REVISION] == "1"
    assert rs["metadata"]["ownerReferences"][0]["uid"] == deployment["metadata"]["uid"]
    digest = rs["metadata"]["labels"][POD_TEMPLATE_HASH]
    assert rs["metadata"]["name"] == f"{NAME}-{digest}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": NAME, POD_TEMPLATE_HASH: digest}
    pods = fake.pods(NS, NAME)
    assert len(pods) == 4
    assert all(is_ready(pod) for pod in pods)
    assert all(pod["metadata"]["name"].startswith(rs["metadata"]["name"] + "-") for pod in pods)
    status = deployment["status"]
    assert status["observedGeneration"] == deployment["metadata"]["generation"] == 1
    assert (status["replicas"], status["updatedReplicas"], status["readyReplicas"]) == (4, 4, 4)
    assert status["availableReplicas"] == 4
    assert _condition(fake, "Available")["status"] == "True"
    assert _condition(fake, "Progressing")["reason"] == "NewReplicaSetAvailable"


def test_a_template_change_rolls_out_within_surge_and_unavailability(fake: FakeKube) -> None:
    fake.set_image(NS, NAME, "ghcr.io/example/lnn-service:2.0.0", change_cause="bump to 2.0.0")
    assert fake.deployment(NS, NAME)["metadata"]["generation"] == 2
    seen_new = []
    for _ in range(50):
        fake.step()
        pods = fake.pods(NS, NAME)
        # 25% of 4: at most one extra pod, at most one unavailable.
        assert len(pods) <= 5
        assert sum(is_ready(pod) for pod in pods) >= 3
        seen_new.append(_images(fake).count("ghcr.io/example/lnn-service:2.0.0"))
        if (
            _status(fake).get("updatedReplicas") == 4
            and len(pods) == 4
            and all(map(is_ready, pods))
        ):
            break
    assert seen_new[0] < 4 < len(seen_new)  # it took several rounds
    assert _images(fake) == ["ghcr.io/example/lnn-service:2.0.0"] * 4
    old, new = fake.replicasets(NS, NAME)
    assert (revision(old), revision(new)) == (1, 2)
    assert old["spec"]["replicas"] == 0
    assert new["spec"]["replicas"] == 4
    assert new["metadata"]["annotations"][CHANGE_CAUSE] == "bump to 2.0.0"
    assert fake.deployment(NS, NAME)["metadata"]["annotations"][REVISION] == "2"
    reasons = [e["message"] for e in fake.events(NS, NAME) if e["reason"] == "ScalingReplicaSet"]
    assert f"Scaled up replica set {new['metadata']['name']} from 0 to 1" in reasons


def test_going_back_to_an_old_template_reuses_its_replicaset_with_the_next_revision(
    fake: FakeKube,
) -> None:
    fake.set_image(NS, NAME, "ghcr.io/example/lnn-service:2.0.0")
    fake.settle()
    first = fake.replicasets(NS, NAME)[0]
    fake.set_image(NS, NAME, DEFAULT_IMAGE)
    fake.settle()
    replicasets = fake.replicasets(NS, NAME)
    assert len(replicasets) == 2
    reused = replicasets[-1]
    assert reused["metadata"]["uid"] == first["metadata"]["uid"]
    assert revision(reused) == 3
    assert reused["metadata"]["annotations"][REVISION_HISTORY] == "1"
    assert fake.deployment(NS, NAME)["metadata"]["annotations"][REVISION] == "3"
    assert _images(fake) == [DEFAULT_IMAGE] * 4


def test_a_hung_rollout_stays_unready_then_exceeds_its_progress_deadline(
    fake: FakeKube, clock: ManualClock
) -> None:
    fake.faults.hang_rollout()
    fake.set_image(NS, NAME, "ghcr.io/example/lnn-service:broken")
    assert fake.settle() < 1000  # it stalls, and a stalled fake settles
    new = fake.replicasets(NS, NAME)[-1]
    new_pods = [
        p
        for p in fake.pods(NS, NAME)
        if p["metadata"]["labels"][POD_TEMPLATE_HASH] in new["metadata"]["name"]
    ]
    assert new_pods
    assert not any(map(is_ready, new_pods))
    assert (
        new_pods[0]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
        == "CrashLoopBackOff"
    )
    assert sum(map(is_ready, fake.pods(NS, NAME))) >= 3  # old pods keep serving
    assert _condition(fake, "Progressing")["status"] == "True"
    clock.advance(601)
    fake.step()
    progressing = _condition(fake, "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    restarts = new_pods[0]["status"]["containerStatuses"][0]["restartCount"]
    assert fake.pods(NS, NAME)[-1]["status"]["containerStatuses"][0]["restartCount"] > restarts
    backoffs = [e for e in fake.store.list("events", NS) if e["reason"] == "BackOff"]
    assert backoffs
    assert backoffs[0]["type"] == "Warning"


def test_releasing_a_hung_rollout_lets_it_finish(fake: FakeKube) -> None:
    fake.faults.hang_rollout()
    fake.set_image(NS, NAME, "ghcr.io/example/lnn-service:slow")
    fake.settle()
    assert _status(fake).get("updatedReplicas", 0) < 4 or _status(fake).get("readyReplicas") != 4
    fake.faults.release_rollout()
    fake.settle()
    assert _images(fake) == ["ghcr.io/example/lnn-service:slow"] * 4
    assert _condition(fake, "Progressing")["reason"] == "NewReplicaSetAvailable"


def test_a_paused_deployment_scales_but_does_not_roll_out(fake: FakeKube) -> None:
    fake.set_paused(NS, NAME, True)
    fake.set_image(NS, NAME, "ghcr.io/example/lnn-service:2.0.0")
    fake.update_deployment(NS, NAME, lambda d: d["spec"].update(replicas=6))
    fake.settle()
    assert len(fake.replicasets(NS, NAME)) == 1
    assert _images(fake) == [DEFAULT_IMAGE] * 6
    assert _condition(fake, "Progressing")["reason"] == "DeploymentPaused"
    fake.set_paused(NS, NAME, False)
    fake.settle()
    assert _images(fake) == ["ghcr.io/example/lnn-service:2.0.0"] * 6


def test_scaling_without_a_template_change_keeps_the_revision(fake: FakeKube) -> None:
    fake.update_deployment(NS, NAME, lambda d: d["spec"].update(replicas=2))
    fake.settle()
    (rs,) = fake.replicasets(NS, NAME)
    assert rs["spec"]["replicas"] == 2
    assert len(fake.pods(NS, NAME)) == 2
    assert revision(rs) == 1
    assert _status(fake)["replicas"] == 2


def test_old_replicasets_beyond_the_history_limit_are_deleted(fake: FakeKube) -> None:
    fake.update_deployment(NS, NAME, lambda d: d["spec"].update(revisionHistoryLimit=2))
    for version in range(2, 7):
        fake.set_image(NS, NAME, f"ghcr.io/example/lnn-service:{version}.0.0")
        fake.settle()
    assert [revision(rs) for rs in fake.replicasets(NS, NAME)] == [4, 5, 6]


def test_recreate_strategy_stops_old_pods_before_starting_new_ones(fake: FakeKube) -> None:
    def to_recreate(deployment: dict[str, Any]) -> None:
        deployment["spec"]["strategy"] = {"type": "Recreate"}

    fake.update_deployment(NS, NAME, to_recreate)
    fake.set_image(NS, NAME, "ghcr.io/example/lnn-service:2.0.0")
    mixed = False
    for _ in range(20):
        fake.step()
        images = set(_images(fake))
        mixed = mixed or len(images) > 1
    assert not mixed
    assert _images(fake) == ["ghcr.io/example/lnn-service:2.0.0"] * 4
