"""The email a level sends (target ``email``, method ``send``): a one-line subject and a
plain-text body a person can act on from a phone, with no markup to render.

The subject is one line by construction (a title with a newline would otherwise be a header
injection the sender must refuse); the body says what is wrong, how long is left to answer,
what to check first, and how to acknowledge.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot.domain.escalation import Timer
from bot.domain.incident import AlertEpisode, AlertStatus, Incident
from bot.domain.outbox import EMAIL, OutboundCall, email_key
from bot.integrations.notify.brief import (
    firing_first,
    incident_link,
    one_line,
    response_state,
    slack_place,
    standing_steps,
    triage_steps,
)
from bot.policy.model import Policy
from bot.text import cut

SUBJECT_MAX = 200
ALERTS_MAX = 10
LINE_MAX = 300


def subject(incident: Incident) -> str:
    """``[firebreak P2] #12 title``, one line."""
    head = f"[firebreak {incident.severity.value}] #{incident.id} "
    return cut(head + one_line(incident.title), SUBJECT_MAX)


def _alert_line(alert: AlertEpisode) -> str:
    line = f"- {alert.name or 'alert'} ({alert.severity.value}, {alert.status.value})"
    text = alert.annotations.get("summary", "")
    if text:
        line += f": {one_line(text)}"
    return cut(line, LINE_MAX)


def _numbered(steps: Sequence[str]) -> list[str]:
    return [cut(f"{i}. {step}", LINE_MAX) for i, step in enumerate(steps, 1)]


def body(
    incident: Incident,
    alerts: Sequence[AlertEpisode],
    policy: Policy,
    *,
    reason: str,
    now: datetime,
    public_url: str,
    timers: Sequence[Timer] = (),
    triage_channel: str = "",
) -> str:
    """The plain-text body; ``reason`` says why this email was sent (the level, or who
    paged by hand). ``timers`` are the incident's escalation timers: the response deadline
    is their latest run's (as on the card); ``triage_channel`` is where a P2 is worked on in
    Slack."""
    level = policy.levels.get(incident.severity)
    severity = incident.severity.value + (f" ({level.name})" if level and level.name else "")
    lines = [
        f"{incident.severity.value} incident #{incident.id}: {one_line(incident.title)}",
        "",
        f"Why you get this: {one_line(reason)}",
        f"Severity: {severity}",
        f"Status: {incident.status.value}",
        f"Service: {one_line(incident.service) or '-'}",
        f"Opened: {incident.created_at.astimezone(UTC):%Y-%m-%d %H:%M UTC}",
        f"Response target: {response_state(incident, now, timers)}",
    ]
    firing = [a for a in firing_first(alerts) if a.status is AlertStatus.FIRING]
    if firing:
        lines += ["", f"Firing alerts ({len(firing)}):"]
        lines += [_alert_line(alert) for alert in firing[:ALERTS_MAX]]
        if len(firing) > ALERTS_MAX:
            lines.append(f"- and {len(firing) - ALERTS_MAX} more")
    triage = triage_steps(policy, incident, alerts)
    if triage:
        lines += ["", "Triage:", *_numbered(triage)]
    standing = standing_steps(policy, incident)
    if standing:
        lines += ["", f"Steps for every {incident.severity.value}:", *_numbered(standing)]
    lines.append("")
    place = slack_place(incident, triage_channel)
    if place:
        lines.append(f"Slack: {place}")
    lines += [
        f"Incident page: {incident_link(public_url, incident.id)}",
        "",
        f"What to do: acknowledge in Slack with /incident ack {incident.id} (or the card's "
        "Acknowledge button); until someone does, the escalation path goes on.",
        "",
        "-- firebreak",
    ]
    return "\n".join(lines) + "\n"


def send(incident: Incident, to: str, *, subject_line: str, text: str, entry: int) -> OutboundCall:
    """The email row to one address, sent for timeline ``entry`` (its ``seq``)."""
    return OutboundCall(
        ordering_key=email_key(incident.id, entry, to),
        method="send",
        args={"to": [to], "subject": subject_line, "body": text},
        incident_id=incident.id,
        target=EMAIL,
    )
