"""Which incident a group's new firing alerts go to, at alert intake: the group's open one;
else, for a group that joined a storm or was merged, the open incident its alerts live in
now; else the open incident they are symptoms of, the group's last one reopened as a flap,
or the storm for their service (``bot.services.incidents.noise``,
``bot.services.incidents.storm``); else a new one."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import datetime

from bot.domain.actor import Actor
from bot.domain.incident import Alert, AlertGroup, Incident, NewIncident, Source
from bot.policy.model import Classification, Policy
from bot.ports import UnitOfWork
from bot.services.entries import record_opened
from bot.services.incidents.noise import join_as_symptoms, reopen_flapped
from bot.services.incidents.storm import join_storm


class Chosen(enum.Enum):
    """Where new firing alerts went: the group's open incident (or the storm or merge target
    its alerts live in), the incident they are symptoms of, the group's last incident
    reopened as a flap, the storm for their service, or a new one."""

    OPEN = enum.auto()
    SYMPTOM = enum.auto()
    REOPENED = enum.auto()
    STORM = enum.auto()
    OPENED = enum.auto()


def _title(group: AlertGroup, alert: Alert, verdict: Classification) -> str:
    summary = group.common_annotations.get("summary") or alert.annotations.get("summary")
    name = alert.name or "alert"
    return f"{name}: {summary}" if summary else f"{name} ({verdict.scenario.title})"


async def _home(uow: UnitOfWork, group_key: str, latest: Incident | None) -> Incident | None:
    """The open incident a storm or a merge moved the group's alerts to, locked; ``None``
    when the group's alerts do not live in one (a symptom group opens its own again)."""
    holder = await uow.alerts.incident_of_group(group_key)
    if holder is None or (latest is not None and holder == latest.id):
        return None
    home = await uow.incidents.get(holder, for_update=True)
    if home is None or not home.status.is_open:
        return None
    merged = latest is not None and latest.merged_into is not None
    return home if home.storm_key is not None or merged else None


async def _flap_candidate(uow: UnitOfWork, latest: Incident | None) -> Incident | None:
    """The incident a group firing again would reopen as a flap: its last one, or, if that
    was merged (into a storm, say), the one it was merged into; it, not the merged one,
    has the room, the card and the page."""
    if latest is None or latest.merged_into is None:
        return latest
    target = await uow.incidents.get(latest.merged_into, for_update=True)
    if target is None or target.merged_into is not None:
        return None
    return target


async def incident_for(
    uow: UnitOfWork,
    policy: Policy,
    now: datetime,
    group: AlertGroup,
    new_firing: Sequence[Alert],
    verdicts: Mapping[str, Classification],
    *,
    actor: Actor,
) -> tuple[Incident, Chosen]:
    """The incident new firing alerts go to, locked, and how it was chosen."""
    latest = await uow.incidents.latest_for_group(group.group_key)
    if latest is not None and latest.status.is_open:
        return latest, Chosen.OPEN
    home = await _home(uow, group.group_key, latest)
    if home is not None:
        return home, Chosen.OPEN
    noise = policy.noise
    source = await join_as_symptoms(
        uow, noise=noise, group=group, firing=new_firing, verdicts=verdicts, now=now, actor=actor
    )
    if source is not None:
        return source, Chosen.SYMPTOM
    flapped = await _flap_candidate(uow, latest)
    if flapped is not None and noise.flap.reopens(flapped.resolved_at, now):
        reopened = await reopen_flapped(uow, flapped, flap=noise.flap, now=now, actor=actor)
        return reopened, Chosen.REOPENED
    worst = max(new_firing, key=lambda a: verdicts[a.fingerprint].severity.rank)
    verdict = verdicts[worst.fingerprint]
    service = policy.service_of({**group.common_labels, **worst.labels})
    storm = await join_storm(
        uow,
        storm=noise.storm,
        service=service,
        labels=group.common_labels,
        group=group,
        firing=new_firing,
        now=now,
        actor=actor,
    )
    if storm is not None:
        return storm, Chosen.STORM
    incident, created = await uow.incidents.open_for_group(
        NewIncident(
            title=_title(group, worst, verdict),
            severity=verdict.severity,
            source=Source.ALERTMANAGER,
            service=service,
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
            actor=actor,
            rule=verdict.rule,
            group_key=group.group_key,
            receiver=group.receiver,
        )
    # Another writer may have opened the group's incident first: then it is the open one.
    return incident, Chosen.OPENED if created else Chosen.OPEN
