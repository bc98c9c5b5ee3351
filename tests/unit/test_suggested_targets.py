"""A card's suggested-action button acts on the deployment the incident's alerts name, within
the policy's allow-list; a refused or failed one is on the incident's timeline."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pytest

from bot.clock import FixedClock
from bot.domain.deployment import Diagnosis
from bot.domain.incident import Severity
from bot.domain.target import Target
from bot.errors import BadRequest, Forbidden, NotFound
from bot.policy.kubernetes import KubernetesPolicy
from bot.policy.model import Policy, SuggestedAction
from bot.services.remediation.remediator import Remediator
from bot.services.remediation.request import RequestResult
from bot.workers import TaskSet
from handlers.slack.actor import slack_actor
from tests.fakes.memory.cluster import MemoryCluster
from tests.fakes.memory.store import MemoryStore
from tests.support.actions import ALICE, Env
from tests.support.store_builders import alert, new_incident

SCALE, RESTART, DIAGNOSE = 0, 1, 2  # the high-latency scenario's buttons


@pytest.fixture
def env(clock: FixedClock, policy: Policy) -> Env:
    allowing = dataclasses.replace(
        policy, kubernetes=KubernetesPolicy(("firebreak", "prod"), "firebreak")
    )
    cluster = MemoryCluster()
    cluster.add("prod", "lnn-service")
    return Env(MemoryStore(), cluster, clock, allowing)


async def incident_with(env: Env, labels: Mapping[str, str]) -> int:
    async with env.store.transaction() as uow:
        created, _ = await uow.incidents.open_for_group(
            new_incident(severity=Severity.P1, scenario="high-latency", created_at=env.clock.now())
        )
        await uow.alerts.add(
            created.id, alert(labels={"alertname": "LNNHighLatency", **labels}), Severity.P1
        )
    return created.id


async def click(env: Env, incident: int, index: int) -> RequestResult | Diagnosis:
    remediator = Remediator(env.ctx, executions=TaskSet("test executions"))
    return await remediator.request_suggested(incident, index, actor=slack_actor(ALICE))


async def test_the_button_requests_the_action_on_the_alerts_target(env: Env) -> None:
    incident = await incident_with(env, {"namespace": "prod", "deployment": "lnn-service"})
    result = await click(env, incident, SCALE)
    assert isinstance(result, RequestResult)
    assert (result.action.target, result.action.replicas) == (Target("prod", "lnn-service"), 6)
    diagnosis = await click(env, incident, DIAGNOSE)
    assert isinstance(diagnosis, Diagnosis)
    assert diagnosis.target == Target("prod", "lnn-service")


async def test_a_namespace_outside_the_allow_list_is_refused_on_the_timeline(env: Env) -> None:
    incident = await incident_with(env, {"namespace": "staging"})
    with pytest.raises(Forbidden, match=r"allows \(firebreak, prod\), not in staging"):
        await click(env, incident, RESTART)
    entry = (await env.timeline(incident))[-1]
    assert (entry.kind, entry.actor) == ("action.request_refused", slack_actor(ALICE))
    assert entry.body["target"] == "staging/deploy/lnn-service"


async def test_a_failed_diagnose_is_on_the_timeline(env: Env) -> None:
    incident = await incident_with(env, {"deployment": "ghost"})  # default namespace
    with pytest.raises(NotFound):
        await click(env, incident, DIAGNOSE)
    entry = (await env.timeline(incident))[-1]
    assert entry.kind == "action.request_refused"
    assert (entry.body["verb"], entry.body["target"]) == ("diagnose", "firebreak/deploy/ghost")


async def test_an_action_nothing_names_a_deployment_for_is_refused(env: Env) -> None:
    scenario = env.policy.scenarios["high-latency"]
    generic = dataclasses.replace(
        scenario, actions=(SuggestedAction(verb="restart"), *scenario.actions[1:])
    )
    env.policy = dataclasses.replace(
        env.policy, scenarios={**env.policy.scenarios, "high-latency": generic}
    )
    incident = await incident_with(env, {})
    with pytest.raises(BadRequest, match="name the deployment"):
        await click(env, incident, 0)
    assert (await env.kinds(incident))[-1] == "action.request_refused"


async def test_a_button_no_longer_in_the_runbook_is_refused_on_the_timeline(env: Env) -> None:
    incident = await incident_with(env, {"namespace": "prod", "deployment": "lnn-service"})
    with pytest.raises(BadRequest, match="no longer in the runbook"):
        await click(env, incident, 99)
    entry = (await env.timeline(incident))[-1]
    assert (entry.kind, entry.actor) == ("action.request_refused", slack_actor(ALICE))
    assert entry.body["reason"] == "this button's action is no longer in the runbook"


async def test_a_restore_of_an_action_that_moved_no_floor_is_refused_on_the_timeline(
    env: Env,
) -> None:
    incident = await incident_with(env, {"namespace": "prod", "deployment": "lnn-service"})
    result = await click(env, incident, RESTART)
    assert isinstance(result, RequestResult)
    remediator = Remediator(env.ctx, executions=TaskSet("test executions"))
    with pytest.raises(BadRequest, match="moved no HPA floor"):
        await remediator.restore(result.action.id, actor=slack_actor(ALICE))
    entry = (await env.timeline(incident))[-1]
    assert (entry.kind, entry.actor) == ("action.request_refused", slack_actor(ALICE))
    assert (entry.body["verb"], entry.body["target"]) == ("scale", "prod/deploy/lnn-service")
    assert "moved no HPA floor" in entry.body["reason"]
