"""The sections of the postmortem that retell the record: summary, impact window, severity
changes, the whole timeline and the actions. Every value that came from an alert or a person
goes through ``bot.services.markdown`` (``inline`` or ``code``); only firebreak's own words
and numbers are written as they are."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot.domain.action import ActionRequest, ActionState
from bot.domain.events import (
    ActionDenied,
    ActionRequestRefused,
    EventKind,
    IncidentOpened,
    SeverityChanged,
    decode,
)
from bot.domain.incident import AlertEpisode, AlertStatus, Incident, IncidentStatus, TimelineEntry
from bot.services.entry_text import describe, human_duration
from bot.services.markdown import code, inline, table

NOT_ACKNOWLEDGED = "not acknowledged"
NOT_RESOLVED = "not resolved"
ONGOING = "ongoing"


def stamp(at: datetime) -> str:
    """A time as the document writes it: UTC, to the second."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _first(entries: Sequence[TimelineEntry], kind: EventKind) -> datetime | None:
    return next((e.at for e in entries if e.kind == kind), None)


def acknowledged_at(incident: Incident, timeline: Sequence[TimelineEntry]) -> datetime | None:
    """When the incident was first acknowledged: the incident's own field, else the first
    ``incident.acknowledged`` entry."""
    return incident.acknowledged_at or _first(timeline, EventKind.INCIDENT_ACKNOWLEDGED)


def resolved_at(incident: Incident, timeline: Sequence[TimelineEntry]) -> datetime | None:
    """When the incident resolved, or ``None`` while it is open (a reopened incident's old
    ``incident.resolved`` entries do not count)."""
    if incident.status is not IncidentStatus.RESOLVED:
        return None
    if incident.resolved_at is not None:
        return incident.resolved_at
    return next((e.at for e in reversed(timeline) if e.kind == EventKind.INCIDENT_RESOLVED), None)


def time_to_acknowledge(incident: Incident, timeline: Sequence[TimelineEntry]) -> str:
    at = acknowledged_at(incident, timeline)
    return human_duration(at - incident.created_at) if at is not None else NOT_ACKNOWLEDGED


def time_to_resolve(incident: Incident, timeline: Sequence[TimelineEntry]) -> str:
    at = resolved_at(incident, timeline)
    return human_duration(at - incident.created_at) if at is not None else NOT_RESOLVED


def _by(actor: str | None, at: datetime | None, incident: Incident) -> str:
    if at is None:
        return ""
    who = inline(actor) if actor else "unknown"
    return f"{who} at {stamp(at)} ({human_duration(at - incident.created_at)} after opening)"


def summary(incident: Incident, timeline: Sequence[TimelineEntry], response: str) -> list[str]:
    """Title, service, severity, status and who answered; ``response`` is the verdict on the
    response target, worded by the caller."""
    acked = acknowledged_at(incident, timeline)
    resolved = resolved_at(incident, timeline)
    return [
        "## Summary",
        "",
        f"- **Title:** {inline(incident.title)}",
        f"- **Service:** {inline(incident.service)}",
        f"- **Severity:** {incident.severity.value}",
        f"- **Status:** {incident.status.value}",
        f"- **Scenario:** {inline(incident.scenario)}",
        f"- **Source:** {incident.source.value}",
        f"- **Commander:** {inline(incident.commander or 'none')}",
        f"- **Opened:** {stamp(incident.created_at)}",
        f"- **Acknowledged by:** {_by(incident.acknowledged_by, acked, incident) or NOT_ACKNOWLEDGED}",
        f"- **Resolved by:** {_by(incident.resolved_by, resolved, incident) or NOT_RESOLVED}",
        f"- **Time to acknowledge:** {time_to_acknowledge(incident, timeline)}",
        f"- **Time to resolve:** {time_to_resolve(incident, timeline)}",
        f"- **Response target:** {response}",
    ]


def _labels(episode: AlertEpisode) -> str:
    pairs = sorted(episode.labels.items())
    return ", ".join(code(f"{k}={v}") for k, v in pairs) or "none"


def impact(
    incident: Incident,
    alerts: Sequence[AlertEpisode],
    timeline: Sequence[TimelineEntry],
    now: datetime,
) -> list[str]:
    """From the first alert firing (the opening, for an incident with none) to the
    resolution, or ``ongoing``; then each alert with its own span."""
    end = resolved_at(incident, timeline)
    first = min((a.starts_at for a in alerts), default=None)
    start, started = (first, "first alert firing") if first else (incident.created_at, "opened")
    if end is not None:
        window = (
            f"{stamp(start)} ({started}) → {stamp(end)} (resolved): {human_duration(end - start)}"
        )
    else:
        so_far = human_duration(now - start)
        window = f"{stamp(start)} ({started}) → {ONGOING} ({so_far} so far at {stamp(now)})"
    lines = ["## Impact", "", f"- **Window:** {window}"]
    if not alerts:
        return [*lines, "- **Alerts:** none attached to this incident"]
    firing = sum(1 for a in alerts if a.status is AlertStatus.FIRING)
    plural = "" if len(alerts) == 1 else "s"
    lines.append(f"- **Alerts:** {len(alerts)} alert{plural} ({firing} still firing)")
    for episode in sorted(alerts, key=lambda a: (a.starts_at, a.id)):
        until = episode.ends_at if episode.status is AlertStatus.RESOLVED else None
        span = f"{stamp(episode.starts_at)} → " + (stamp(until) if until else "still firing")
        length = human_duration((until or end or now) - episode.starts_at)
        lines.append(
            f"  - **{inline(episode.name or 'alert')}** ({episode.severity.value}, "
            f"{episode.status.value}) {span}, {length}. Labels: {_labels(episode)}"
        )
        about = episode.annotations.get("summary") or episode.annotations.get("description")
        if about:
            lines.append(f"    - {inline(about)}")
        if episode.generator_url:
            lines.append(f"    - Source: {inline(episode.generator_url)}")
    return lines


def severity_changes(incident: Incident, timeline: Sequence[TimelineEntry]) -> list[str]:
    """The severity it opened at and every change, with who changed it and by which rule."""
    rows: list[list[str]] = []
    for entry in timeline:
        event = decode(entry.kind, entry.body)
        if isinstance(event, IncidentOpened):
            change = f"opened as {inline(event.severity or '?')}"
        elif isinstance(event, SeverityChanged):
            change = f"{inline(event.previous or '?')} → {inline(event.to or '?')}"
        else:
            continue
        why = event.rule or ""
        rows.append([stamp(entry.at), change, inline(str(entry.actor)), inline(why)])
    lines = ["## Severity changes", ""]
    if not rows:
        return [*lines, f"No severity was recorded; the incident is {incident.severity.value}."]
    if len(rows) == 1:
        lines += [f"The severity did not change after opening ({incident.severity.value}).", ""]
    return lines + table(["Time (UTC)", "Change", "By", "Rule"], rows)


def timeline_section(timeline: Sequence[TimelineEntry]) -> list[str]:
    """Every entry, oldest first: time, actor, kind and the line ``describe`` gives it."""
    lines = ["## Timeline", ""]
    if not timeline:
        return [*lines, "No timeline entries."]
    rows = [
        [
            entry.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            inline(str(entry.actor)),
            inline(entry.kind),
            inline(describe(entry)),
        ]
        for entry in timeline
    ]
    return lines + table(["Time (UTC)", "Actor", "Kind", "What happened"], rows)


def _approvals(action: ActionRequest) -> str:
    given = [f"{inline(str(a.actor))} at {stamp(a.at)}" for a in action.approvals]
    if len(given) < action.approvals_required:
        given.append(f"{len(action.approvals)} of {action.approvals_required} approvals given")
    return "; ".join(given) or "nobody"


def _outcome(action: ActionRequest, timeline: Sequence[TimelineEntry]) -> str:
    text = action.state.value
    if action.state is ActionState.DENIED:
        for entry in timeline:
            event = decode(entry.kind, entry.body)
            if isinstance(event, ActionDenied) and event.action_id == action.id:
                text += f" by {inline(event.by)}" if event.by else ""
                text += f": {inline(event.reason)}" if event.reason else ""
                break
    elif action.detail:
        text += f": {inline(action.detail)}"
    if action.finished_at is not None:
        text += f" ({stamp(action.finished_at)})"
    return text


def actions_section(
    actions: Sequence[ActionRequest], timeline: Sequence[TimelineEntry]
) -> list[str]:
    """Each action request: what, who asked, who approved, how it ended; then the requests
    refused before an action existed."""
    lines = ["## Actions", ""]
    rows = [
        [
            str(action.id),
            inline(action.describe()),
            f"{inline(str(action.requested_by))} at {stamp(action.requested_at)}",
            _approvals(action),
            _outcome(action, timeline),
        ]
        for action in sorted(actions, key=lambda a: a.id)
    ]
    refused = [
        (entry, event)
        for entry in timeline
        if isinstance(event := decode(entry.kind, entry.body), ActionRequestRefused)
    ]
    if not rows and not refused:
        return [*lines, "No remediation actions were requested."]
    if rows:
        lines += table(["#", "Action", "Requested by", "Approved by", "Outcome"], rows)
    else:
        lines.append("No remediation action was carried out.")
    if refused:
        lines += ["", "Requests refused before an action existed:", ""]
        lines += [
            f"- {stamp(entry.at)}: {inline(str(entry.actor))} asked to "
            f"{inline(event.verb or 'act')} {inline(event.target)}: {inline(event.reason)}"
            for entry, event in refused
        ]
    return lines
