"""What a page or an email tells about an incident, whatever carries it: the firing alerts,
where they point, the triage steps filled as the card fills them, and the response target.

The steps are filled for the same target the card's buttons act on
(``bot.policy.targets.scenario_target``), so a page and the card never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.domain.escalation import Timer, response_standing
from bot.domain.incident import AlertEpisode, AlertStatus, Incident
from bot.domain.links import incident_page
from bot.integrations.slack.channels import channel_name
from bot.integrations.slack.publisher import CHANNEL_SEVERITIES
from bot.policy.model import Policy
from bot.policy.targets import Resolved, resolve_target, scenario_target, template_values
from bot.policy.templates import fill
from bot.services.escalation.standing import response_words


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


def response_state(incident: Incident, now: datetime, timers: Sequence[Timer] = ()) -> str:
    """``15 min (12 min left)``, ``15 min (overdue by 3 min)``, ``15 min (met, answered
    after 4 min)``. ``timers`` are the incident's escalation timers (the deadline is their
    latest run's target, ``bot.domain.escalation.response_target``); without them, the
    target counts from when the incident opened."""
    head, state = response_words(response_standing(incident, now, timers))
    return f"{head} ({state})"


def incident_link(public_url: str, incident_id: int) -> str:
    """The incident's web page (``bot.domain.links``), where a reader signs in to see it
    whole: alerts, timeline, actions, paging."""
    return incident_page(public_url, incident_id)


def slack_place(incident: Incident, triage_channel: str = "") -> str:
    """Where in Slack the incident is worked on: the incident's channel
    (``#inc-20261122-0042-…``) for a P0 or P1, the triage channel for a P2 (``""`` when none
    is configured)."""
    if incident.severity in CHANNEL_SEVERITIES:
        return f"#{channel_name(incident)}"
    return f"the triage channel ({triage_channel})" if triage_channel else ""
