"""Rollout history as kubectl reads it: the ReplicaSets a deployment controls, by revision."""

from __future__ import annotations

from actions.objects import (
    CHANGE_CAUSE_ANNOTATION,
    JsonObject,
    annotation,
    is_controlled_by,
    revision_of,
    text,
)
from actions.templates import pod_template
from bot.errors import NotFound


def owned(deployment: JsonObject, replicasets: list[JsonObject]) -> list[JsonObject]:
    """The ReplicaSets whose controller owner reference is ``deployment`` (by uid); a
    ReplicaSet that merely matches the selector is not the deployment's history."""
    return [rs for rs in replicasets if is_controlled_by(rs, deployment)]


def pick(replicasets: list[JsonObject], *, to_revision: int | None, name: str) -> JsonObject:
    """The ReplicaSet ``kubectl rollout undo`` would restore.

    With ``to_revision``, the one with that revision. Without, the second-highest revision
    among the owned ReplicaSets (the highest is the current one), as kubectl picks it.
    """
    numbered = [(rev, rs) for rs in replicasets if (rev := revision_of(rs)) is not None]
    if to_revision is not None:
        if to_revision <= 0:
            raise NotFound(f"unable to find specified revision {to_revision} in history")
        for rev, rs in numbered:
            if rev == to_revision:
                return rs
        raise NotFound(f"unable to find specified revision {to_revision} in history")
    numbered.sort(key=lambda pair: pair[0])
    if len(numbered) < 2:
        raise NotFound(f'no rollout history found for deployment "{name}"')
    return numbered[-2][1]


def revisions(replicasets: list[JsonObject]) -> tuple[tuple[int, str], ...]:
    """(revision, change-cause) oldest first, as ``kubectl rollout history`` lists them; a
    revision without a change-cause is described by its containers' images."""
    rows = []
    for rs in replicasets:
        rev = revision_of(rs)
        if rev is None:
            continue
        cause = annotation(rs, CHANGE_CAUSE_ANNOTATION) or images(pod_template(rs))
        rows.append((rev, cause))
    return tuple(sorted(rows))


def images(template: JsonObject) -> str:
    spec = template.get("spec")
    containers = spec.get("containers") if isinstance(spec, dict) else None
    found = [
        text(container, "image") or "?"
        for container in containers or []
        if isinstance(container, dict)
    ]
    return ",".join(found) or "<none>"
