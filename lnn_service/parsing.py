"""Request bodies to arrays, with a 400 message that names the problem.

The single-request parser runs for every request on the hot path, so it checks
plain Python lists element by element; the batch parser lets numpy do the work
and only searches for the culprit once numpy has refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import orjson

from lnn_service.errors import BadInput, BatchTooLarge

F32 = npt.NDArray[np.float32]
# Beyond float32's range a value would silently become infinity in the model.
FLOAT32_MAX = float(np.finfo(np.float32).max)
MAX_DT = 3600.0


class SingleRequest(NamedTuple):
    # A NamedTuple, not a frozen dataclass: built once per request on the hot path,
    # and a tuple is several times cheaper to create.
    input: list[float]
    state: list[float] | None
    dt: float


@dataclass(frozen=True)
class BatchRequest:
    inputs: F32  # (N, input_dim)
    states: F32 | None  # (N, state_dim)
    dt: float


def _decode(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"body is not valid JSON: {exc}") from None


def _check_vector(value: object, name: str, length: int) -> list[float]:
    if not isinstance(value, list):
        raise BadInput(f"{name} must be a list of {length} numbers")
    if len(value) != length:
        raise BadInput(f"{name} must have {length} numbers, got {len(value)}")
    for i, v in enumerate(value):
        kind = type(v)
        if kind is not float and kind is not int:
            raise BadInput(f"{name}[{i}] is not a number")
        if not -FLOAT32_MAX <= v <= FLOAT32_MAX:  # also false for NaN
            raise BadInput(f"{name}[{i}] is NaN, infinite or beyond float32 range")
    return value


def _check_dt(raw: object, default: float) -> float:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise BadInput("dt must be a number of seconds")
    if not (math.isfinite(raw) and 0.0 < raw <= MAX_DT):
        raise BadInput(f"dt must be positive and at most {MAX_DT:g} seconds")
    return float(raw)


def parse_single(body: bytes, input_dim: int, state_dim: int, default_dt: float) -> SingleRequest:
    data = _decode(body)
    if type(data) is not dict:
        raise BadInput("body must be a JSON object")
    if "input" not in data:
        raise BadInput("missing field: input")
    inp = _check_vector(data["input"], "input", input_dim)
    state = data.get("state")
    if state is not None:
        state = _check_vector(state, "state", state_dim)
    dt = _check_dt(data.get("dt"), default_dt)
    return SingleRequest(inp, state, dt)


def _matrix(value: object, name: str, width: int, max_rows: int) -> F32:
    if not isinstance(value, list):
        raise BadInput(f"{name} must be a list of rows of {width} numbers")
    if len(value) > max_rows:
        raise BatchTooLarge(f"{name} has {len(value)} rows, the cap is {max_rows}")
    if not value:
        raise BadInput(f"{name} is empty")
    for i, row in enumerate(value):
        if not isinstance(row, list) or len(row) != width:
            raise BadInput(f"{name}[{i}] must be a list of {width} numbers")
    try:
        arr = np.array(value)
    except (ValueError, OverflowError):
        arr = np.array([], dtype=object)
    # numpy turns JSON booleans into 0/1 silently; a C-level scan finds them.
    has_bool = True in map(isinstance, chain.from_iterable(value), repeat(bool))
    if has_bool or arr.dtype.kind not in "if" or arr.ndim != 2:
        for i, row in enumerate(value):
            _check_vector(row, f"{name}[{i}]", width)
        raise BadInput(f"{name} must hold only numbers")
    return _finite32(arr, name)


def _finite32(arr: npt.NDArray[Any], name: str) -> F32:
    bad = ~(np.abs(arr) <= FLOAT32_MAX)
    if bad.any():
        row, col = (int(v) for v in np.argwhere(bad)[0])
        raise BadInput(f"{name}[{row}][{col}] is NaN, infinite or beyond float32 range")
    return np.ascontiguousarray(arr, dtype=np.float32)


def parse_batch_json(
    body: bytes, input_dim: int, state_dim: int, default_dt: float, max_rows: int
) -> BatchRequest:
    data = _decode(body)
    if type(data) is not dict:
        raise BadInput("body must be a JSON object")
    if "inputs" not in data:
        raise BadInput("missing field: inputs")
    inputs = _matrix(data["inputs"], "inputs", input_dim, max_rows)
    states = None
    if data.get("states") is not None:
        states = _matrix(data["states"], "states", state_dim, max_rows)
        if states.shape[0] != inputs.shape[0]:
            raise BadInput(f"states has {states.shape[0]} rows but inputs has {inputs.shape[0]}")
    return BatchRequest(inputs, states, _check_dt(data.get("dt"), default_dt))


def parse_batch_binary(
    body: bytes, input_dim: int, state_dim: int, default_dt: float, max_rows: int, with_state: bool
) -> BatchRequest:
    """Little-endian float32 rows of ``input_dim`` (plus ``state_dim`` when ``with_state``)."""
    width = input_dim + (state_dim if with_state else 0)
    row_bytes = 4 * width
    if not body:
        raise BadInput("body is empty")
    if len(body) % row_bytes:
        raise BadInput(
            f"binary body of {len(body)} bytes is not a whole number of {row_bytes}-byte rows"
        )
    rows = len(body) // row_bytes
    if rows > max_rows:
        raise BatchTooLarge(f"body has {rows} rows, the cap is {max_rows}")
    arr = np.frombuffer(body, dtype="<f4").reshape(rows, width)
    if not np.isfinite(arr).all():
        row, col = (int(v) for v in np.argwhere(~np.isfinite(arr))[0])
        raise BadInput(f"row {row} column {col} is NaN or infinite")
    inputs = np.ascontiguousarray(arr[:, :input_dim], dtype=np.float32)
    states = np.ascontiguousarray(arr[:, input_dim:], dtype=np.float32) if with_state else None
    return BatchRequest(inputs, states, default_dt)
