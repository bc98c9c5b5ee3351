"""Shared set-up for the action service tests: an environment that holds the store, fake
cluster, Slack directory, clock and policy, and calls the real services with them."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.clock import FixedClock
from bot.domain.action import ActionRequest
from bot.domain.actor import Actor
from bot.domain.deployment import RolloutProgress
from bot.domain.incident import IncidentStatus, Severity, TimelineEntry
from bot.domain.target import Target
from bot.integrations.slack.directory import SlackDirectory
from bot.policy.model import Policy, SuggestedAction
from bot.ports import Store
from bot.services.remediation.approve import ApprovalResult, approve_action
from bot.services.remediation.context import RemediationContext, Timings
from bot.services.remediation.deny import deny_action
from bot.services.remediation.execute import execute_action
from bot.services.remediation.reconcile import reconcile_actions
from bot.services.remediation.request import RequestResult, request_action
from handlers.slack.actor import slack_actor
from tests.fakes.memory.cluster import MemoryCluster
from tests.fakes.slack.directory import CAROL as CAROL
from tests.fakes.slack.directory import ONCALL as ONCALL
from tests.fakes.slack.directory import FakeDirectory
from tests.support.store_builders import new_incident

NAMESPACE = "firebreak"
DEPLOYMENT = "lnn-service"
ALICE, BOB, MALLORY = "U0ALICE", "U0BOB", "U0MALLORY"
APPROVERS = (ALICE, BOB, ONCALL)
TTL = 600.0
LNN = Target(NAMESPACE, DEPLOYMENT)
DEADLINE = 60.0
POLL = 2.0
LEASE = 30.0


def with_action_options(policy: Policy, verb: str, **changes: Any) -> Policy:
    """``policy`` with every suggested ``verb`` action changed (e.g. approvers narrowed)."""

    def patch(action: SuggestedAction) -> SuggestedAction:
        return dataclasses.replace(action, **changes) if action.verb == verb else action

    scenarios = {
        key: dataclasses.replace(s, actions=tuple(patch(a) for a in s.actions))
        for key, s in policy.scenarios.items()
    }
    return dataclasses.replace(policy, scenarios=scenarios)


@dataclass
class Env:
    store: Store
    cluster: MemoryCluster
    clock: FixedClock
    policy: Policy
    directory: FakeDirectory = field(default_factory=FakeDirectory)
    approvers: Sequence[str] = APPROVERS
    progress: list[RolloutProgress] = field(default_factory=list)

    async def incident(
        self, severity: Severity = Severity.P1, key: str = "g1", *, resolved: bool = False
    ) -> int:
        status = IncidentStatus.RESOLVED if resolved else IncidentStatus.TRIGGERED
        async with self.store.transaction() as uow:
            incident, _ = await uow.incidents.open_for_group(
                new_incident(severity=severity, group_key=key, created_at=self.clock.now())
            )
            if resolved:
                await uow.incidents.save(dataclasses.replace(incident, status=status))
        return incident.id

    @property
    def ctx(self) -> RemediationContext:
        """The services' context: sleeping on its clock is ``wait`` (time moves, no sleep)."""
        return RemediationContext(
            store=self.store,
            cluster=self.cluster,
            clock=_EnvClock(self),
            policy=self.policy,
            directory=SlackDirectory(self.directory),
            approvers=tuple(self.approvers),
            timings=Timings(
                approval_ttl=TTL, rollout_deadline=DEADLINE, rollout_poll=POLL, action_lease=LEASE
            ),
            progress=self._record,
        )

    async def request(
        self, incident_id: int, verb: str = "scale", *, by: str = MALLORY, **kwargs: Any
    ) -> RequestResult:
        namespace = kwargs.pop("namespace", NAMESPACE)
        deployment = kwargs.pop("deployment", DEPLOYMENT)
        return await request_action(
            self.ctx,
            incident_id,
            verb,
            namespace,
            deployment,
            requested_by=slack_actor(by),
            **kwargs,
        )

    async def approve(self, action_id: int, by: str | Actor = ALICE) -> ApprovalResult:
        approver = by if isinstance(by, Actor) else slack_actor(by)
        return await approve_action(self.ctx, action_id, approver=approver)

    async def deny(self, action_id: int, by: str = ALICE, reason: str = "") -> ActionRequest:
        return await deny_action(self.ctx, action_id, actor=slack_actor(by), reason=reason)

    async def wait(self, seconds: float) -> None:
        """Time passes and the rollout moves one pod: no real sleeping."""
        self.clock.advance(seconds)
        self.cluster.advance()

    async def _record(self, _action: ActionRequest, progress: RolloutProgress) -> None:
        self.progress.append(progress)

    async def execute(self, action_id: int, by: str = ALICE) -> ActionRequest:
        return await execute_action(self.ctx, action_id, actor=slack_actor(by))

    async def reconcile(self) -> list[ActionRequest]:
        return await reconcile_actions(self.ctx)

    async def action(self, action_id: int) -> ActionRequest:
        async with self.store.transaction() as uow:
            found = await uow.actions.get(action_id)
        assert found is not None
        return found

    async def timeline(self, incident_id: int) -> Sequence[TimelineEntry]:
        async with self.store.transaction() as uow:
            return await uow.timeline.for_incident(incident_id)

    async def kinds(self, incident_id: int) -> list[str]:
        return [e.kind for e in await self.timeline(incident_id) if e.kind.startswith("action.")]


@dataclass(frozen=True)
class _EnvClock:
    """The test clock as the services see it: reading it reads ``env.clock``; sleeping on it
    is ``env.wait`` (the clock jumps and the fake rollout moves one pod)."""

    env: Env

    def now(self) -> datetime:
        return self.env.clock.now()

    async def sleep(self, seconds: float) -> None:
        await self.env.wait(seconds)
