"""Carry out a claimed (running) action: check the target against its approval snapshot
(replica moves of a deployment an HPA governs are the autoscaler's, whatever the verb),
dry-run, record the intent to apply, apply, follow the rollout, and finish it. Shared by
execution and crash reconciliation, so both take exactly the same guarded path."""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from datetime import timedelta

from bot.clock import Clock
from bot.domain.action import (
    ActionRequest,
    ActionState,
    ActionVerb,
    snapshot_to_json,
)
from bot.domain.actor import BOT
from bot.domain.deployment import ChangeResult, RolloutProgress, TargetSnapshot
from bot.domain.events import ActionApplied, ActionFinished, EventKind
from bot.errors import ClusterError, ClusterUnavailable, DryRunRejected, NotFound, TargetChanged
from bot.ports import Cluster, Store, UnitOfWork
from bot.services.remediation import steps as action_steps
from bot.services.remediation.autoscaler import reached, recheck
from bot.services.remediation.context import RemediationContext
from bot.services.transactions import in_transaction

log = logging.getLogger(__name__)

FRESH_APPROVAL = "request it again for a fresh approval"

# What the Cluster port raises on purpose. NotFound (a deleted deployment) is not a
# ClusterError in the exception tree, but here it is just another reason to stop.
CLUSTER_ERRORS = (ClusterError, NotFound)

# The spec fields that matter to an approval. resourceVersion alone also moves with every
# status update (pods becoming ready), which would refuse any action on a busy deployment.
_SPEC_FIELDS = ("generation", "replicas", "revision", "template_hash", "paused", "restarted_at")
_AUTOSCALED = ("generation", "replicas")


def moved(before: TargetSnapshot, now: TargetSnapshot, *, autoscaled: bool = False) -> list[str]:
    """What changed in the deployment's spec between two snapshots, e.g. ``replicas 3→4``.
    ``autoscaled``: an HPA owns the replica count, so its moves (and the generation they
    bump) are not a change of target; the template, revision and pause still are."""
    ignored = _AUTOSCALED if autoscaled else ()
    return [
        f"{name} {getattr(before, name)}→{getattr(now, name)}"
        for name in _SPEC_FIELDS
        if name not in ignored and getattr(before, name) != getattr(now, name)
    ]


async def changes_since(
    cluster: Cluster, action: ActionRequest, before: TargetSnapshot, now: TargetSnapshot
) -> list[str]:
    """``moved`` for ``action``'s target, whatever its verb: when only the replica count (and
    the generation it bumps) moved, the HPA is looked up, and if one governs the deployment
    the move was the autoscaler's, not a change of target. ``CLUSTER_ERRORS`` propagate."""
    changes = moved(before, now, autoscaled=action.autoscaler is not None)
    if not changes or moved(before, now, autoscaled=True):
        return changes
    if await cluster.autoscaler(action.target) is not None:
        return []
    return changes


async def apply_change(
    cluster: Cluster, action: ActionRequest, *, resource_version: str, dry_run: bool
) -> ChangeResult:
    """The one dispatch from an approved action's verb to the actuator's function.

    ``resource_version`` is the target's as just read: a rollback and a restart are refused
    (``TargetChanged``) if it moved; a scale is absolute and retried on conflict instead."""
    target = action.target
    if action.verb is ActionVerb.SCALE and action.autoscaler is not None:
        assert action.replicas is not None
        return await cluster.set_min_replicas(
            target,
            autoscaler=action.autoscaler.name,
            min_replicas=action.replicas,
            dry_run=dry_run,
        )
    if action.verb is ActionVerb.SCALE:
        assert action.replicas is not None
        return await cluster.scale(target, replicas=action.replicas, dry_run=dry_run)
    if action.verb is ActionVerb.ROLLBACK:
        return await cluster.rollback(
            target,
            to_revision=action.rollback_revision,
            expect_resource_version=resource_version,
            dry_run=dry_run,
        )
    if action.verb is ActionVerb.RESTART:
        assert action.restarted_at is not None
        return await cluster.restart(
            target,
            restarted_at=action.restarted_at,
            expect_resource_version=resource_version,
            dry_run=dry_run,
        )
    raise ValueError(f"{action.verb} is not a change")


@dataclass(frozen=True, slots=True)
class Runner:
    """Carries out actions for one executor; ``owner`` is its lease token."""

    ctx: RemediationContext
    owner: str

    @property
    def store(self) -> Store:
        return self.ctx.store

    @property
    def cluster(self) -> Cluster:
        return self.ctx.cluster

    @property
    def clock(self) -> Clock:
        return self.ctx.clock

    async def run(self, action: ActionRequest) -> ActionRequest:
        """From a running action whose change has not landed to its final state."""
        assert action.snapshot is not None, "an approved action always has its snapshot"
        try:
            current = await self.cluster.snapshot(action.target)
            changes = await changes_since(self.cluster, action, action.snapshot, current)
        except CLUSTER_ERRORS as exc:
            return await self.finish(action, ActionState.FAILED, f"cannot read the target: {exc}")
        if changes:
            detail = f"target changed since approval ({', '.join(changes)}); {FRESH_APPROVAL}"
            return await self.finish(action, ActionState.FAILED, detail)
        hpa = await recheck(self.cluster, action)
        if hpa.failure:
            return await self.finish(action, ActionState.FAILED, hpa.failure)
        try:
            await self._change(action, current, dry_run=True)
        except DryRunRejected as exc:
            return await self.finish(action, ActionState.FAILED, f"dry run rejected: {exc}")
        except TargetChanged as exc:
            detail = f"target changed since approval ({exc}); {FRESH_APPROVAL}"
            return await self.finish(action, ActionState.FAILED, detail)
        except CLUSTER_ERRORS as exc:
            return await self.finish(action, ActionState.FAILED, f"dry run failed: {exc}")
        floor = hpa.autoscaler.min_replicas if hpa.autoscaler is not None else None
        marked = await self._mark_applying(action, current, previous_min_replicas=floor)
        if marked is None:
            return await self._fresh(action)
        try:
            result = await self._change(marked, current, dry_run=False)
        except TargetChanged as exc:
            detail = f"target changed since approval ({exc}); {FRESH_APPROVAL}"
            return await self.finish(marked, ActionState.FAILED, detail)
        except ClusterUnavailable as exc:
            detail = (
                f"needs a human: the Kubernetes API failed while applying ({exc}); the change "
                "may have landed, run diagnose before requesting it again"
            )
            return await self.finish(marked, ActionState.FAILED, detail)
        except CLUSTER_ERRORS as exc:
            return await self.finish(marked, ActionState.FAILED, f"apply refused: {exc}")
        await action_steps.note(
            self.store,
            marked,
            at=self.clock.now(),
            event=ActionApplied(
                skipped=result.skipped,
                detail=f"{result.detail}; {hpa.note}" if hpa.note else result.detail,
                revision=result.revision,
                previous_min_replicas=marked.previous_min_replicas,
            ),
        )
        return await self.follow(marked, note=hpa.note)

    async def _change(
        self, action: ActionRequest, current: TargetSnapshot, *, dry_run: bool
    ) -> ChangeResult:
        return await apply_change(
            self.cluster, action, resource_version=current.resource_version, dry_run=dry_run
        )

    async def _mark_applying(
        self, action: ActionRequest, current: TargetSnapshot, *, previous_min_replicas: int | None
    ) -> ActionRequest | None:
        """Commit "about to apply" first, so a crash after it is reconciled by looking, not
        by applying again; with it, the HPA floor the apply replaces (what a restore puts
        back). ``None`` if this executor lost the action."""
        changed = dataclasses.replace(
            action, apply_snapshot=current, previous_min_replicas=previous_min_replicas
        )

        async def work(uow: UnitOfWork) -> ActionRequest | None:
            return await uow.actions.update(action, changed)

        return await in_transaction(self.store, work)

    async def follow(self, action: ActionRequest, *, note: str = "") -> ActionRequest:
        """Poll the rollout until done, failed or past the deadline (bounded either way).
        ``note`` (e.g. the HPA's floor moved since the request) ends the success detail."""
        deadline = self.clock.now() + timedelta(seconds=self.ctx.timings.rollout_deadline)
        polls = math.ceil(self.ctx.timings.rollout_deadline / self.ctx.timings.rollout_poll) + 1
        last = "no answer from the Kubernetes API"
        for _ in range(polls):
            try:
                progress = await self.cluster.rollout(action.target)
            except NotFound as exc:
                return await self.finish(action, ActionState.FAILED, f"target vanished: {exc}")
            except ClusterUnavailable as exc:
                last = f"Kubernetes API unavailable: {exc}"
            else:
                progress = reached(action, progress)
                last = progress.message
                await self._report(action, progress)
                if progress.done:
                    done = f"{progress.message}; {note}" if note else progress.message
                    return await self.finish(action, ActionState.SUCCEEDED, done)
                if progress.failed:
                    detail = f"rollout failed: {progress.message}; consider a rollback"
                    return await self.finish(action, ActionState.FAILED, detail)
            if self.clock.now() >= deadline:
                break
            if not await self._renew(action):
                return await self._fresh(action)
            await self.clock.sleep(self.ctx.timings.rollout_poll)
        detail = (
            f"rollout did not finish within {self.ctx.timings.rollout_deadline:g} s ({last}); "
            "consider a rollback"
        )
        return await self.finish(action, ActionState.FAILED, detail)

    async def _report(self, action: ActionRequest, progress: RolloutProgress) -> None:
        if self.ctx.progress is None:
            return
        try:
            await self.ctx.progress(action, progress)
        except Exception:
            # The thread message is a view; failing to update it must not abandon a rollout
            # half-way.
            log.exception("progress callback failed for action %s", action.id)

    async def _renew(self, action: ActionRequest) -> bool:
        until = self.clock.now() + timedelta(seconds=self.ctx.timings.action_lease)

        async def work(uow: UnitOfWork) -> bool:
            return await uow.actions.renew_lease(action.id, owner=self.owner, until=until)

        return await in_transaction(self.store, work)

    async def finish(self, action: ActionRequest, state: ActionState, detail: str) -> ActionRequest:
        """Move a running action to succeeded or failed, if this executor still holds it."""
        now = self.clock.now()

        async def work(uow: UnitOfWork) -> ActionRequest | None:
            current, _ = await action_steps.locked(uow, action.id)
            if current.version != action.version or current.owner != self.owner:
                return None
            kind = (
                EventKind.ACTION_SUCCEEDED
                if state is ActionState.SUCCEEDED
                else EventKind.ACTION_FAILED
            )
            return await action_steps.transition(
                uow,
                current,
                dataclasses.replace(current, state=state, finished_at=now, detail=detail),
                at=now,
                actor=BOT,
                event=ActionFinished(
                    kind=kind,
                    detail=detail,
                    snapshot=snapshot_to_json(current.apply_snapshot or current.snapshot),
                ),
            )

        done = await in_transaction(self.store, work)
        return done if done is not None else await self._fresh(action)

    async def _fresh(self, action: ActionRequest) -> ActionRequest:
        """Another executor took over (our lease lapsed): report what it holds now."""
        log.warning("lost action %s to another executor", action.id)
        fresh, _ = await action_steps.read(self.store, action.id)
        return fresh
