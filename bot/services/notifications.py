"""What becomes of pages and emails once the outbox worker has settled them: counted by
outcome, and a page or email refused for good written on its incident's timeline, so the
responders see in the incident's thread that someone was *not* told.

``NotificationOutcomes`` is the worker's ``OutboxObserver`` (``bot.ports``). It writes through
the store it is given in a transaction of its own, after the row's; given the publishing store
(``bot.services.publishing``), the failure becomes a thread line like any other entry. It
never raises into the worker: a failure to record is logged, and the row keeps its status.
"""

from __future__ import annotations

import logging

from bot.clock import Clock
from bot.domain.actor import BOT
from bot.domain.events import NotificationFailed
from bot.domain.outbox import EMAIL, PAGERDUTY, OutboundCall, OutboxMessage
from bot.ports import Metrics, Settled, Store, UnitOfWork
from bot.services.transactions import in_transaction

log = logging.getLogger("firebreak.notifications")

TARGETS = frozenset({PAGERDUTY, EMAIL})
ERROR_MAX = 500


def address(call: OutboundCall) -> str:
    """Who the row was for: the email's recipients, or the PagerDuty service paged (``""``:
    the default routing key)."""
    if call.target == EMAIL:
        to = call.args.get("to")
        return ", ".join(str(a) for a in to) if isinstance(to, list) else str(to or "")
    return str(call.args.get("service") or "")


class NotificationOutcomes:
    """Counts every settled page and email (``Metrics.notification``) and records the ones
    that failed for good as ``notification.failed``. Rows of other targets are ignored."""

    def __init__(self, store: Store, clock: Clock, *, metrics: Metrics | None = None) -> None:
        self._store = store
        self._clock = clock
        self._metrics = metrics

    async def settled(self, message: OutboxMessage, outcome: Settled, error: str) -> None:
        call = message.call
        if call.target not in TARGETS:
            return
        try:
            if self._metrics is not None:
                self._metrics.notification(call.target, outcome)
            if outcome == "failed" and call.incident_id is not None:
                await self._record_failure(message, call.incident_id, error)
        except Exception:
            # Logged, never raised: the row's outcome is already recorded and the worker must
            # go on with the others.
            log.exception(
                "could not record the %s of outbox row %d (%s %s)",
                outcome,
                message.id,
                call.target,
                call.method,
            )

    async def _record_failure(self, message: OutboxMessage, incident_id: int, error: str) -> None:
        call = message.call
        event = NotificationFailed(
            target=call.target,
            method=call.method,
            error=error[:ERROR_MAX] or "refused",
            outbox_id=message.id,
            address=address(call),
        )

        async def work(uow: UnitOfWork) -> None:
            await uow.timeline.append(incident_id, at=self._clock.now(), actor=BOT, event=event)

        await in_transaction(self._store, work)
