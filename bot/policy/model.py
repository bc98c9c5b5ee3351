"""The runbook policy: ordered rules that turn alert labels or PagerDuty priority into a
severity and a scenario. Pure functions over frozen dataclasses; loading from YAML lives in
``bot.policy.file`` so the core stays stdlib only."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.domain.incident import Severity
from bot.policy.escalation import EscalationLevel, RotationMember
from bot.policy.kubernetes import KubernetesPolicy, TargetLabels
from bot.policy.maintenance import MaintenanceWindow
from bot.policy.noise import NoisePolicy


class MatchOp(enum.StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


# Longest operators first so `=~` is not read as `=` followed by `~`. DOTALL because a quoted
# value may hold a newline, as Alertmanager's `(?s)` allows.
_MATCHER = re.compile(r"^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Matcher:
    """An Alertmanager-style label matcher. A missing label matches as the empty string,
    and regular expressions are anchored at both ends, as in Alertmanager."""

    name: str
    op: MatchOp
    value: str
    pattern: re.Pattern[str] | None = field(default=None, compare=False)

    @staticmethod
    def parse(text: str) -> Matcher:
        """Parse ``name="value"``, ``name=~"re"`` and friends; quotes are optional.

        Quoted values follow Alertmanager: ``\\"``, ``\\\\`` and ``\\n`` are escapes, any other
        backslash stays literal (so ``"api\\.example"`` keeps the regex escape), and an
        unescaped quote inside the value is an error. Single quotes work the same way."""
        m = _MATCHER.match(text)
        if m is None:
            raise ValueError(f"not a matcher: {text!r} (expected name=value, !=, =~ or !~)")
        name, op_text, raw = m.groups()
        value = _unquote(raw, text)
        op = MatchOp(op_text)
        pattern = None
        if op in (MatchOp.RE, MatchOp.NRE):
            try:
                # Anchoring is done by fullmatch, not `^...$`: Python's `$` also matches
                # before a trailing newline, which Alertmanager's (Go) anchors do not.
                pattern = re.compile(f"(?:{value})")
            except re.error as exc:
                raise ValueError(f"bad regular expression in {text!r}: {exc}") from exc
        return Matcher(name=name, op=op, value=value, pattern=pattern)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op is MatchOp.EQ:
            return actual == self.value
        if self.op is MatchOp.NE:
            return actual != self.value
        assert self.pattern is not None
        found = self.pattern.fullmatch(actual) is not None
        return found if self.op is MatchOp.RE else not found

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op.value}"{escaped}"'


def _unquote(raw: str, text: str) -> str:
    """Undo the quoting of a matcher value the way Alertmanager does (see ``Matcher.parse``).

    Escapes are read in unquoted values too, and an unescaped double quote is an error
    anywhere but at the end of a double-quoted value, both as in Alertmanager."""
    quote = raw[:1] if raw[:1] in ('"', "'") else ""
    body = raw[1:] if quote else raw
    escapes = {"n": "\n", "\\": "\\", '"': '"'}
    if quote:
        escapes[quote] = quote
    out: list[str] = []
    closed = False
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            # Unknown escapes keep their backslash, so `"api\.example"` stays a regex escape.
            out.append(escapes.get(nxt, ch + nxt))
            i += 2
            continue
        if ch == (quote or '"'):
            if quote and i == len(body) - 1:
                closed = True
                break
            raise ValueError(f"unescaped {ch} in the value of {text!r}")
        out.append(ch)
        i += 1
    if quote and not closed:
        raise ValueError(f"unterminated quoted value in {text!r}")
    return "".join(out)


@dataclass(frozen=True, slots=True)
class ActionBounds:
    """Limits a suggested action must stay within, e.g. replicas 3–10."""

    min_replicas: int | None = None
    max_replicas: int | None = None


@dataclass(frozen=True, slots=True)
class SuggestedAction:
    """A remediation the runbook suggests for a scenario (requested from Slack, approved there).

    ``deployment`` and ``namespace`` are fallbacks: the incident's alerts name the target when
    they carry its labels (``bot.policy.targets``)."""

    verb: str
    deployment: str | None = None
    namespace: str | None = None
    label: str = ""
    replicas: int | None = None
    bounds: ActionBounds = ActionBounds()
    approvers: tuple[str, ...] = ()
    approvals_required: int = 1


@dataclass(frozen=True, slots=True)
class Scenario:
    """A runbook scenario: what responders see on the incident card. ``triage`` and
    ``mitigation`` are templates (``bot.policy.templates``); ``target_labels`` says which
    alert labels name the target of its actions."""

    id: str
    title: str
    summary: str = ""
    triage: tuple[str, ...] = ()
    mitigation: tuple[str, ...] = ()
    actions: tuple[SuggestedAction, ...] = ()
    target_labels: TargetLabels = field(default_factory=TargetLabels)


@dataclass(frozen=True, slots=True)
class SeverityLevel:
    """What a severity means in this runbook: response target, escalation (``escalation``
    says it in words on the card; ``path`` is what firebreak does, ``bot.policy.escalation``)
    and standing steps."""

    severity: Severity
    name: str
    response_minutes: int
    escalation: str = ""
    steps: tuple[str, ...] = ()
    path: tuple[EscalationLevel, ...] = ()


@dataclass(frozen=True, slots=True)
class PagerDutyMatch:
    """Matches a PagerDuty incident by priority name (``P1``…) and/or urgency (high/low).
    ``priority: none`` matches an incident without a priority."""

    priority: str | None = None
    urgency: str | None = None

    def matches(self, priority: str | None, urgency: str | None) -> bool:
        if self.priority is not None:
            wanted = self.priority.lower()
            if wanted == "none":
                if priority:
                    return False
            elif (priority or "").lower() != wanted:
                return False
        return self.urgency is None or (urgency or "").lower() == self.urgency.lower()


@dataclass(frozen=True, slots=True)
class Rule:
    """One ordered rule. It matches alerts (all ``matchers``) or PagerDuty incidents."""

    name: str
    severity: Severity
    scenario: str
    matchers: tuple[Matcher, ...] = ()
    pagerduty: PagerDutyMatch | None = None
    response_minutes: int | None = None

    def matches_labels(self, labels: Mapping[str, str]) -> bool:
        return self.pagerduty is None and all(m.matches(labels) for m in self.matchers)


@dataclass(frozen=True, slots=True)
class Classification:
    """The verdict for one alert or PagerDuty incident."""

    severity: Severity
    scenario: Scenario
    rule: str
    response_minutes: int


@dataclass(frozen=True, slots=True)
class Policy:
    """A validated runbook policy. Build it with ``bot.policy.file.load_policy``."""

    name: str
    levels: Mapping[Severity, SeverityLevel]
    scenarios: Mapping[str, Scenario]
    rules: tuple[Rule, ...]
    default_severity: Severity
    default_scenario: str
    service_labels: tuple[str, ...] = ("service", "job", "app")
    responders: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    kubernetes: KubernetesPolicy = field(default_factory=KubernetesPolicy)
    rotation: Mapping[str, RotationMember] = field(default_factory=dict)
    noise: NoisePolicy = field(default_factory=NoisePolicy)
    maintenance: tuple[MaintenanceWindow, ...] = ()

    def _verdict(
        self, severity: Severity, scenario_id: str, rule: str, minutes: int | None
    ) -> Classification:
        return Classification(
            severity=severity,
            scenario=self.scenarios[scenario_id],
            rule=rule,
            response_minutes=minutes
            if minutes is not None
            else self.levels[severity].response_minutes,
        )

    def classify_labels(self, labels: Mapping[str, str]) -> Classification:
        """The first alert rule whose matchers all match wins; otherwise the default."""
        for rule in self.rules:
            if rule.matches_labels(labels):
                return self._verdict(rule.severity, rule.scenario, rule.name, rule.response_minutes)
        return self._verdict(self.default_severity, self.default_scenario, "default", None)

    def classify_pagerduty(self, priority: str | None, urgency: str | None) -> Classification:
        """The first PagerDuty rule matching priority/urgency wins; otherwise the default."""
        for rule in self.rules:
            if rule.pagerduty is not None and rule.pagerduty.matches(priority, urgency):
                return self._verdict(rule.severity, rule.scenario, rule.name, rule.response_minutes)
        return self._verdict(self.default_severity, self.default_scenario, "default", None)

    def suggestions(self, verb: str) -> list[SuggestedAction]:
        """Every scenario's suggested ``verb`` actions, in the file's order."""
        return [
            action
            for scenario in self.scenarios.values()
            for action in scenario.actions
            if action.verb == verb
        ]

    def service_of(self, labels: Mapping[str, str]) -> str:
        """The service an alert belongs to: the first present of ``service_labels``."""
        for name in self.service_labels:
            if labels.get(name):
                return labels[name]
        return "unknown"
