"""Storm collapse at alert intake (the policy's ``noise.storm``): once ``threshold`` incidents
opened within ``window`` for one service (or namespace), the next group for it does not open
its own. The earliest of those still open and unacknowledged becomes the storm incident (its
channel and page are the storm's), the other open unacknowledged ones are merged into it
(``bot.services.incidents.merge``), and the group joins it; later groups join the open storm
directly. Acknowledged incidents are never merged: someone is working them. It runs in the
inbox processor's transaction, where a new incident would open."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from bot.domain.actor import Actor
from bot.domain.events import StormFormed, StormJoined
from bot.domain.incident import Alert, AlertGroup, Incident, IncidentStatus
from bot.policy.escalation import format_duration
from bot.policy.noise import StormBy, StormPolicy
from bot.ports import UnitOfWork
from bot.services.incidents.merge import merge_into


def storm_title(storm_key: str) -> str:
    return f"Alert storm on {storm_key}"


async def join_storm(
    uow: UnitOfWork,
    *,
    storm: StormPolicy,
    service: str,
    labels: Mapping[str, str],
    group: AlertGroup,
    firing: Sequence[Alert],
    now: datetime,
    actor: Actor,
) -> Incident | None:
    """The storm incident ``group``'s new ``firing`` alerts go to, locked, with a
    ``storm.joined`` entry on it (forming the storm first if this group is the one past the
    threshold); ``None``, with nothing written, when there is no storm for them."""
    if not storm.enabled:
        return None
    key = storm.key(service, labels)
    if key is None:
        return None
    target = await uow.incidents.open_storm(key)
    if target is None:
        target = await _form(uow, storm, key, now=now, actor=actor)
        if target is None:
            return None
    names = sorted({alert.name or "alert" for alert in firing})
    await uow.timeline.append(
        target.id,
        at=now,
        actor=actor,
        event=StormJoined(
            storm_key=key,
            group_key=group.group_key,
            alerts=len(firing),
            alertnames=", ".join(names),
        ),
    )
    return target


async def _form(
    uow: UnitOfWork, storm: StormPolicy, key: str, *, now: datetime, actor: Actor
) -> Incident | None:
    # Keyed by service, the database narrows the candidates; by namespace, this does.
    service = key.partition("=")[2] if storm.by is StormBy.SERVICE else None
    recent = [
        incident
        for incident in await uow.incidents.storm_candidates(now - storm.window, service=service)
        if storm.key(incident.service, incident.labels) == key
    ]
    if len(recent) < storm.threshold:
        return None
    # Locked in id order (the candidates come oldest first), then re-checked: the read
    # above was not locked, and one may have been acknowledged or resolved since.
    open_ones: list[Incident] = []
    for candidate in recent:
        locked = await uow.incidents.get(candidate.id, for_update=True)
        if locked is not None and locked.status is IncidentStatus.TRIGGERED:
            open_ones.append(locked)
    if not open_ones:
        return None
    first, *others = open_ones
    promoted = replace(first, storm_key=key, title=storm_title(key), updated_at=now)
    await uow.incidents.save(promoted)
    await uow.timeline.append(
        promoted.id,
        at=now,
        actor=actor,
        event=StormFormed(
            storm_key=key,
            incidents=len(recent),
            merged=len(others),
            threshold=storm.threshold,
            window=format_duration(storm.window),
        ),
    )
    for other in others:
        promoted = await merge_into(uow, other, promoted, now=now, actor=actor, reason="storm")
    return promoted
