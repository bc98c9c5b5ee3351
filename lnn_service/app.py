"""The aiohttp application: every endpoint, including a full-stack ``/inference``.

``lnn_service.fastpath`` answers the plain ``POST /inference`` requests before
they reach aiohttp; everything else, and any request it does not handle,
arrives here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import numpy as np
import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from lnn_service.errors import BadInput, LnnError, NotReady
from lnn_service.faults import Faults
from lnn_service.http_errors import error_body, outcome_for, status_for
from lnn_service.metrics import make_registry
from lnn_service.parsing import BatchRequest, parse_batch_binary, parse_batch_json, parse_single
from lnn_service.service import Service
from lnn_service.settings import Settings

SERVICE = web.AppKey("service", Service)
METRICS = web.AppKey("metrics", CollectorRegistry)
ORJSON_OPTS = orjson.OPT_SERIALIZE_NUMPY
BINARY = "application/octet-stream"
WITH_STATE_HEADER = "X-LNN-With-State"
RETURN_STATE_HEADER = "X-LNN-Return-State"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(payload: object, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(payload, option=ORJSON_OPTS),
        status=status,
        content_type="application/json",
    )


@web.middleware
async def errors_and_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Maps the exception tree to statuses and counts every request, in one place."""
    started = time.perf_counter()
    endpoint = (
        request.match_info.route.resource.canonical
        if request.match_info.route.resource
        else "other"
    )
    try:
        response = await handler(request)
    except LnnError as exc:
        response = web.Response(
            body=error_body(exc), status=status_for(exc), content_type="application/json"
        )
        if isinstance(exc, NotReady):
            response.headers["Retry-After"] = "1"
    except web.HTTPException as exc:
        request.app[SERVICE].stats.request_done(endpoint, outcome_for(exc.status), 0.0)
        raise
    request.app[SERVICE].stats.request_done(
        endpoint, outcome_for(response.status), time.perf_counter() - started
    )
    return response


DOWN_EXEMPT = "/admin/"


@web.middleware
async def drill_down(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The "down" drill: everything but ``/admin/*`` answers 503, so the drill can be lifted."""
    if request.app[SERVICE].faults.down and not request.path.startswith(DOWN_EXEMPT):
        raise NotReady("drill: the service is down")
    return await handler(request)


async def _apply_faults(service: Service) -> None:
    faults = service.faults
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    if faults.should_fail():
        service.stats.errors["drill"] += 1
        raise NotReady("drill: injected error")


async def inference(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    model = service.require_model()
    manifest = model.manifest
    req = parse_single(
        await request.read(), manifest.input_dim, manifest.state_dim, manifest.default_dt
    )
    await _apply_faults(service)
    result = await service.batcher.infer(req)
    return json_response(
        {"output": result.output, "state": result.state, "model_version": result.model_version}
    )


async def inference_batch(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    model = service.require_model()
    m = service.settings
    manifest = model.manifest
    body = await request.read()
    binary = request.content_type == BINARY
    batch: BatchRequest
    if binary:
        with_state = request.headers.get(WITH_STATE_HEADER, "0") in ("1", "true")
        batch = parse_batch_binary(
            body,
            manifest.input_dim,
            manifest.state_dim,
            manifest.default_dt,
            m.max_batch,
            with_state,
        )
    else:
        batch = parse_batch_json(
            body, manifest.input_dim, manifest.state_dim, manifest.default_dt, m.max_batch
        )
    await _apply_faults(service)
    model = service.require_model()  # the fault delay may have spanned a switch
    n = batch.inputs.shape[0]
    if batch.states is not None and batch.states.shape[1] != model.manifest.state_dim:
        raise BadInput(f"states must have {model.manifest.state_dim} numbers per row")
    states = batch.states if batch.states is not None else model.zero_states(n)
    dts = np.full((n, 1), batch.dt, dtype=np.float32)
    out, new_states = await service.run_batch(model, batch.inputs, states, dts)
    service.stats.batch_size.observe(n)
    service.stats.inferences["ok"] += n
    headers = {"X-LNN-Model-Version": model.version}
    if binary:
        # A stateless caller may skip the state and get 4 bytes a row instead of 132.
        want_state = request.headers.get(RETURN_STATE_HEADER, "1") not in ("0", "false")
        state_dim = new_states.shape[1] if want_state else 0
        headers["X-LNN-Output-Dim"] = str(out.shape[1])
        headers["X-LNN-State-Dim"] = str(state_dim)
        rows = np.concatenate([out, new_states], axis=1) if want_state else out
        return web.Response(
            body=rows.astype("<f4", copy=False).tobytes(), content_type=BINARY, headers=headers
        )
    payload = {"outputs": out, "states": new_states, "model_version": model.version}
    return web.Response(
        body=orjson.dumps(payload, option=ORJSON_OPTS),
        content_type="application/json",
        headers=headers,
    )


async def health(request: web.Request) -> web.Response:
    return json_response(request.app[SERVICE].health())


async def ready(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    model = service.require_model()
    if not model.golden_ok():
        raise NotReady(f"model {model.version} fails its golden input check")
    return json_response({"ready": True, "model_version": model.version})


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS])
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def _admin_json(request: web.Request) -> object:
    request.app[SERVICE].check_admin(request.headers.get("Authorization"))
    try:
        return orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"body is not valid JSON: {exc}") from None


async def admin_model(request: web.Request) -> web.Response:
    """``{"version": "name"}`` switches; ``{"rollback": true}`` returns to the previous one."""
    service = request.app[SERVICE]
    body = await _admin_json(request)
    service.check_can_change()
    if not isinstance(body, dict):
        raise BadInput("body must be a JSON object")
    if body.get("rollback") is True:
        model = await service.rollback()
    elif isinstance(body.get("version"), str):
        model = await service.switch(body["version"])
    else:
        raise BadInput('give {"version": "<name>"} or {"rollback": true}')
    return json_response(
        {"model_version": model.version, "sha256": model.sha256, "previous": service.history}
    )


async def admin_faults(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    if request.method == "GET":
        service.check_admin(request.headers.get("Authorization"))
    else:
        body = await _admin_json(request)
        service.check_can_change()
        service.faults = Faults.parse(body)
    f = service.faults
    return json_response(
        {"latency_ms": f.latency_ms, "error_rate": f.error_rate, "down": f.down, "active": f.active}
    )


async def admin_versions(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    service.check_admin(request.headers.get("Authorization"))
    return json_response({"versions": service.registry.versions()})


def create_app(settings: Settings, service: Service | None = None) -> web.Application:
    """The app factory; ``service`` is passed in when the fast path shares it."""
    # Large enough for max_batch JSON rows with states; beyond it aiohttp answers 413.
    app = web.Application(
        middlewares=[errors_and_metrics, drill_down],
        client_max_size=settings.max_batch * 1024 + (1 << 20),
    )
    svc = service if service is not None else Service(settings)
    app[SERVICE] = svc
    app[METRICS] = make_registry(svc.stats)

    async def model_ctx(app: web.Application) -> AsyncIterator[None]:
        if app[SERVICE].model is None:
            await app[SERVICE].start()
        yield
        app[SERVICE].close()

    app.cleanup_ctx.append(model_ctx)
    app.router.add_post("/inference", inference)
    app.router.add_post("/inference/batch", inference_batch)
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/admin/model", admin_model)
    app.router.add_get("/admin/models", admin_versions)
    app.router.add_route("*", "/admin/faults", admin_faults)
    return app
