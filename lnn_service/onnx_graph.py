"""Build the ONNX graph of a CfC cell from :class:`~lnn_service.cfc.CfcWeights`.

Needs the ``onnx`` package (the ``train`` and ``dev`` extras); serving only loads
the resulting file with onnxruntime.

Graph inputs: ``input`` (N, n_in), ``state`` (N, n_hidden), ``dt`` (N, 1), all float32.
Graph outputs: ``output`` (N, n_out), ``state_out`` (N, n_hidden).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from lnn_service.cfc import CfcWeights

OPSET = 17
INPUT, STATE, DT = "input", "state", "dt"
OUTPUT, STATE_OUT = "output", "state_out"


def _init(name: str, value: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.ascontiguousarray(value, dtype=np.float32), name)


def build_model(weights: CfcWeights, *, doc: str = "CfC cell") -> onnx.ModelProto:
    """Return a checked ONNX model computing one CfC step for a batch."""
    n = weights.n_hidden
    inits = [
        _init("W_bb", weights.w_bb),
        _init("b_bb", weights.b_bb),
        _init("W_heads", weights.w_heads),
        _init("b_heads", weights.b_heads),
        _init("W_out", weights.w_out),
        _init("b_out", weights.b_out),
        _init("out_min", np.array(-weights.out_limit)),
        _init("out_max", np.array(weights.out_limit)),
        numpy_helper.from_array(np.array([n, n, n], dtype=np.int64), "split_sizes"),
    ]
    nodes = [
        helper.make_node("Concat", [INPUT, STATE], ["cat"], axis=1),
        helper.make_node("Gemm", ["cat", "W_bb", "b_bb"], ["bb_pre"]),
        helper.make_node("Tanh", ["bb_pre"], ["z"]),
        helper.make_node("Gemm", ["z", "W_heads", "b_heads"], ["heads"]),
        helper.make_node("Split", ["heads", "split_sizes"], ["f", "g_pre", "h_pre"], axis=1),
        helper.make_node("Tanh", ["g_pre"], ["g"]),
        helper.make_node("Tanh", ["h_pre"], ["h"]),
        helper.make_node("Neg", ["f"], ["neg_f"]),
        helper.make_node("Mul", ["neg_f", DT], ["neg_ft"]),
        helper.make_node("Sigmoid", ["neg_ft"], ["gate"]),
        # gate*g + (1-gate)*h rewritten as h + gate*(g-h): one op fewer.
        helper.make_node("Sub", ["g", "h"], ["g_minus_h"]),
        helper.make_node("Mul", ["gate", "g_minus_h"], ["blend"]),
        helper.make_node("Add", ["h", "blend"], [STATE_OUT]),
        helper.make_node("Gemm", [STATE_OUT, "W_out", "b_out"], ["y"]),
        helper.make_node("Clip", ["y", "out_min", "out_max"], [OUTPUT]),
    ]
    f32 = TensorProto.FLOAT
    graph = helper.make_graph(
        nodes,
        "cfc_cell",
        inputs=[
            helper.make_tensor_value_info(INPUT, f32, ["N", weights.n_in]),
            helper.make_tensor_value_info(STATE, f32, ["N", n]),
            helper.make_tensor_value_info(DT, f32, ["N", 1]),
        ],
        outputs=[
            helper.make_tensor_value_info(OUTPUT, f32, ["N", weights.n_out]),
            helper.make_tensor_value_info(STATE_OUT, f32, ["N", n]),
        ],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="firebreak-lnn",
        doc_string=doc,
    )
    # Older onnxruntime builds reject the newest IR version; 8 covers opset 17.
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model
