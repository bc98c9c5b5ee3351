"""Remediation as people drive it from Slack: request, approve, deny, diagnose, and the
background work an approval starts (execution, following the rollout), plus the start-up
reconciliation of actions a crashed process left running and the expiry of stale requests.

The use cases themselves are the ``action_*`` modules; this class holds what they share (the
cluster, the approvers, the timings) and the tasks that outlive a Slack request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass

from bot.clock import Clock
from bot.domain.action import ActionRequest, ActionVerb, ProgressCallback
from bot.domain.actor import Actor
from bot.domain.deployment import Diagnosis
from bot.errors import BadRequest
from bot.policy.model import Policy
from bot.ports import Cluster, Directory, Store
from bot.services.remediation.approve import approve_action
from bot.services.remediation.deny import deny_action
from bot.services.remediation.diagnose import diagnose_target
from bot.services.remediation.execute import execute_action
from bot.services.remediation.expire import expire_actions
from bot.services.remediation.reconcile import reconcile_actions
from bot.services.remediation.request import RequestResult, request_action

log = logging.getLogger("firebreak.remediation")
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Timings:
    """Seconds: request lifetime, rollout deadline and poll, executor lease, expiry sweep."""

    approval_ttl: float = 600
    rollout_deadline: float = 600
    rollout_poll: float = 2.0
    action_lease: float = 60
    expiry_sweep: float = 30


class Remediator:
    """Requests, approvals and the tasks they start; one per process."""

    def __init__(
        self,
        *,
        store: Store,
        cluster: Cluster,
        clock: Clock,
        policy: Policy,
        directory: Directory,
        approvers: Sequence[str],
        timings: Timings = Timings(),
        progress: ProgressCallback | None = None,
    ) -> None:
        self.store = store
        self.cluster = cluster
        self.clock = clock
        self.policy = policy
        self.directory = directory
        self.approvers = tuple(approvers)
        self.timings = timings
        self.progress = progress
        self._tasks: set[asyncio.Task[None]] = set()

    # -- what people do ------------------------------------------------------------------
    async def request(
        self,
        incident_id: int,
        verb: ActionVerb | str,
        namespace: str,
        deployment: str,
        *,
        user: str,
        replicas: object = None,
        to_revision: object = None,
    ) -> RequestResult:
        return await request_action(
            incident_id,
            verb,
            namespace,
            deployment,
            requested_by=Actor("slack", user),
            store=self.store,
            policy=self.policy,
            clock=self.clock,
            approval_ttl=self.timings.approval_ttl,
            replicas=replicas,
            to_revision=to_revision,
        )

    async def request_suggested(self, incident_id: int, index: int, *, user: str) -> str:
        """A button on the card: the scenario's suggested action number ``index``."""
        async with self.store.transaction() as uow:
            incident = await uow.incidents.get(incident_id)
        scenario = self.policy.scenarios.get(incident.scenario) if incident else None
        if scenario is None or not 0 <= index < len(scenario.actions):
            raise BadRequest("this button's action is no longer in the runbook")
        suggested = scenario.actions[index]
        if suggested.verb == ActionVerb.DIAGNOSE.value:
            await self.diagnose(incident_id, suggested.namespace, suggested.deployment, user=user)
            return (
                f"Diagnosing {suggested.namespace}/deploy/{suggested.deployment}; see the thread."
            )
        result = await self.request(
            incident_id,
            suggested.verb,
            suggested.namespace,
            suggested.deployment,
            user=user,
            replicas=suggested.replicas,
        )
        return requested_text(result)

    async def approve(self, action_id: int, *, user: str) -> str:
        result = await approve_action(
            action_id,
            approver=Actor("slack", user),
            store=self.store,
            cluster=self.cluster,
            clock=self.clock,
            policy=self.policy,
            directory=self.directory,
            approvers=self.approvers,
            approval_ttl=self.timings.approval_ttl,
        )
        if result.ready:
            self._spawn(self._execute(action_id), f"execute action {action_id}")
        return result.message

    async def deny(self, action_id: int, *, user: str, reason: str = "") -> str:
        action = await deny_action(
            action_id,
            actor=Actor("slack", user),
            store=self.store,
            clock=self.clock,
            policy=self.policy,
            directory=self.directory,
            approvers=self.approvers,
            reason=reason,
        )
        return f"Denied: {action.describe()}"

    async def diagnose(
        self, incident_id: int, namespace: str, deployment: str, *, user: str
    ) -> Diagnosis:
        return await diagnose_target(
            incident_id,
            namespace,
            deployment,
            actor=Actor("slack", user),
            store=self.store,
            cluster=self.cluster,
            clock=self.clock,
            policy=self.policy,
        )

    # -- background work -----------------------------------------------------------------
    async def start(self) -> None:
        """Reconcile what a previous process left running now and again periodically (a dead
        replica's lease may still be live at start-up), and expire stale requests."""
        self._spawn(self._sweep_forever(), "sweep actions")

    async def stop(self) -> None:
        """Cancel the background tasks. An action cut off mid-run stays ``running`` and is
        reconciled against the cluster by the next process, never re-applied blindly."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S)

    async def idle(self) -> None:
        """Wait until no execution is in flight (tests and graceful drains)."""
        running = [t for t in self._tasks if t.get_name().startswith("execute")]
        if running:
            await asyncio.wait(running)

    def _spawn(self, work: Awaitable[None], name: str) -> None:
        task = asyncio.ensure_future(self._logged(work, name))
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _logged(work: Awaitable[None], name: str) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed", name)

    async def _execute(self, action_id: int) -> None:
        action: ActionRequest = await execute_action(
            action_id,
            actor=Actor("bot", "firebreak"),
            store=self.store,
            cluster=self.cluster,
            clock=self.clock,
            rollout_deadline=self.timings.rollout_deadline,
            poll_interval=self.timings.rollout_poll,
            lease_seconds=self.timings.action_lease,
            progress=self.progress,
        )
        log.info("action %d ended %s", action.id, action.state.value)

    async def _reconcile(self) -> None:
        settled = await reconcile_actions(
            store=self.store,
            cluster=self.cluster,
            clock=self.clock,
            rollout_deadline=self.timings.rollout_deadline,
            poll_interval=self.timings.rollout_poll,
            lease_seconds=self.timings.action_lease,
            progress=self.progress,
        )
        for action in settled:
            log.info("reconciled action %d: %s", action.id, action.state.value)

    async def _sweep_forever(self) -> None:
        # Half a lease: an action abandoned by a crashed replica is taken up soon after its
        # lease lapses, never before (reconcile leaves live leases alone).
        interval = min(self.timings.expiry_sweep, self.timings.action_lease / 2)
        while True:
            try:
                await self._reconcile()
                await expire_actions(store=self.store, clock=self.clock)
            except Exception:
                log.exception("sweeping actions failed; trying again later")
            await asyncio.sleep(interval)


def requested_text(result: RequestResult) -> str:
    """The reply to whoever asked for an action."""
    action = result.action
    if result.created:
        return f"Requested {action.describe()} (#{action.id}); an approver must approve it."
    return (
        f"{action.describe()} is already requested (#{action.id}, {action.state.value}); "
        "your request joins it."
    )
