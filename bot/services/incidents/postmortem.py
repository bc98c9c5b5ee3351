"""The postmortem of an incident as a Markdown document: summary, impact, the complete
timeline, actions taken, and the time to acknowledge and to resolve.

It is a document, not a Slack message: nothing here is escaped for Slack. To post it to a
channel, pass it through ``bot.integrations.slack.text.inert`` (escapes ``& < >`` and defuses
bare ``@channel``/``@here``/``@everyone``), or upload it as a file, which Slack does not parse.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from bot.domain.events import EventKind, known_kind
from bot.domain.incident import AlertEpisode, AlertStatus, Incident, IncidentStatus, TimelineEntry
from bot.services.entry_text import describe, human_duration

NOT_ACKNOWLEDGED = "not acknowledged"
NOT_RESOLVED = "not resolved"


def _time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _line(text: str) -> str:
    """One Markdown list item per entry: a newline in sender text must not start a new item."""
    return " ".join(text.split())


def _first(entries: Iterable[TimelineEntry], kind: EventKind) -> datetime | None:
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


def _response_verdict(incident: Incident, timeline: Sequence[TimelineEntry], now: datetime) -> str:
    target = timedelta(minutes=incident.response_minutes)
    at = acknowledged_at(incident, timeline)
    if at is None:
        at = resolved_at(incident, timeline)
    if at is None:
        late = now - incident.created_at - target
        return f"missed (overdue by {human_duration(late)})" if late > timedelta(0) else "pending"
    taken = at - incident.created_at
    return "met" if taken <= target else f"missed by {human_duration(taken - target)}"


def _summary(incident: Incident, timeline: Sequence[TimelineEntry], now: datetime) -> list[str]:
    end = resolved_at(incident, timeline)
    return [
        "## Summary",
        "",
        f"- **Severity:** {incident.severity.value}",
        f"- **Status:** {incident.status.value}",
        f"- **Service:** {_line(incident.service)}",
        f"- **Scenario:** {_line(incident.scenario)}",
        f"- **Source:** {incident.source.value}",
        f"- **Opened:** {_time(incident.created_at)}",
        f"- **Resolved:** {_time(end) if end is not None else NOT_RESOLVED}",
        f"- **Time to acknowledge:** {time_to_acknowledge(incident, timeline)}",
        f"- **Time to resolve:** {time_to_resolve(incident, timeline)}",
        f"- **Response target:** {incident.response_minutes} min, "
        f"{_response_verdict(incident, timeline, now)}",
    ]


def _labels(episode: AlertEpisode) -> str:
    # A backtick in a label would end the code span early.
    pairs = (f"{_line(k)}={_line(v)}".replace("`", "'") for k, v in sorted(episode.labels.items()))
    return ", ".join(f"`{pair}`" for pair in pairs)


def _impact(
    incident: Incident,
    alerts: Sequence[AlertEpisode],
    timeline: Sequence[TimelineEntry],
    now: datetime,
) -> list[str]:
    end = resolved_at(incident, timeline)
    duration = human_duration((end or now) - incident.created_at)
    lines = [
        "## Impact",
        "",
        f"Duration: {duration}" + ("" if end is not None else " (still open)") + ".",
        "",
    ]
    if not alerts:
        return [*lines, "No alerts are attached to this incident."]
    firing = sum(1 for a in alerts if a.status is AlertStatus.FIRING)
    plural = "" if len(alerts) == 1 else "s"
    lines += [f"{len(alerts)} alert{plural} ({firing} still firing):", ""]
    for episode in sorted(alerts, key=lambda a: (a.starts_at, a.id)):
        until = episode.ends_at if episode.status is AlertStatus.RESOLVED else None
        span = f"{_time(episode.starts_at)} → " + (_time(until) if until else "still firing")
        length = human_duration((until or end or now) - episode.starts_at)
        lines.append(
            f"- **{_line(episode.name or 'alert')}** ({episode.severity.value}, "
            f"{episode.status.value}) {span}, {length}. Labels: {_labels(episode) or 'none'}"
        )
        summary = episode.annotations.get("summary") or episode.annotations.get("description")
        if summary:
            lines.append(f"  - {_line(summary)}")
    return lines


def _is_action(entry: TimelineEntry) -> bool:
    kind = known_kind(entry.kind)
    return kind is not None and kind.is_action


def _entry(entry: TimelineEntry) -> str:
    return (
        f"- {_time(entry.at)} · #{entry.seq} · {_line(str(entry.actor))} · `{entry.kind}` — "
        f"{_line(describe(entry))}"
    )


def render_postmortem(
    incident: Incident,
    alerts: Sequence[AlertEpisode],
    timeline: Sequence[TimelineEntry],
    *,
    now: datetime,
) -> str:
    """The postmortem of ``incident`` as Markdown. ``timeline`` in sequence order; every
    entry appears once under "Timeline"."""
    ordered = sorted(timeline, key=lambda e: e.seq)
    actions = [e for e in ordered if _is_action(e)]
    lines = [
        f"# Postmortem: incident #{incident.id}: {_line(incident.title)}",
        "",
        f"_Generated {_time(now)} by firebreak._",
        "",
        *_summary(incident, ordered, now),
        "",
        *_impact(incident, alerts, ordered, now),
        "",
        "## Timeline",
        "",
        *([_entry(e) for e in ordered] or ["No timeline entries."]),
        "",
        "## Actions taken",
        "",
        *([_entry(e) for e in actions] or ["No remediation actions were requested."]),
        "",
        "## Durations",
        "",
        f"- Time to acknowledge: {time_to_acknowledge(incident, ordered)}",
        f"- Time to resolve: {time_to_resolve(incident, ordered)}",
        "",
    ]
    return "\n".join(lines)
