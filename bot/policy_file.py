"""Load and check runbook policy files (YAML), reporting every problem with its line number."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.domain import Severity
from bot.errors import PolicyError
from bot.policy import (
    ActionBounds,
    Matcher,
    PagerDutyMatch,
    Policy,
    Rule,
    Scenario,
    SeverityLevel,
    SuggestedAction,
)
from bot.policy_schema import PolicyDoc

Path_ = tuple[str | int, ...]


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int], problems: list[str]) -> None:
    """Record the line of every key and item, and flag duplicate keys (YAML keeps the last)."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                problems.append(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
            seen.add(key)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*path, key), lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines, problems)


def _line(lines: dict[Path_, int], path: Path_) -> int:
    for end in range(len(path), -1, -1):
        found = lines.get(tuple(path[:end]))
        if found is not None:
            return found
    return 1


def _where(path: Path_) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Validate policy text and build the core ``Policy``; raise ``PolicyError`` listing all
    problems as ``line N: where: what``."""
    problems: list[str] = []
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        raise PolicyError(
            source, [f"{line}not valid YAML: {getattr(exc, 'problem', exc)}"]
        ) from exc
    if root is None or not isinstance(data, dict):
        raise PolicyError(source, ["line 1: the policy must be a YAML mapping"])
    lines: dict[Path_, int] = {}
    _walk(root, (), lines, problems)
    try:
        doc = PolicyDoc.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(
                p for p in err["loc"] if not isinstance(p, str) or not p.startswith("function-")
            )
            problems.append(f"line {_line(lines, loc)}: {_where(loc)}: {err['msg']}")
        raise PolicyError(source, problems) from exc
    problems.extend(_cross_check(doc, lines))
    if problems:
        raise PolicyError(source, problems)
    return _build(doc)


def _cross_check(doc: PolicyDoc, lines: dict[Path_, int]) -> Iterator[str]:
    for sev in Severity:
        if sev not in doc.severities:
            yield f"line {_line(lines, ('severities',))}: severities: {sev.value} is not defined"
    if doc.default.scenario not in doc.scenarios:
        path: Path_ = ("default", "scenario")
        yield f"line {_line(lines, path)}: {_where(path)}: unknown scenario {doc.default.scenario!r}"
    names: set[str] = set()
    for i, rule in enumerate(doc.rules):
        if rule.name in names:
            path = ("rules", i, "name")
            yield f"line {_line(lines, path)}: {_where(path)}: duplicate rule name {rule.name!r}"
        names.add(rule.name)
        if rule.scenario not in doc.scenarios:
            path = ("rules", i, "scenario")
            yield f"line {_line(lines, path)}: {_where(path)}: unknown scenario {rule.scenario!r}"
        for j, text in enumerate(rule.match):
            try:
                Matcher.parse(text)
            except ValueError as exc:
                path = ("rules", i, "match", j)
                yield f"line {_line(lines, path)}: {_where(path)}: {exc}"


def _build(doc: PolicyDoc) -> Policy:
    scenarios = {
        sid: Scenario(
            id=sid,
            title=s.title,
            summary=s.summary,
            triage=tuple(s.triage),
            mitigation=tuple(s.mitigation),
            actions=tuple(
                SuggestedAction(
                    verb=a.verb,
                    deployment=a.deployment,
                    namespace=a.namespace,
                    label=a.label,
                    replicas=a.replicas,
                    bounds=ActionBounds(a.bounds.min, a.bounds.max) if a.bounds else ActionBounds(),
                    approvers=tuple(a.approvers),
                    approvals_required=a.approvals_required,
                )
                for a in s.actions
            ),
        )
        for sid, s in doc.scenarios.items()
    }
    rules = tuple(
        Rule(
            name=r.name,
            severity=r.severity,
            scenario=r.scenario,
            matchers=tuple(Matcher.parse(m) for m in r.match),
            pagerduty=PagerDutyMatch(r.pagerduty.priority, r.pagerduty.urgency)
            if r.pagerduty
            else None,
            response_minutes=r.response_minutes,
        )
        for r in doc.rules
    )
    levels = {
        sev: SeverityLevel(sev, lv.name, lv.response_minutes, lv.escalation, tuple(lv.steps))
        for sev, lv in doc.severities.items()
    }
    return Policy(
        name=doc.name,
        levels=levels,
        scenarios=scenarios,
        rules=rules,
        default_severity=doc.default.severity,
        default_scenario=doc.default.scenario,
        service_labels=tuple(doc.service_labels),
        responders={k: tuple(v) for k, v in doc.responders.items()},
    )


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy file; ``PolicyError`` if it cannot be used."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(str(p), [f"cannot read: {exc.strerror or exc}"]) from exc
    return parse_policy(text, str(p))


DEFAULT_POLICY = Path(__file__).resolve().parent.parent / "policy" / "default.yaml"
