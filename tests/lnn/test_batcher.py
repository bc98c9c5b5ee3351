"""Concurrent single requests share one onnxruntime call."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np

from lnn_service.batcher import MicroBatcher, Result
from lnn_service.errors import BadInput, LnnError, NotReady
from lnn_service.metrics import Stats
from lnn_service.parsing import SingleRequest
from lnn_service.registry import Registry
from lnn_service.runtime import F32, LoadedModel


class CountingModel:
    """Wraps a real model and records the batch size of every call."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        self.calls: list[int] = []

    def run(self, inputs: F32, states: F32, dt: F32) -> tuple[F32, F32]:
        self.calls.append(inputs.shape[0])
        return self.model.run(inputs, states, dt)


def req(i: int, state: list[float] | None = None) -> SingleRequest:
    return SingleRequest([0.01 * i, 0.0, 0.0, 0.0], state, 0.02)


async def test_queued_requests_run_as_one_batch_capped(registry_dir: Path) -> None:
    model = Registry(registry_dir).load("cartpole-v1")
    counting = CountingModel(model)
    proxy = type(model)(model.manifest, model.session, model.sha256, model.load_seconds)
    object.__setattr__(proxy, "run", counting.run)
    stats = Stats()
    batcher = MicroBatcher(lambda: proxy, cap=8, stats=stats)
    results = await asyncio.gather(*(batcher.infer(req(i)) for i in range(20)))
    assert counting.calls == [8, 8, 4]
    assert stats.inferences["ok"] == 20
    # Each row got its own answer, in order: compare with one big direct call.
    inputs = np.array([r.input for r in (req(i) for i in range(20))], dtype=np.float32)
    expected, _ = model.run(inputs, model.zero_states(20), np.full((20, 1), 0.02, np.float32))
    assert np.allclose([r.output for r in results], expected, atol=1e-6)
    assert all(isinstance(r, Result) and r.model_version == "cartpole-v1" for r in results)


async def test_mismatched_state_and_missing_model_are_errors(registry_dir: Path) -> None:
    model = Registry(registry_dir).load("cartpole-v1")
    batcher = MicroBatcher(lambda: model, cap=8, stats=Stats())
    outcomes: list[Result | LnnError] = []
    batcher.submit(req(0, state=[0.0] * 5), outcomes.append)
    batcher.submit(req(1, state=[0.0] * 32), outcomes.append)
    await asyncio.sleep(0)
    assert isinstance(outcomes[0], BadInput)
    assert isinstance(outcomes[1], Result)

    empty = MicroBatcher(lambda: None, cap=8, stats=Stats())
    try:
        await empty.infer(req(0))
    except NotReady:
        pass
    else:
        raise AssertionError("expected NotReady")


async def test_mixed_batch_uses_each_rows_own_state_and_dt(registry_dir: Path) -> None:
    model = Registry(registry_dir).load("cartpole-v1")
    batcher = MicroBatcher(lambda: model, cap=8, stats=Stats())
    state = list(np.linspace(-0.5, 0.5, 32))
    a, b = (
        SingleRequest([0.1, 0, 0.02, 0], None, 0.02),
        SingleRequest([0.1, 0, 0.02, 0], state, 0.5),
    )
    ra, rb = await asyncio.gather(batcher.infer(a), batcher.infer(b))
    for request, result in ((a, ra), (b, rb)):
        alone = np.array([request.state or [0.0] * 32], dtype=np.float32)
        out, new_state = model.run(
            np.array([request.input], np.float32), alone, np.array([[request.dt]], np.float32)
        )
        assert np.allclose(result.output, out[0], atol=1e-6)
        assert np.allclose(result.state, new_state[0], atol=1e-6)
    assert not np.allclose(ra.state, rb.state)


async def test_flush_runs_on_the_next_loop_turn_without_timers(registry_dir: Path) -> None:
    model = Registry(registry_dir).load("cartpole-v1")
    batcher = MicroBatcher(lambda: model, cap=8, stats=Stats())
    outcomes: list[Result | LnnError] = []
    loop = asyncio.get_running_loop()
    timers_before = len(getattr(loop, "_scheduled", []))
    batcher.submit(req(0), outcomes.append)
    batcher.submit(req(1), outcomes.append)
    assert outcomes == []  # nothing runs inside submit
    assert len(getattr(loop, "_scheduled", [])) == timers_before  # no timer was armed
    await asyncio.sleep(0)
    assert len(outcomes) == 2
    assert all(isinstance(o, Result) for o in outcomes)
