"""Ad-hoc windows as the policy's ``Occurrence`` (what intake holds alerts with), and the
schedule ``/incident maintenance`` lists: the windows running now and the next of each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain.maintenance import AdHocWindow
from bot.policy.maintenance import MaintenanceEffect, Occurrence
from bot.policy.model import Policy
from bot.ports import Store, UnitOfWork

# What an ad-hoc window does: the shipped policies' default (incidents open at most as P2,
# without a page or a channel of their own; a P0 service-down still pages).
AD_HOC_EFFECT = MaintenanceEffect()


def occurrence_of(window: AdHocWindow) -> Occurrence:
    """The ad-hoc ``window`` as the policy's view of a stretch of maintenance."""
    services = (window.service,) if window.service is not None else ()
    ends = window.ended_at or window.ends_at
    return Occurrence(window.name, window.starts_at, ends, services, AD_HOC_EFFECT, window.id)


async def running_ad_hoc(uow: UnitOfWork, now: datetime) -> tuple[Occurrence, ...]:
    """The ad-hoc windows running at ``now``, read in ``uow`` (once per transaction)."""
    return tuple(occurrence_of(w) for w in await uow.maintenance.current(now))


@dataclass(frozen=True, slots=True)
class Schedule:
    """Windows running at the instant asked (ad hoc first), and the next occurrence of each
    recurring window that is not running, soonest first."""

    running: Sequence[Occurrence]
    upcoming: Sequence[Occurrence]


async def schedule(store: Store, policy: Policy, now: datetime) -> Schedule:
    """What ``/incident maintenance`` lists."""
    async with store.transaction() as uow:
        running = list(await running_ad_hoc(uow, now))
    upcoming = []
    for window in policy.maintenance:
        current = window.occurrence_at(now)
        if current is not None:
            running.append(current)
        following = window.next_after(now)
        if following is not None and current is None:
            upcoming.append(following)
    return Schedule(running, sorted(upcoming, key=lambda o: o.starts_at))
