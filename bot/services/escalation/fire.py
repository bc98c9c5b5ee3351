"""Firing the escalation timers that are due: one transaction reads them, writes what each
means on the timeline and marks it fired, so a level is told once, even across replicas.

Lock order: the incident, then its timers, as acknowledge, resolve and PagerDuty's events
take them (they lock the incident, then cancel its pending timers). The due timers are read
without locks; each one's incident is locked (in incident order, the same for every
replica), and only then is the timer marked fired, conditionally: a replica that read the
same timer waits for the incident, then finds it fired or cancelled and does nothing.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from bot.clock import Clock
from bot.domain.actor import BOT
from bot.domain.escalation import Timer, TimerKind, TimerStatus
from bot.domain.events import (
    EscalationFired,
    ResponseOverdue,
    SeverityChanged,
    notified,
)
from bot.domain.incident import Incident, IncidentStatus
from bot.policy.escalation import recipients
from bot.policy.model import Policy
from bot.ports import Metrics, Store, UnitOfWork
from bot.services.entries import save_recorded
from bot.services.escalation.paths import path_of
from bot.services.escalation.reach import Reach, note_unconfigured
from bot.services.transactions import in_transaction

log = logging.getLogger(__name__)

# The rule a severity.changed entry names when a level of the path raised the severity.
ESCALATION_RULE = "escalation"

Count = Callable[[Metrics], None]


async def fire_due(
    store: Store,
    policy: Policy,
    clock: Clock,
    reach: Reach,
    *,
    metrics: Metrics | None = None,
    limit: int = 50,
) -> int:
    """Fire up to ``limit`` due timers in one transaction; how many fired.

    ``store`` is the publishing store: the entries written here are published in the same
    transaction (pages, emails and mentions queued; a raised severity starts its new path
    through the escalation reactor). A timer whose incident is no longer triggered is
    cancelled instead (an acknowledgement won a race), and a timer some other replica fired
    meanwhile is left alone (``mark_fired`` says so). Fewer than ``limit`` fired does not mean
    nothing is due: timers another replica fired under this one's feet count for neither."""
    now = clock.now()
    counts: list[Count] = []

    async def work(uow: UnitOfWork) -> int:
        counts.clear()
        # Unlocked: locking the timers here, before their incidents, is the reverse of the
        # order the acknowledgement takes, and PostgreSQL would deadlock the two.
        claimed = await uow.escalations.claim_due(now=now, limit=limit)
        # By incident, then due: every replica locks incidents in the same order.
        ordered = sorted(claimed, key=lambda t: (t.incident_id, t.due_at, t.id))
        restarted: set[int] = set()
        fired = 0
        for timer in ordered:
            if timer.incident_id in restarted:
                # A level raised the severity in this transaction: the reactor cancels the
                # rest of the old path at commit, and the new path has timers of its own.
                continue
            outcome = await _fire(uow, timer, policy, reach, now, counts)
            if outcome is _Outcome.RESTARTED:
                restarted.add(timer.incident_id)
            if outcome is not _Outcome.SKIPPED:
                fired += 1
        return fired

    fired = await in_transaction(store, work)
    # After the commit only: a rolled-back round counts nothing.
    if metrics is not None:
        for count in counts:
            count(metrics)
    return fired


class _Outcome(enum.Enum):
    """What became of one claimed timer: skipped (not ours, or moot), fired, or fired and
    raised the severity (which restarts the incident's path)."""

    SKIPPED = enum.auto()
    FIRED = enum.auto()
    RESTARTED = enum.auto()


async def _fire(
    uow: UnitOfWork,
    timer: Timer,
    policy: Policy,
    reach: Reach,
    now: datetime,
    counts: list[Count],
) -> _Outcome:
    # The incident first, the timer second: the order every writer of timers keeps.
    incident = await uow.incidents.get(timer.incident_id, for_update=True)
    if incident is None:
        return _Outcome.SKIPPED
    if incident.status is not IncidentStatus.TRIGGERED:
        # The acknowledgement or resolution that should have cancelled it got there first
        # (or predates the timers): nothing is due any more.
        await uow.escalations.cancel_pending(incident.id, reason=incident.status.value)
        return _Outcome.SKIPPED
    if not await uow.escalations.mark_fired(timer.id, at=now):
        return _Outcome.SKIPPED
    if timer.kind is TimerKind.TARGET:
        await _overdue(uow, incident, timer, now)
        return _Outcome.FIRED
    return await _level(uow, incident, timer, policy, reach, now, counts)


async def _level(
    uow: UnitOfWork,
    incident: Incident,
    timer: Timer,
    policy: Policy,
    reach: Reach,
    now: datetime,
    counts: list[Count],
) -> _Outcome:
    path = path_of(policy, timer.severity)
    if timer.level >= len(path):
        # The policy lost this level since the timer was stored (a restart with a new
        # policy): marked fired, and nobody is told on the old policy's word.
        log.warning(
            "incident #%d: %s has no escalation level %d any more; timer %d dropped",
            incident.id,
            timer.severity.value,
            timer.level,
            timer.id,
        )
        return _Outcome.FIRED
    level = path[timer.level]
    told = recipients(level, policy.rotation)
    upgrade = (
        level.upgrade if level.upgrade is not None and level.upgrade > incident.severity else None
    )
    event = EscalationFired(
        severity=timer.severity.value,
        level=timer.level,
        levels=len(path),
        after_seconds=int(level.after.total_seconds()),
        late_seconds=max(0, int((now - timer.due_at).total_seconds())),
        name=level.name,
        notified=notified(told),
        upgrade=upgrade.value if upgrade is not None else None,
    )
    await uow.timeline.append(incident.id, at=now, actor=BOT, event=event)
    await note_unconfigured(uow, incident.id, {r.via for r in told}, reach, at=now)
    severity, index = timer.severity.value, timer.level
    counts.append(lambda m: m.escalated(severity, index))
    log.info(
        "incident #%d: escalation level %d of %s fired (%d told)",
        incident.id,
        index,
        severity,
        len(told),
    )
    if upgrade is None:
        return _Outcome.FIRED
    target = policy.levels.get(upgrade)
    raised = replace(
        incident,
        severity=upgrade,
        # As alert intake raises one: the tighter response target of the two.
        response_minutes=min(incident.response_minutes, target.response_minutes)
        if target is not None
        else incident.response_minutes,
        updated_at=now,
    )
    change = SeverityChanged(
        previous=incident.severity.value, to=upgrade.value, rule=ESCALATION_RULE
    )
    await save_recorded(uow, raised, at=now, actor=BOT, event=change)
    return _Outcome.RESTARTED


async def _overdue(uow: UnitOfWork, incident: Incident, timer: Timer, now: datetime) -> None:
    # Timers are stored with their path's start as created_at (the reactor), so the target
    # is how far into the path this one was due.
    minutes = round((timer.due_at - timer.created_at).total_seconds() / 60)
    run = [
        t
        for t in await uow.escalations.for_incident(incident.id)
        if t.run == timer.run and t.kind is TimerKind.LEVEL and t.status is TimerStatus.FIRED
    ]
    reached = max((t.level for t in run), default=0)
    event = ResponseOverdue(severity=timer.severity.value, target_minutes=minutes, level=reached)
    await uow.timeline.append(incident.id, at=now, actor=BOT, event=event)
    log.info("incident #%d: response target of %d min passed", incident.id, minutes)
