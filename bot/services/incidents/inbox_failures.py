"""A delivery whose processing failed on its own: counted, retried after a backoff and,
after ``max_attempts``, kept as ``FAILED`` with its error for a person to look at. Only that
delivery waits; it never blocks the ones behind it (``bot.services.incidents.inbox``)."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.clock import Clock
from bot.domain.incident import DeliveryOutcome, PendingDelivery
from bot.errors import StorageUnavailable
from bot.ports import Store, UnitOfWork
from bot.services.incidents.inbox_apply import Processed
from bot.services.incidents.inbox_timings import ProcessorTimings, retry_delay
from bot.services.transactions import in_transaction
from bot.text import clean

# The processor's logger: these lines are where they were before the module split.
log = logging.getLogger("bot.services.incidents.inbox")


def describe_error(error: BaseException) -> str:
    """The error as kept on a delivery's row: bounded, and storable by either database
    (PostgreSQL text refuses NUL, and neither takes a lone surrogate)."""
    return clean(f"{type(error).__name__}: {error}"[:2000])


async def hold_back(
    store: Store,
    clock: Clock,
    timings: ProcessorTimings,
    pending: PendingDelivery,
    error: Exception,
) -> Processed | None:
    """Count a failed attempt at ``pending`` (the delivery that just failed alone, by id:
    not "the oldest due one", which another replica may have settled meanwhile) and
    retry it after a backoff or, after ``max_attempts``, keep it ``FAILED`` with the
    error. Only this delivery waits; ``None`` if it was no longer pending."""
    log.error(
        "processing inbox delivery %s failed (attempt %d of at most %d)",
        pending.delivery.key,
        pending.attempts + 1,
        timings.max_attempts,
        exc_info=error,
    )
    try:
        text = describe_error(error)
        return await in_transaction(
            store, lambda uow: _count_failure(uow, clock, timings, pending, text)
        )
    except StorageUnavailable:
        raise
    except Exception:
        # Recording the error failed too (its text, say): keep the delivery failed with
        # only the error's type, so it cannot come back and fail the same way for ever.
        log.exception("recording the failure of inbox delivery %s failed", pending.delivery.key)
        plain = f"{type(error).__name__} (its message could not be recorded)"
        return await in_transaction(store, lambda uow: _give_up(uow, pending, plain))


async def _count_failure(
    uow: UnitOfWork, clock: Clock, timings: ProcessorTimings, pending: PendingDelivery, text: str
) -> Processed | None:
    now = clock.now()
    delay = timedelta(seconds=retry_delay(pending.attempts + 1, timings))
    # The stored count, not ours: another replica may have failed at it as well.
    attempts = await uow.deliveries.defer(pending.id, not_before=now + delay, error=text)
    if attempts == 0:
        return None
    if attempts >= timings.max_attempts:
        detail = f"gave up after {attempts} attempts: {text}"
        await uow.deliveries.finish(pending.id, DeliveryOutcome.FAILED, detail)
        return Processed(pending, DeliveryOutcome.FAILED, detail)
    return Processed(pending, DeliveryOutcome.PENDING, text)


async def _give_up(uow: UnitOfWork, pending: PendingDelivery, text: str) -> Processed | None:
    # As few steps as can be: this runs because recording the failure failed.
    detail = f"gave up after {pending.attempts + 1} attempts: {text}"
    if not await uow.deliveries.finish(pending.id, DeliveryOutcome.FAILED, detail):
        return None
    return Processed(pending, DeliveryOutcome.FAILED, detail)
