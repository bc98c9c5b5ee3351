"""``/incident maintenance end``: end the running ad-hoc window of a service (or the one for
every service) now, and record its end on every incident it touched; a held incident that
still fires gets its severity back, and so its page (``bot.services.maintenance.release``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.actor import Actor
from bot.domain.incident import Incident
from bot.domain.maintenance import AdHocWindow
from bot.errors import BadRequest
from bot.policy.model import Policy
from bot.ports import Store, UnitOfWork
from bot.services.maintenance.release import How, release
from bot.services.maintenance.start import covered
from bot.services.transactions import in_transaction


@dataclass(frozen=True, slots=True)
class Ended:
    """The window ended, the open incidents its end was recorded on, and those of them it
    had held that got their severity back."""

    window: AdHocWindow
    touched: tuple[int, ...]
    raised: tuple[Incident, ...]


async def end_maintenance(
    store: Store, policy: Policy, *, service: str | None, actor: Actor, at: datetime
) -> Ended:
    """End the window running for ``service``; refused when none is, naming those that are.
    The policy's recurring windows cannot be ended from Slack: they are the runbook's."""

    async def work(uow: UnitOfWork) -> Ended:
        running = await uow.maintenance.current(at)
        found = next((w for w in running if w.for_service(service)), None)
        if found is None:
            others = ", ".join(covered(w.service) for w in running)
            hint = f" (ad-hoc windows are open for: {others})" if others else ""
            raise BadRequest(f"no ad-hoc maintenance window is open for {covered(service)}{hint}")
        ended = await uow.maintenance.end(found.id, at=at, by=actor)
        if ended is None:
            raise BadRequest(f"{found.name} has already ended")
        touched: list[int] = []
        raised: list[Incident] = []
        for mark in await uow.maintenance.marks_of(found.id):
            released = await release(uow, policy, mark, at=at, how=How.ENDED, actor=actor)
            if released is None or not released.incident.status.is_open:
                continue
            touched.append(released.incident.id)
            if released.raised:
                raised.append(released.incident)
        return Ended(ended, tuple(touched), tuple(raised))

    return await in_transaction(store, work)
