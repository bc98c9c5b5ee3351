"""The schema (pydantic) of a policy's escalation: the rotation's members, a path's levels and
their notify lines, and durations. Value checks come from ``bot.policy.escalation_checks``;
checks between the rotation and the paths are made there too, on the raw data."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)

from bot.domain.escalation import Via
from bot.domain.incident import Severity
from bot.policy.escalation import EscalationLevel, Notify, RotationMember
from bot.policy.escalation_checks import (
    duration,
    email_address,
    service_name,
    slack_id,
    whole_minutes,
)

# `30s`, `15m`, `1h`, `2h30m` or `0`.
Duration = Annotated[timedelta, BeforeValidator(duration)]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def response_target(response: timedelta | None, info: ValidationInfo) -> timedelta | None:
    """A ``response`` target in whole minutes, and not alongside ``response_minutes`` (which
    the model declares before it, so the error points at the ``response`` line)."""
    if response is None:
        return None
    if info.data.get("response_minutes") is not None:
        raise ValueError("give response or response_minutes, not both")
    whole_minutes(response)
    return response


class RotationMemberDoc(_Doc):
    """Someone the paths name by key, and how to reach them."""

    name: str = ""
    email: Annotated[str, AfterValidator(email_address)] | None = None
    slack: list[Annotated[str, AfterValidator(slack_id)]] = []
    pagerduty: Annotated[str, AfterValidator(service_name)] | None = None

    def member(self, key: str) -> RotationMember:
        return RotationMember(
            key, self.name, self.email or "", tuple(self.slack), self.pagerduty or ""
        )


class NotifyDoc(_Doc):
    """One line of a level: exactly one of ``page``, ``slack``, ``email``, naming a rotation
    key or a literal (checked against the rotation in ``bot.policy.escalation_checks``)."""

    page: str | None = Field(None, min_length=1)
    slack: str | None = Field(None, min_length=1)
    email: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one(self) -> NotifyDoc:
        if sum(v is not None for v in (self.page, self.slack, self.email)) != 1:
            raise ValueError("a notify line is one of page: WHO, slack: WHO or email: WHO")
        return self

    def line(self) -> Notify:
        for via, who in ((Via.PAGE, self.page), (Via.SLACK, self.slack), (Via.EMAIL, self.email)):
            if who is not None:
                return Notify(via, who)
        raise AssertionError("validated to hold one")


class PathLevelDoc(_Doc):
    """One level of a severity's escalation path."""

    after: Duration
    name: str = ""
    notify: list[NotifyDoc] = []
    upgrade: Severity | None = None

    def level(self) -> EscalationLevel:
        notify = tuple(n.line() for n in self.notify)
        return EscalationLevel(self.after, notify, self.upgrade, self.name)
