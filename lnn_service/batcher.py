"""Micro-batching of single inference requests.

Requests queue up while the event loop is busy; the first one schedules a flush
with ``call_soon``, so the flush runs after every callback already ready in this
loop turn (all requests that arrived together) and never waits on a timer. A
flush takes everything queued up to the cap and runs one onnxruntime call on the
loop thread: the model is free again as soon as the loop is, and request
handling never stalls for longer than one batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from lnn_service.errors import BadInput, InferenceFailed, LnnError, NotReady
from lnn_service.metrics import Stats
from lnn_service.parsing import SingleRequest
from lnn_service.runtime import LoadedModel

F32 = npt.NDArray[np.float32]


class Result(NamedTuple):  # one per request: a tuple is cheaper than a dataclass
    output: F32
    state: F32
    model_version: str


# Called once per request with either a result or the error to report.
Done = Callable[[Result | LnnError], None]


class MicroBatcher:
    def __init__(self, model: Callable[[], LoadedModel | None], cap: int, stats: Stats) -> None:
        self._model = model
        self._cap = cap
        self._stats = stats
        self._queue: list[tuple[SingleRequest, Done]] = []
        self._scheduled = False

    def submit(self, request: SingleRequest, done: Done) -> None:
        self._queue.append((request, done))
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    async def infer(self, request: SingleRequest) -> Result:
        """Awaitable form of :meth:`submit` for the aiohttp handlers."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()

        def done(result: Result | LnnError) -> None:
            if future.done():
                return
            if isinstance(result, LnnError):
                future.set_exception(result)
            else:
                future.set_result(result)

        self.submit(request, done)
        return await future

    def _flush(self) -> None:
        items = self._queue[: self._cap]
        del self._queue[: self._cap]
        if self._queue:
            asyncio.get_running_loop().call_soon(self._flush)
        else:
            self._scheduled = False
        model = self._model()
        if model is None:
            for _, done in items:
                done(NotReady("no model loaded"))
            return
        run_batch(model, items, self._stats)


def run_batch(model: LoadedModel, items: list[tuple[SingleRequest, Done]], stats: Stats) -> None:
    """One onnxruntime call for ``items``; every ``done`` is called exactly once."""
    state_dim = model.manifest.state_dim
    # A switch to a version with another state size may land between parse and flush.
    good: list[tuple[SingleRequest, Done]] = []
    for item in items:
        state = item[0].state
        if state is not None and len(state) != state_dim:
            item[1](BadInput(f"state must have {state_dim} numbers for {model.version}"))
        else:
            good.append(item)
    n = len(good)
    if not n:
        return
    reqs = [req for req, _ in good]
    inputs = np.array([req.input for req in reqs], dtype=np.float32)
    dts = np.array([[req.dt] for req in reqs], dtype=np.float32)
    states = np.zeros((n, state_dim), dtype=np.float32)
    carried = [i for i, req in enumerate(reqs) if req.state is not None]
    if carried:
        states[carried] = [reqs[i].state for i in carried]
    try:
        out, new_states = model.run(inputs, states, dts)
    except Exception as exc:  # onnxruntime's errors are untyped; report, never crash
        stats.errors["inference"] += 1
        stats.inferences["error"] += n
        failure = InferenceFailed(f"inference failed: {exc}")
        for _, done in good:
            done(failure)
        return
    stats.batch_size.observe(n)
    stats.inferences["ok"] += n
    version = model.version
    for i, (_, done) in enumerate(good):
        done(Result(out[i], new_states[i], version))
