"""Bad bodies get a BadInput naming the problem; nothing else escapes the parsers."""

from __future__ import annotations

import contextlib
import struct

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lnn_service.errors import BadInput, BatchTooLarge, LnnError
from lnn_service.parsing import parse_batch_binary, parse_batch_json, parse_single


def single(body: object) -> object:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return parse_single(raw, 4, 32, 0.02)


def test_valid_single_request() -> None:
    req = parse_single(b'{"input": [0.1, -0.2, 0.8, 5], "dt": 0.05}', 4, 32, 0.02)
    assert req.input == [0.1, -0.2, 0.8, 5]
    assert req.state is None
    assert req.dt == 0.05
    assert parse_single(b'{"input": [0, 0, 0, 0]}', 4, 32, 0.02).dt == 0.02


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        ({"inputs": [1, 2, 3, 4]}, "missing field: input"),
        ({"input": [1, 2, 3]}, "must have 4 numbers, got 3"),
        ({"input": "1234"}, "list of 4 numbers"),
        ({"input": [1, 2, "3", 4]}, r"input\[2\] is not a number"),
        ({"input": [1, True, 3, 4]}, r"input\[1\] is not a number"),
        ({"input": [1, None, 3, 4]}, r"input\[1\] is not a number"),
        (b'{"input": [1, 2, 3, 1e400]}', "number is infinity"),
        (b'{"input": [1, 2, 3, NaN]}', "not valid JSON"),
        ({"input": [1, 2, 3, 1e39]}, "beyond float32"),
        ({"input": [1, 2, 3, 4], "state": [0.0] * 31}, "state must have 32 numbers"),
        ({"input": [1, 2, 3, 4], "dt": -1}, "dt must be positive"),
        ({"input": [1, 2, 3, 4], "dt": "soon"}, "dt must be a number"),
    ],
)
def test_bad_single_requests_name_the_problem(body: object, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        single(body)


def test_batch_json() -> None:
    req = parse_batch_json(orjson.dumps({"inputs": [[1, 2, 3, 4], [5, 6, 7, 8.5]]}), 4, 32, 0.02, 8)
    assert req.inputs.dtype == np.float32
    assert req.inputs.shape == (2, 4)
    assert req.states is None


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ({"inputs": [[1, 2, 3, 4]] * 9}, BatchTooLarge, "cap is 8"),
        ({"inputs": []}, BadInput, "empty"),
        ({"inputs": [[1, 2, 3, 4], [1, 2, 3]]}, BadInput, r"inputs\[1\] must be a list of 4"),
        ({"inputs": [[1, 2, 3, 4], [1, 2, "x", 4]]}, BadInput, r"inputs\[1\]\[2\] is not a number"),
        ({"inputs": [[1, 2, 3, 4], [1, 2, False, 4]]}, BadInput, r"inputs\[1\]\[2\] is not"),
        (
            {"inputs": [[1, 2, 3, 4]], "states": [[0.0] * 32] * 2},
            BadInput,
            "states has 2 rows but inputs has 1",
        ),
    ],
)
def test_bad_batches(body: object, error: type[LnnError], message: str) -> None:
    with pytest.raises(error, match=message):
        parse_batch_json(orjson.dumps(body), 4, 32, 0.02, 8)


def test_batch_json_infinity() -> None:
    with pytest.raises(BadInput, match="number is infinity"):
        parse_batch_json(b'{"inputs": [[1, 1e999, 3, 4]]}', 4, 32, 0.02, 8)
    with pytest.raises(BadInput, match=r"inputs\[0\]\[1\] is NaN, infinite or beyond float32"):
        parse_batch_json(b'{"inputs": [[1, 1e300, 3, 4]]}', 4, 32, 0.02, 8)


def test_binary_batch() -> None:
    body = struct.pack("<8f", 1, 2, 3, 4, 5, 6, 7, 8)
    req = parse_batch_binary(body, 4, 32, 0.02, 8, with_state=False)
    assert req.inputs.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    with pytest.raises(BadInput, match="whole number of 16-byte rows"):
        parse_batch_binary(body[:-1], 4, 32, 0.02, 8, with_state=False)
    with pytest.raises(BadInput, match="row 1 column 2 is NaN"):
        parse_batch_binary(
            struct.pack("<8f", 1, 2, 3, 4, 5, 6, float("nan"), 8), 4, 32, 0.02, 8, with_state=False
        )
    with pytest.raises(BatchTooLarge):
        parse_batch_binary(body * 5, 4, 32, 0.02, 8, with_state=False)
    with_state = parse_batch_binary(
        struct.pack("<36f", *range(36)), 4, 32, 0.02, 8, with_state=True
    )
    assert with_state.states is not None
    assert with_state.states[0, 0] == 4.0


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=256) | st.from_regex(rb"\{\"inputs?\": .{0,60}\}", fullmatch=True))
def test_arbitrary_bytes_only_raise_service_errors(body: bytes) -> None:
    for parse in (
        lambda: parse_single(body, 4, 32, 0.02),
        lambda: parse_batch_json(body, 4, 32, 0.02, 8),
        lambda: parse_batch_binary(body, 4, 32, 0.02, 8, with_state=False),
    ):
        with contextlib.suppress(LnnError):
            parse()


json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.floats()
    | st.integers(-(2**63), 2**63 - 1)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {"input": json_value},
        optional={"state": json_value, "dt": json_value, "inputs": json_value},
    )
)
def test_arbitrary_json_only_raises_bad_input(body: dict[str, object]) -> None:
    raw = orjson.dumps(body)
    for parse in (
        lambda: parse_single(raw, 4, 32, 0.02),
        lambda: parse_batch_json(raw, 4, 32, 0.02, 8),
    ):
        with contextlib.suppress(BadInput, BatchTooLarge):
            parse()
