"""The PagerDuty Events API v2 rows of an incident (target ``pagerduty``,
``bot.domain.outbox``): the ``trigger`` a page sends, then ``acknowledge`` and ``resolve``
to each PagerDuty service it went to.

The escalation path's pages carry the incident's ``dedup_key`` (``firebreak-<id>``): PagerDuty
folds the triggers of one incident *to one routing key* into one alert, and a retried trigger
changes nothing. A page by hand has a key of its own (``firebreak-<id>-page-<entry>``,
``page_dedup_key``) so it opens a new alert and rings a phone. Either key leads the v3 webhook
events of the alert back to the incident. An acknowledge or resolve goes to each (dedup key,
service) pair the incident triggered. Rows to one service share the ordering key
``pagerduty:<id>:<service>``: an acknowledge never overtakes its trigger, and a service stuck
in 5xx holds back no other.

What goes in is bounded: PagerDuty refuses an event over 512 KB, and a page is read on a
phone. ``custom_details`` keeps a few alerts with a few labels and annotations each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.domain.escalation import Timer, response_target
from bot.domain.incident import JSON, AlertEpisode, Incident, Severity
from bot.domain.outbox import PAGERDUTY, OutboundCall, pagerduty_key
from bot.integrations.notify.brief import (
    firing_first,
    incident_link,
    one_line,
    slack_place,
    target,
    triage_steps,
)
from bot.policy.model import Policy
from bot.services.entry_text import human_duration
from bot.text import cut

SUMMARY_MAX = 1024
SOURCE = "firebreak"
ALERTS_MAX = 10
LABELS_MAX = 20
VALUE_MAX = 256
ANNOTATIONS = ("summary", "description", "runbook_url")
FOLLOW_UPS = ("acknowledge", "resolve")
SEVERITY = {Severity.P0: "critical", Severity.P1: "error", Severity.P2: "warning"}


def _bounded(values: Mapping[str, str], names: Sequence[str] | None = None) -> dict[str, str]:
    keys = sorted(values) if names is None else [n for n in names if n in values]
    return {key: cut(str(values[key]), VALUE_MAX) for key in keys[:LABELS_MAX]}


def _alert(alert: AlertEpisode) -> JSON:
    return {
        "name": alert.name or "alert",
        "status": alert.status.value,
        "severity": alert.severity.value,
        "starts_at": alert.starts_at.isoformat(),
        "labels": _bounded(alert.labels),
        "annotations": _bounded(alert.annotations, ANNOTATIONS),
    }


def summary(incident: Incident) -> str:
    """``[P0] title``: the line PagerDuty shows and sends in its notifications."""
    return cut(f"[{incident.severity.value}] {one_line(incident.title)}", SUMMARY_MAX)


def trigger_args(
    incident: Incident,
    alerts: Sequence[AlertEpisode],
    policy: Policy,
    *,
    level: str,
    public_url: str,
    service: str = "",
    timers: Sequence[Timer] = (),
    triage_channel: str = "",
    dedup_key: str | None = None,
) -> JSON:
    """The trigger's arguments: ``level`` says why this page went out (``escalation level
    2/4 (secondary)``, ``paged by hand by …``); ``service`` names the PagerDuty service
    (``""``: the default routing key); ``dedup_key`` defaults to the incident's (the path's
    pages), a page by hand passes its own. ``timers`` (the incident's escalation timers) set
    the response deadline as on the card; ``triage_channel`` is where a P2 is worked on in
    Slack.

    The deadline is a time, not "3 min left": PagerDuty shows the details long after they
    were sent."""
    where = target(policy, incident, alerts)
    ordered = firing_first(alerts)
    respond = response_target(incident, timers)
    details: dict[str, Any] = {
        "incident_id": incident.id,
        "severity": incident.severity.value,
        "status": incident.status.value,
        "scenario": incident.scenario,
        "level": level,
        "response_target": human_duration(respond.target),
        "respond_by": respond.deadline.isoformat(),
        "alerts": [_alert(alert) for alert in ordered[:ALERTS_MAX]],
        "triage": triage_steps(policy, incident, alerts),
    }
    if len(ordered) > ALERTS_MAX:
        details["alerts_not_shown"] = len(ordered) - ALERTS_MAX
    place = slack_place(incident, triage_channel)
    if place:
        details["slack"] = place
    return {
        "dedup_key": dedup_key or incident.dedup_key,
        "summary": summary(incident),
        "source": incident.service or SOURCE,
        "severity": SEVERITY[incident.severity],
        "component": where.deployment or incident.service or SOURCE,
        "group": where.namespace or incident.service or SOURCE,
        "class": incident.scenario,
        "custom_details": details,
        "links": [
            {
                "href": incident_link(public_url, incident.id),
                "text": f"firebreak incident #{incident.id}",
            }
        ],
        "service": service,
    }


def trigger(incident: Incident, args: JSON) -> OutboundCall:
    """The trigger row (``args`` from ``trigger_args``)."""
    return _call(incident, "trigger", args)


def follow_up(
    incident: Incident, method: str, service: str, dedup_key: str | None = None
) -> OutboundCall:
    """``acknowledge`` or ``resolve`` the alert a trigger with ``dedup_key`` (default: the
    incident's) to ``service`` opened: a dedup key lives within one routing key, so each
    (dedup key, service) pair triggered gets its own."""
    if method not in FOLLOW_UPS:
        raise ValueError(f"not a PagerDuty follow-up: {method!r}")
    args: JSON = {"dedup_key": dedup_key or incident.dedup_key, "service": service}
    return _call(incident, method, args)


def _call(incident: Incident, method: str, args: JSON) -> OutboundCall:
    return OutboundCall(
        ordering_key=pagerduty_key(incident.id, str(args.get("service") or "")),
        method=method,
        args=args,
        incident_id=incident.id,
        target=PAGERDUTY,
    )
