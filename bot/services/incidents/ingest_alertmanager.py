"""Apply one Alertmanager notification taken from the inbox: attach its alerts to the group's
open incident (when new alerts fire and it has none: to the incident they are symptoms of,
to its last one reopened as a flap, to the storm for their service, or to a new one:
``bot.services.incidents.choice``), and
resolve the incident when its last alert resolves. It runs in the inbox processor's transaction, which also settles the
delivery, and is idempotent: a re-sent or concurrent duplicate changes nothing twice."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from bot.domain.actor import SYSTEM, Actor
from bot.domain.events import (
    AlertChanged,
    AlertRepeat,
    AlertsTruncated,
    EventKind,
    SeverityChanged,
    StatusChanged,
)
from bot.domain.incident import (
    Alert,
    AlertGroup,
    AlertStatus,
    EpisodeState,
    Incident,
    IncidentStatus,
)
from bot.policy.model import Classification, Policy
from bot.ports import UnitOfWork
from bot.services.entries import save_recorded
from bot.services.incidents.choice import Chosen, incident_for
from bot.services.incidents.maintenance_hold import Held, hold_for_maintenance
from bot.services.maintenance.windows import running_ad_hoc

ACTOR = Actor(SYSTEM, "alertmanager")


@dataclass(frozen=True, slots=True)
class AlertIngestResult:
    """What one delivery changed, for the response and the metrics."""

    incident_ids: tuple[int, ...]
    opened: tuple[Incident, ...]
    new_alerts: int
    resolved_alerts: int
    resolved_incidents: int


def _alert_body(alert: Alert, verdict: Classification | None = None) -> AlertChanged:
    resolved = alert.status is AlertStatus.RESOLVED
    return AlertChanged(
        kind=EventKind.ALERT_RESOLVED if resolved else EventKind.ALERT_FIRING,
        fingerprint=alert.fingerprint,
        alertname=alert.name,
        starts_at=alert.starts_at.isoformat(),
        labels=dict(alert.labels),
        ends_at=alert.ends_at.isoformat() if alert.ends_at is not None and resolved else None,
        severity=verdict.severity.value if verdict is not None else None,
        rule=verdict.rule if verdict is not None else None,
    )


class _Verdicts(dict[str, Classification]):
    """Each alert's classification by fingerprint, computed when first looked up."""

    def __init__(self, policy: Policy, group: AlertGroup) -> None:
        super().__init__()
        self._policy = policy
        self._labels = {alert.fingerprint: alert.labels for alert in group.alerts}

    def __missing__(self, fingerprint: str) -> Classification:
        verdict = self._policy.classify_labels(self._labels[fingerprint])
        self[fingerprint] = verdict
        return verdict


async def apply_alert_group(
    uow: UnitOfWork, *, policy: Policy, now: datetime, group: AlertGroup
) -> AlertIngestResult:
    """Apply one notification in the caller's transaction (the inbox processor's)."""
    # Classified when first asked: a re-sent group whose alerts are all stored needs none.
    verdicts = _Verdicts(policy, group)
    known: dict[tuple[str, datetime], EpisodeState] = {}
    for alert in group.alerts:
        episode = await uow.alerts.state(alert.fingerprint, alert.starts_at)
        if episode is not None:
            known[(alert.fingerprint, alert.starts_at)] = episode
    new_firing = [
        a
        for a in group.alerts
        if a.status is AlertStatus.FIRING and (a.fingerprint, a.starts_at) not in known
    ]

    opened: list[Incident] = []
    incident: Incident | None
    if new_firing:
        # A maintenance window holds the severity before anything is opened with it.
        ad_hoc = await running_ad_hoc(uow, now)
        held = hold_for_maintenance(policy, now, group, verdicts, ad_hoc)
        verdicts.update(held.verdicts)  # the windows' holds; the rest stay as classified
        incident, how = await incident_for(
            uow, policy, now, group, new_firing, verdicts, actor=ACTOR
        )
        worst = max(new_firing, key=lambda a: verdicts[a.fingerprint].severity.rank)
        if how is Chosen.OPENED:
            opened.append(incident)
            await held.record(uow, incident, worst.fingerprint, at=now, actor=ACTOR)
        elif how is Chosen.REOPENED:
            # Reopened as a flap inside a window: held like an incident opened there, or the
            # restarted path would page during maintenance at the old severity.
            incident = await _hold_reopened(uow, incident, held, worst.fingerprint, now)
    else:
        incident = await uow.incidents.latest_for_group(group.group_key)
        if incident is None and known:
            # The group never had an incident of its own: its alerts joined another one as
            # symptoms, so their resolutions go there.
            first = min(known.values(), key=lambda episode: episode.id)
            incident = await uow.incidents.get(first.incident_id, for_update=True)
        if incident is None:
            return AlertIngestResult((), (), 0, 0, 0)

    touched: dict[int, Incident] = {incident.id: incident}
    changed: set[int] = set()
    # Only an incident that saw a resolution can have gone quiet; one that just gained a
    # firing alert cannot, and skipping the check spares a query per delivery in a storm.
    resolving: set[int] = set()
    new_alerts = resolved_alerts = 0
    added: set[tuple[str, datetime]] = set()
    for alert in group.alerts:
        episode = known.get((alert.fingerprint, alert.starts_at))
        if episode is None:
            verdict = verdicts[alert.fingerprint]
            if (alert.fingerprint, alert.starts_at) in added:
                continue  # the same alert twice in one notification
            added.add((alert.fingerprint, alert.starts_at))
            # Written with the batch's other episodes; a concurrent writer that stored it
            # first makes that write a Conflict, and the whole batch runs again.
            await uow.alerts.add_later(
                incident.id, alert, verdict.severity, group_key=group.group_key
            )
            new_alerts += 1
            changed.add(incident.id)
            if alert.status is AlertStatus.RESOLVED:
                resolving.add(incident.id)
            await uow.timeline.append(
                incident.id, at=now, actor=ACTOR, event=_alert_body(alert, verdict)
            )
            if alert.status is AlertStatus.FIRING:
                touched[incident.id] = await _maybe_upgrade(uow, touched[incident.id], verdict, now)
        elif alert.status is AlertStatus.RESOLVED and episode.status is AlertStatus.FIRING:
            owner = touched.get(episode.incident_id) or await uow.incidents.get(
                episode.incident_id, for_update=True
            )
            if owner is None:
                continue
            touched[owner.id] = owner
            home = await uow.alerts.resolve_for(episode.id, alert.ends_at or now)
            if home is None:
                continue  # a concurrent delivery resolved it first
            if home != owner.id:
                # Split or merged away since the batch read it: the entry goes where it is.
                moved_to = touched.get(home) or await uow.incidents.get(home, for_update=True)
                if moved_to is None:
                    continue
                owner = touched[home] = moved_to
            resolved_alerts += 1
            changed.add(owner.id)
            resolving.add(owner.id)
            await uow.timeline.append(owner.id, at=now, actor=ACTOR, event=_alert_body(alert))

    if group.truncated_alerts > 0:
        await uow.timeline.append(
            incident.id,
            at=now,
            actor=ACTOR,
            event=AlertsTruncated(
                truncated_alerts=group.truncated_alerts, received=len(group.alerts)
            ),
        )

    resolved_incidents = 0
    for inc_id in sorted(resolving):
        if await _resolve_if_quiet(uow, touched[inc_id], now):
            resolved_incidents += 1
    if incident.id not in changed and incident.status.is_open:
        await uow.timeline.append(
            incident.id,
            at=now,
            actor=ACTOR,
            event=AlertRepeat(alerts=len(group.alerts), status=group.status.value),
        )
    return AlertIngestResult(
        incident_ids=tuple(sorted(touched)),
        opened=tuple(opened),
        new_alerts=new_alerts,
        resolved_alerts=resolved_alerts,
        resolved_incidents=resolved_incidents,
    )


async def _hold_reopened(
    uow: UnitOfWork, incident: Incident, held: Held, fingerprint: str, now: datetime
) -> Incident:
    found = held.covered.get(fingerprint)
    if found is None or held.verdicts[fingerprint].severity >= incident.severity:
        return incident
    severity = held.verdicts[fingerprint].severity
    lowered = replace(incident, severity=severity, updated_at=now)
    event = SeverityChanged(previous=incident.severity.value, to=severity.value, rule="maintenance")
    lowered = await save_recorded(uow, lowered, at=now, actor=ACTOR, event=event)
    await held.record(uow, lowered, fingerprint, at=now, actor=ACTOR)
    return lowered


async def _maybe_upgrade(
    uow: UnitOfWork, incident: Incident, verdict: Classification, now: datetime
) -> Incident:
    """Raise the incident to the worst severity of its alerts; never lower it automatically."""
    if verdict.severity <= incident.severity:
        return incident
    upgraded = replace(
        incident,
        severity=verdict.severity,
        scenario=verdict.scenario.id,
        response_minutes=min(incident.response_minutes, verdict.response_minutes),
        updated_at=now,
    )
    event = SeverityChanged(
        previous=incident.severity.value,
        to=verdict.severity.value,
        scenario=verdict.scenario.id,
        rule=verdict.rule,
    )
    return await save_recorded(uow, upgraded, at=now, actor=ACTOR, event=event)


async def _resolve_if_quiet(uow: UnitOfWork, incident: Incident, now: datetime) -> bool:
    if not incident.status.is_open or incident.group_key is None:
        return False
    episodes = await uow.alerts.for_incident(incident.id)
    if not episodes or any(e.status is AlertStatus.FIRING for e in episodes):
        return False
    resolved = incident.moved_to(IncidentStatus.RESOLVED, by=ACTOR, at=now)
    event = StatusChanged(
        kind=EventKind.INCIDENT_RESOLVED, reason="all alerts resolved", alerts=len(episodes)
    )
    await save_recorded(uow, resolved, at=now, actor=ACTOR, event=event)
    return True
