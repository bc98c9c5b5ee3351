"""The Alertmanager groups an incident's alerts arrived in, numbered as the storm card shows
them and as ``/incident split`` finds them again: in the order each group's first alert was
stored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain.incident import AlertEpisode, AlertStatus, Incident


@dataclass(frozen=True, slots=True)
class AlertGroupView:
    """One group of an incident: its 1-based ``number``, ``key`` and its alerts."""

    number: int
    key: str
    alerts: tuple[AlertEpisode, ...]

    @property
    def firing(self) -> int:
        return sum(1 for alert in self.alerts if alert.status is AlertStatus.FIRING)


def groups_of(incident: Incident, alerts: Sequence[AlertEpisode]) -> list[AlertGroupView]:
    """``alerts`` (the incident's) by group; an episode stored before groups were recorded
    counts as the incident's own group."""
    found: dict[str, list[AlertEpisode]] = {}
    for alert in sorted(alerts, key=lambda a: a.id):
        key = alert.group_key or incident.group_key or ""
        found.setdefault(key, []).append(alert)
    return [
        AlertGroupView(number, key, tuple(members))
        for number, (key, members) in enumerate(found.items(), 1)
    ]


def find_group(groups: Sequence[AlertGroupView], wanted: str) -> AlertGroupView | None:
    """The group ``wanted`` names: its number, its whole key, or a prefix of one key only.
    ``None`` when none or several match."""
    wanted = wanted.strip()
    if wanted.isdigit():
        number = int(wanted)
        return next((g for g in groups if g.number == number), None)
    exact = [g for g in groups if g.key == wanted]
    if exact:
        return exact[0]
    prefixed = [g for g in groups if wanted and g.key.startswith(wanted)]
    return prefixed[0] if len(prefixed) == 1 else None
