"""The schema (pydantic) of the policy's ``noise`` section (``bot.policy.noise``), and its
checks against the rest of the file (scenarios that exist), read from the raw data as
``bot.policy.file`` reads every cross-reference."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator

from bot.domain.incident import Severity
from bot.policy.escalation_schema import Duration
from bot.policy.kubernetes import LABEL_NAME
from bot.policy.noise import (
    DEFAULT_FLAP_THRESHOLD,
    DEFAULT_FLAP_WINDOW,
    DEFAULT_STORM_THRESHOLD,
    DEFAULT_STORM_WINDOW,
    FlapPolicy,
    InhibitRule,
    NoisePolicy,
    StormBy,
    StormPolicy,
)
from bot.policy.scenario_checks import Path_, Problem


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FlapDoc(_Doc):
    # `0` turns reopening off: every firing after a resolution opens a new incident.
    window: Duration = DEFAULT_FLAP_WINDOW
    threshold: PositiveInt = DEFAULT_FLAP_THRESHOLD

    @field_validator("window")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("the flap window cannot be negative")
        return value


class StormDoc(_Doc):
    # `0` turns storm collapse off: every group opens its own incident.
    threshold: int = Field(default=DEFAULT_STORM_THRESHOLD, ge=0)
    window: Duration = DEFAULT_STORM_WINDOW
    by: StormBy = StormBy.SERVICE

    @field_validator("window")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("the storm window must be longer than zero")
        return value


class InhibitSourceDoc(_Doc):
    scenario: str = Field(min_length=1)
    severity: Severity | None = None


class InhibitTargetsDoc(_Doc):
    scenarios: list[str] = Field(min_length=1)


class InhibitDoc(_Doc):
    source: InhibitSourceDoc
    targets: InhibitTargetsDoc
    equal: list[str] = Field(min_length=1)

    @field_validator("equal")
    @classmethod
    def _label_names(cls, values: list[str]) -> list[str]:
        for value in values:
            if LABEL_NAME.fullmatch(value) is None:
                raise ValueError(f"{value!r} is not a label name (letters, digits and '_')")
        return values


class NoiseDoc(_Doc):
    flap: FlapDoc = FlapDoc()
    inhibit: list[InhibitDoc] = []
    # Absent: no storm collapse, as before storms existed; present, its fields default on.
    storm: StormDoc | None = None

    def build(self) -> NoisePolicy:
        storm = self.storm
        return NoisePolicy(
            storm=(
                StormPolicy()
                if storm is None
                else StormPolicy(threshold=storm.threshold, window=storm.window, by=storm.by)
            ),
            flap=FlapPolicy(window=self.flap.window, threshold=self.flap.threshold),
            inhibit=tuple(
                InhibitRule(
                    name=f"{i}:{doc.source.scenario}",
                    source_scenario=doc.source.scenario,
                    source_severity=doc.source.severity,
                    target_scenarios=frozenset(doc.targets.scenarios),
                    equal=tuple(doc.equal),
                )
                for i, doc in enumerate(self.inhibit)
            ),
        )


def noise_checks(data: dict[Any, Any], at: Callable[[Path_, str], Problem]) -> Iterator[Problem]:
    """Inhibition rules name scenarios that exist, and no scenario is its own symptom."""
    noise = data.get("noise")
    scenarios = data.get("scenarios")
    if not isinstance(noise, dict) or not isinstance(scenarios, dict):
        return
    known = {str(k) for k in scenarios}
    rules = noise.get("inhibit")
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        if not isinstance(rule, dict):
            continue
        source = rule.get("source")
        sid = source.get("scenario") if isinstance(source, dict) else None
        if isinstance(sid, str) and sid not in known:
            yield at(("noise", "inhibit", i, "source", "scenario"), f"unknown scenario {sid!r}")
        targets = rule.get("targets")
        named = targets.get("scenarios") if isinstance(targets, dict) else None
        for j, target in enumerate(named if isinstance(named, list) else []):
            where = ("noise", "inhibit", i, "targets", "scenarios", j)
            if isinstance(target, str) and target not in known:
                yield at(where, f"unknown scenario {target!r}")
            elif target == sid:
                yield at(where, f"scenario {target!r} cannot be a symptom of itself")
