"""Checks of a policy's scenarios that the schema cannot express: their triage and
mitigation templates parse (``bot.policy.templates``), and their actions name only namespaces
the ``kubernetes`` section allows. Read from the raw data, as ``bot.policy.file`` reads every
cross-reference, so one run reports every problem with its line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from bot.policy.templates import placeholders

Path_ = tuple[str | int, ...]
# One problem: (line, where, what). Kept apart until the end so the list can be sorted by line.
Problem = tuple[int, str, str]


def scenario_checks(data: dict[Any, Any], at: Callable[[Path_, str], Problem]) -> Iterator[Problem]:
    """Triage and mitigation templates parse, and actions name only allowed namespaces."""
    section = data.get("kubernetes")
    allowed = section.get("namespaces") if isinstance(section, dict) else None
    scenarios = data.get("scenarios")
    if not isinstance(scenarios, dict):
        return
    for sid, scenario in scenarios.items():
        if not isinstance(scenario, dict):
            continue
        for part in ("triage", "mitigation"):
            steps = scenario.get(part)
            for i, step in enumerate(steps if isinstance(steps, list) else []):
                if isinstance(step, str):
                    try:
                        placeholders(step)
                    except ValueError as exc:
                        yield at(("scenarios", sid, part, i), str(exc))
        actions = scenario.get("actions")
        if not isinstance(allowed, list):
            continue
        for i, action in enumerate(actions if isinstance(actions, list) else []):
            ns = action.get("namespace") if isinstance(action, dict) else None
            if isinstance(ns, str) and ns not in allowed:
                yield at(
                    ("scenarios", sid, "actions", i, "namespace"),
                    f"namespace {ns} is not in kubernetes.namespaces ({', '.join(map(str, allowed))})",
                )
