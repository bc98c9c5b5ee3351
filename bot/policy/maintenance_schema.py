"""The schema (pydantic) of the policy's ``maintenance`` section: recurring windows, each with
its recurrence, start time, zone, length, services and effect. Value checks come from
``bot.policy.maintenance``; duplicate names are checked in ``bot.policy.file``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import time, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from bot.domain.incident import Severity
from bot.policy.escalation import format_duration
from bot.policy.escalation_schema import Duration
from bot.policy.maintenance import (
    LONGEST,
    MaintenanceEffect,
    MaintenanceWindow,
    Recurrence,
    check_zone,
    parse_clock,
    parse_every,
)
from bot.policy.scenario_checks import Path_, Problem


def _every(value: str) -> str:
    parse_every(value)
    return value


class MaintenanceWindowDoc(BaseModel):
    """One recurring window, e.g. ``{name: weekly, every: sunday, at: '02:00', length: 2h}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    every: Annotated[str, AfterValidator(_every)]
    at: Annotated[time, BeforeValidator(parse_clock)]
    zone: Annotated[str, AfterValidator(check_zone)] = "UTC"
    length: Duration
    services: list[Annotated[str, Field(min_length=1)]] = []
    # The effect: incidents open at most at `severity`, except alerts classified at `keep`.
    severity: Severity = Severity.P2
    keep: list[Severity] = [Severity.P0]

    @field_validator("length")
    @classmethod
    def _length(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("a window's length must be longer than 0")
        if value > LONGEST:
            raise ValueError(
                f"a window of {format_duration(value)} is longer than"
                f" {format_duration(LONGEST)}: split it, or use a silence"
            )
        return value

    def window(self) -> MaintenanceWindow:
        weekday, nth = parse_every(self.every)
        return MaintenanceWindow(
            name=self.name,
            recurrence=Recurrence(weekday, self.at, self.zone, nth),
            length=self.length,
            services=tuple(self.services),
            effect=MaintenanceEffect(self.severity, tuple(self.keep)),
        )


def maintenance_checks(
    data: Mapping[Any, Any], at: Callable[[Path_, str], Problem]
) -> Iterator[Problem]:
    """Window names are unique: they are what the timeline and the card name."""
    windows = data.get("maintenance")
    if not isinstance(windows, list):
        return
    named: set[str] = set()
    for i, window in enumerate(windows):
        name = window.get("name") if isinstance(window, dict) else None
        if isinstance(name, str):
            if name in named:
                yield at(("maintenance", i, "name"), f"duplicate window name {name!r}")
            named.add(name)
