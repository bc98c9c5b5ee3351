"""``/incident oncall``: who is on call now. PagerDuty says when firebreak may ask it (the
``OnCallDirectory`` port); otherwise, or when it cannot be asked, the policy's rotation
does, and the answer says which it is."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from bot.domain.escalation import OnCall
from bot.errors import UpstreamError
from bot.policy.escalation import RotationMember
from bot.ports import OnCallDirectory

POLICY = "policy"


class Fallback(enum.Enum):
    """Why the answer is the policy's rotation: PagerDuty is not configured (``NONE``
    when the answer is PagerDuty's), or it failed."""

    NONE = "none"
    UNCONFIGURED = "unconfigured"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class OnCallAnswer:
    """Who is on call, by level, from ``source`` (``pagerduty`` or ``policy``); ``error``
    is what PagerDuty's failure said, when it failed."""

    on_call: tuple[OnCall, ...]
    source: str
    fallback: Fallback = Fallback.NONE
    error: str = ""
    # From the rotation: False when no member's pages go to the service asked about, so the
    # whole rotation is shown (and the reply must say so).
    service_matched: bool = True


def serves(rotation: Mapping[str, RotationMember], service: str | None) -> bool:
    """Whether the rotation answers for ``service``: none was asked about, the rotation is
    not split by service (no member names one), or some member's pages go to it."""
    named = {m.pagerduty.lower() for m in rotation.values() if m.pagerduty}
    return service is None or not named or service.lower() in named


def from_rotation(
    rotation: Mapping[str, RotationMember], service: str | None
) -> tuple[OnCall, ...]:
    """The rotation as on-call entries, one level per member in the policy's order (level 1
    first, as PagerDuty numbers escalation levels). With ``service``, only the members
    whose pages go to that PagerDuty service, when any do (else all: see ``serves``)."""
    members = list(rotation.values())
    if service is not None:
        matching = [m for m in members if m.pagerduty.lower() == service.lower()]
        members = matching or members
    return tuple(
        OnCall(
            level=n,
            name=member.name or member.key,
            source=POLICY,
            email=member.email,
            slack=member.slack,
            schedule=member.key,
        )
        for n, member in enumerate(members, start=1)
    )


async def who_is_on_call(
    directory: OnCallDirectory | None,
    rotation: Mapping[str, RotationMember],
    service: str | None,
) -> OnCallAnswer:
    """PagerDuty's answer when ``directory`` is configured and answers, else the rotation."""
    matched = serves(rotation, service)
    if directory is None or not directory.configured:
        return OnCallAnswer(
            from_rotation(rotation, service), POLICY, Fallback.UNCONFIGURED, service_matched=matched
        )
    try:
        found = await directory.on_call(service)
    except UpstreamError as exc:
        return OnCallAnswer(
            from_rotation(rotation, service),
            POLICY,
            Fallback.FAILED,
            error=str(exc),
            service_matched=matched,
        )
    ordered = sorted(found, key=lambda entry: (entry.level, entry.name))
    return OnCallAnswer(tuple(ordered), "pagerduty")
