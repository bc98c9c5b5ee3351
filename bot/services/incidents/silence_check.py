"""After a silence ends: which of the incident's silenced alerts still fire.

Alertmanager does not notify about an alert that resolves while silenced, and once it is
resolved it is gone from Alertmanager, so nothing would ever tell firebreak: the incident
would stay open. So when a silence of the incident ends (``/incident unsilence``, or its end
time passing: ``Silencer.sweep_ended``), firebreak asks the configured Alertmanager
(``GET /api/v2/alerts`` filtered by the silence's matchers) which alerts it still holds. The
incident's firing alerts the matchers cover that it no longer holds are resolved, each with
an ``alert.resolved`` entry, then one ``silence.checked``; and the incident resolves as
intake resolves it when its last alert resolves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain.actor import BOT
from bot.domain.events import AlertChanged, EventKind, SilenceChecked
from bot.domain.incident import AlertEpisode, AlertStatus
from bot.domain.silence import Matcher, SilencedAlert
from bot.errors import NotFound
from bot.ports import Silences, Store, UnitOfWork

# The resolution is intake's own: the same entry, reason and actor as when a notification
# resolves the last alert.
from bot.services.incidents.ingest_alertmanager import _resolve_if_quiet
from bot.services.transactions import in_transaction

UNSILENCE = "unsilence"
END = "end"


@dataclass(frozen=True, slots=True)
class Checked:
    """How many of the silenced alerts still fire, which were resolved now (alertnames),
    and whether that resolved the incident."""

    firing: int
    resolved: tuple[str, ...]
    incident_resolved: bool


def _covered(episode: AlertEpisode, matcher_sets: Sequence[Sequence[Matcher]]) -> bool:
    return any(all(m.matches(episode.labels) for m in ms) for ms in matcher_sets)


def _held(episode: AlertEpisode, alerts: Sequence[SilencedAlert]) -> bool:
    return any(
        a.fingerprint == episode.fingerprint or dict(a.labels) == dict(episode.labels)
        for a in alerts
    )


def _resolved_body(episode: AlertEpisode, now: datetime) -> AlertChanged:
    return AlertChanged(
        kind=EventKind.ALERT_RESOLVED,
        fingerprint=episode.fingerprint,
        alertname=episode.name,
        starts_at=episode.starts_at.isoformat(),
        labels=dict(episode.labels),
        # When it resolved Alertmanager no longer says: firebreak learnt it now.
        ends_at=now.isoformat(),
    )


async def check_after_silence(
    store: Store,
    silences: Silences,
    incident_id: int,
    matcher_sets: Sequence[Sequence[Matcher]],
    *,
    now: datetime,
    after: str,
) -> Checked:
    """Resolve the incident's firing alerts that ``matcher_sets`` (the ended silences')
    cover and Alertmanager no longer holds. Nothing is recorded when none of its firing
    alerts was covered. ``UpstreamError`` when Alertmanager cannot be asked."""
    async with store.transaction() as uow:
        episodes = await uow.alerts.for_incident(incident_id)
    covered = [e for e in episodes if e.status is AlertStatus.FIRING and _covered(e, matcher_sets)]
    if not covered:
        return Checked(0, (), False)
    held: list[SilencedAlert] = []
    for matchers in matcher_sets:
        held.extend(await silences.alerts(matchers))
    gone = [e for e in covered if not _held(e, held)]

    async def work(uow: UnitOfWork) -> Checked:
        incident = await uow.incidents.get(incident_id, for_update=True)
        if incident is None:
            raise NotFound(f"there is no incident #{incident_id}")
        resolved: list[str] = []
        for episode in gone:
            # False: a notification (or another replica) resolved it meanwhile.
            if await uow.alerts.resolve(episode.id, now):
                resolved.append(episode.name or episode.fingerprint)
                await uow.timeline.append(
                    incident_id, at=now, actor=BOT, event=_resolved_body(episode, now)
                )
        firing = len(covered) - len(gone)
        await uow.timeline.append(
            incident_id,
            at=now,
            actor=BOT,
            event=SilenceChecked(after=after, firing=firing, resolved=tuple(resolved)),
        )
        quiet = bool(resolved) and await _resolve_if_quiet(uow, incident, now)
        return Checked(firing, tuple(resolved), quiet)

    return await in_transaction(store, work)
