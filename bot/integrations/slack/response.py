"""The card's response field: the target counting down, then met, missed or overdue, and
how far the escalation path has gone (``level 2/4 · secondary notified``).

The words are the core's (``bot.services.escalation.standing``), shared with the emails, the
pages and the web page; this module only lays them out as Slack text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.domain.escalation import Timer, response_standing
from bot.domain.incident import Incident
from bot.integrations.slack.text import inert
from bot.services.escalation.standing import Reached, response_words


def response_field(
    incident: Incident,
    now: datetime,
    level: Reached | None = None,
    timers: Sequence[Timer] = (),
) -> str:
    """Target, then time left, overdue, or whether the answer met it; while unanswered, the
    escalation level reached. ``timers`` (the incident's) set the deadline
    (``bot.domain.escalation.response_target``)."""
    standing = response_standing(incident, now, timers)
    head, state = response_words(standing)
    if standing.answered:
        return f"{head} · {state}"
    line = f"{head} · :warning: {state}" if standing.overdue else f"{head} · {state}"
    # The level's name and rotation keys come from the policy file: shown as text, never markup.
    return f"{line} · {inert(str(level))}" if level is not None else line
