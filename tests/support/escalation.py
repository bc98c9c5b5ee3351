"""Escalation test helpers: a policy with the seed's paths built in code (not YAML), the
publishing store with the escalation reactor, and readers of timers and timeline entries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from bot.clock import Clock
from bot.domain.escalation import Timer, Via
from bot.domain.events import EventKind
from bot.domain.incident import Severity, TimelineEntry
from bot.policy.escalation import EscalationLevel, Notify, RotationMember
from bot.policy.model import Policy
from bot.ports import Metrics, Publisher, Store
from bot.services.escalation.reactor import EscalationReactor
from bot.services.publishing import PublishingStore

ROTATION = {
    "primary": RotationMember(
        "primary", "On-call engineer", "liquid-edge-oncall@company.com", ("U0PRIMARY",), "lnn"
    ),
    "secondary": RotationMember(
        "secondary", "Secondary on-call", "platform-oncall@company.com", ("U0SECOND",)
    ),
    "lead": RotationMember("lead", "Team lead", "liquid-edge-lead@company.com", ("U0LEAD",)),
    "manager": RotationMember("manager", "Engineering manager", "manager@company.com"),
}

P0_PATH = (
    EscalationLevel(
        timedelta(0),
        (Notify(Via.PAGE, "primary"), Notify(Via.SLACK, "primary")),
        name="on-call engineer",
    ),
    EscalationLevel(
        timedelta(minutes=15),
        (Notify(Via.EMAIL, "secondary"), Notify(Via.SLACK, "secondary")),
        name="secondary",
    ),
    EscalationLevel(
        timedelta(minutes=30),
        (Notify(Via.EMAIL, "lead"), Notify(Via.SLACK, "lead")),
        name="team lead",
    ),
    EscalationLevel(timedelta(hours=1), (Notify(Via.EMAIL, "manager"),), name="manager"),
)
P1_PATH = (
    EscalationLevel(timedelta(0), (Notify(Via.SLACK, "primary"),), name="on-call engineer"),
    EscalationLevel(timedelta(hours=1), upgrade=Severity.P0, name="unacknowledged"),
)


def escalation_policy(base: Policy, *, p2_path: bool = False) -> Policy:
    """``base`` (the default policy) with the seed's P0 and P1 paths and rotation; P2 has no
    path unless ``p2_path``."""
    paths = {Severity.P0: P0_PATH, Severity.P1: P1_PATH}
    if p2_path:
        paths[Severity.P2] = (
            EscalationLevel(timedelta(0), (Notify(Via.EMAIL, "primary"),), name="primary"),
        )
    levels = {
        severity: replace(level, path=paths.get(severity, ()))
        for severity, level in base.levels.items()
    }
    return replace(base, levels=levels, rotation=ROTATION)


def escalating_store(
    inner: Store,
    policy: Policy,
    clock: Clock,
    *,
    metrics: Metrics | None = None,
    more: Sequence[Publisher] = (),
) -> PublishingStore:
    """``inner`` publishing to the escalation reactor first, then to ``more``."""
    return PublishingStore(inner, [EscalationReactor(policy, clock, metrics), *more])


async def timers_of(store: Store, incident_id: int) -> Sequence[Timer]:
    async with store.transaction() as uow:
        return await uow.escalations.for_incident(incident_id)


async def entries_of(store: Store, incident_id: int, kind: EventKind) -> list[TimelineEntry]:
    async with store.transaction() as uow:
        entries = await uow.timeline.for_incident(incident_id)
    return [e for e in entries if e.kind == kind]
