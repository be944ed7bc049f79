"""Running an ONNX subgraph in float: the engine of the float layers (`layers.FloatOp`).

A subgraph is one serialized ONNX model (base64 text, so it can live in a layer's JSON
attributes) with inputs "in0", "in1", ... and one output. It runs in onnxruntime (CPU, one
thread, the element types the subgraph declares, float32 for a float32 model; one session per
subgraph, cached) or, when onnxruntime is not installed, in onnx's reference evaluator. Inputs
are cast to the declared types; the output comes back as float64. A subgraph onnxruntime refuses
or that fails at run time is one QuantpeError line naming its operators.
"""
from __future__ import annotations

import base64
import functools

import numpy as np

from .errors import QuantpeError

__all__ = ["run_subgraph", "check_subgraph", "encode_model", "MAC_OPS"]

MAC_OPS = ("Conv", "ConvTranspose", "MatMul", "Gemm", "ConvInteger", "MatMulInteger", "QLinearConv",
           "QLinearMatMul", "Einsum")
_NP = {1: np.float32, 10: np.float16, 11: np.float64, 6: np.int32, 7: np.int64, 9: np.bool_, 2: np.uint8,
       3: np.int8}


def encode_model(proto) -> str:
    """A ModelProto as the base64 text `run_subgraph` takes."""
    return base64.b64encode(proto.SerializeToString()).decode("ascii")


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


@functools.lru_cache(maxsize=512)
def _session(model: str):
    """(run(feeds) -> outputs, input elem types, operator names) of a subgraph (cached)."""
    import onnx  # optional heavy dependency
    data = base64.b64decode(model)
    proto = onnx.load_from_string(data)
    types = tuple(i.type.tensor_type.elem_type for i in proto.graph.input)
    ops = ", ".join(sorted({n.op_type for n in proto.graph.node}))
    try:
        import onnxruntime as ort  # optional heavy dependency
    except ImportError:
        ort = None
    if ort is not None:
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        try:
            sess = ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as e:
            raise QuantpeError(f"onnxruntime cannot run the float subgraph ({ops}): {_first_line(e)}") from None
        return (lambda feeds: sess.run(None, feeds)), types, ops
    from onnx.reference import ReferenceEvaluator  # optional heavy dependency
    ref = ReferenceEvaluator(proto)
    return (lambda feeds: ref.run(None, feeds)), types, ops


def check_subgraph(model: str) -> None:
    """QuantpeError (one line) unless the subgraph loads in its engine."""
    _session(model)


def run_subgraph(model: str, xs) -> np.ndarray:
    """The subgraph's output (float64) for inputs xs (one per subgraph input, batch first)."""
    run, types, ops = _session(model)
    if len(xs) != len(types):
        raise QuantpeError(f"float subgraph ({ops}) takes {len(types)} inputs, got {len(xs)}")
    feeds = {f"in{k}": np.ascontiguousarray(x, dtype=_NP.get(t, np.float32))
             for k, (x, t) in enumerate(zip(xs, types))}
    try:
        y = run(feeds)[0]
    except Exception as e:
        raise QuantpeError(f"float subgraph ({ops}) failed: {_first_line(e)}") from None
    return np.asarray(y, dtype=np.float64)
