"""The policy file's schema (pydantic): shape and value checks with precise error locations.
Cross-references (a rule naming a scenario that exists, matchers that parse) are checked in
``bot.policy.file``, which also maps every problem back to a line of the file."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.domain.incident import Severity
from bot.domain.target import TargetKind, check_name, check_namespace
from bot.errors import BadRequest, Forbidden
from bot.policy.escalation_checks import rotation_key, whole_minutes
from bot.policy.escalation_schema import Duration, PathLevelDoc, RotationMemberDoc, response_target
from bot.policy.kubernetes import LABEL_NAME, check_selector
from bot.policy.maintenance_schema import MaintenanceWindowDoc
from bot.policy.noise_schema import NoiseDoc


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def deployment_name(value: str) -> str:
    """A deployment name by the core's one rule, with the rule spelled out on failure."""
    try:
        return check_name(value, TargetKind.DEPLOYMENT)
    except BadRequest as exc:
        raise ValueError(f"{exc} (lowercase letters, digits, '-' and '.')") from None


def namespace_name(value: str) -> str:
    """A namespace by the core's one rule (``kube-*`` never), with the rule spelled out."""
    try:
        return check_namespace(value)
    except BadRequest as exc:
        raise ValueError(
            f"{exc} (lowercase letters, digits and '-', at most 63, starting and ending"
            " with a letter or digit)"
        ) from None
    except Forbidden:
        raise ValueError(
            f"actions on {value} are never allowed (a kube-* system namespace)"
        ) from None


def _label_names(values: list[str]) -> list[str]:
    for value in values:
        if LABEL_NAME.fullmatch(value) is None:
            raise ValueError(f"{value!r} is not a label name (letters, digits and '_')")
    return values


class LevelDoc(_Doc):
    name: str = Field(min_length=1)
    # The response target: `response: 15m`, or the older `response_minutes: 15`.
    response_minutes: PositiveInt | None = None
    response: Annotated[Duration | None, AfterValidator(response_target)] = None
    escalation: str = ""
    steps: list[str] = []
    path: list[PathLevelDoc] = []

    @model_validator(mode="after")
    def _has_target(self) -> LevelDoc:
        if self.response is None and self.response_minutes is None:
            raise ValueError("give a response target: response (15m) or response_minutes")
        return self

    @property
    def minutes(self) -> int:
        """The response target in minutes, however it was written."""
        if self.response is not None:
            return whole_minutes(self.response)
        assert self.response_minutes is not None
        return self.response_minutes


class BoundsDoc(_Doc):
    min: int = Field(ge=0)
    max: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> BoundsDoc:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


class ActionDoc(_Doc):
    verb: Literal["scale", "rollback", "restart", "diagnose"]
    # Fallbacks for when the incident's alerts do not name the target (bot.policy.targets).
    deployment: str | None = None
    namespace: str | None = None
    label: str = ""
    # `bounds` comes before `replicas` so the replicas check can see it and its error points
    # at the `replicas` line rather than at the whole action.
    bounds: BoundsDoc | None = None
    replicas: int | None = Field(default=None, ge=0)
    approvers: list[str] = []
    approvals_required: int = Field(default=1, ge=1, le=3)

    # Targets are checked by the core's one rule (bot.domain.target), so the policy cannot
    # name a target that Slack, the request use case or the actuator would refuse.
    @field_validator("deployment")
    @classmethod
    def _deployment_name(cls, value: str | None) -> str | None:
        return None if value is None else deployment_name(value)

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        return None if value is None else namespace_name(value)

    @field_validator("replicas")
    @classmethod
    def _replicas_in_bounds(cls, value: int | None, info: ValidationInfo) -> int | None:
        bounds = info.data.get("bounds")
        if value is not None and bounds is not None and not bounds.min <= value <= bounds.max:
            raise ValueError(f"replicas {value} is outside bounds {bounds.min}-{bounds.max}")
        return value

    @model_validator(mode="after")
    def _scale_is_bounded(self) -> ActionDoc:
        if self.verb == "scale" and self.bounds is None:
            raise ValueError("a scale action needs bounds (min and max replicas)")
        return self


class TargetLabelsDoc(_Doc):
    """Alert labels naming an action's target, first present wins."""

    namespace: list[str] = Field(default=["namespace"], min_length=1)
    deployment: list[str] = Field(default=["deployment"], min_length=1)

    @field_validator("namespace", "deployment")
    @classmethod
    def _names(cls, values: list[str]) -> list[str]:
        return _label_names(values)


class ScenarioDoc(_Doc):
    title: str = Field(min_length=1)
    summary: str = ""
    # Templates, checked in bot.policy.file (placeholders and braces, with their lines).
    triage: list[str] = []
    mitigation: list[str] = []
    actions: list[ActionDoc] = []
    target_labels: TargetLabelsDoc | None = None


class KubernetesDoc(_Doc):
    """Where actions may act (the allow-list), where when nothing names a namespace, and each
    deployment's pod selector."""

    namespaces: list[str] = Field(min_length=1)
    # After ``namespaces``, so its check can see them and its error points at its own line.
    default_namespace: str | None = None
    selectors: dict[
        Annotated[str, AfterValidator(deployment_name)],
        Annotated[str, AfterValidator(check_selector)],
    ] = {}

    @field_validator("namespaces")
    @classmethod
    def _namespaces(cls, values: list[str]) -> list[str]:
        for value in values:
            namespace_name(value)
        if len(set(values)) != len(values):
            raise ValueError("a namespace is listed twice")
        return values

    @field_validator("default_namespace")
    @classmethod
    def _default_is_allowed(cls, value: str | None, info: ValidationInfo) -> str | None:
        allowed = info.data.get("namespaces")
        if value is not None and allowed is not None and value not in allowed:
            raise ValueError(
                f"default_namespace {value} is not one of namespaces ({', '.join(allowed)})"
            )
        return value


class PagerDutyDoc(_Doc):
    priority: str | None = None
    urgency: Literal["high", "low"] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> PagerDutyDoc:
        if self.priority is None and self.urgency is None:
            raise ValueError("give priority, urgency or both")
        return self


class RuleDoc(_Doc):
    name: str = Field(min_length=1)
    match: list[str] = []
    pagerduty: PagerDutyDoc | None = None
    severity: Severity
    scenario: str
    response_minutes: PositiveInt | None = None
    response: Annotated[Duration | None, AfterValidator(response_target)] = None

    @property
    def minutes(self) -> int | None:
        """The rule's own response target in minutes, if it has one."""
        if self.response is not None:
            return whole_minutes(self.response)
        return self.response_minutes

    @model_validator(mode="after")
    def _one_kind(self) -> RuleDoc:
        if self.match and self.pagerduty is not None:
            raise ValueError("a rule has either 'match' (alert labels) or 'pagerduty', not both")
        if not self.match and self.pagerduty is None:
            raise ValueError("a rule needs 'match' (alert labels) or 'pagerduty'")
        return self


class DefaultDoc(_Doc):
    severity: Severity
    scenario: str


class PolicyDoc(_Doc):
    version: Literal[1]
    name: str = Field(min_length=1)
    severities: dict[Severity, LevelDoc]
    scenarios: dict[str, ScenarioDoc]
    rules: list[RuleDoc]
    default: DefaultDoc
    service_labels: list[str] = ["service", "job", "app"]
    responders: dict[str, list[str]] = {}
    kubernetes: KubernetesDoc | None = None
    rotation: dict[Annotated[str, AfterValidator(rotation_key)], RotationMemberDoc] = {}
    noise: NoiseDoc = NoiseDoc()
    maintenance: list[MaintenanceWindowDoc] = []
