"""Every control firebreak draws on a message has exactly one click handler, and a click on
anything else is refused: the renderer and the handlers name buttons from one place."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from bot.domain.controls import Control
from bot.errors import BadRequest
from handlers.deps import Deps
from handlers.slack.buttons import BUTTONS, run_button


def test_every_control_has_one_handler_and_no_handler_lacks_a_control() -> None:
    assert set(BUTTONS) == set(Control)


def test_the_ids_are_the_ones_already_posted_messages_carry() -> None:
    # Messages posted by older versions keep their buttons: the wire ids never change.
    assert {c.value for c in Control} == {
        "firebreak.ack",
        "firebreak.resolve",
        "firebreak.request_action",
        "firebreak.approve",
        "firebreak.deny",
        "firebreak.restore_min_replicas",
        "firebreak.unsilence",
        "firebreak.approve_silence",
        "firebreak.deny_silence",
    }


@pytest.mark.parametrize("action_id", ["firebreak.snooze", "", "ACK", "firebreak.ack "])
def test_a_click_on_an_unknown_control_is_refused_before_anything_runs(action_id: str) -> None:
    body: dict[str, Any] = {
        "actions": [{"action_id": action_id, "value": '{"incident": 1}'}],
        "user": {"id": "U0ALICE"},
    }
    # No dependency is touched before the id is known, so none is needed.
    with pytest.raises(BadRequest, match="does not know the button"):
        asyncio.run(run_button(cast(Deps, None), body))
