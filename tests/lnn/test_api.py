"""The aiohttp API end to end through the test client (aiohttp's full stack)."""

from __future__ import annotations

import asyncio
import struct

import numpy as np
import orjson
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from lnn_service import cfc
from lnn_service.app import SERVICE
from lnn_service.cfc import CfcWeights
from lnn_service.settings import Settings
from tests.lnn.conftest import AUTH, ClientWith

Client = TestClient[web.Request, web.Application]
SEED_INPUT = [0.1, -0.2, 0.8, 0.5]


def reference(settings: Settings, version: str = "cartpole-v1") -> CfcWeights:
    return CfcWeights.load(settings.model_dir / version / "weights.npz")


async def test_inference_matches_reference_and_carries_state(
    client: Client, settings: Settings
) -> None:
    weights = reference(settings)
    resp = await client.post("/inference", json={"input": SEED_INPUT})
    assert resp.status == 200
    first = await resp.json()
    assert first["model_version"] == "cartpole-v1"
    assert len(first["output"]) == 1
    assert len(first["state"]) == 32
    out, state = cfc.step(weights, np.array([SEED_INPUT]), np.zeros((1, 32)), 0.02)
    assert np.allclose(first["output"], out[0], rtol=1e-5, atol=1e-5)
    resp = await client.post(
        "/inference", json={"input": SEED_INPUT, "state": first["state"], "dt": 0.05}
    )
    second = await resp.json()
    out2, _ = cfc.step(weights, np.array([SEED_INPUT]), state, 0.05)
    assert np.allclose(second["output"], out2[0], rtol=1e-4, atol=1e-4)


async def test_bad_input_gets_400_naming_the_problem(client: Client) -> None:
    cases = [
        (b'{"input": [1, 2, 3]}', "must have 4 numbers"),
        (b'{"input": [1, 2, "x", 4]}', "is not a number"),
        (b'{"input": [1, 2, 3, 1e999]}', "infinity"),
        (b'{"input": [1, 2, 3, -1e300]}', "beyond float32 range"),
        (b'{"state": []}', "missing field: input"),
        (b"not json", "not valid JSON"),
    ]
    for body, message in cases:
        resp = await client.post("/inference", data=body)
        assert resp.status == 400
        assert message in (await resp.json())["error"]


async def test_batch_json_and_binary(client: Client, settings: Settings) -> None:
    weights = reference(settings)
    rows = np.random.default_rng(0).uniform(-0.2, 0.2, (10, 4)).astype(np.float32)
    expected, _ = cfc.step(weights, rows.astype(np.float64), np.zeros((10, 32)), 0.02)

    resp = await client.post("/inference/batch", json={"inputs": rows.tolist()})
    assert resp.status == 200
    body = await resp.json()
    assert np.allclose(body["outputs"], expected, rtol=1e-4, atol=1e-4)
    assert np.asarray(body["states"]).shape == (10, 32)

    resp = await client.post(
        "/inference/batch",
        data=rows.astype("<f4").tobytes(),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert resp.status == 200
    assert resp.headers["X-LNN-Output-Dim"] == "1"
    assert resp.headers["X-LNN-State-Dim"] == "32"
    got = np.frombuffer(await resp.read(), dtype="<f4").reshape(10, 33)
    assert np.allclose(got[:, :1], expected, rtol=1e-4, atol=1e-4)
    assert np.allclose(got[:, 1:], body["states"], rtol=1e-6, atol=1e-6)

    resp = await client.post(
        "/inference/batch",
        data=rows.astype("<f4").tobytes(),
        headers={"Content-Type": "application/octet-stream", "X-LNN-Return-State": "0"},
    )
    assert resp.headers["X-LNN-State-Dim"] == "0"
    outputs_only = np.frombuffer(await resp.read(), dtype="<f4")
    assert np.allclose(outputs_only, got[:, 0])

    # Carrying state in binary: rows of input followed by state.
    with_state = np.concatenate([rows, got[:, 1:]], axis=1).astype("<f4")
    resp = await client.post(
        "/inference/batch",
        data=with_state.tobytes(),
        headers={"Content-Type": "application/octet-stream", "X-LNN-With-State": "1"},
    )
    second = np.frombuffer(await resp.read(), dtype="<f4").reshape(10, 33)
    expected2, _ = cfc.step(weights, rows.astype(np.float64), got[:, 1:].astype(np.float64), 0.02)
    assert np.allclose(second[:, :1], expected2, rtol=1e-4, atol=1e-4)


async def test_batch_over_the_cap_gets_413(client: Client) -> None:
    resp = await client.post("/inference/batch", json={"inputs": [[0, 0, 0, 0]] * 257})
    assert resp.status == 413
    assert "cap is 256" in (await resp.json())["error"]
    resp = await client.post(
        "/inference/batch",
        data=struct.pack("<4f", 0, 0, 0, 0) * 257,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert resp.status == 413


async def test_health_ready_metrics(client: Client) -> None:
    health = await (await client.get("/health")).json()
    assert health["model_version"] == "cartpole-v1"
    assert len(health["model_sha256"]) == 64
    assert health["uptime_seconds"] >= 0
    resp = await client.get("/ready")
    assert resp.status == 200
    await client.post("/inference", json={"input": SEED_INPUT})
    await client.post("/inference", json={"input": [1]})
    text = await (await client.get("/metrics")).text()
    assert 'lnn_requests_total{endpoint="/inference",outcome="ok"} 1.0' in text
    assert 'lnn_requests_total{endpoint="/inference",outcome="bad_input"} 1.0' in text
    assert 'lnn_inferences_total{outcome="ok"} 1.0' in text
    assert "lnn_request_latency_seconds_bucket" in text
    assert "lnn_batch_size_bucket" in text
    assert 'lnn_model_load_seconds{version="cartpole-v1"}' in text
    assert "process_resident_memory_bytes" in text


async def test_ready_fails_when_the_model_no_longer_gives_the_golden_output(
    client: Client,
) -> None:
    service = client.app[SERVICE]
    model = service.require_model()
    broken = type(model.manifest.golden)(
        input=model.manifest.golden.input, dt=model.manifest.golden.dt, output=[123.0]
    )
    manifest = type(model.manifest)(**{**model.manifest.__dict__, "golden": broken})
    service.model = type(model)(manifest, model.session, model.sha256, model.load_seconds)
    resp = await client.get("/ready")
    assert resp.status == 503


async def test_admin_needs_the_token(client: Client) -> None:
    resp = await client.post("/admin/model", json={"version": "cartpole-v2"})
    assert resp.status == 401
    resp = await client.post(
        "/admin/model", json={"version": "cartpole-v2"}, headers={"Authorization": "Bearer nope"}
    )
    assert resp.status == 401
    resp = await client.post("/admin/faults", json={"error_rate": 1.0})
    assert resp.status == 401
    assert (await (await client.get("/health")).json())["model_version"] == "cartpole-v1"


async def test_switch_and_roll_back_without_dropping_requests(client: Client) -> None:
    async def one() -> str:
        resp = await client.post("/inference", json={"input": SEED_INPUT})
        assert resp.status == 200
        return str((await resp.json())["model_version"])

    async def load() -> list[str]:
        versions = []
        for _ in range(40):
            versions.extend(await asyncio.gather(*(one() for _ in range(5))))
        return versions

    traffic = asyncio.create_task(load())
    resp = await client.post("/admin/model", json={"version": "cartpole-v2"}, headers=AUTH)
    assert resp.status == 200
    assert (await resp.json())["previous"] == ["cartpole-v1"]
    assert await one() == "cartpole-v2"
    resp = await client.post("/admin/model", json={"rollback": True}, headers=AUTH)
    assert resp.status == 200
    assert (await resp.json())["model_version"] == "cartpole-v1"
    versions = await traffic
    assert len(versions) == 200
    assert set(versions) <= {"cartpole-v1", "cartpole-v2"}
    assert await one() == "cartpole-v1"
    resp = await client.post("/admin/model", json={"rollback": True}, headers=AUTH)
    assert resp.status == 409
    assert "no previous version" in (await resp.json())["error"]


async def test_switch_to_a_bad_version_keeps_serving_the_current(client: Client) -> None:
    for version in ("cartpole-v9", "../cartpole-v2"):
        resp = await client.post("/admin/model", json={"version": version}, headers=AUTH)
        assert resp.status == 409
    resp = await client.post("/admin/model", json={"nothing": 1}, headers=AUTH)
    assert resp.status == 400
    assert (await (await client.get("/health")).json())["model_version"] == "cartpole-v1"


async def test_drill_faults(client: Client) -> None:
    resp = await client.get("/admin/faults", headers=AUTH)
    assert await resp.json() == {
        "latency_ms": 0.0,
        "error_rate": 0.0,
        "down": False,
        "active": False,
    }
    resp = await client.post("/admin/faults", json={"error_rate": 1.0}, headers=AUTH)
    assert (await resp.json())["active"] is True
    resp = await client.post("/inference", json={"input": SEED_INPUT})
    assert resp.status == 503
    assert "drill" in (await resp.json())["error"]
    resp = await client.post("/inference/batch", json={"inputs": [SEED_INPUT]})
    assert resp.status == 503
    resp = await client.post("/admin/faults", json={"error_rate": 2}, headers=AUTH)
    assert resp.status == 400
    resp = await client.post("/admin/faults", json={"latency_ms": 1}, headers=AUTH)
    assert (await resp.json())["error_rate"] == 0.0
    resp = await client.post("/inference", json={"input": SEED_INPUT})
    assert resp.status == 200
    text = await (await client.get("/metrics")).text()
    assert 'lnn_errors_total{kind="drill"} 2.0' in text  # inference + batch


async def test_down_drill_answers_503_to_all_but_admin_until_lifted(client: Client) -> None:
    resp = await client.post("/admin/faults", json={"down": True}, headers=AUTH)
    assert await resp.json() == {
        "latency_ms": 0.0,
        "error_rate": 0.0,
        "down": True,
        "active": True,
    }
    for method, path in [
        ("GET", "/metrics"),
        ("GET", "/health"),
        ("GET", "/ready"),
        ("POST", "/inference"),
        ("POST", "/inference/batch"),
    ]:
        resp = await client.request(method, path, json={"input": SEED_INPUT})
        assert resp.status == 503, path
        assert "down" in (await resp.json())["error"]
    assert (await client.get("/admin/faults", headers=AUTH)).status == 200
    resp = await client.post("/admin/faults", json={"down": "yes"}, headers=AUTH)
    assert resp.status == 400
    assert (await client.post("/admin/faults", json={}, headers=AUTH)).status == 200
    assert (await client.get("/metrics")).status == 200
    assert (await client.post("/inference", json={"input": SEED_INPUT})).status == 200


async def test_admin_disabled_without_a_token(client_with: ClientWith) -> None:
    no_token = await client_with(admin_token=None)
    resp = await no_token.post("/admin/model", json={"rollback": True}, headers=AUTH)
    assert resp.status == 401
    assert "LNN_ADMIN_TOKEN" in (await resp.json())["error"]


async def test_large_batches_run_on_the_batch_lane_with_the_same_answer(
    client_with: ClientWith, settings: Settings
) -> None:
    lane = await client_with(batch_offload_rows=4)
    assert lane.app[SERVICE].require_model().wide_session is not None
    rows = np.random.default_rng(5).uniform(-0.2, 0.2, (50, 4)).astype(np.float32)
    resp = await lane.post(
        "/inference/batch",
        data=rows.tobytes(),
        headers={"Content-Type": "application/octet-stream", "X-LNN-Return-State": "0"},
    )
    assert resp.status == 200
    expected, _ = cfc.step(reference(settings), rows.astype(np.float64), np.zeros((50, 32)), 0.02)
    assert np.allclose(np.frombuffer(await resp.read(), "<f4"), expected[:, 0], atol=1e-4)


@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=120)
    | st.builds(
        lambda v: orjson.dumps({"input": v, "inputs": [v], "state": v}),
        st.lists(st.floats() | st.integers(-(2**63), 2**63 - 1) | st.none(), max_size=6),
    ),
    binary=st.booleans(),
)
async def test_any_body_gets_an_answer_never_a_crash(
    client: Client, body: bytes, binary: bool
) -> None:
    headers = {"Content-Type": "application/octet-stream" if binary else "application/json"}
    for path in ("/inference", "/inference/batch"):
        resp = await client.post(path, data=body, headers=headers)
        assert resp.status in (200, 400, 413)
        if resp.status != 200:
            assert (await resp.json())["error"]
    assert (await client.get("/ready")).status == 200


async def test_admin_changes_are_refused_with_several_workers(client_with: ClientWith) -> None:
    wide = await client_with(workers=2)
    resp = await wide.post("/admin/model", json={"version": "cartpole-v2"}, headers=AUTH)
    assert resp.status == 409
    assert "LNN_WORKERS=1" in (await resp.json())["error"]
    resp = await wide.post("/admin/faults", json={"error_rate": 1}, headers=AUTH)
    assert resp.status == 409
    resp = await wide.post("/admin/faults", json={"error_rate": 1})
    assert resp.status == 401  # authentication still comes first
    assert (await wide.get("/admin/faults", headers=AUTH)).status == 200
