"""Ports: the Protocols the core needs from the outside world. Adapters in ``db/`` (and later
Slack, PagerDuty, Kubernetes) implement them; ``tests/fakes`` holds in-memory versions."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.domain.action import ActionRequest, ActionState, NewAction
from bot.domain.actor import Actor
from bot.domain.autoscaler import Autoscaler
from bot.domain.deployment import ChangeResult, Diagnosis, RolloutProgress, TargetSnapshot
from bot.domain.events import Event
from bot.domain.health import OutboxHealth, RunningActions
from bot.domain.incident import (
    JSON,
    Alert,
    AlertEpisode,
    Delivery,
    DeliveryOutcome,
    Incident,
    IncidentFilter,
    NewIncident,
    PendingDelivery,
    Severity,
    Source,
    TimelineEntry,
)
from bot.domain.outbox import OutboundCall, OutboxMessage, OutboxStatus, SendResult
from bot.domain.target import Target


class IncidentRepository(Protocol):
    async def get(self, incident_id: int, *, for_update: bool = False) -> Incident | None:
        """The incident, row-locked until commit when ``for_update``."""
        ...

    async def open_for_group(self, new: NewIncident) -> tuple[Incident, bool]:
        """The open incident of ``new.group_key``, creating it from ``new`` if there is none.

        Returns ``(incident, created)``; the row is locked until commit. Two writers racing on
        the same group key get the same incident (the partial unique index decides).
        """
        ...

    async def latest_for_group(self, group_key: str) -> Incident | None:
        """The most recent incident of a group key, open or not, locked until commit."""
        ...

    async def for_pagerduty(self, new: NewIncident) -> tuple[Incident, bool]:
        """The incident keyed by ``new.pagerduty_id``, creating it if missing (locked)."""
        ...

    async def create(self, new: NewIncident) -> Incident:
        """Store an incident declared by a person (no group key, no PagerDuty id)."""
        ...

    async def save(self, incident: Incident) -> None:
        """Write back the mutable fields of an incident fetched in this transaction."""
        ...

    async def list(self, flt: IncidentFilter) -> Sequence[Incident]:
        """Newest first."""
        ...


class AlertRepository(Protocol):
    async def add(self, incident_id: int, alert: Alert, severity: Severity) -> AlertEpisode | None:
        """Store a new episode; ``None`` when (fingerprint, starts_at) is already stored."""
        ...

    async def get(self, fingerprint: str, starts_at: datetime) -> AlertEpisode | None: ...

    async def resolve(self, episode_id: int, ends_at: datetime) -> bool:
        """Mark a firing episode resolved; ``False`` if it was no longer firing."""
        ...

    async def for_incident(self, incident_id: int) -> Sequence[AlertEpisode]: ...


class TimelineRepository(Protocol):
    async def append(
        self, incident_id: int, *, at: datetime, actor: Actor, event: Event
    ) -> TimelineEntry:
        """Append ``event`` as the next entry, numbered and hash-chained after the incident's
        last one (stored as ``bot.domain.events.encode`` gives it).

        Callers hold the incident's row lock, which serialises appends per incident.
        """
        ...

    async def for_incident(self, incident_id: int) -> Sequence[TimelineEntry]:
        """In sequence order."""
        ...


@dataclass(frozen=True, slots=True)
class InboxBacklog:
    """The inbox as the database has it (so it is true after a restart and across replicas):
    how many deliveries wait to be processed, deferred ones included, and when the one that
    arrived first was received."""

    pending: int
    oldest_received_at: datetime | None

    def oldest_age(self, now: datetime) -> float:
        """Seconds the first-arrived pending delivery has waited (0 with none pending)."""
        if self.oldest_received_at is None:
            return 0.0
        return max(0.0, (now - self.oldest_received_at).total_seconds())


class HealthRepository(Protocol):
    """Read-only counts for firebreak's own gauges, taken at each scrape."""

    async def outbox_health(self, *, now: datetime) -> OutboxHealth:
        """The outbox's pending, retrying and failed calls; due means ``not_before <= now``."""
        ...

    async def running_actions(self, *, started_before: datetime) -> RunningActions:
        """The running actions; those started before ``started_before`` are overdue."""
        ...


class DeliveryRepository(Protocol):
    async def record(self, delivery: Delivery) -> bool:
        """Store a received delivery; ``False`` if (source, key) was already stored."""
        ...

    async def set_outcome(
        self, source: Source, key: str, outcome: DeliveryOutcome, detail: str = ""
    ) -> None: ...

    async def enqueue(self, deliveries: Sequence[Delivery]) -> None:
        """Store received deliveries as ``PENDING`` inbox rows (keys are fresh and unique)."""
        ...

    async def enqueue_once(self, delivery: Delivery) -> bool:
        """Store ``delivery`` as a ``PENDING`` inbox row unless its (source, key) is stored
        already (a redelivery): ``False`` then, and nothing is written. The unique key decides,
        so two concurrent deliveries of one key store one row."""
        ...

    async def take_pending(
        self, *, source: Source | None = None, now: datetime, limit: int, wait: bool = False
    ) -> Sequence[PendingDelivery]:
        """The oldest pending deliveries that are due (``not_before <= now``), of ``source``
        or, without one, of every source in ``INBOX_SOURCES``, in arrival order.

        Only one transaction at a time gets any: on PostgreSQL the call takes a transaction
        advisory lock and returns nothing when another replica holds it (or, with ``wait``,
        waits for it), so the inbox is processed in arrival order by one replica at a time.
        The rows stay pending until ``finish`` in the same transaction; a crash rolls
        everything back.
        """
        ...

    async def finish(self, delivery_id: int, outcome: DeliveryOutcome, detail: str = "") -> bool:
        """Settle a pending delivery; ``False`` if it was no longer pending."""
        ...

    async def defer(self, delivery_id: int, *, not_before: datetime, error: str) -> int:
        """Count a failed processing attempt and hold the delivery back until ``not_before``.

        Returns the attempts spent so far (0 if the delivery was no longer pending)."""
        ...

    async def count_pending(self) -> int:
        """Deliveries of any source waiting to be processed."""
        ...

    async def backlog(self) -> InboxBacklog:
        """The pending deliveries of every source: their count, and the first to arrive."""
        ...


class Sender(Protocol):
    """Performs the outbox calls of one target (Slack, a pager, mail) and says what each
    answer means for its row; retrying, pacing and ordering are the outbox worker's."""

    @property
    def configured(self) -> bool:
        """``False`` when the target's settings are missing: nothing is sent."""
        ...

    async def send(self, method: str, args: JSON) -> SendResult:
        """Make one call; connection errors and refusals come back as outcomes, not raised."""
        ...

    def skip(self, call: OutboundCall) -> str:
        """Unconfigured only: log what would have been sent; the reason kept on its row."""
        ...


class OutboxRepository(Protocol):
    """Calls waiting to be sent (``bot.domain.outbox``); the chat refs they produce are kept by
    ``ChatRefRepository``.

    Services only ``add``, inside the transaction of the change that caused the call. The
    worker claims rows with a lease: only the oldest unsent row of an ordering key is ever
    eligible, so a key's rows go out one after the other, and two replicas never hold the
    same row at once. The ``worker`` argument of the later operations is the lease holder.
    """

    async def add(self, call: OutboundCall, *, at: datetime) -> OutboxMessage:
        """Store a pending call, eligible from ``at``."""
        ...

    async def claim(
        self,
        *,
        worker: str,
        now: datetime,
        lease_seconds: float,
        limit: int,
        paused_methods: Collection[str] = (),
    ) -> Sequence[OutboxMessage]:
        """Lease up to ``limit`` ready rows, oldest first, at most one per ordering key.

        Ready: pending, ``not_before <= now``, no live lease, no older pending row of its key,
        and a method not in ``paused_methods`` (such a row holds back its key). Each claim
        counts one attempt.
        """
        ...

    async def mark_sent(self, message_id: int, *, at: datetime, result: JSON) -> bool:
        """Record the target's confirmation; ``False`` if the row was no longer pending."""
        ...

    async def reschedule(
        self, message_id: int, *, worker: str, not_before: datetime, error: str
    ) -> bool:
        """Release the lease for a later try; ``False`` if ``worker`` lost the lease."""
        ...

    async def mark_failed(self, message_id: int, *, worker: str, at: datetime, error: str) -> bool:
        """Give up on the row for good; ``False`` if ``worker`` lost the lease."""
        ...

    async def mark_unconfigured(
        self, message_id: int, *, worker: str, at: datetime, reason: str = "not configured"
    ) -> bool:
        """The call was only logged (its target is not configured: ``reason``); ``False``
        if ``worker`` lost the lease."""
        ...

    async def get(self, message_id: int) -> OutboxMessage | None: ...

    async def list(
        self,
        *,
        status: OutboxStatus | None = None,
        ordering_key: str | None = None,
        limit: int = 1000,
    ) -> Sequence[OutboxMessage]:
        """Oldest first."""
        ...


class ChatRefRepository(Protocol):
    """What the chat calls of an incident returned and later calls refer to (its channel id,
    its card's channel and ``ts``: the names in ``bot.domain.outbox``), and the reverse
    lookup of an incident by its channel."""

    async def refs(self, incident_id: int) -> dict[str, str]:
        """The incident's chat refs (channel id, card channel and ts), empty if none yet."""
        ...

    async def save_refs(self, incident_id: int, refs: Mapping[str, str]) -> None:
        """Set (or overwrite) the named refs of an incident; other refs stay."""
        ...

    async def incident_for_channel(self, channel_id: str) -> int | None:
        """The incident whose own channel this is (its ``channel`` ref), newest if several."""
        ...


class UnitOfWork(Protocol):
    """One database transaction and the repositories bound to it."""

    # Read-only properties, so adapters may expose their concrete repository types.
    @property
    def incidents(self) -> IncidentRepository: ...

    @property
    def alerts(self) -> AlertRepository: ...

    @property
    def timeline(self) -> TimelineRepository: ...

    @property
    def deliveries(self) -> DeliveryRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def chat_refs(self) -> ChatRefRepository: ...

    @property
    def actions(self) -> ActionRepository: ...

    @property
    def health(self) -> HealthRepository: ...


class Inbox(Protocol):
    """Where acknowledged-to-be deliveries are stored before the sender gets its 2xx."""

    async def accept(self, delivery: Delivery) -> None:
        """Return only once ``delivery`` is committed as a pending inbox row.

        Raises ``StorageUnavailable`` when it could not be stored (the sender retries)."""
        ...

    async def accept_once(self, delivery: Delivery) -> bool:
        """Like ``accept`` for a delivery the sender identifies (PagerDuty's ``X-Webhook-Id``):
        ``False``, with nothing stored, when its (source, key) is stored already.

        Returns only once the row (or the one it duplicates) is committed."""
        ...

    def busy(self) -> bool:
        """Whether deliveries are queueing up behind commits (a storm), as opposed to
        arriving one commit at a time: the cue for other writers to step aside."""
        ...

    async def settled(self) -> None:
        """Return once intake is no longer ``busy`` (at once if it is not)."""
        ...


class Store(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """Commit on a clean exit, roll back on an exception.

        Raises ``Conflict`` for a transient clash that a retry may clear (deadlock,
        serialization failure) and ``StorageUnavailable`` when the database cannot be used.
        """
        ...

    async def ping(self) -> None:
        """Raise ``StorageUnavailable`` unless the database answers."""
        ...


class Cluster(Protocol):
    """The Kubernetes operations remediation needs. ``actions/`` implements it over
    kubernetes_asyncio; errors arrive as ``ClusterError`` subclasses (``DryRunRejected``,
    ``TargetChanged``, ``ClusterUnavailable``, ``NotFound``).

    Every mutating method first runs the same request with ``dryRun=All`` when ``dry_run`` is
    true and stops there; callers call it twice (dry run, then for real).
    """

    async def snapshot(self, target: Target) -> TargetSnapshot: ...

    async def scale(self, target: Target, *, replicas: int, dry_run: bool = False) -> ChangeResult:
        """Set ``spec.replicas`` through the scale subresource (absolute; 409s retried)."""
        ...

    async def rollback(
        self,
        target: Target,
        *,
        to_revision: int | None = None,
        expect_resource_version: str | None = None,
        dry_run: bool = False,
    ) -> ChangeResult:
        """What ``kubectl rollout undo`` does; refuses a paused deployment."""
        ...

    async def restart(
        self,
        target: Target,
        *,
        restarted_at: str,
        expect_resource_version: str | None = None,
        dry_run: bool = False,
    ) -> ChangeResult:
        """Stamp ``kubectl.kubernetes.io/restartedAt``; skipped when it already has that value."""
        ...

    async def rollout(self, target: Target) -> RolloutProgress:
        """One look at the rollout, judged as ``kubectl rollout status`` does."""
        ...

    async def diagnose(self, target: Target) -> Diagnosis: ...

    async def autoscaler(self, target: Target) -> Autoscaler | None:
        """The HorizontalPodAutoscaler governing the deployment (named like it, its
        ``scaleTargetRef`` that Deployment), or ``None`` when there is none."""
        ...

    async def set_min_replicas(
        self, target: Target, *, autoscaler: str, min_replicas: int, dry_run: bool = False
    ) -> ChangeResult:
        """Set the ``minReplicas`` of the HPA ``autoscaler`` that governs ``target``
        (absolute; 409s retried); ``BadRequest`` above its ``maxReplicas``."""
        ...


class Publisher(Protocol):
    """Turns new timeline entries into outbound effects (Slack outbox rows), inside the same
    transaction that wrote them, so a committed change always has its message queued."""

    async def publish(
        self, uow: UnitOfWork, incident_id: int, entries: Sequence[TimelineEntry]
    ) -> None: ...


class ActionRepository(Protocol):
    """Action requests. Every change is a compare-and-set in SQL (``UPDATE … WHERE state =
    expected AND version = expected``); uniqueness lives in partial unique indexes."""

    async def open_or_existing(self, new: NewAction) -> tuple[ActionRequest, bool]:
        """Store ``new`` unless the target already has an open (requested, approved, running)
        action of the same verb; then return that one. Returns ``(action, created)``."""
        ...

    async def get(self, action_id: int) -> ActionRequest | None: ...

    async def update(self, current: ActionRequest, changed: ActionRequest) -> ActionRequest | None:
        """Write ``changed`` if the stored row still has ``current``'s state and version.

        Returns the stored action (version bumped), or ``None`` when another writer got there
        first. Raises ``Conflict`` when the write would break a uniqueness rule (a second
        running action on one deployment)."""
        ...

    async def renew_lease(self, action_id: int, *, owner: str, until: datetime) -> bool:
        """Extend a running action's lease; ``False`` if ``owner`` no longer holds it."""
        ...

    async def running_on(self, target: Target) -> ActionRequest | None:
        """The running action on a deployment, if any."""
        ...

    async def in_states(self, states: frozenset[ActionState]) -> Sequence[ActionRequest]:
        """Every action in one of ``states``, oldest first."""
        ...

    async def for_incident(self, incident_id: int) -> Sequence[ActionRequest]:
        """The actions an incident owns, oldest first."""
        ...


class Directory(Protocol):
    """Whether an approver list admits an actor; the chat adapter implements it (for Slack:
    user ids and user groups)."""

    async def admits(self, actor: Actor, entries: Sequence[str]) -> bool:
        """``True`` when one of ``entries`` names ``actor`` (directly or by a group)."""
        ...


class Metrics(Protocol):
    """What the bot counts, as the handlers and the composition root report it. The adapter
    (``bot.integrations.prometheus``) keeps the Prometheus objects, so handlers count without
    importing prometheus_client or an adapter."""

    def delivery(self, source: str, outcome: str) -> None:
        """One webhook delivery received from ``source`` and what became of it at receipt
        (``rejected``, ``unavailable``, ``duplicate``, ``ignored``)."""
        ...

    def accepted(self, source: str, seconds: float) -> None:
        """One delivery stored in the inbox and acknowledged ``seconds`` after its receipt."""
        ...

    def refused_auth(self, source: str) -> None:
        """One request refused for a missing or wrong token or signature."""
        ...

    def connection_cut(self, reason: str) -> None:
        """One connection closed for a request head or body arriving too slowly."""
        ...

    def observe_backlog(self, backlog: InboxBacklog | None, now: datetime) -> None:
        """Set the inbox gauges from the database's count (``None``: it could not be read)."""
        ...

    def observe_outbox(self, outbox: OutboxHealth | None, now: datetime) -> None:
        """Set the outbox gauges from the database's count (``None``: it could not be read)."""
        ...

    def observe_actions(self, actions: RunningActions | None, now: datetime) -> None:
        """Set the running-action gauges from the database (``None``: it could not be read)."""
        ...

    def exposition(self) -> tuple[bytes, str]:
        """Every metric in the text format a scrape reads, and that format's content type."""
        ...
