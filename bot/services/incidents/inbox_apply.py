"""Applying one inbox delivery by its source (Alertmanager's or PagerDuty's use case), and
settling it in the same transaction; ``Processed`` says what became of it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.clock import Clock
from bot.domain.incident import AlertGroup, DeliveryOutcome, Incident, PendingDelivery, Source
from bot.domain.pagerduty import PagerDutyEvent
from bot.errors import BadRequest
from bot.policy.model import Policy
from bot.ports import UnitOfWork
from bot.services.incidents.ingest_alertmanager import AlertIngestResult, apply_alert_group
from bot.services.incidents.ingest_pagerduty import PagerDutyIngestResult, apply_pagerduty_event
from bot.services.incidents.parsed_bodies import ParsedBodies

NO_INCIDENT = "resolved alerts of a group with no incident"
NOT_AN_EVENT = "not a v3 event envelope"


@dataclass(frozen=True, slots=True)
class Processed:
    """What became of one inbox delivery. ``PENDING`` means it failed and will be retried.
    ``result`` is what an Alertmanager delivery did, ``pagerduty`` what a PagerDuty one did."""

    pending: PendingDelivery
    outcome: DeliveryOutcome
    detail: str = ""
    result: AlertIngestResult | None = None
    pagerduty: PagerDutyIngestResult | None = None

    @property
    def opened(self) -> tuple[Incident, ...]:
        """The incidents this delivery opened, whatever its source."""
        if self.result is not None:
            return self.result.opened
        if self.pagerduty is not None and self.pagerduty.opened is not None:
            return (self.pagerduty.opened,)
        return ()


@dataclass(frozen=True, slots=True)
class DeliveryApplier:
    """Applies one delivery by its source. Without ``parse_pagerduty`` only Alertmanager
    deliveries are taken (``sources``), and PagerDuty's stay pending."""

    policy: Policy
    clock: Clock
    parse: Callable[[bytes], AlertGroup]
    parse_pagerduty: Callable[[bytes], PagerDutyEvent | None] | None = None
    bodies: ParsedBodies = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bodies", ParsedBodies(self.parse))

    @property
    def sources(self) -> Source | None:
        """The source to take deliveries of; ``None``: every source."""
        return None if self.parse_pagerduty is not None else Source.ALERTMANAGER

    async def prepare(
        self, uow: UnitOfWork, batch: Sequence[PendingDelivery], *, max_alerts: int = 2_000
    ) -> tuple[dict[int, AlertGroup], int]:
        """Parse the first of a batch's deliveries, up to about ``max_alerts`` alerts (at
        least one delivery), and read at once what applying them one by one would ask for
        each: their alerts' episodes and their groups' latest incidents.

        Returns the parsed groups by delivery id (an unparsable one is left out, for
        ``apply`` to settle) and how many of ``batch`` were prepared: a batch of large groups
        is prepared a part at a time, so a batch cut short by its time limit has not read
        what it will not apply."""
        parsed: dict[int, AlertGroup] = {}
        alerts = prepared = 0
        for pending in batch:
            if prepared and alerts >= max_alerts:
                break
            prepared += 1
            if pending.delivery.source is not Source.ALERTMANAGER:
                continue
            try:
                group = self.bodies.parse(pending.delivery.body)
            except BadRequest:
                continue
            parsed[pending.id] = group
            alerts += len(group.alerts)
        if parsed:
            groups = parsed.values()
            await uow.alerts.prefetch(
                [(a.fingerprint, a.starts_at) for group in groups for a in group.alerts]
            )
            await uow.incidents.prefetch_latest({group.group_key for group in groups})
        return parsed, prepared

    async def apply(
        self, uow: UnitOfWork, pending: PendingDelivery, parsed: AlertGroup | None = None
    ) -> Processed:
        """Apply one delivery by its source, and settle it in the same transaction
        (``parsed``: its group, if ``prepare`` parsed it already)."""
        if pending.delivery.source is Source.PAGERDUTY:
            return await self._apply_pagerduty(uow, pending)
        try:
            group = parsed if parsed is not None else self.bodies.parse(pending.delivery.body)
        except BadRequest as exc:
            return await _unparsable(uow, pending, exc)
        result = await apply_alert_group(uow, policy=self.policy, now=self.clock.now(), group=group)
        outcome = DeliveryOutcome.PROCESSED if result.incident_ids else DeliveryOutcome.IGNORED
        detail = "" if result.incident_ids else NO_INCIDENT
        await uow.deliveries.finish_later(pending.id, outcome, detail)
        return Processed(pending, outcome, detail, result)

    async def _apply_pagerduty(self, uow: UnitOfWork, pending: PendingDelivery) -> Processed:
        assert self.parse_pagerduty is not None  # only then are PagerDuty deliveries taken
        try:
            event = self.parse_pagerduty(pending.delivery.body)
        except BadRequest as exc:
            return await _unparsable(uow, pending, exc)
        if event is None:
            await uow.deliveries.finish_later(pending.id, DeliveryOutcome.IGNORED, NOT_AN_EVENT)
            return Processed(pending, DeliveryOutcome.IGNORED, NOT_AN_EVENT)
        result = await apply_pagerduty_event(
            uow, policy=self.policy, now=self.clock.now(), event=event
        )
        detail = event.event_type if result.outcome is DeliveryOutcome.IGNORED else ""
        await uow.deliveries.finish_later(pending.id, result.outcome, detail)
        return Processed(pending, result.outcome, detail, pagerduty=result)


async def _unparsable(uow: UnitOfWork, pending: PendingDelivery, error: BadRequest) -> Processed:
    # Intake validated this body with the same parser, so only a parser that changed
    # between acceptance and processing (an upgrade) lands here. Keep it for a person.
    detail = f"cannot be parsed any more: {error}"
    await uow.deliveries.finish_later(pending.id, DeliveryOutcome.FAILED, detail)
    return Processed(pending, DeliveryOutcome.FAILED, detail)
