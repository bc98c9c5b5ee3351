"""The naive baseline: plain aiohttp, JSON via the standard library, one session.run per request.

Run as ``python -m bench.lnn_naive PORT MODEL_DIR``; only the benchmark starts it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from aiohttp import web

SESSION = web.AppKey("session", ort.InferenceSession)


async def inference(request: web.Request) -> web.Response:
    body = await request.json()
    row = body.get("input") if isinstance(body, dict) else None
    if not isinstance(row, list) or len(row) != 4:
        return web.json_response({"error": "input must have 4 numbers"}, status=400)
    out, state = request.app[SESSION].run(
        None,
        {
            "input": np.array([row], dtype=np.float32),
            "state": np.zeros((1, 32), dtype=np.float32),
            "dt": np.full((1, 1), 0.02, dtype=np.float32),
        },
    )
    return web.json_response({"output": out[0].tolist(), "state": state[0].tolist()})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def make_app(model_path: Path) -> web.Application:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    app = web.Application()
    app[SESSION] = ort.InferenceSession(
        str(model_path), sess_options=opts, providers=["CPUExecutionProvider"]
    )
    app.router.add_post("/inference", inference)
    app.router.add_get("/health", health)
    return app


if __name__ == "__main__":
    port, model = int(sys.argv[1]), Path(sys.argv[2])
    web.run_app(make_app(model), host="127.0.0.1", port=port, access_log=None, print=None)
