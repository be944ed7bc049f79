"""Export of the project's quantized model (`qgraph.QGraph`) as an ONNX QDQ model onnxruntime runs.

Every tensor of the integer model becomes QuantizeLinear -> DequantizeLinear at its scale
(per tensor, zero point 0, int8 for widths <= 8, int16 up to 16 bits; opset 21):
- the input: Q/DQ at s_input;
- Conv2d / Linear: weights as their integer codes (int8/int16, OIHW for a conv, (O, K) for a
  Linear with Gemm transB=1 or MatMul on (N, ..., K) inputs) with a per-channel DequantizeLinear
  (axis 0) at s_w[o]; the bias as its int32 accumulator codes with DequantizeLinear at
  s_in * s_w[o]; the float Conv / Gemm, then Q/DQ at s_out (a raw output layer: none);
- a fused Clip, MaxPool, Flatten: the float operator on the dequantized values (same scale, no
  new Q/DQ: exact); Add, Concat, AveragePool, GlobalAveragePool, ActMatMul (MatMul), QuantDequant,
  Clip (stand-alone) and FloatOp (its subgraph inlined): the float operator, then Q/DQ at the
  node's scale.
A runtime that executes this graph as written computes the golden model's codes up to the
requantizer's rounding: golden multiplies by a mult_bits fixed-point multiplier and rounds half
up, QuantizeLinear divides by the scale in float and rounds half to even (one code apart at most
where the two disagree). An input requantizer (mixed widths) and a custom product rule are not
exported (QuantpeError).
"""
from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
from quantpe.golden.atomic import write_bytes

from .errors import QuantpeError
from quantpe.golden.layers import INPUT, ActMatMul, Add, AvgPool, Clip, Concat, Flatten, FloatOp, GlobalAvgPool, MaxPool, QuantDequant
from quantpe.golden.qgraph import QGraph, QWeight
from .lowering import unlower_weights

__all__ = ["export_qdq", "QDQ_OPSET"]

QDQ_OPSET = 21


def export_qdq(q: QGraph, path) -> Path:
    """Write `q` as a QDQ ONNX model (module docstring), atomically; float32 input "input".
    Long: one ONNX node group per layer kind, in one pass."""
    import onnx  # optional heavy dependency
    from onnx import TensorProto, helper
    from onnx import numpy_helper as nh
    g = q.graph
    nodes, inits = [], []

    def init(name, arr):
        inits.append(nh.from_array(np.asarray(arr), name))
        return name

    def qdq(src: str, name: str, scale: float, bits: int) -> str:
        """Q/DQ of tensor src at scale (per tensor); returns the dequantized tensor's name."""
        dt = np.int8 if bits <= 8 else np.int16
        s, z = init(f"{name}.scale", np.float32(scale)), init(f"{name}.zp", dt(0))
        nodes.append(helper.make_node("QuantizeLinear", [src, s, z], [f"{name}.q"], name=f"{name}.q"))
        nodes.append(helper.make_node("DequantizeLinear", [f"{name}.q", s, z], [name], name=f"{name}.dq"))
        return name

    def t(name):
        return tensor[name]

    tensor = {INPUT: qdq("input", "input.x", q.scales[INPUT], q.widths[INPUT] if q.widths else q.a_bits)}
    for nd in q.nodes:
        lay, ins, out = nd.layer, [t(i) for i in nd.inputs], nd.name
        width = q.widths[out] if q.widths else q.a_bits
        if isinstance(nd, QWeight):
            if nd.pre is not None or nd.mul is not None:
                raise QuantpeError(f"layer {out}: an input requantizer or a custom product rule has no QDQ form")
            codes = nd.weight.codes
            dt = np.int8 if int(np.max(np.abs(codes), initial=0)) <= 127 else np.int16
            if int(np.max(np.abs(codes), initial=0)) > 32767:
                raise QuantpeError(f"layer {out}: weight codes wider than 16 bits")
            w = unlower_weights(codes, lay.cg, *lay.kernel) if nd.is_conv else codes
            wq = init(f"{out}.wq", w.astype(dt))
            ws = init(f"{out}.ws", nd.weight.scale[:, 0].astype(np.float32))
            wz = init(f"{out}.wz", np.zeros(len(codes), dt))
            nodes.append(helper.make_node("DequantizeLinear", [wq, ws, wz], [f"{out}.w"], axis=0))
            bq = init(f"{out}.bq", nd.bias.astype(np.int32))
            bs = init(f"{out}.bs", nd.acc_scale.astype(np.float32))
            bz = init(f"{out}.bz", np.zeros(len(codes), np.int32))
            nodes.append(helper.make_node("DequantizeLinear", [bq, bs, bz], [f"{out}.b"], axis=0))
            y = f"{out}.y"
            if nd.is_conv:
                nodes.append(helper.make_node("Conv", [ins[0], f"{out}.w", f"{out}.b"], [y], name=out,
                                              kernel_shape=list(lay.kernel), strides=list(lay.stride),
                                              pads=list(lay.padding), dilations=list(lay.dilation),
                                              group=lay.groups))
            elif len(g.shapes[nd.inputs[0]]) == 1:
                nodes.append(helper.make_node("Gemm", [ins[0], f"{out}.w", f"{out}.b"], [y], name=out, transB=1))
            else:
                nodes.append(helper.make_node("Transpose", [f"{out}.w"], [f"{out}.wt"], perm=[1, 0]))
                nodes.append(helper.make_node("MatMul", [ins[0], f"{out}.wt"], [f"{out}.mm"]))
                nodes.append(helper.make_node("Add", [f"{out}.mm", f"{out}.b"], [y], name=out))
            if nd.is_raw:
                tensor[out] = y
            else:
                y = _clamped(nodes, helper, init, y, out, nd.lo, nd.hi, nd.out_scale)
                tensor[out] = qdq(y, out, nd.out_scale, width)
            continue
        kind = getattr(nd, "kind", None)
        if kind == "pass":                       # a fused Clip: its producer's Q/DQ clamps already
            tensor[out] = ins[0]
            continue
        y = f"{out}.f"
        if isinstance(lay, MaxPool):
            nodes.append(helper.make_node("MaxPool", ins, [y], kernel_shape=list(lay.kernel),
                                          strides=list(lay.stride), pads=list(lay.padding)))
            tensor[out] = y
            continue
        if isinstance(lay, Flatten):
            nodes.append(helper.make_node("Flatten", ins, [y], axis=1))
            tensor[out] = y
            continue
        if isinstance(lay, Clip):
            y = _clamped(nodes, helper, init, ins[0], out, nd.lo, nd.hi, q.scales[out])
            tensor[out] = qdq(y, out, q.scales[out], width) if y != ins[0] else y
            continue
        if isinstance(lay, Add):
            nodes.append(helper.make_node("Add", ins, [y]))
        elif isinstance(lay, Concat):
            nodes.append(helper.make_node("Concat", ins, [y], axis=1))
        elif isinstance(lay, GlobalAvgPool):
            nodes.append(helper.make_node("GlobalAveragePool", ins, [y]))
        elif isinstance(lay, AvgPool):
            nodes.append(helper.make_node("AveragePool", ins, [y], kernel_shape=list(lay.kernel),
                                          strides=list(lay.stride), pads=list(lay.padding),
                                          count_include_pad=int(lay.count_include_pad)))
        elif isinstance(lay, ActMatMul):
            nodes.append(helper.make_node("MatMul", ins, [y]))
        elif isinstance(lay, QuantDequant):
            nodes.append(helper.make_node("Identity", ins, [y]))
        elif isinstance(lay, FloatOp):
            _inline(nodes, inits, lay, ins, y, out, onnx)
        else:                                                # pragma: no cover - closed set
            raise QuantpeError(f"node {out}: no QDQ export for {lay.op}")
        y = _clamped(nodes, helper, init, y, out, nd.lo, nd.hi, q.scales[out])
        tensor[out] = qdq(y, out, q.scales[out], width)
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *g.input_shape])
    yv = helper.make_tensor_value_info(tensor[g.output], TensorProto.FLOAT, ["N", *g.output_shape])
    model = helper.make_model(helper.make_graph(nodes, "quantpe_qdq", [x], [yv], inits),
                              opset_imports=[helper.make_opsetid("", QDQ_OPSET)], producer_name="quantpe")
    model.ir_version = 10
    onnx.checker.check_model(model)
    return write_bytes(Path(path), model.SerializeToString())


def _clamped(nodes, helper, init, y: str, out: str, lo: int, hi: int, scale: float) -> str:
    """A Clip to the codes [lo, hi] in real units (QuantizeLinear alone would also give -128)."""
    lo_r, hi_r = init(f"{out}.lo", np.float32(lo * scale)), init(f"{out}.hi", np.float32(hi * scale))
    nodes.append(helper.make_node("Clip", [y, lo_r, hi_r], [f"{out}.c"]))
    return f"{out}.c"


def _inline(nodes, inits, lay: FloatOp, ins: list, y: str, out: str, onnx) -> None:
    """The FloatOp's subgraph with its tensors prefixed, reading ins, writing y."""
    sub = onnx.load_from_string(base64.b64decode(lay.model))
    ren = {f"in{k}": i for k, i in enumerate(ins)}
    ren[sub.graph.output[0].name] = y

    def r(name):
        return ren.get(name, f"{out}/{name}") if name else name
    for t in sub.graph.initializer:
        c = onnx.TensorProto()
        c.CopyFrom(t)
        c.name = r(t.name)
        inits.append(c)
    for nd in sub.graph.node:
        c = onnx.NodeProto()
        c.CopyFrom(nd)
        c.name = f"{out}/{nd.name}"
        for k, i in enumerate(c.input):
            c.input[k] = r(i)
        for k, o in enumerate(c.output):
            c.output[k] = r(o)
        nodes.append(c)
