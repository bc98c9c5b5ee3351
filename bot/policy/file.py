"""Load and check runbook policy files (YAML), reporting every problem with its line number."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.domain.incident import Severity
from bot.errors import PolicyError
from bot.policy.escalation_checks import escalation_checks
from bot.policy.kubernetes import KubernetesPolicy, TargetLabels
from bot.policy.maintenance_schema import maintenance_checks
from bot.policy.model import (
    ActionBounds,
    Matcher,
    PagerDutyMatch,
    Policy,
    Rule,
    Scenario,
    SeverityLevel,
    SuggestedAction,
)
from bot.policy.noise_schema import noise_checks
from bot.policy.scenario_checks import Path_, Problem, scenario_checks
from bot.policy.schema import PolicyDoc, ScenarioDoc


def _walk(root: yaml.Node) -> tuple[dict[Path_, int], list[Problem]]:
    """Map every key path and sequence item to its line, and flag duplicate keys (YAML keeps
    the last silently). A key's line is where the key is written, not where its value
    starts, so a problem with a block value (``severities:``) points at the key."""
    lines: dict[Path_, int] = {(): root.start_mark.line + 1}
    problems: list[Problem] = []
    # (node, path, ids of the nodes above it): aliases may make the graph recursive.
    stack: list[tuple[yaml.Node, Path_, frozenset[int]]] = [(root, (), frozenset())]
    while stack:
        node, path, above = stack.pop()
        if id(node) in above:
            continue
        inside = above | {id(node)}
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                child = (*path, key)
                if key in seen:
                    problems.append(
                        (key_node.start_mark.line + 1, _where(child), f"duplicate key {key!r}")
                    )
                seen.add(key)
                lines[child] = key_node.start_mark.line + 1
                stack.append((value_node, child, inside))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*path, index)] = item.start_mark.line + 1
                stack.append((item, (*path, index), inside))
    return lines, problems


def _line(lines: dict[Path_, int], path: Path_) -> int:
    """The line of ``path`` or, when it is not in the file (a missing field), of its parent."""
    for end in range(len(path), -1, -1):
        found = lines.get(tuple(path[:end]))
        if found is not None:
            return found
    return 1


def _where(path: Path_) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _yaml_line(exc: yaml.YAMLError, text: str) -> int:
    """The line a YAML error points at; reader errors only know a character position."""
    for attr in ("problem_mark", "context_mark"):
        mark = getattr(exc, attr, None)
        if mark is not None:
            return int(mark.line) + 1
    position = getattr(exc, "position", None)
    if isinstance(position, int):
        return text.count("\n", 0, position) + 1
    return 1


def _format(problems: list[Problem]) -> list[str]:
    ordered = sorted(dict.fromkeys(problems), key=lambda p: p[0])
    return [f"line {line}: {where}: {what}" for line, where, what in ordered]


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Validate policy text and build the core ``Policy``; raise ``PolicyError`` listing all
    problems as ``line N: where: what``, ordered by line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        what = getattr(exc, "problem", None) or str(exc)
        raise PolicyError(
            source, _format([(_yaml_line(exc, text), "(yaml)", f"not valid YAML: {what}")])
        ) from exc
    if root is None or not isinstance(data, dict):
        line = root.start_mark.line + 1 if root is not None else 1
        raise PolicyError(
            source, _format([(line, "(top level)", "the policy must be a YAML mapping")])
        )
    lines, problems = _walk(root)
    # Cross-references are read from the raw data, so they are reported even when the
    # schema rejects something else in the file: one run shows every problem.
    problems.extend(_cross_check(data, lines))
    try:
        doc = PolicyDoc.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(
                p
                for p in err["loc"]
                if not (isinstance(p, str) and (p.startswith("function-") or p == "[key]"))
            )
            what = str(err["msg"]).removeprefix("Value error, ")
            problems.append((_line(lines, loc), _where(loc), what))
        raise PolicyError(source, _format(problems)) from exc
    if problems:
        raise PolicyError(source, _format(problems))
    return _build(doc)


def _cross_check(data: dict[Any, Any], lines: dict[Path_, int]) -> Iterator[Problem]:
    """Checks between parts of the file. Parts with the wrong shape are skipped here: the
    schema reports those."""

    def at(path: Path_, what: str) -> Problem:
        return (_line(lines, path), _where(path), what)

    yield from scenario_checks(data, at)
    yield from escalation_checks(data, at)
    yield from noise_checks(data, at)
    yield from maintenance_checks(data, at)
    severities = data.get("severities")
    if isinstance(severities, dict):
        for sev in Severity:
            if sev.value not in severities:
                yield at(("severities",), f"{sev.value} is not defined")
    scenarios = data.get("scenarios")
    known = {str(k) for k in scenarios} if isinstance(scenarios, dict) else None
    default = data.get("default")
    if isinstance(default, dict):
        sid = default.get("scenario")
        if known is not None and isinstance(sid, str) and sid not in known:
            yield at(("default", "scenario"), f"unknown scenario {sid!r}")
    rules = data.get("rules")
    if not isinstance(rules, list):
        return
    names: set[str] = set()
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            continue
        name = rule.get("name")
        if isinstance(name, str):
            if name in names:
                yield at(("rules", i, "name"), f"duplicate rule name {name!r}")
            names.add(name)
        sid = rule.get("scenario")
        if known is not None and isinstance(sid, str) and sid not in known:
            yield at(("rules", i, "scenario"), f"unknown scenario {sid!r}")
        matchers = rule.get("match")
        if isinstance(matchers, list):
            for j, matcher in enumerate(matchers):
                if isinstance(matcher, str):
                    try:
                        Matcher.parse(matcher)
                    except ValueError as exc:
                        yield at(("rules", i, "match", j), str(exc))


def _kubernetes(doc: PolicyDoc) -> KubernetesPolicy:
    """The section as written or, for a policy written before it existed, the namespaces
    its actions name (so such a policy keeps acting where it did)."""
    if doc.kubernetes is not None:
        k = doc.kubernetes
        return KubernetesPolicy(
            namespaces=tuple(k.namespaces),
            default_namespace=k.default_namespace or k.namespaces[0],
            selectors=dict(k.selectors),
        )
    named = [a.namespace for s in doc.scenarios.values() for a in s.actions if a.namespace]
    namespaces = tuple(dict.fromkeys(named))
    return KubernetesPolicy(namespaces, namespaces[0] if namespaces else "")


def _target_labels(scenario: ScenarioDoc) -> TargetLabels:
    labels = scenario.target_labels
    if labels is None:
        return TargetLabels()
    return TargetLabels(tuple(labels.namespace), tuple(labels.deployment))


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
            target_labels=_target_labels(s),
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
            response_minutes=r.minutes,
        )
        for r in doc.rules
    )
    levels = {
        sev: SeverityLevel(
            sev,
            lv.name,
            lv.minutes,
            lv.escalation,
            tuple(lv.steps),
            path=tuple(p.level() for p in lv.path),
        )
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
        kubernetes=_kubernetes(doc),
        rotation={key: m.member(key) for key, m in doc.rotation.items()},
        noise=doc.noise.build(),
        maintenance=tuple(w.window() for w in doc.maintenance),
    )


def load_policy(path: str | Path | Traversable) -> Policy:
    """Read and validate a policy file; ``PolicyError`` if it cannot be used.

    ``path`` may also be a package resource (``DEFAULT_POLICY``), which need not be a file
    on disk.
    """
    p = Path(path) if isinstance(path, str) else path
    try:
        raw = p.read_bytes()
    except OSError as exc:
        # No line to point at; line 1 keeps every problem in the same `FILE:LINE:` shape.
        raise PolicyError(str(p), [f"line 1: (file): cannot read: {exc.strerror or exc}"]) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise PolicyError(str(p), [f"line {line}: (file): not UTF-8: {exc.reason}"]) from exc
    return parse_policy(text, str(p))


# The policy shipped with firebreak, read as package data so that it is found wherever the
# package is installed (a wheel in site-packages, a zip, an editable checkout).
DEFAULT_POLICY: Traversable = resources.files("bot.policy").joinpath("default.yaml")
