"""The postmortem of an incident: a Markdown document people keep, built from what the store
holds about it and nothing else.

Sections: the summary (title, service, severity, status, who acknowledged and resolved), the
impact window (first alert firing → resolved, or ongoing), severity changes, the whole
timeline, the actions (who asked, who approved, how they ended), the response targets met or
missed per escalation level, and two blank sections, "Root cause" and "Follow-ups", for
people to write. ``render_postmortem`` is pure (the facts and ``now`` in, the text out);
``read_postmortem`` and ``load_postmortem`` read the facts in one transaction.

It is a document, not a Slack message: text from alerts and people is escaped for Markdown
(``bot.services.markdown``), not for Slack. Slack gets it as an uploaded file, which it does
not parse (``bot.integrations.slack.files``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain.action import ActionRequest
from bot.domain.actor import Actor
from bot.domain.escalation import Timer, response_standing
from bot.domain.events import PostmortemRequested
from bot.domain.incident import AlertEpisode, Incident, TimelineEntry
from bot.errors import NotFound
from bot.policy.model import Policy
from bot.ports import Store, UnitOfWork
from bot.services.entry_text import human_duration
from bot.services.incidents.postmortem_sections import (
    NOT_ACKNOWLEDGED,
    NOT_RESOLVED,
    acknowledged_at,
    actions_section,
    impact,
    resolved_at,
    severity_changes,
    stamp,
    summary,
    time_to_acknowledge,
    time_to_resolve,
    timeline_section,
)
from bot.services.incidents.response_levels import LevelVerdict, level_verdicts
from bot.services.incidents.updates import record
from bot.services.markdown import inline, table

__all__ = [
    "NOT_ACKNOWLEDGED",
    "NOT_RESOLVED",
    "PostmortemFacts",
    "acknowledged_at",
    "level_names",
    "load_postmortem",
    "postmortem_filename",
    "read_postmortem",
    "render_facts",
    "render_postmortem",
    "request_postmortem",
    "resolved_at",
    "time_to_acknowledge",
    "time_to_resolve",
]

MEDIA_TYPE = "text/markdown"


@dataclass(frozen=True, slots=True)
class PostmortemFacts:
    """What the store holds about one incident, as the postmortem needs it."""

    incident: Incident
    alerts: Sequence[AlertEpisode]
    timeline: Sequence[TimelineEntry]
    actions: Sequence[ActionRequest] = ()
    timers: Sequence[Timer] = ()
    # Severity → its path's level names (the policy's), for levels no entry named.
    level_names: Mapping[str, Sequence[str]] = field(default_factory=dict)


def postmortem_filename(incident_id: int) -> str:
    """The name the document gets as a file: ``incident-42-postmortem.md``."""
    return f"incident-{incident_id}-postmortem.md"


def level_names(policy: Policy | None) -> dict[str, list[str]]:
    """Severity → the names of its path's levels, as the policy gives them now."""
    if policy is None:
        return {}
    return {
        severity.value: [level.name for level in levels.path]
        for severity, levels in policy.levels.items()
    }


async def read_postmortem(
    uow: UnitOfWork, incident_id: int, *, policy: Policy | None = None
) -> PostmortemFacts | None:
    """The incident's facts as ``uow`` sees them (level names from ``policy``, for levels
    that never fired); ``None`` if there is no such incident."""
    incident = await uow.incidents.get(incident_id)
    if incident is None:
        return None
    return PostmortemFacts(
        incident=incident,
        alerts=await uow.alerts.for_incident(incident_id),
        timeline=await uow.timeline.for_incident(incident_id),
        actions=await uow.actions.for_incident(incident_id),
        timers=await uow.escalations.for_incident(incident_id),
        level_names=level_names(policy),
    )


async def load_postmortem(
    store: Store, incident_id: int, *, policy: Policy | None = None
) -> PostmortemFacts:
    """``read_postmortem`` in a transaction of its own; ``NotFound`` if there is none."""
    async with store.transaction() as uow:
        facts = await read_postmortem(uow, incident_id, policy=policy)
    if facts is None:
        raise NotFound(f"no incident {incident_id}")
    return facts


async def request_postmortem(store: Store, incident_id: int, *, actor: Actor, at: datetime) -> str:
    """Record that ``actor`` asked for the postmortem (``postmortem.requested``): the chat
    publisher posts it into the incident's channel as a file, made in that same transaction
    (so it holds the record up to this entry). The file's name; ``NotFound`` if there is no
    such incident."""
    filename = postmortem_filename(incident_id)
    await record(
        store, incident_id, actor=actor, at=at, event=PostmortemRequested(filename=filename)
    )
    return filename


def _response(facts: PostmortemFacts, now: datetime) -> str:
    standing = response_standing(facts.incident, now, facts.timers)
    target = human_duration(standing.target.target)
    if standing.answered_after is not None:
        taken = human_duration(standing.answered_after)
        verdict = "met" if standing.met else "missed"
        return f"{target}, {verdict} (answered after {taken})"
    if standing.overdue:
        return f"{target}, missed (overdue by {human_duration(-standing.left)})"
    return f"{target}, pending ({human_duration(standing.left)} left)"


def _after(delta: timedelta | None) -> str:
    return "-" if delta is None else f"+{human_duration(delta)}"


def _level_row(verdict: LevelVerdict) -> list[str]:
    if verdict.level is None:
        what = "response target"
    else:
        what = f"level {verdict.level + 1}" + (f": {inline(verdict.name)}" if verdict.name else "")
    notified = stamp(verdict.notified_at) if verdict.notified_at is not None else "-"
    return [
        f"{verdict.severity} path {verdict.run}",
        what,
        _after(verdict.due),
        _after(verdict.respond_by),
        notified,
        verdict.outcome,
    ]


def response_section(facts: PostmortemFacts, now: datetime) -> list[str]:
    """Each escalation level's target (answer before the next level is due) against when the
    incident was acknowledged or resolved, path by path; times from each path's start."""
    lines = ["## Response targets", ""]
    lines.append(f"Overall: {_response(facts, now)}.")
    verdicts = level_verdicts(facts.timers, facts.timeline, now=now, names=facts.level_names)
    if not verdicts:
        return [
            *lines,
            "",
            "No escalation path ran for this incident (PagerDuty escalates the incidents it "
            "opened, and a severity without a path in the policy has none).",
        ]
    lines += [
        "",
        "A level is met when the incident was acknowledged or resolved before the next level "
        "was due; times are from the start of its path (the opening, or a change of severity).",
        "",
    ]
    header = ["Path", "Level", "Due", "Answer by", "Notified (UTC)", "Outcome"]
    return lines + table(header, [_level_row(v) for v in verdicts])


BLANKS = [
    "## Root cause",
    "",
    "_To be written by the responders: what failed, why, and why it was not caught sooner._",
    "",
    "## Follow-ups",
    "",
    "_To be written: each follow-up with an owner and a due date._",
    "",
    *table(["Follow-up", "Owner", "Due"], [[" ", " ", " "]]),
]


def render_postmortem(
    incident: Incident,
    alerts: Sequence[AlertEpisode],
    timeline: Sequence[TimelineEntry],
    *,
    now: datetime,
    actions: Sequence[ActionRequest] = (),
    timers: Sequence[Timer] = (),
    level_names: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The postmortem of ``incident`` as Markdown; every timeline entry appears once, under
    "Timeline", whatever its length. ``now`` words what is still open."""
    ordered = sorted(timeline, key=lambda e: e.seq)
    facts = PostmortemFacts(incident, alerts, ordered, actions, timers, dict(level_names or {}))
    lines = [
        f"# Postmortem: incident #{incident.id}: {inline(incident.title)}",
        "",
        f"_Generated {stamp(now)} by firebreak from the incident's record; the last two "
        "sections are for people to write._",
        "",
        *summary(incident, ordered, _response(facts, now)),
        "",
        *impact(incident, alerts, ordered, now),
        "",
        *severity_changes(incident, ordered),
        "",
        *timeline_section(ordered),
        "",
        *actions_section(actions, ordered),
        "",
        *response_section(facts, now),
        "",
        *BLANKS,
        "",
    ]
    return "\n".join(lines)


def render_facts(facts: PostmortemFacts, *, now: datetime) -> str:
    """``render_postmortem`` of what ``read_postmortem`` read."""
    return render_postmortem(
        facts.incident,
        facts.alerts,
        facts.timeline,
        now=now,
        actions=facts.actions,
        timers=facts.timers,
        level_names=facts.level_names,
    )
