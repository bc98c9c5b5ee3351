"""``diagnose``: read-only facts about a deployment for the incident thread: the rollout as
kubectl judges it, the revision history, the pods with their phases and restarts, and the
recent events of the deployment, its ReplicaSets and their pods."""

from __future__ import annotations

from datetime import UTC, datetime

from actions.api import KubeApi, label_selector
from actions.history import owned, revisions
from actions.objects import JsonObject, integer, is_controlled_by, mapping, text
from actions.rollout import judge
from actions.snapshot import snapshot_of
from bot.domain.deployment import Diagnosis, EventSummary, PodSummary
from bot.domain.target import Target

RECENT_EVENTS = 20
_LONG_AGO = datetime.min.replace(tzinfo=UTC)


async def diagnose(api: KubeApi, target: Target, *, events: int = RECENT_EVENTS) -> Diagnosis:
    deployment = await api.deployment(target)
    selector = label_selector(deployment)
    replicasets = owned(
        deployment, await api.replicasets(target.namespace, label_selector=selector)
    )
    pods = [
        pod
        for pod in await api.pods(target.namespace, label_selector=selector)
        if any(is_controlled_by(pod, rs) for rs in replicasets)
    ]
    involved = {("Deployment", target.name)}
    involved.update(("ReplicaSet", text(rs, "metadata", "name") or "") for rs in replicasets)
    involved.update(("Pod", text(pod, "metadata", "name") or "") for pod in pods)
    found = [
        event
        for event in await api.events(target.namespace)
        if (text(event, "involvedObject", "kind"), text(event, "involvedObject", "name"))
        in involved
    ]
    found.sort(key=lambda event: _event_time(event) or _LONG_AGO)
    return Diagnosis(
        target=target,
        snapshot=snapshot_of(deployment),
        progress=judge(deployment),
        revisions=revisions(replicasets),
        pods=tuple(sorted((pod_summary(pod) for pod in pods), key=lambda pod: pod.name)),
        events=tuple(event_summary(event) for event in found[-events:] if events > 0),
    )


def pod_summary(pod: JsonObject) -> PodSummary:
    statuses = mapping(pod, "status").get("containerStatuses") or []
    conditions = mapping(pod, "status").get("conditions") or []
    return PodSummary(
        name=text(pod, "metadata", "name") or "?",
        phase=text(pod, "status", "phase") or "Unknown",
        ready=any(
            isinstance(cond, dict) and cond.get("type") == "Ready" and cond.get("status") == "True"
            for cond in conditions
        ),
        restarts=sum(integer(status, "restartCount") for status in statuses),
    )


def event_summary(event: JsonObject) -> EventSummary:
    return EventSummary(
        at=_event_time(event),
        type=text(event, "type") or "Normal",
        reason=text(event, "reason") or "",
        message=text(event, "message") or "",
        count=integer(event, "count", default=1),
    )


def _event_time(event: JsonObject) -> datetime | None:
    for stamp in (
        text(event, "lastTimestamp"),
        text(event, "eventTime"),
        text(event, "firstTimestamp"),
        text(event, "metadata", "creationTimestamp"),
    ):
        if stamp:
            try:
                at = datetime.fromisoformat(stamp)
            except ValueError:
                continue
            return at if at.tzinfo else at.replace(tzinfo=UTC)
    return None
