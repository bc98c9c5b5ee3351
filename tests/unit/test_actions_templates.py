"""Pod templates compare and digest without the ReplicaSet's ``pod-template-hash`` label; the
snapshot and the history read the right fields."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from actions.history import owned, pick, revisions
from actions.snapshot import snapshot_of
from actions.templates import equal_ignoring_hash, template_digest, without_hash
from bot.errors import ClusterError, NotFound


def template(image: str = "lnn:1", **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "lnn", **labels}},
        "spec": {"containers": [{"name": "lnn", "image": image, "resources": {}}]},
    }


def test_the_hash_label_does_not_make_templates_differ() -> None:
    assert equal_ignoring_hash(template(), template(**{"pod-template-hash": "abc123"}))
    assert template_digest(template()) == template_digest(
        template(**{"pod-template-hash": "abc123"})
    )


def test_any_other_difference_does() -> None:
    assert not equal_ignoring_hash(template("lnn:1"), template("lnn:2"))
    assert not equal_ignoring_hash(template(), template(tier="web"))
    assert template_digest(template("lnn:1")) != template_digest(template("lnn:2"))


def test_empty_and_missing_members_compare_equal_as_kubectl_semantic_equality_does() -> None:
    bare = template()
    del bare["spec"]["containers"][0]["resources"]
    assert equal_ignoring_hash(bare, template())


def test_without_hash_copies_and_drops_an_emptied_labels_map() -> None:
    original = {"metadata": {"labels": {"pod-template-hash": "x"}}, "spec": {}}
    clean = without_hash(original)
    assert clean == {"metadata": {}, "spec": {}}
    assert original["metadata"]["labels"] == {"pod-template-hash": "x"}


def deployment(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "metadata": {
            "name": "lnn-service",
            "uid": "uid-d",
            "resourceVersion": "41",
            "generation": 7,
            "annotations": {"deployment.kubernetes.io/revision": "3"},
        },
        "spec": {"replicas": 4, "template": template()},
    }
    base.update(overrides)
    return base


def test_snapshot_reads_version_replicas_revision_pause_and_restart_stamp() -> None:
    d = deployment()
    d["spec"]["paused"] = True
    d["spec"]["template"]["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"
    }
    snap = snapshot_of(d)
    assert snap.resource_version == "41"
    assert snap.generation == 7
    assert snap.replicas == 4
    assert snap.revision == 3
    assert snap.paused
    assert snap.restarted_at == "2025-01-01T00:00:00Z"
    assert snap.template_hash == template_digest(d["spec"]["template"])


def test_snapshot_of_a_fresh_deployment_defaults_revision_and_restart() -> None:
    d = deployment()
    d["metadata"]["annotations"] = {}
    snap = snapshot_of(d)
    assert (snap.revision, snap.restarted_at, snap.paused) == (0, None, False)


def test_snapshot_refuses_an_object_without_resource_version() -> None:
    d = deployment()
    del d["metadata"]["resourceVersion"]
    with pytest.raises(ClusterError):
        snapshot_of(d)


def replicaset(
    name: str, revision: str | None, *, owner: str = "uid-d", controller: bool = True
) -> dict[str, Any]:
    annotations = {} if revision is None else {"deployment.kubernetes.io/revision": revision}
    return {
        "metadata": {
            "name": name,
            "annotations": annotations,
            "ownerReferences": [{"uid": owner, "controller": controller, "kind": "Deployment"}],
        },
        "spec": {"template": template(f"lnn:{name}")},
    }


def test_only_replicasets_the_deployment_controls_are_its_history() -> None:
    mine = replicaset("a", "1")
    foreign = replicaset("b", "2", owner="uid-other")
    not_controller = replicaset("c", "3", controller=False)
    assert owned(deployment(), [mine, foreign, not_controller]) == [mine]


def test_pick_takes_the_second_highest_revision_by_default() -> None:
    history = [replicaset("r3", "3"), replicaset("r10", "10"), replicaset("r9", "9")]
    assert pick(history, to_revision=None, name="d")["metadata"]["name"] == "r9"


def test_pick_takes_the_named_revision_and_ignores_unnumbered_sets() -> None:
    history = [replicaset("r1", "1"), replicaset("odd", "not-a-number"), replicaset("r2", "2")]
    assert pick(history, to_revision=1, name="d")["metadata"]["name"] == "r1"
    with pytest.raises(NotFound, match="revision 5"):
        pick(history, to_revision=5, name="d")


def test_pick_without_a_previous_revision_says_there_is_no_history() -> None:
    with pytest.raises(NotFound, match="no rollout history"):
        pick([replicaset("r1", "1")], to_revision=None, name="d")


def test_revisions_list_change_cause_or_images_oldest_first() -> None:
    caused = copy.deepcopy(replicaset("r2", "2"))
    caused["metadata"]["annotations"]["kubernetes.io/change-cause"] = "bump to lnn:2"
    assert revisions([caused, replicaset("r1", "1"), replicaset("x", None)]) == (
        (1, "lnn:r1"),
        (2, "bump to lnn:2"),
    )
