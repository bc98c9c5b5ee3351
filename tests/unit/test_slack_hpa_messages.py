"""The Slack wording of an HPA scale: the approval message names the HPA, its floor before and
after, its maximum and why not the deployment; a restore says what it puts back; resolving
offers one "Restore minReplicas to N" button per floor the incident raised, and none when
nothing is left to restore."""

from __future__ import annotations

import dataclasses
import json

import pytest

from bot.domain.action import ActionRequest, ActionState, ActionVerb
from bot.domain.autoscaler import AutoscalerPlan
from bot.domain.controls import Control
from bot.domain.target import Target
from bot.integrations.slack.actions import render_action, restorable, restore_offer
from bot.policy.model import Policy
from handlers.slack.actor import slack_actor
from tests.support.actions import LNN
from tests.support.store_builders import T0

HPA = AutoscalerPlan("lnn-service", 3, 10)


def _action(action_id: int = 1, **changes: object) -> ActionRequest:
    base = ActionRequest(
        id=action_id,
        incident_id=7,
        verb=ActionVerb.SCALE,
        target=LNN,
        state=ActionState.REQUESTED,
        requested_by=slack_actor("U0ALICE"),
        requested_at=T0,
        expires_at=T0,
        updated_at=T0,
        replicas=6,
        autoscaler=HPA,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _shown(action: ActionRequest, policy: Policy) -> str:
    message = render_action(action, policy=policy, now=T0)
    return message.text + json.dumps(message.blocks, ensure_ascii=False)


def test_the_approval_message_proposes_the_hpa_floor(policy: Policy) -> None:
    shown = _shown(_action(), policy)
    assert (
        f"raise HPA {LNN.namespace}/lnn-service minReplicas 3 → 6 (max 10); "
        "scaling the deployment directly would be undone by the autoscaler"
    ) in shown
    assert Control.APPROVE in shown


def test_the_progress_message_says_which_floor_was_set(policy: Policy) -> None:
    running = _action(state=ActionState.RUNNING, previous_min_replicas=4)
    assert f"HPA {LNN.namespace}/lnn-service minReplicas 4 → 6 (max 10)" in _shown(running, policy)


def test_a_plain_scale_still_shows_the_replicas(policy: Policy) -> None:
    assert "HPA" not in _shown(_action(autoscaler=None), policy)


def test_lowering_and_restoring_are_worded_as_such(policy: Policy) -> None:
    lower = _shown(_action(replicas=4, autoscaler=AutoscalerPlan("lnn-service", 6, 10)), policy)
    assert "lower HPA" in lower
    assert "minReplicas 6 → 4" in lower
    restore = _shown(
        _action(2, replicas=3, autoscaler=AutoscalerPlan("lnn-service", 6, 10), restores=1),
        policy,
    )
    assert "restore HPA" in restore
    assert "minReplicas 6 → 3 (max 10), as it was before action #1" in restore


def test_an_unchanged_floor_is_not_shown_as_a_move(policy: Policy) -> None:
    same = _shown(_action(replicas=6, autoscaler=AutoscalerPlan("lnn-service", 6, 10)), policy)
    assert f"keep HPA {LNN.namespace}/lnn-service minReplicas at 6 (max 10)" in same
    assert "6 → 6" not in same


def _raised(action_id: int = 1, **changes: object) -> ActionRequest:
    fields: dict[str, object] = {"state": ActionState.SUCCEEDED, "previous_min_replicas": 3}
    fields.update(changes)
    return _action(action_id, **fields)


def test_resolving_offers_the_first_floor_per_deployment() -> None:
    first, second = _raised(1), _raised(2, replicas=8, previous_min_replicas=6)
    other = _raised(3, target=Target(LNN.namespace, "other"))
    assert restorable([first, second, other]) == [first, other]
    call = restore_offer(7, [first, second, other])
    assert call is not None
    assert call.method == "chat.postMessage"
    blocks = json.dumps(call.args["blocks"])
    assert blocks.count(Control.RESTORE) == 2
    assert "Restore minReplicas to 3" in blocks
    values = [
        json.loads(e["value"])
        for b in call.args["blocks"]
        for e in b.get("elements", [])
        if e.get("action_id") == Control.RESTORE
    ]
    assert values == [{"action_request": 1}, {"action_request": 3}]


def test_nothing_to_offer() -> None:
    failed = _raised(1, state=ActionState.FAILED)
    unchanged = _raised(2, replicas=3)  # the floor already was 3
    plain = _raised(3, autoscaler=None)
    assert restore_offer(7, [failed, unchanged, plain]) is None
    restored = [_raised(1), _raised(4, replicas=3, restores=1, state=ActionState.REQUESTED)]
    assert restore_offer(7, restored) is None
    # A failed restore leaves the offer standing.
    retry = [_raised(1), _raised(4, replicas=3, restores=1, state=ActionState.FAILED)]
    assert [a.id for a in restorable(retry)] == [1]


def test_the_offer_shows_the_floor_the_incident_set_last() -> None:
    first, second = _raised(1), _raised(2, replicas=8, previous_min_replicas=6)
    call = restore_offer(7, [first, second])
    assert call is not None
    assert "still has minReplicas 8 (action #1); it was 3 before" in call.args["text"]
    assert "Restore minReplicas to 3" in json.dumps(call.args["blocks"])


@pytest.mark.parametrize("state", [ActionState.DENIED, ActionState.EXPIRED, ActionState.FAILED])
def test_a_restore_that_did_not_happen_offers_again(state: ActionState) -> None:
    actions = [_raised(1), _raised(4, replicas=3, restores=1, state=state)]
    assert [a.id for a in restorable(actions)] == [1]


@pytest.mark.parametrize(
    "state",
    [ActionState.REQUESTED, ActionState.APPROVED, ActionState.RUNNING, ActionState.SUCCEEDED],
)
def test_a_restore_under_way_or_done_is_not_offered_again(state: ActionState) -> None:
    actions = [_raised(1), _raised(4, replicas=3, restores=1, state=state)]
    assert restorable(actions) == []
