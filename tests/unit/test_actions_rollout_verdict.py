"""The rollout verdict follows ``kubectl rollout status`` for Deployments, check by check."""

from __future__ import annotations

from typing import Any

import pytest

from actions.rollout import judge


def deployment(
    *,
    generation: int = 2,
    observed: int = 2,
    desired: int | None = 4,
    replicas: int = 4,
    updated: int = 4,
    ready: int = 4,
    available: int = 4,
    conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {} if desired is None else {"replicas": desired}
    return {
        "metadata": {"name": "lnn-service", "generation": generation},
        "spec": spec,
        "status": {
            "observedGeneration": observed,
            "replicas": replicas,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
            "conditions": conditions or [],
        },
    }


def test_a_spec_change_not_yet_observed_is_waited_for_even_if_counts_look_done() -> None:
    progress = judge(deployment(generation=3, observed=2))
    assert not progress.done
    assert not progress.observed_current
    assert progress.message == "Waiting for deployment spec update to be observed..."


def test_fewer_updated_than_desired_waits_for_updates() -> None:
    progress = judge(deployment(desired=6, replicas=6, updated=2, available=4))
    assert not progress.done
    assert progress.message == (
        'Waiting for deployment "lnn-service" rollout to finish: '
        "2 out of 6 new replicas have been updated..."
    )


def test_old_replicas_pending_termination_are_waited_for() -> None:
    progress = judge(deployment(replicas=5, updated=4))
    assert not progress.done
    assert progress.message.endswith("1 old replicas are pending termination...")


def test_updated_but_not_available_waits_for_availability() -> None:
    progress = judge(deployment(available=2, ready=3))
    assert not progress.done
    assert progress.message.endswith("2 of 4 updated replicas are available...")
    assert (progress.ready, progress.available, progress.updated) == (3, 2, 4)


def test_everything_updated_and_available_is_done() -> None:
    progress = judge(deployment())
    assert progress.done
    assert not progress.failed
    assert progress.message == 'deployment "lnn-service" successfully rolled out'


def test_progress_deadline_exceeded_fails_before_the_counts_are_looked_at() -> None:
    timed_out = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    progress = judge(deployment(updated=1, available=0, conditions=[timed_out]))
    assert progress.failed
    assert not progress.done
    assert "exceeded its progress deadline" in progress.message


def test_a_progressing_condition_that_is_fine_does_not_fail() -> None:
    fine = {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
    assert judge(deployment(conditions=[fine])).done


def test_the_deadline_is_not_judged_before_the_generation_is_observed() -> None:
    timed_out = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    progress = judge(deployment(generation=5, observed=4, conditions=[timed_out]))
    assert not progress.failed


@pytest.mark.parametrize("desired", [None, 1])
def test_missing_replicas_count_as_one(desired: int | None) -> None:
    progress = judge(deployment(desired=desired, replicas=1, updated=1, ready=1, available=1))
    assert progress.desired == 1
    assert progress.done


def test_scaled_to_zero_is_done_once_nothing_is_left() -> None:
    progress = judge(deployment(desired=0, replicas=0, updated=0, ready=0, available=0))
    assert progress.done
