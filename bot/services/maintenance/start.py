"""``/incident maintenance start``: open an ad-hoc maintenance window for a service (or every
service) from now, and mark every open incident of what it covers with
``maintenance.started``. From then intake holds new alerts it covers as the policy's
recurring windows do (``bot.services.incidents.maintenance_hold``); incidents already open
keep their severity: they already page, or not, as they should."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.actor import Actor
from bot.domain.events import MaintenanceStarted
from bot.domain.maintenance import AdHocWindow, NewMark, NewWindow
from bot.errors import BadRequest
from bot.ports import Store, UnitOfWork
from bot.services.maintenance.windows import AD_HOC_EFFECT
from bot.services.transactions import in_transaction

DEFAULT_DURATION = timedelta(hours=1)
SHORTEST = timedelta(minutes=1)
# A window nobody remembers to end holds paging down until it ends; a day bounds the damage.
LONGEST = timedelta(hours=24)
MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class Started:
    """The window opened, and the open incidents it marked."""

    window: AdHocWindow
    marked: tuple[int, ...]


def covered(service: str | None) -> str:
    return service if service is not None else "every service"


async def start_maintenance(
    store: Store,
    *,
    service: str | None,
    duration: timedelta,
    actor: Actor,
    at: datetime,
    reason: str = "",
) -> Started:
    """Open the window; refused when one is already running for the same ``service``
    (``None``: every service) or the duration is out of bounds."""
    if not SHORTEST <= duration <= LONGEST:
        raise BadRequest(f"a maintenance window lasts from 1 minute to 24 hours, not {duration}")
    if len(reason) > MAX_REASON:
        raise BadRequest(f"the reason is too long (at most {MAX_REASON} characters)")

    async def work(uow: UnitOfWork) -> Started:
        for running in await uow.maintenance.current(at):
            if running.for_service(service):
                raise BadRequest(
                    f"{running.name} is already open for {covered(service)} until"
                    f" {running.ends_at:%Y-%m-%d %H:%M} UTC; end it first"
                )
        window = await uow.maintenance.open(
            NewWindow(service, at, at + duration, actor, " ".join(reason.split()))
        )
        marked = await uow.maintenance.open_incidents(service)
        event = MaintenanceStarted(
            window=window.name,
            service=service or "",
            starts_at=window.starts_at.isoformat(),
            ends_at=window.ends_at.isoformat(),
            severity=AD_HOC_EFFECT.severity.value,
            ad_hoc=window.id,
        )
        for incident_id in marked:  # in id order, locked first as every writer does
            if await uow.incidents.get(incident_id, for_update=True) is None:
                continue
            await uow.timeline.append(incident_id, at=at, actor=actor, event=event)
            await uow.maintenance.mark(
                NewMark(incident_id, window.name, window.ends_at, ad_hoc=window.id)
            )
        return Started(window, tuple(marked))

    return await in_transaction(store, work)
