"""What a page or an email tells about an incident, whatever carries it: the firing alerts,
where they point, the triage steps filled as the card fills them, and the response target.

The steps are filled for the same target the card's buttons act on
(``bot.policy.targets.scenario_target``), so a page and the card never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.domain.incident import AlertEpisode, AlertStatus, Incident
from bot.policy.model import Policy
from bot.policy.targets import Resolved, resolve_target, scenario_target, template_values
from bot.policy.templates import fill
from bot.services.entry_text import human_duration


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) made one space."""
    return " ".join(text.split())


def firing_first(alerts: Sequence[AlertEpisode]) -> list[AlertEpisode]:
    """Firing alerts before resolved ones, the most severe and earliest first (the card's
    order)."""
    return sorted(
        alerts,
        key=lambda a: (a.status is not AlertStatus.FIRING, -a.severity.rank, a.starts_at, a.id),
    )


def target(policy: Policy, incident: Incident, alerts: Sequence[AlertEpisode]) -> Resolved:
    """Where the incident's alerts point (namespace, deployment), as the card resolves it."""
    labels = [alert.labels for alert in alerts]
    scenario = policy.scenarios.get(incident.scenario)
    if scenario is None:
        return resolve_target(policy.kubernetes, None, None, labels)
    return scenario_target(policy.kubernetes, scenario, labels)


def triage_steps(policy: Policy, incident: Incident, alerts: Sequence[AlertEpisode]) -> list[str]:
    """The scenario's triage steps filled for the incident's target, one line each."""
    scenario = policy.scenarios.get(incident.scenario)
    if scenario is None or not scenario.triage:
        return []
    labels = [alert.labels for alert in alerts]
    values = template_values(
        policy.kubernetes, target(policy, incident, alerts), labels[0] if labels else {}
    )
    return [one_line(fill(step, values)) for step in scenario.triage]


def standing_steps(policy: Policy, incident: Incident) -> list[str]:
    """The severity's standing steps (``severities.<P>.steps`` of the policy)."""
    level = policy.levels.get(incident.severity)
    return [one_line(step) for step in level.steps] if level is not None else []


def response_state(incident: Incident, now: datetime) -> str:
    """The response target and where the incident stands against it, in words: ``15 min:
    12 min left``, ``15 min: overdue by 3 min``, ``15 min: acknowledged after 4 min``."""
    limit = timedelta(minutes=incident.response_minutes)
    head = human_duration(limit)
    answered = incident.acknowledged_at or incident.resolved_at
    if answered is not None:
        return f"{head}: answered after {human_duration(answered - incident.created_at)}"
    left = incident.created_at + limit - now
    if left >= timedelta(0):
        return f"{head}: {human_duration(left)} left"
    return f"{head}: overdue by {human_duration(-left)}"


def incident_link(public_url: str, incident_id: int) -> str:
    """Where a reader of a page or email finds the incident (the bot's JSON API)."""
    return f"{public_url.rstrip('/')}/api/incidents/{incident_id}"
