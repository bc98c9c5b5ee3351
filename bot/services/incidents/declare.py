"""Declare an incident by hand (``/incident declare``)."""

from __future__ import annotations

from datetime import datetime

from bot.domain.actor import Actor
from bot.domain.incident import Incident, NewIncident, Severity, Source
from bot.policy.model import Policy
from bot.ports import Store, UnitOfWork
from bot.services.entries import record_opened
from bot.services.transactions import in_transaction

# Someone typing /incident declare without a severity wants people in a room: P1 gets a
# channel, P2 would only post to the triage channel.
DEFAULT_DECLARED_SEVERITY = Severity.P1


def scenario_for(policy: Policy, severity: Severity) -> str:
    """The runbook scenario of the first rule with this severity, else the policy default."""
    for rule in policy.rules:
        if rule.severity is severity:
            return rule.scenario
    return policy.default_scenario


async def declare_incident(
    store: Store,
    policy: Policy,
    *,
    title: str,
    actor: Actor,
    at: datetime,
    severity: Severity | None = None,
    service: str | None = None,
) -> Incident:
    """Open an incident with no alert behind it; its first entry names who declared it."""
    chosen = severity or DEFAULT_DECLARED_SEVERITY
    scenario = scenario_for(policy, chosen)
    new = NewIncident(
        title=title,
        severity=chosen,
        source=Source.SLACK,
        service=service or "unknown",
        scenario=scenario,
        response_minutes=policy.levels[chosen].response_minutes,
        created_at=at,
    )

    async def work(uow: UnitOfWork) -> Incident:
        incident = await uow.incidents.create(new)
        await record_opened(uow, incident, at=at, actor=actor, rule="declared")
        return incident

    return await in_transaction(store, work)
