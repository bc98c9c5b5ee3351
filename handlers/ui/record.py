"""The incident page's summary, alerts and timeline as the templates show them. Text from
alerts and people is passed as it is stored: the templates escape it (autoescape), so
nothing here builds markup."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from bot.domain.escalation import Timer, response_standing
from bot.domain.incident import AlertEpisode, AlertStatus, Incident, TimelineEntry
from bot.domain.links import incident_path
from bot.policy.model import Policy
from bot.services.entry_text import describe, human_duration
from bot.services.escalation.standing import reached, response_words


@dataclass(frozen=True, slots=True)
class Fact:
    """One line of the summary: a label and its value, a link when ``href`` is set."""

    label: str
    value: str
    href: str = ""
    at: datetime | None = None
    warn: bool = False


@dataclass(frozen=True, slots=True)
class AlertView:
    """An alert: ``source`` is its ``generatorURL`` when that is an http(s) URL, else ``""``
    (never a ``javascript:`` or relative link)."""

    name: str
    status: str
    severity: str
    starts_at: datetime
    ends_at: datetime | None
    labels: list[tuple[str, str]]
    annotations: list[tuple[str, str]]
    source: str
    group_key: str


@dataclass(frozen=True, slots=True)
class EntryView:
    """A timeline entry: when, who, what (the kind's own words), and its kind."""

    seq: int
    at: datetime
    actor: str
    kind: str
    text: str

    @property
    def family(self) -> str:
        """``action`` for ``action.approved``: what the page colours it by."""
        return self.kind.partition(".")[0]


def http_link(url: str) -> str:
    """``url`` if it is an absolute http(s) URL (as a browser would read it), else ``""``."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    return urlunsplit(parts)


def alert_view(alert: AlertEpisode) -> AlertView:
    return AlertView(
        name=alert.name or "alert",
        status=alert.status.value,
        severity=alert.severity.value,
        starts_at=alert.starts_at,
        ends_at=alert.ends_at,
        labels=sorted(alert.labels.items()),
        annotations=sorted(alert.annotations.items()),
        source=http_link(alert.generator_url),
        group_key=alert.group_key or "",
    )


def alert_views(alerts: Sequence[AlertEpisode]) -> list[AlertView]:
    """Firing before resolved, the most severe and earliest first (the card's order)."""
    ordered = sorted(
        alerts,
        key=lambda a: (a.status is not AlertStatus.FIRING, -a.severity.rank, a.starts_at, a.id),
    )
    return [alert_view(alert) for alert in ordered]


def entry_view(entry: TimelineEntry) -> EntryView:
    return EntryView(
        seq=entry.seq, at=entry.at, actor=str(entry.actor), kind=entry.kind, text=describe(entry)
    )


def _after(incident: Incident, at: datetime | None) -> str:
    return f"after {human_duration(at - incident.created_at)}" if at is not None else ""


def summary(
    incident: Incident, timers: Sequence[Timer], policy: Policy, now: datetime
) -> list[Fact]:
    """The facts at the top of the page, in the order people look for them."""
    standing = response_standing(incident, now, timers)
    head, state = response_words(standing)
    scenario = policy.scenarios.get(incident.scenario)
    facts = [
        Fact("Severity", incident.severity.value),
        Fact("Status", incident.status.value),
        Fact("Service", incident.service or "-"),
        Fact("Scenario", scenario.title if scenario is not None else incident.scenario or "-"),
        Fact("Source", incident.source.value),
        Fact("Opened", human_duration(now - incident.created_at) + " ago", at=incident.created_at),
        Fact(
            "Response target",
            f"{head}: {state}",
            warn=standing.overdue or (standing.answered and not standing.met),
        ),
    ]
    level = reached(timers, policy)
    if level is not None:
        facts.append(Fact("Escalation", str(level)))
    if incident.acknowledged_at is not None:
        who = f" by {incident.acknowledged_by}" if incident.acknowledged_by else ""
        facts.append(
            Fact(
                "Acknowledged",
                _after(incident, incident.acknowledged_at) + who,
                at=incident.acknowledged_at,
            )
        )
    if incident.resolved_at is not None:
        who = f" by {incident.resolved_by}" if incident.resolved_by else ""
        facts.append(
            Fact("Resolved", _after(incident, incident.resolved_at) + who, at=incident.resolved_at)
        )
    if incident.commander:
        facts.append(Fact("Commander", incident.commander))
    if incident.flap_count:
        facts.append(Fact("Flaps", str(incident.flap_count)))
    if incident.silenced_until is not None and incident.silenced_until > now:
        facts.append(Fact("Silenced until", "", at=incident.silenced_until))
    if incident.storm_key:
        facts.append(Fact("Storm", incident.storm_key))
    if incident.merged_into is not None:
        target = incident.merged_into
        facts.append(Fact("Merged into", f"#{target}", href=incident_path(target)))
    if incident.pagerduty_id:
        facts.append(Fact("PagerDuty incident", incident.pagerduty_id))
    return facts
