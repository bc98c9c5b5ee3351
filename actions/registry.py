"""The typed actions by verb: what parameters each takes, and how it runs on a ``Cluster``.

Requests store their parameters as plain JSON (``{"replicas": 6}``); ``parse`` checks them
before an approval is asked for, and ``perform`` runs a parsed action against any
``bot.ports.Cluster`` (the actuator, or a test's fake).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.domain.action import ActionVerb
from bot.domain.deployment import ChangeResult
from bot.domain.target import Target
from bot.errors import BadRequest
from bot.ports import Cluster

Params = Mapping[str, Any]
Runner = Callable[[Cluster, Target, Params, str | None, bool], Awaitable[ChangeResult]]


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """A mutating verb: its parameters (name → type; ``None`` allowed where optional) and
    its runner."""

    verb: ActionVerb
    required: Mapping[str, type]
    optional: Mapping[str, type]
    run: Runner


async def _scale(
    cluster: Cluster, target: Target, params: Params, _rv: str | None, dry_run: bool
) -> ChangeResult:
    # Absolute and retried on 409 by the actuator: no version precondition needed.
    return await cluster.scale(target, replicas=params["replicas"], dry_run=dry_run)


async def _rollback(
    cluster: Cluster, target: Target, params: Params, rv: str | None, dry_run: bool
) -> ChangeResult:
    return await cluster.rollback(
        target,
        to_revision=params.get("to_revision"),
        expect_resource_version=rv,
        dry_run=dry_run,
    )


async def _restart(
    cluster: Cluster, target: Target, params: Params, rv: str | None, dry_run: bool
) -> ChangeResult:
    return await cluster.restart(
        target, restarted_at=params["restarted_at"], expect_resource_version=rv, dry_run=dry_run
    )


REGISTRY: Mapping[ActionVerb, ActionSpec] = {
    ActionVerb.SCALE: ActionSpec(ActionVerb.SCALE, {"replicas": int}, {}, _scale),
    ActionVerb.ROLLBACK: ActionSpec(ActionVerb.ROLLBACK, {}, {"to_revision": int}, _rollback),
    ActionVerb.RESTART: ActionSpec(ActionVerb.RESTART, {"restarted_at": str}, {}, _restart),
}


def spec_for(verb: ActionVerb) -> ActionSpec:
    try:
        return REGISTRY[verb]
    except KeyError:
        raise BadRequest(f"{verb} is read-only: it is not an approved action") from None


def parse(verb: ActionVerb, params: Params) -> dict[str, Any]:
    """``params`` checked against the verb: known names only, required ones present, the
    right types (no bool for int), replicas and revisions not negative / positive."""
    spec = spec_for(verb)
    unknown = sorted(set(params) - set(spec.required) - set(spec.optional))
    if unknown:
        raise BadRequest(f"{verb} does not take {', '.join(unknown)}")
    parsed: dict[str, Any] = {}
    for name, kind in {**spec.required, **spec.optional}.items():
        value = params.get(name)
        if value is None:
            if name in spec.required:
                raise BadRequest(f"{verb} needs {name}")
            continue
        if isinstance(value, bool) or not isinstance(value, kind):
            raise BadRequest(f"{verb}: {name} must be {kind.__name__}, not {value!r}")
        parsed[name] = value
    if parsed.get("replicas", 0) < 0:
        raise BadRequest(f"{verb}: replicas must be at least 0")
    if parsed.get("to_revision", 1) < 1:
        raise BadRequest(f"{verb}: to_revision must be at least 1")
    if "restarted_at" in parsed and not parsed["restarted_at"]:
        raise BadRequest(f"{verb}: restarted_at must not be empty")
    return parsed


async def perform(
    cluster: Cluster,
    verb: ActionVerb,
    target: Target,
    params: Params,
    *,
    expect_resource_version: str | None = None,
    dry_run: bool = False,
) -> ChangeResult:
    """Run ``verb`` on ``target`` (dry run first is the caller's call: run twice)."""
    spec = spec_for(verb)
    return await spec.run(cluster, target, parse(verb, params), expect_resource_version, dry_run)
