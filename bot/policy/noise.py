"""The policy's ``noise`` section: when a group that fires again soon after resolving reopens
its incident (flapping), which alerts join an open incident as its symptoms instead of
opening their own (inhibition), and when many new incidents for one service or namespace
collapse into one storm incident (storms). Pure data and matching; ``bot.services.incidents.noise``
applies it at alert intake."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain.incident import Severity

DEFAULT_FLAP_WINDOW = timedelta(minutes=10)
DEFAULT_FLAP_THRESHOLD = 3
DEFAULT_STORM_THRESHOLD = 5
DEFAULT_STORM_WINDOW = timedelta(minutes=2)


class StormBy(enum.StrEnum):
    """What the incidents of one storm share."""

    SERVICE = "service"
    NAMESPACE = "namespace"


@dataclass(frozen=True, slots=True)
class FlapPolicy:
    """A group firing again within ``window`` of its incident resolving reopens it (a zero
    window turns this off). From its ``threshold``-th flap the incident is flapping: the
    path of each further re-trigger starts only after another ``window``, so an incident
    that keeps going off and on pages nobody until it stays firing."""

    window: timedelta = DEFAULT_FLAP_WINDOW
    threshold: int = DEFAULT_FLAP_THRESHOLD

    def reopens(self, resolved_at: datetime | None, now: datetime) -> bool:
        """Whether an incident resolved at ``resolved_at`` reopens if its group fires ``now``."""
        if resolved_at is None or self.window <= timedelta(0):
            return False
        return now - resolved_at <= self.window

    def flapping(self, count: int) -> bool:
        """Whether an incident that has flapped ``count`` times is flapping."""
        return count >= self.threshold


@dataclass(frozen=True, slots=True)
class InhibitRule:
    """While an open incident of ``source_scenario`` (and ``source_severity``, if given)
    exists, new alerts of ``target_scenarios`` whose ``equal`` labels have the same values as
    the incident's join it. Every ``equal`` label must be present on both: an alert that does
    not say which deployment it is about is not anyone's symptom."""

    name: str
    source_scenario: str
    target_scenarios: frozenset[str]
    equal: tuple[str, ...]
    source_severity: Severity | None = None

    def targets(self, scenario: str) -> bool:
        return scenario in self.target_scenarios

    def source_is(self, scenario: str, severity: Severity) -> bool:
        """Whether an incident of ``scenario`` at ``severity`` can be this rule's source."""
        if scenario != self.source_scenario:
            return False
        return self.source_severity is None or severity is self.source_severity

    def key(self, labels: Mapping[str, str]) -> tuple[str, ...] | None:
        """The values of the ``equal`` labels, or ``None`` when one is missing or empty."""
        values = tuple(labels.get(name, "") for name in self.equal)
        return values if all(values) else None


@dataclass(frozen=True, slots=True)
class StormPolicy:
    """Once ``threshold`` incidents opened within ``window`` for one service (or namespace,
    ``by``), the next group for it does not open its own: the storm forms and the groups
    collect in one incident. A zero threshold turns this off (the default when a policy's
    ``noise`` section does not mention storms; the shipped policy turns it on)."""

    threshold: int = 0
    window: timedelta = DEFAULT_STORM_WINDOW
    by: StormBy = StormBy.SERVICE

    @property
    def enabled(self) -> bool:
        return self.threshold > 0 and self.window > timedelta(0)

    def key(self, service: str, labels: Mapping[str, str]) -> str | None:
        """The storm key of an incident of ``service`` with ``labels`` (e.g.
        ``service=lnn-service``); ``None`` when it does not say (service ``unknown``, no
        namespace label): alerts nobody attributed are not lumped together."""
        if self.by is StormBy.SERVICE:
            value = "" if service == "unknown" else service
        else:
            value = labels.get("namespace", "")
        return f"{self.by.value}={value}" if value else None


@dataclass(frozen=True, slots=True)
class NoisePolicy:
    """Flapping, inhibition and storms; without a ``noise`` section, the flap defaults, no
    inhibition and no storm collapse."""

    flap: FlapPolicy = field(default_factory=FlapPolicy)
    inhibit: tuple[InhibitRule, ...] = ()
    storm: StormPolicy = field(default_factory=StormPolicy)

    def inhibitions_of(self, scenario: str) -> tuple[InhibitRule, ...]:
        """The rules under which an alert of ``scenario`` may be a symptom."""
        return tuple(rule for rule in self.inhibit if rule.targets(scenario))
