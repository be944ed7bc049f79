"""ONNX import (a user's model -> `graph.Graph`) and export (the project's graphs -> ONNX).

Import (`import_onnx`, `onnx_import`): any model onnxruntime runs with one float input and one
output; the MAC operators become the integer layers, per-channel affine constants next to them
are folded, every other operator runs in float (`layers.FloatOp`). See `onnx_import`.
Export (`export_onnx`): every layer of `layers.LAYER_TYPES` but FloatOp and ActMatMul to ONNX
(opset 17): Conv2d -> Conv, Linear -> Gemm (transB=1) on (N, K) inputs or MatMul + Add on
(N, ..., K), Clip -> Relu / Clip, MaxPool, AveragePool, GlobalAveragePool, Add, Concat(axis 1),
Flatten(axis 1); initializers in float64 (default: the round trip is exact) or float32 (e.g. for
onnxruntime). Tensor names are the node names, so export -> import gives back the same graph.
`load_samples` reads user input samples (.npy) for a graph (calibration / evaluation).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from quantpe.golden.atomic import write_bytes

from .errors import QuantpeError
from quantpe.golden.layers import INPUT, Add, AvgPool, Clip, Concat, Conv2d, Flatten, GlobalAvgPool, Linear, MaxPool
from quantpe.golden.graph import Graph
from .onnx_import import import_onnx

__all__ = ["import_onnx", "export_onnx", "load_samples", "OPSET"]

OPSET = 17


def _onnx():
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:                                      # pragma: no cover
        raise QuantpeError("ONNX support needs the `onnx` package (pip install onnx)") from None
    return onnx, numpy_helper


def load_samples(path, graph: Graph) -> np.ndarray:
    """Input samples for `graph` from a .npy file: float64 (N,) + graph.input_shape."""
    path = Path(path)
    try:
        x = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise QuantpeError(f"input samples {path} do not exist") from None
    except (OSError, ValueError) as e:
        raise QuantpeError(f"cannot read input samples {path} (need a .npy array): {e}") from None
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "iuf":
        raise QuantpeError(f"input samples {path} must be a numeric .npy array")
    x = graph.check_input(x, f"input samples {path.name}")
    if len(x) == 0:
        raise QuantpeError(f"input samples {path} hold no sample")
    return x


# =============================================================================== export

def export_onnx(graph: Graph, path, dtype: str = "float64", producer: str = "quantpe") -> Path:
    """Write `graph` as an ONNX model (opset 17), atomically; dtype "float64" or "float32".
    Long: one ONNX node group per layer kind, in one pass."""
    onnx, nh = _onnx()
    from onnx import TensorProto, helper
    if dtype not in ("float64", "float32"):
        raise QuantpeError(f"dtype must be float64 or float32, got {dtype!r}")
    elem = TensorProto.DOUBLE if dtype == "float64" else TensorProto.FLOAT
    npdt = np.float64 if dtype == "float64" else np.float32
    inits, nodes = [], []

    def init(name, arr):
        inits.append(nh.from_array(np.asarray(arr, dtype=npdt), name))
        return name

    def t(name):
        return "input" if name == INPUT else name

    for nd in graph.nodes:
        lay, ins, out = nd.layer, [t(i) for i in nd.inputs], nd.name
        if isinstance(lay, Conv2d):
            wb = [init(f"{out}.weight", lay.weight), init(f"{out}.bias", lay.bias)]
            nodes.append(helper.make_node("Conv", ins + wb, [out], name=out, kernel_shape=list(lay.kernel),
                                          strides=list(lay.stride), pads=list(lay.padding),
                                          dilations=list(lay.dilation), group=lay.groups))
        elif isinstance(lay, Linear) and len(graph.shapes[nd.inputs[0]]) == 1:
            wb = [init(f"{out}.weight", lay.weight), init(f"{out}.bias", lay.bias)]
            nodes.append(helper.make_node("Gemm", ins + wb, [out], name=out, transB=1))
        elif isinstance(lay, Linear):
            wt = init(f"{out}.weight_t", lay.weight.T)
            nodes += [helper.make_node("MatMul", ins + [wt], [f"{out}.mm"], name=f"{out}.mm"),
                      helper.make_node("Add", [f"{out}.mm", init(f"{out}.bias", lay.bias)], [out], name=out)]
        elif isinstance(lay, Clip):
            if lay.lo == 0.0 and lay.hi == np.inf:
                nodes.append(helper.make_node("Relu", ins, [out], name=out))
            else:
                lo = init(f"{out}.min", lay.lo) if np.isfinite(lay.lo) else ""
                hi = init(f"{out}.max", lay.hi) if np.isfinite(lay.hi) else ""
                nodes.append(helper.make_node("Clip", ins + [lo, hi], [out], name=out))
        elif isinstance(lay, MaxPool):
            nodes.append(helper.make_node("MaxPool", ins, [out], name=out, kernel_shape=list(lay.kernel),
                                          strides=list(lay.stride), pads=list(lay.padding)))
        elif isinstance(lay, AvgPool):
            nodes.append(helper.make_node("AveragePool", ins, [out], name=out, kernel_shape=list(lay.kernel),
                                          strides=list(lay.stride), pads=list(lay.padding),
                                          count_include_pad=int(lay.count_include_pad)))
        elif isinstance(lay, GlobalAvgPool):
            nodes.append(helper.make_node("GlobalAveragePool", ins, [out], name=out))
        elif isinstance(lay, Add):
            nodes.append(helper.make_node("Add", ins, [out], name=out))
        elif isinstance(lay, Concat):
            nodes.append(helper.make_node("Concat", ins, [out], name=out, axis=1))
        elif isinstance(lay, Flatten):
            nodes.append(helper.make_node("Flatten", ins, [out], name=out, axis=1))
        else:                                                # pragma: no cover - closed set
            raise QuantpeError(f"node {out}: no ONNX export for {lay.op}")
    x = helper.make_tensor_value_info("input", elem, ["N", *graph.input_shape])
    y = helper.make_tensor_value_info(graph.output, elem, ["N", *graph.output_shape])
    model = helper.make_model(helper.make_graph(nodes, "quantpe", [x], [y], inits),
                              opset_imports=[helper.make_opsetid("", OPSET)], producer_name=producer)
    model.ir_version = 8
    onnx.checker.check_model(model)
    return write_bytes(Path(path), model.SerializeToString())
