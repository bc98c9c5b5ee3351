"""A policy with an on-call rotation and escalation paths, for the paging tests (the shipped
policy's rotation is the policy's own business and may change)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.domain.escalation import Via
from bot.domain.incident import Severity
from bot.policy.escalation import EscalationLevel, Notify, RotationMember
from bot.policy.model import Policy
from tests.fakes.slack.testing import ALICE, BOB, CAROL

PRIMARY = RotationMember(
    key="primary", name="LNN on-call", email="liquid-edge-oncall@company.com", slack=(ALICE,)
)
SECONDARY = RotationMember(
    key="secondary",
    name="Platform on-call",
    email="platform-oncall@company.com",
    slack=(BOB,),
    pagerduty="platform",
)
MANAGER = RotationMember(
    key="manager", name="Team lead", email="liquid-edge-lead@company.com", slack=(CAROL,)
)
ROTATION = {m.key: m for m in (PRIMARY, SECONDARY, MANAGER)}


def with_rotation(policy: Policy) -> Policy:
    """``policy`` with ``ROTATION``: P0 pages the primary and mentions them at once, then the
    secondary at 15 minutes; P1 mentions the primary in Slack; P2 emails the primary."""
    paths = {
        Severity.P0: (
            EscalationLevel(
                timedelta(0), (Notify(Via.PAGE, "primary"), Notify(Via.SLACK, "primary"))
            ),
            EscalationLevel(timedelta(minutes=15), (Notify(Via.EMAIL, "secondary"),)),
        ),
        Severity.P1: (EscalationLevel(timedelta(0), (Notify(Via.SLACK, "primary"),)),),
        Severity.P2: (EscalationLevel(timedelta(0), (Notify(Via.EMAIL, "primary"),)),),
    }
    levels = {sev: replace(level, path=paths[sev]) for sev, level in policy.levels.items()}
    return replace(policy, rotation=ROTATION, levels=levels)
