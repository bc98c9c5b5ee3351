"""The controls firebreak puts on the messages it posts, and what each carries.

A control is what a person can do from a message (acknowledge, resolve, ask for a suggested
action, approve or deny a request). Its value is the id chat platforms send back on a click
(Slack's ``action_id``), so the renderer that draws a button and the handler that answers its
click name it from this one place; the strings are part of messages already posted, so they
never change.
"""

from __future__ import annotations

from enum import StrEnum


class Control(StrEnum):
    """One button on a firebreak message; the value is the id a click sends back."""

    ACK = "firebreak.ack"
    RESOLVE = "firebreak.resolve"
    REQUEST_ACTION = "firebreak.request_action"
    APPROVE = "firebreak.approve"
    DENY = "firebreak.deny"
    RESTORE = "firebreak.restore_min_replicas"
    UNSILENCE = "firebreak.unsilence"
    APPROVE_SILENCE = "firebreak.approve_silence"
    DENY_SILENCE = "firebreak.deny_silence"


# Keys of a control's value (a small JSON object): ACK and RESOLVE carry INCIDENT,
# REQUEST_ACTION carries INCIDENT and SUGGESTION (an index into the scenario's actions),
# APPROVE and DENY carry ACTION_REQUEST; RESTORE carries ACTION_REQUEST too: the HPA scale
# whose previous minReplicas it requests back; UNSILENCE carries INCIDENT (the resolved
# incident whose Alertmanager silence it expires); APPROVE_SILENCE and DENY_SILENCE carry
# INCIDENT and SILENCE_REQUEST (the seq of the request's entry in that incident's timeline).
INCIDENT = "incident"
SUGGESTION = "action"
ACTION_REQUEST = "action_request"
SILENCE_REQUEST = "silence_request"
