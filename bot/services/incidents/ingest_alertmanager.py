"""Apply one Alertmanager notification taken from the inbox: attach its alerts to the group's
open incident (when new alerts fire and it has none: to the incident they are symptoms of,
to its last one reopened as a flap, or to a new one: ``bot.services.incidents.noise``), and
resolve the incident when its last alert resolves. It runs in the inbox processor's transaction, which also settles the
delivery, and is idempotent: a re-sent or concurrent duplicate changes nothing twice."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
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
    AlertEpisode,
    AlertGroup,
    AlertStatus,
    Incident,
    IncidentStatus,
    NewIncident,
    Source,
)
from bot.policy.model import Classification, Policy
from bot.ports import UnitOfWork
from bot.services.entries import record_opened, save_recorded
from bot.services.incidents.maintenance_hold import Held, hold_for_maintenance
from bot.services.incidents.noise import join_as_symptoms, reopen_flapped
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


def _title(group: AlertGroup, alert: Alert, verdict: Classification) -> str:
    summary = group.common_annotations.get("summary") or alert.annotations.get("summary")
    name = alert.name or "alert"
    return f"{name}: {summary}" if summary else f"{name} ({verdict.scenario.title})"


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


async def apply_alert_group(
    uow: UnitOfWork, *, policy: Policy, now: datetime, group: AlertGroup
) -> AlertIngestResult:
    """Apply one notification in the caller's transaction (the inbox processor's)."""
    verdicts = {a.fingerprint: policy.classify_labels(a.labels) for a in group.alerts}
    known: dict[tuple[str, datetime], AlertEpisode] = {}
    for alert in group.alerts:
        episode = await uow.alerts.get(alert.fingerprint, alert.starts_at)
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
        verdicts = dict(held.verdicts)
        incident, how = await _incident_for(uow, policy, now, group, new_firing, verdicts)
        worst = max(new_firing, key=lambda a: verdicts[a.fingerprint].severity.rank)
        if how is _Chosen.OPENED:
            opened.append(incident)
            await held.record(uow, incident, worst.fingerprint, at=now, actor=ACTOR)
        elif how is _Chosen.REOPENED:
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
        verdict = verdicts[alert.fingerprint]
        if episode is None:
            if (alert.fingerprint, alert.starts_at) in added:
                continue  # the same alert twice in one notification
            added.add((alert.fingerprint, alert.starts_at))
            # Written with the batch's other episodes; a concurrent writer that stored it
            # first makes that write a Conflict, and the whole batch runs again.
            await uow.alerts.add_later(incident.id, alert, verdict.severity)
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
            if not await uow.alerts.resolve(episode.id, alert.ends_at or now):
                continue  # a concurrent delivery resolved it first
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


class _Chosen(enum.Enum):
    """Where new firing alerts went: the group's open incident, the incident they are
    symptoms of, the group's last incident reopened as a flap, or a new one."""

    OPEN = enum.auto()
    SYMPTOM = enum.auto()
    REOPENED = enum.auto()
    OPENED = enum.auto()


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


async def _incident_for(
    uow: UnitOfWork,
    policy: Policy,
    now: datetime,
    group: AlertGroup,
    new_firing: Sequence[Alert],
    verdicts: Mapping[str, Classification],
) -> tuple[Incident, _Chosen]:
    """The incident new firing alerts go to, locked, and how it was chosen: the group's open
    one; else the open incident they are symptoms of (policy ``noise.inhibit``); else the
    group's last one reopened, if it resolved within the flap window; else a new one."""
    latest = await uow.incidents.latest_for_group(group.group_key)
    if latest is not None and latest.status.is_open:
        return latest, _Chosen.OPEN
    noise = policy.noise
    source = await join_as_symptoms(
        uow, noise=noise, group=group, firing=new_firing, verdicts=verdicts, now=now, actor=ACTOR
    )
    if source is not None:
        return source, _Chosen.SYMPTOM
    if latest is not None and noise.flap.reopens(latest.resolved_at, now):
        reopened = await reopen_flapped(uow, latest, flap=noise.flap, now=now, actor=ACTOR)
        return reopened, _Chosen.REOPENED
    worst = max(new_firing, key=lambda a: verdicts[a.fingerprint].severity.rank)
    verdict = verdicts[worst.fingerprint]
    incident, created = await uow.incidents.open_for_group(
        NewIncident(
            title=_title(group, worst, verdict),
            severity=verdict.severity,
            source=Source.ALERTMANAGER,
            service=policy.service_of({**group.common_labels, **worst.labels}),
            scenario=verdict.scenario.id,
            response_minutes=verdict.response_minutes,
            created_at=now,
            group_key=group.group_key,
            labels=dict(group.common_labels),
        )
    )
    if created:
        await record_opened(
            uow,
            incident,
            at=now,
            actor=ACTOR,
            rule=verdict.rule,
            group_key=group.group_key,
            receiver=group.receiver,
        )
    # Another writer may have opened the group's incident first: then it is the open one.
    return incident, _Chosen.OPENED if created else _Chosen.OPEN


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
