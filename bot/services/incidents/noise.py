"""Alert intake's noise rules (the policy's ``noise`` section, ``bot.policy.noise``): a group
that fires again soon after its incident resolved reopens it as a flap, and the alerts of a
group that are symptoms of an open incident join it instead of opening their own. Both run
in the inbox processor's transaction, before a new incident would open."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from bot.domain.actor import Actor
from bot.domain.events import EventKind, IncidentFlapped, StatusChanged, SymptomsJoined
from bot.domain.incident import Alert, AlertGroup, Incident, IncidentStatus
from bot.policy.escalation import format_duration
from bot.policy.model import Classification
from bot.policy.noise import FlapPolicy, InhibitRule, NoisePolicy
from bot.ports import UnitOfWork
from bot.services.entry_text import human_duration


async def reopen_flapped(
    uow: UnitOfWork, incident: Incident, *, flap: FlapPolicy, now: datetime, actor: Actor
) -> Incident:
    """Reopen ``incident`` (resolved, its group firing again within the window): back to
    triggered with one more flap, recorded as ``incident.triggered`` and ``incident.flapped``.

    From the threshold on, the flap entry says until when paging is held, and the escalation
    reactor starts the re-trigger's path from then: paging waits until the incident has stayed
    firing for a whole window, and a resolution before that cancels it unsent."""
    assert incident.resolved_at is not None  # FlapPolicy.reopens said so
    count = incident.flap_count + 1
    held = now + flap.window if flap.flapping(count) else None
    # Reopened means unanswered again: an old acknowledgement or resolution left on it would
    # make the card and the pages say the new response target was already met.
    reopened = replace(
        incident.moved_to(IncidentStatus.TRIGGERED, by=actor, at=now),
        flap_count=count,
        acknowledged_at=None,
        acknowledged_by=None,
        resolved_at=None,
        resolved_by=None,
    )
    await uow.incidents.save(reopened)
    quiet = human_duration(now - incident.resolved_at)
    await uow.timeline.append(
        incident.id,
        at=now,
        actor=actor,
        event=StatusChanged(
            kind=EventKind.INCIDENT_TRIGGERED, reason=f"fired again {quiet} after resolving"
        ),
    )
    await uow.timeline.append(
        incident.id,
        at=now,
        actor=actor,
        event=IncidentFlapped(
            count=count,
            window=format_duration(flap.window),
            threshold=flap.threshold,
            resolved_at=incident.resolved_at.isoformat(),
            paging_held_until=held.isoformat() if held is not None else None,
        ),
    )
    return reopened


def _shared_key(
    rule: InhibitRule,
    group: AlertGroup,
    firing: Sequence[Alert],
    verdicts: Mapping[str, Classification],
) -> tuple[str, ...] | None:
    """The ``equal`` label values every alert of ``firing`` shares, if all are ``rule``'s
    targets; ``None`` otherwise."""
    keys = set()
    for alert in firing:
        if not rule.targets(verdicts[alert.fingerprint].scenario.id):
            return None
        key = rule.key({**group.common_labels, **alert.labels})
        if key is None:
            return None
        keys.add(key)
    return keys.pop() if len(keys) == 1 else None


async def join_as_symptoms(
    uow: UnitOfWork,
    *,
    noise: NoisePolicy,
    group: AlertGroup,
    firing: Sequence[Alert],
    verdicts: Mapping[str, Classification],
    now: datetime,
    actor: Actor,
) -> Incident | None:
    """The open incident the group's new ``firing`` alerts are symptoms of, locked, with a
    ``symptoms.joined`` entry on it; ``None`` (and nothing written) when they are not.

    All of them must be symptoms of the same incident by one rule: a group with one alert
    that is nobody's symptom opens its own incident, as it would without the rule."""
    for rule in noise.inhibit:
        key = _shared_key(rule, group, firing, verdicts)
        if key is None:
            continue
        for candidate in await uow.incidents.open_groups_in({rule.source_scenario}):
            if not rule.source_is(candidate.scenario, candidate.severity):
                continue
            if rule.key(candidate.labels) != key or candidate.group_key == group.group_key:
                continue
            source = await uow.incidents.get(candidate.id, for_update=True)
            if source is None or not source.status.is_open:
                continue  # resolved since the unlocked read
            names = sorted({alert.name or "alert" for alert in firing})
            await uow.timeline.append(
                source.id,
                at=now,
                actor=actor,
                event=SymptomsJoined(
                    group_key=group.group_key,
                    alerts=len(firing),
                    alertnames=", ".join(names),
                    rule=rule.name,
                    equal=dict(zip(rule.equal, key, strict=True)),
                ),
            )
            return source
    return None
