"""Maintenance windows at intake: the classification of each alert a window covers is held
to the window's severity (``bot.policy.maintenance``), and the incident such an alert opens
gets a ``maintenance.applied`` entry and a mark, so the window's end reaches it. Called by
``apply_alert_group`` where an incident opens, so the escalation path, the Slack room and the
page follow the held severity. Ad-hoc windows (``/incident maintenance start``) come from the
database, read once per transaction (``bot.services.maintenance.windows.running_ad_hoc``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.domain.actor import Actor
from bot.domain.events import MaintenanceApplied
from bot.domain.incident import AlertGroup, Incident
from bot.domain.maintenance import NewMark
from bot.policy.maintenance import Occurrence, covering
from bot.policy.model import Classification, Policy
from bot.ports import UnitOfWork


@dataclass(frozen=True, slots=True)
class Held:
    """Each alert's verdict after the windows (``verdicts``), and for each alert a window
    covers, that window and the verdict before it (``covered``)."""

    verdicts: Mapping[str, Classification]
    covered: Mapping[str, tuple[Occurrence, Classification]] = field(default_factory=dict)

    async def record(
        self, uow: UnitOfWork, incident: Incident, fingerprint: str, *, at: datetime, actor: Actor
    ) -> None:
        """The maintenance mark on ``incident``, opened by the alert ``fingerprint``; nothing
        when no window covers that alert."""
        found = self.covered.get(fingerprint)
        if found is None:
            return
        occurrence, before = found
        await uow.timeline.append(
            incident.id,
            at=at,
            actor=actor,
            event=MaintenanceApplied(
                window=occurrence.name,
                starts_at=occurrence.starts_at.isoformat(),
                ends_at=occurrence.ends_at.isoformat(),
                classified=before.severity.value,
                severity=self.verdicts[fingerprint].severity.value,
                ad_hoc=occurrence.ad_hoc,
            ),
        )
        # So the window's end reaches this incident (bot.services.maintenance.release).
        await uow.maintenance.mark(
            NewMark(
                incident.id,
                occurrence.name,
                occurrence.ends_at,
                ad_hoc=occurrence.ad_hoc,
                classified=before.severity,
                severity=self.verdicts[fingerprint].severity,
            )
        )


def hold_for_maintenance(
    policy: Policy,
    now: datetime,
    group: AlertGroup,
    verdicts: Mapping[str, Classification],
    ad_hoc: Iterable[Occurrence] = (),
) -> Held:
    """``verdicts`` (by fingerprint) with every alert a window covers at ``now`` held to the
    window's effect. Alerts are matched by service (``Policy.service_of``)."""
    windows = tuple(ad_hoc)
    if not policy.maintenance and not windows:
        return Held(verdicts)
    held = dict(verdicts)
    covered: dict[str, tuple[Occurrence, Classification]] = {}
    for alert in group.alerts:
        service = policy.service_of({**group.common_labels, **alert.labels})
        occurrence = covering(policy.maintenance, service, now, windows)
        if occurrence is None:
            continue
        before = verdicts[alert.fingerprint]
        severity = occurrence.effect.severity_for(before.severity)
        covered[alert.fingerprint] = (occurrence, before)
        if severity != before.severity:
            held[alert.fingerprint] = replace(
                before,
                severity=severity,
                response_minutes=policy.levels[severity].response_minutes,
            )
    return Held(held, covered)
