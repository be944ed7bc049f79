"""ONNX import: any model onnxruntime runs (one float tensor input, one output) -> `graph.Graph`.

Steps, on the graph as folded by `onnx_fold.fold` for the per-sample input shape (shape
inference and constant folding: every subgraph of initializers and static shapes is a constant):
1. Integer layers (the PEs' work, what every technique, trace and plan sees), each on batch-major
   tensors (batch axis first, static per-sample shape):
   Conv (2-D, any group / stride / dilation / pads, auto_pad VALID or SAME_UPPER/LOWER resolved to
   explicit pads; a zero constant Pad on the spatial axes feeding only it is folded into its
   padding) -> Conv2d; Gemm (transA=0; alpha, beta, transB applied; C of 1 or O values) and MatMul
   with a constant right operand -> Linear (on the last axis: (..., K) -> (..., O)); MatMul of
   two activations of the same per-sample rank >= 2 -> ActMatMul. Relu / Clip (constant bounds)
   -> Clip (on a tensor computed in float: stays in float, inside that region); MaxPool / AveragePool (2-D, dilation 1, ceil_mode 0, pads below the kernel) ->
   MaxPool / AvgPool; GlobalAveragePool and ReduceMean over axes (2, 3) -> GlobalAvgPool (keepdims=0:
   then Flatten); Add of two activations of one shape; Concat on axis 1;
   Flatten / Reshape / Squeeze to (N, prod) -> Flatten; Identity, Dropout -> pass-through.
   Pre-quantized (QDQ) models: a per-tensor QuantizeLinear -> DequantizeLinear pair on an
   activation -> QuantDequant (its scale and zero point kept; `layers` says when the integer
   model uses that scale); a DequantizeLinear of constant int8 weights (per tensor or per
   channel) folds to the float weights codes * scale, whose per-channel requantization gives back
   the same codes when each channel's largest code is +-127 (symmetric per-channel quantization,
   as onnxruntime.quantization writes it), and the int32 bias the same way. QONNX `Quant`
   (`qonnx`): of constant weights folded (the codes come back at the layer's w_bits), on an
   activation (per tensor, ROUND) -> QuantDequant with its bit width's code range.
2. Folded where exact in float (the node then disappears): BatchNormalization after a Conv (or
   a Linear with (N, O) output), and Add / Sub / Mul / Div by a constant that is one value per
   output channel (broadcast over the other axes), when the Conv / Linear feeds nothing else:
   y + c -> b + c; y - c -> b - c; c - y -> (-W, c - b); y * c -> (W c, b c); y / c -> (W / c, b / c).
3. Every other node runs in float (`layers.FloatOp`, `float_exec`): float nodes are grouped into
   regions - connected float nodes between the same integer layers (a node's stage is the
   number of integer layers on its longest path from the input; a region is one stage's
   connected float nodes, so regions never form a cycle) - and each region tensor that an
   integer layer, the output or a later region reads becomes one FloatOp (the region's nodes it
   depends on, constants embedded). Inside a region nothing is quantized; its inputs and output
   are quantized tensors (dequantize / quantize at the boundary, as ONNX QDQ inference does).
Refused with one QuantpeError line: no or several data inputs, a non-float input, several
outputs, an unknown per-sample shape, a float region whose output is not batch-major or that
onnxruntime cannot run, NaN/inf weights, inconsistent shapes.
"""
from __future__ import annotations

import heapq
import math
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from .errors import QuantpeError
from .float_exec import MAC_OPS, check_subgraph, encode_model, run_subgraph
from quantpe.golden.layers import INPUT, ActMatMul, Add, AvgPool, Clip, Concat, Conv2d, Flatten, FloatOp, GlobalAvgPool, Linear, MaxPool, QuantDequant, fold_batchnorm
from quantpe.golden.graph import Graph, Node
from .onnx_fold import BATCHES, fold
from .qonnx import QONNX_DOMAINS, quant_attrs, quant_range

__all__ = ["import_onnx", "INTEGER_OPS", "FOLDED_OPS"]

INTEGER_OPS = ("Conv", "Gemm", "MatMul", "Relu", "Clip", "MaxPool", "AveragePool", "GlobalAveragePool",
               "ReduceMean", "Add", "Concat", "Flatten", "Reshape", "Squeeze", "Identity", "Dropout",
               "QuantizeLinear", "DequantizeLinear")
FOLDED_OPS = ("BatchNormalization", "Add", "Sub", "Mul", "Div", "Pad", "Constant")
_FLOAT_TYPES = (1, 10, 11, 16)        # float, float16, double, bfloat16


class _Float(Exception):
    """This node runs in float (not an integer layer in this form)."""


def _onnx():
    try:
        import onnx  # optional heavy dependency
        from onnx import numpy_helper
    except ImportError:                                  # pragma: no cover
        raise QuantpeError("ONNX support needs the `onnx` package (pip install onnx)") from None
    return onnx, numpy_helper


def _attrs(node) -> dict:
    onnx, _ = _onnx()
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def _load_model(src):
    onnx, _ = _onnx()
    if isinstance(src, onnx.ModelProto):
        return src
    path = Path(src)
    try:
        return onnx.load(str(path))
    except FileNotFoundError:
        raise QuantpeError(f"ONNX model {path} does not exist") from None
    except Exception as e:                                   # protobuf decode errors vary by version
        first = str(e).splitlines()[0] if str(e) else ""
        raise QuantpeError(f"cannot read ONNX model {path}: {type(e).__name__}: {first}") from None


def _input_shape(model, inits, override) -> tuple[str, tuple]:
    ins = [i for i in model.graph.input if i.name not in inits]
    if len(ins) != 1:
        raise QuantpeError(f"the ONNX model must have exactly one data input, got {len(ins)}: "
                           f"{', '.join(i.name for i in ins)}")
    vi = ins[0]
    if vi.type.tensor_type.elem_type not in _FLOAT_TYPES:
        raise QuantpeError(f"ONNX input {vi.name!r} is not a float tensor (element type "
                           f"{vi.type.tensor_type.elem_type}); only float inputs are supported")
    dims = vi.type.tensor_type.shape.dim
    if override is not None:
        override = tuple(int(v) for v in override)
    if len(dims) < 2 and not (override is not None and len(dims) == 0):
        raise QuantpeError(f"ONNX input {vi.name!r} must be (N, ...) with a batch axis, has {len(dims)} dims")
    if not dims:
        return vi.name, override
    if override is not None and len(override) != len(dims) - 1:
        raise QuantpeError(f"input samples have per-sample shape {override}, the ONNX input {vi.name!r} "
                           f"has {len(dims) - 1} per-sample dims")
    shape = []
    for i, d in enumerate(dims[1:]):
        if d.HasField("dim_value") and d.dim_value >= 1:
            if override is not None and override[i] != d.dim_value:
                need = ", ".join(str(x.dim_value) if x.HasField("dim_value") else (x.dim_param or "?")
                                 for x in dims[1:])
                raise QuantpeError(f"input samples have per-sample shape {override}, the ONNX input "
                                   f"{vi.name!r} needs ({need})")
            shape.append(int(d.dim_value))
        elif override is not None:
            shape.append(override[i])
        else:
            raise QuantpeError(f"ONNX input {vi.name!r} has a symbolic or unknown per-sample dim "
                               f"({d.dim_param or '?'}); give the input shape (e.g. from the samples)")
    return vi.name, tuple(shape)


def _same_pads(size, k, s, d, mode) -> tuple[int, int]:
    """(before, after) padding of auto_pad SAME_UPPER / SAME_LOWER on one axis."""
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    small, big = total // 2, total - total // 2
    return (small, big) if mode == "SAME_UPPER" else (big, small)


def _geometry(a: dict, hw, kernel, pool: bool):
    """(strides, pads (top, left, bottom, right), dilations) of a 2-D Conv / pool node."""
    if len(kernel) != 2:
        raise _Float
    s = tuple(a.get("strides", [1, 1]))
    d = tuple(a.get("dilations", [1, 1]))
    mode = a.get("auto_pad", "NOTSET")
    if mode in ("NOTSET", ""):
        p = tuple(a.get("pads", [0, 0, 0, 0]))
    elif mode == "VALID":
        p = (0, 0, 0, 0)
    elif mode in ("SAME_UPPER", "SAME_LOWER"):
        (t, b), (l, r) = (_same_pads(hw[i], kernel[i], s[i], d[i], mode) for i in range(2))
        p = (t, l, b, r)
    else:
        raise _Float
    if len(s) != 2 or len(d) != 2 or len(p) != 4:
        raise _Float
    return s, p, d


class _Importer:
    """Maps the folded nodes one by one (integer layer, fold, or float) and builds the graph."""

    def __init__(self, model, folded, in_name: str, in_shape: tuple, out_name: str):
        self.model, self.f = model, folded
        self.consts = folded.consts
        self.in_name, self.in_shape, self.out_name = in_name, in_shape, out_name
        self.alias = {in_name: INPUT}          # activation tensor -> graph node name
        self.nodes: list[Node] = []            # integer layers, in order
        self.layers: dict = {}
        self.shapes = {INPUT: in_shape}        # graph node -> per-sample shape
        self.uses = Counter()                  # graph node -> integer consumers so far
        self.produced: dict = {}               # graph node -> the tensor it currently stands for
        self.names = {INPUT}
        self.float_nodes: list = []            # ONNX nodes that run in float
        self.float_tensor: dict = {}           # graph name -> float tensor (produced in float)
        self.float_read: set = set()           # float tensors an integer layer reads
        self.stage = {in_name: 0}
        self.pos: dict = {}                    # graph node / float tensor -> position (ordering)
        self.producer: dict = {}               # tensor -> ONNX node (every live node)
        self.pads: dict = {}                   # Pad output tensor -> (input, pads (t, l, b, r))
        self.onnx_uses = Counter()
        self.consumers: dict = defaultdict(list)  # tensor -> live ONNX nodes reading it
        self.skip: set = set()                 # ids of nodes already mapped with an earlier one
        self.cur_stage = 0

    # -- helpers
    def name_for(self, tensor: str) -> str:
        name = tensor if tensor not in self.names else f"{tensor}_"
        while name in self.names:
            name += "_"
        self.names.add(name)
        return name

    def const(self, t: str):
        if not t or t not in self.consts:
            raise _Float
        return np.asarray(self.consts[t])

    def fconst(self, t: str) -> np.ndarray:
        c = self.const(t)
        if c.dtype.kind not in "fiu":
            raise _Float
        return c.astype(np.float64)

    def act(self, t: str) -> str:
        """Graph node of activation tensor t (an integer layer reads it)."""
        if not t or t in self.consts or t not in self.alias:
            raise _Float
        name = self.alias[t]
        if name in self.float_tensor:
            if self.float_tensor[name] not in self.f.shapes:
                raise _Float
        return name

    def shape(self, name: str) -> tuple:
        if name in self.shapes:
            return self.shapes[name]
        t = self.float_tensor.get(name)
        if t is None or t not in self.f.shapes:
            raise _Float
        return self.f.shapes[t]

    def add(self, out: str, layer, inputs: list) -> None:
        try:
            shp = tuple(layer.out_shape([self.shape(i) for i in inputs]))
        except QuantpeError as e:
            raise QuantpeError(f"{e}") from None
        known = self.f.shapes.get(out)
        if known is not None and tuple(known) != shp:
            raise _Float                                   # not this layer's semantics
        name = self.name_for(out)
        self.nodes.append(Node(name, layer, tuple(inputs)))
        self.layers[name], self.shapes[name] = layer, shp
        self.alias[out], self.produced[name] = name, out
        for i in inputs:
            self.uses[i] += 1
            if i in self.float_tensor:
                self.float_read.add(self.float_tensor[i])
        self.pos[name] = len(self.pos)

    def replace_layer(self, name: str, layer) -> None:
        self.nodes = [Node(n.name, layer, n.inputs) if n.name == name else n for n in self.nodes]
        self.layers[name] = layer

    def sole_producer(self, tensor: str, cls):
        """(name, layer) of the `cls` layer producing tensor when nothing else reads it."""
        name = self.alias.get(tensor)
        lay = self.layers.get(name)
        if isinstance(lay, cls) and self.uses[name] == 0 and self.onnx_uses[tensor] == 1 \
                and self.produced.get(name) == tensor:
            return name, lay
        raise _Float

    # -- one node
    def node(self, nd) -> None:
        if id(nd) in self.skip:
            return
        ins = [i for i in nd.input]
        stages = [self.stage[i] for i in ins if i in self.stage]
        self.cur_stage = max(stages, default=0) + 1
        for o in nd.output:
            self.producer[o] = nd
        if nd.op_type == "Pad":
            self._note_pad(nd)
        try:
            before = len(self.nodes)
            self.convert(nd)
            self.stage[nd.output[0]] = max(stages, default=0) + (1 if len(self.nodes) > before else 0)
        except _Float:
            self.float_nodes.append(nd)
            for o in nd.output:
                if o:
                    name = self.name_for(o)
                    self.alias[o], self.float_tensor[name] = name, o
                    self.stage[o] = max(stages, default=0)
                    self.pos[name] = len(self.pos)

    def _note_pad(self, nd) -> None:
        a = _attrs(nd)
        if a.get("mode", "constant") != "constant" or nd.input[0] not in self.f.shapes:
            return
        try:
            pads = a["pads"] if "pads" in a else [int(v) for v in self.const(nd.input[1])]
            value = 0.0 if len(nd.input) < 3 or not nd.input[2] else float(self.const(nd.input[2]).reshape(-1)[0])
        except _Float:
            return
        if len(nd.input) > 3 and nd.input[3]:
            return
        pads = [int(v) for v in pads]
        r = len(pads) // 2
        if r != 4 or value != 0.0 or any(pads[i] or pads[i + r] for i in (0, 1)) or min(pads) < 0:
            return
        self.pads[nd.output[0]] = (nd.input[0], (pads[2], pads[3], pads[6], pads[7]))

    def convert(self, nd) -> None:
        """Long: one branch per supported ONNX operator, in one dispatch."""
        op, a, out = nd.op_type, _attrs(nd), nd.output[0]
        if nd.domain in QONNX_DOMAINS and op == "Quant":
            self._qonnx_quant(nd, a)
            return
        if nd.domain not in ("", "ai.onnx"):
            raise _Float
        if op in ("Identity", "Dropout"):
            if len([o for o in nd.output if o]) > 1:
                raise _Float
            name = self.act(nd.input[0])
            if name in self.float_tensor:
                raise _Float
            self.alias[out] = name
            return
        if op == "Conv":
            x_t, pad = nd.input[0], (0, 0, 0, 0)
            if x_t in self.pads and self.onnx_uses[x_t] == 1:
                x_t, pad = self.pads[x_t]
            x = self.act(x_t)
            c, h, w_ = self.shape(x) if len(self.shape(x)) == 3 else (None, None, None)
            if c is None:
                raise _Float
            w = self.fconst(nd.input[1])
            if w.ndim != 4:
                raise _Float
            bias = self.fconst(nd.input[2]).reshape(-1) if len(nd.input) > 2 and nd.input[2] else np.zeros(w.shape[0])
            s, p, d = _geometry(a, (h + pad[0] + pad[2], w_ + pad[1] + pad[3]), w.shape[2:], False)
            p = tuple(u + v for u, v in zip(p, pad))
            self.add(out, Conv2d(w, bias, stride=s, padding=p, dilation=d, groups=int(a.get("group", 1))), [x])
        elif op == "Gemm":
            if a.get("transA", 0):
                raise _Float
            x = self.act(nd.input[0])
            w = self.fconst(nd.input[1])
            if w.ndim != 2 or len(self.shape(x)) != 1:
                raise _Float
            w = float(a.get("alpha", 1.0)) * (w if a.get("transB", 0) else w.T)
            bias = np.zeros(w.shape[0])
            if len(nd.input) > 2 and nd.input[2]:
                cc = self.fconst(nd.input[2])
                if cc.size not in (1, w.shape[0]) or (cc.ndim == 2 and cc.shape[0] != 1) or cc.ndim > 2:
                    raise _Float
                bias = float(a.get("beta", 1.0)) * np.broadcast_to(cc.reshape(-1), (w.shape[0],))
            self.add(out, Linear(w, bias), [x])
        elif op == "MatMul":
            if nd.input[1] in self.consts:
                x = self.act(nd.input[0])
                w = self.fconst(nd.input[1])
                if w.ndim != 2 or len(self.shape(x)) < 1:
                    raise _Float
                self.add(out, Linear(w.T, np.zeros(w.shape[1])), [x])
            else:
                xa, xb = self.act(nd.input[0]), self.act(nd.input[1])
                if len(self.shape(xa)) < 2 or len(self.shape(xa)) != len(self.shape(xb)):
                    raise _Float
                self.add(out, ActMatMul(), [xa, xb])
        elif op in ("Relu", "Clip") and self.alias.get(nd.input[0]) in self.float_tensor:
            raise _Float                               # inside a float region: stays in float
        elif op == "Relu":
            self.add(out, Clip(0.0, math.inf), [self.act(nd.input[0])])
        elif op == "Clip":
            lo, hi = a.get("min", -math.inf), a.get("max", math.inf)
            if len(nd.input) > 1 and nd.input[1]:
                lo = float(self.fconst(nd.input[1]).reshape(-1)[0])
            if len(nd.input) > 2 and nd.input[2]:
                hi = float(self.fconst(nd.input[2]).reshape(-1)[0])
            if not lo < hi:
                raise _Float
            self.add(out, Clip(lo, hi), [self.act(nd.input[0])])
        elif op in ("MaxPool", "AveragePool"):
            x = self.act(nd.input[0])
            if len(self.shape(x)) != 3 or a.get("ceil_mode", 0) or a.get("storage_order", 0) \
                    or (len(nd.output) > 1 and nd.output[1]):
                raise _Float
            k = tuple(a["kernel_shape"])
            s, p, d = _geometry(a, self.shape(x)[1:], k, True)
            if d != (1, 1) or max(p[0], p[2]) >= k[0] or max(p[1], p[3]) >= k[1]:
                raise _Float
            lay = MaxPool(k, s, p) if op == "MaxPool" else \
                AvgPool(k, s, p, count_include_pad=bool(a.get("count_include_pad", 0)))
            self.add(out, lay, [x])
        elif op == "GlobalAveragePool":
            x = self.act(nd.input[0])
            if len(self.shape(x)) != 3:
                raise _Float
            self.add(out, GlobalAvgPool(), [x])
        elif op == "ReduceMean":
            x = self.act(nd.input[0])
            axes = a.get("axes")
            if axes is None and len(nd.input) > 1 and nd.input[1]:
                axes = [int(v) for v in self.const(nd.input[1]).reshape(-1)]
            if len(self.shape(x)) != 3 or axes is None or sorted(int(v) % 4 for v in axes) != [2, 3]:
                raise _Float
            if a.get("keepdims", 1):
                self.add(out, GlobalAvgPool(), [x])
            else:
                self.add(f"{out}.gap", GlobalAvgPool(), [x])
                self.add(out, Flatten(), [self.alias[f"{out}.gap"]])
        elif op == "QuantizeLinear":
            self._qdq(nd, a)
        elif op in ("Add", "Sub", "Mul", "Div"):
            self._arith(nd, op)
        elif op == "BatchNormalization":
            if a.get("training_mode", 0) or len([o for o in nd.output if o]) > 1:
                raise _Float
            g, be, mu, var = (self.fconst(nd.input[i]).reshape(-1) for i in range(1, 5))
            eps = float(a.get("epsilon", 1e-5))
            if np.any(var + eps <= 0):
                raise _Float
            name = self.alias.get(nd.input[0])
            lay = self.layers.get(name)
            if isinstance(lay, Conv2d):
                name, lay = self.sole_producer(nd.input[0], Conv2d)
                if g.size != lay.out_channels:
                    raise _Float
                self._fold(nd, name, fold_batchnorm(lay, g, be, mu, var, eps))
            else:
                name, lay = self.sole_producer(nd.input[0], Linear)
                if self.shapes[name] != (lay.out_channels,) or g.size != lay.out_channels:
                    raise _Float
                k = g / np.sqrt(var + eps)
                self._fold(nd, name, Linear(lay.weight * k[:, None], (lay.bias - mu) * k + be))
        elif op == "Concat":
            xs = [self.act(i) for i in nd.input]
            r = len(self.shape(xs[0])) + 1
            if int(a.get("axis", 1)) % r != 1 or any(len(self.shape(x)) + 1 != r for x in xs):
                raise _Float
            self.add(out, Concat(), xs)
        elif op in ("Flatten", "Reshape", "Squeeze"):
            x = self.act(nd.input[0])
            if op == "Flatten" and int(a.get("axis", 1)) != 1:
                raise _Float
            if self.f.shapes.get(out) != (int(np.prod(self.shape(x))),):
                raise _Float
            self.add(out, Flatten(), [x])
        else:
            raise _Float

    def _qdq(self, nd, a: dict) -> None:
        """QuantizeLinear -> DequantizeLinear (the only reader, same scale and zero point, per
        tensor) on an activation -> QuantDequant."""
        readers = self.consumers[nd.output[0]]
        if len(readers) != 1 or readers[0].op_type != "DequantizeLinear" or nd.output[0] == self.out_name:
            raise _Float
        dq = readers[0]
        if list(dq.input[1:]) != list(nd.input[1:]) and not (
                len(dq.input) > 2 and len(nd.input) > 2 and dq.input[1] == nd.input[1]
                and np.array_equal(self.const(dq.input[2]), self.const(nd.input[2]))):
            raise _Float
        x = self.act(nd.input[0])
        scale = self.fconst(nd.input[1])
        zp = self.const(nd.input[2]) if len(nd.input) > 2 and nd.input[2] else np.zeros((), np.uint8)
        if scale.size != 1 or zp.size != 1 or zp.dtype.kind not in "iu" or a.get("output_dtype", 0):
            raise _Float
        info = np.iinfo(zp.dtype)
        self.add(dq.output[0], QuantDequant(float(scale.reshape(-1)[0]), int(zp.reshape(-1)[0]),
                                            int(info.min), int(info.max)), [x])
        self.stage[dq.output[0]] = self.cur_stage
        self.skip.add(id(dq))

    def _qonnx_quant(self, nd, a: dict) -> None:
        """QONNX Quant on an activation, per tensor, integral zero point, ROUND -> QuantDequant."""
        signed, narrow, mode = quant_attrs(a)
        x = self.act(nd.input[0])
        scale, zp, bits = (self.fconst(nd.input[i]) for i in (1, 2, 3))
        if mode != "ROUND" or scale.size != 1 or zp.size != 1 or bits.size != 1 or zp.reshape(-1)[0] % 1:
            raise QuantpeError(f"QONNX Quant with per-channel scales on an activation or rounding {mode} "
                               "is not supported (per-tensor ROUND is)")
        lo, hi = quant_range(float(bits.reshape(-1)[0]), signed, narrow)
        self.add(nd.output[0], QuantDequant(float(scale.reshape(-1)[0]), int(zp.reshape(-1)[0]), lo, hi), [x])

    def _fold(self, nd, name: str, layer) -> None:
        self.replace_layer(name, layer)
        self.alias[nd.output[0]] = name
        self.produced[name] = nd.output[0]

    def _arith(self, nd, op: str) -> None:
        a_t, b_t = nd.input[0], nd.input[1]
        ca, cb = a_t in self.consts, b_t in self.consts
        if not ca and not cb:
            if op != "Add":
                raise _Float
            xa, xb = self.act(a_t), self.act(b_t)
            if self.shape(xa) != self.shape(xb):
                raise _Float
            self.add(nd.output[0], Add(), [xa, xb])
            return
        if ca and cb:
            raise _Float
        x_t, c = (b_t, self.fconst(a_t)) if ca else (a_t, self.fconst(b_t))
        if ca and op == "Div":
            raise _Float
        name, lay = self.sole_producer(x_t, (Conv2d, Linear))
        vec = self._channel_vector(c, self.shapes[name], isinstance(lay, Conv2d), lay.out_channels)
        w, b = lay.weight, lay.bias
        col = vec.reshape((-1,) + (1,) * (w.ndim - 1))
        if op == "Add":
            new = (w, b + vec)
        elif op == "Sub":
            new = (-w, vec - b) if ca else (w, b - vec)
        elif op == "Mul":
            new = (w * col, b * vec)
        else:
            if np.any(vec == 0):
                raise _Float
            new = (w / col, b / vec)
        self._fold(nd, name, lay.replace_params(weight=new[0], bias=new[1]))

    @staticmethod
    def _channel_vector(c: np.ndarray, shape: tuple, conv: bool, o: int) -> np.ndarray:
        """(O,) values of constant c when it is one value per output channel of a layer output
        of per-sample `shape` (channel axis 0 of a conv's (O, H, W), the last axis of a Linear)."""
        full = (1,) + tuple(shape)
        if c.ndim > len(full):
            raise _Float
        try:
            if np.broadcast_shapes(c.shape, full) != full:
                raise _Float
        except ValueError:
            raise _Float from None
        cb = np.broadcast_to(c, full)[0]
        vec = cb[(slice(None),) + (0,) * (cb.ndim - 1)] if conv else cb[(0,) * (cb.ndim - 1)]
        ax = 0 if conv else cb.ndim - 1
        if vec.shape != (o,) or not np.array_equal(cb, np.moveaxis(np.broadcast_to(
                vec.reshape((o,) + (1,) * (cb.ndim - 1)), np.moveaxis(cb, ax, 0).shape), 0, ax)):
            raise _Float
        return np.array(vec, np.float64)

    # -- float regions
    def regions(self) -> list:
        """FloatOp nodes [(position, Node)] for every float tensor an integer layer, the graph
        output or a later region reads (module docstring)."""
        onnx, nh = _onnx()
        group = {}                                  # float ONNX node index -> region id
        parent = list(range(len(self.float_nodes)))

        def find(i):
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i
        index = {id(nd): i for i, nd in enumerate(self.float_nodes)}
        fprod = {o: nd for nd in self.float_nodes for o in nd.output if o}
        for i, nd in enumerate(self.float_nodes):
            for t in nd.input:
                p = fprod.get(t)
                if p is not None and self.stage.get(t) == self.stage.get(nd.output[0]):
                    parent[find(i)] = find(index[id(p)])
        for i in range(len(self.float_nodes)):
            group[i] = find(i)
        roots = [t for t in self.float_read]
        out_name = self.alias.get(self.out_name)
        if out_name in self.float_tensor:
            roots.append(self.float_tensor[out_name])
        done, result, todo = set(), [], sorted(set(roots), key=lambda t: self.pos[self.alias[t]])
        while todo:
            t = todo.pop(0)
            if t in done:
                continue
            done.add(t)
            nodes, inputs, extra = self._region(t, fprod, group, index)
            todo.extend(x for x in extra if x not in done)
            result.append((self.pos[self.alias[t]], self._float_node(t, nodes, inputs, onnx, nh)))
        return result

    def _region(self, t, fprod, group, index):
        """ONNX nodes (in order) computing float tensor t inside its region, its external input
        tensors, and the float tensors of other regions it reads (they become FloatOps too)."""
        g0 = group[index[id(fprod[t])]]
        need, inputs, extra, todo = set(), [], [], [t]
        seen = set()
        while todo:
            u = todo.pop()
            if u in seen:
                continue
            seen.add(u)
            p = fprod.get(u)
            boundary = p is None or (u != t and group[index[id(p)]] != g0 and u in self.f.shapes
                                     and self.f.dtypes.get(u, 1) in _FLOAT_TYPES)
            if boundary:
                if u in self.consts:
                    continue
                if u not in self.alias:
                    raise QuantpeError(f"tensor {u!r} is used before it is produced (graph not in order?)")
                inputs.append(u)
                if p is not None:
                    extra.append(u)
                continue
            need.add(id(p))
            todo.extend(i for k, i in enumerate(p.input) if i and not _reads_batch_shape(p, k, self.f))
            for sub in _subgraph_inputs(p):
                todo.append(sub)
        nodes = [nd for nd in self.float_nodes if id(nd) in need]
        inputs = sorted(set(inputs), key=lambda u: self.pos.get(self.alias[u], -1))
        return nodes, inputs, extra

    def _float_node(self, t, nodes, inputs, onnx, nh):
        h = onnx.helper
        ren = {u: f"in{k}" for k, u in enumerate(inputs)}
        new_nodes, used, patched = [], set(), {}
        for nd in nodes:
            c = onnx.NodeProto()
            c.CopyFrom(nd)
            for k, i in enumerate(c.input):
                if _reads_batch_shape(nd, k, self.f):
                    c.input[k] = f"{i}:batch0"
                    patched[c.input[k]] = self.f.reshape_shapes[i]
                elif i in ren:
                    c.input[k] = ren[i]
                elif i in self.consts:
                    used.add(i)
            new_nodes.append(c)
        vis = []
        for u in inputs:
            shp = self.shapes.get(self.alias[u]) if u != self.in_name else self.in_shape
            shp = shp if shp is not None else self.f.shapes.get(u)
            vis.append(h.make_tensor_value_info(ren[u], self.f.dtypes.get(u, 1) or 1,
                                                ["N", *shp] if shp is not None else None))
        inits = [nh.from_array(np.asarray(self.consts[i]), i) for i in sorted(used)]
        inits += [nh.from_array(np.asarray(v), k) for k, v in sorted(patched.items())]
        out = h.make_tensor_value_info(t, self.f.dtypes.get(t, 1) or 1, None)
        m = h.make_model(h.make_graph(new_nodes, "float_region", vis, [out], inits),
                         opset_imports=list(self.model.opset_import))
        m.ir_version = self.model.ir_version
        text = encode_model(m)
        check_subgraph(text)
        per_sample = False
        if t not in self.f.shapes:
            self.f.shapes[t], per_sample = self._trial_shape(text, inputs, t, nodes)
        ops = tuple(sorted(Counter(nd.op_type for nd in nodes).elements()))
        macs = sum(self._macs(nd) for nd in nodes)
        lay = FloatOp(model=text, ops=ops, out=self.f.shapes[t], float_macs=macs, per_sample=per_sample)
        return Node(self.alias[t], lay, tuple(self.alias[u] for u in inputs))

    def _trial_shape(self, text: str, inputs: list, t: str, nodes) -> tuple[tuple, bool]:
        """(per-sample shape, per_sample) of float tensor t when shape inference does not know
        it: the subgraph run on zeros at batch 2 and 3 (batch-major: per_sample False), else at
        batch 1 (a region with batch-1 constants, as a model exported at batch 1 has: it will
        run one sample at a time, per_sample True)."""
        outs = {}
        for b in (*BATCHES, 1):
            xs = []
            for u in inputs:
                shp = self.shapes.get(self.alias[u]) if u != self.in_name else self.in_shape
                shp = shp if shp is not None else self.f.shapes.get(u)
                if shp is None:
                    break
                xs.append(np.zeros((b, *shp)))
            try:
                outs[b] = run_subgraph(text, xs).shape if len(xs) == len(inputs) else None
            except QuantpeError:
                outs[b] = None
        a, b, one = outs[BATCHES[0]], outs[BATCHES[1]], outs[1]
        if a is not None and b is not None and a[0] == BATCHES[0] and b[0] == BATCHES[1] and a[1:] == b[1:]:
            return tuple(a[1:]), False
        if one is not None and len(one) >= 1 and one[0] == 1:
            return tuple(one[1:]), True
        raise QuantpeError(f"tensor {t!r} (computed in float by {', '.join(sorted({n.op_type for n in nodes}))})"
                           " has no static per-sample shape with the batch first")

    def _macs(self, nd) -> int:
        """Multiply-accumulates per sample of a MAC operator computed in float (0 otherwise)."""
        if nd.op_type not in MAC_OPS:
            return 0
        out = self.f.shapes.get(nd.output[0])

        def shp(t):
            if t in self.consts:
                return tuple(np.shape(self.consts[t]))
            s = self.f.shapes.get(t)
            return None if s is None else (1,) + tuple(s)
        s0 = shp(nd.input[0]) if nd.input else None
        s1 = shp(nd.input[1]) if len(nd.input) > 1 else None
        if out is None or s0 is None:
            return 0
        n = int(np.prod(out))
        if nd.op_type in ("Conv", "ConvInteger", "QLinearConv", "ConvTranspose") and s1 is not None:
            w = shp(nd.input[3] if nd.op_type == "QLinearConv" else nd.input[1])
            return n * int(np.prod(w[1:])) if nd.op_type != "ConvTranspose" else \
                int(np.prod(s0[1:])) * int(np.prod(w[1:]))
        if nd.op_type == "Gemm":
            return n * int(s0[0] if _attrs(nd).get("transA", 0) else s0[-1])
        return n * int(s0[-1])


def _reads_batch_shape(nd, k: int, folded) -> bool:
    """Input k of nd is a Reshape's batch-dependent shape vector (read as the folded vector with
    0, "copy the batch dim", instead of the nodes computing it)."""
    return nd.op_type == "Reshape" and k == 1 and nd.input[1] in folded.reshape_shapes


def _subgraph_inputs(nd) -> list:
    """Outer-scope tensor names the subgraph attributes of a node (If, Loop, Scan) read."""
    onnx, _ = _onnx()
    names = []
    for a in nd.attribute:
        graphs = [a.g] if a.type == onnx.AttributeProto.GRAPH else \
            list(a.graphs) if a.type == onnx.AttributeProto.GRAPHS else []
        for g in graphs:
            local = {i.name for i in g.input} | {t.name for t in g.initializer}
            for n in g.node:
                local.update(n.output)
            for n in g.node:
                names.extend(i for i in n.input if i and i not in local)
    return names


def import_onnx(src, input_shape=None) -> Graph:
    """Any float ONNX model (path or ModelProto) onnxruntime runs as a layer graph (module
    docstring). input_shape: per-sample input shape (e.g. of the user's samples): fills symbolic
    dims and must agree with the static ones (QuantpeError otherwise)."""
    model = _load_model(src)
    g = model.graph
    inits = {t.name for t in g.initializer}
    in_name, shape = _input_shape(model, inits, input_shape)
    if len(g.output) != 1:
        raise QuantpeError(f"the ONNX model must have exactly one output, got {len(g.output)}")
    for t in g.initializer:
        if t.data_type in _FLOAT_TYPES:
            a = _onnx()[1].to_array(t) if t.data_location != 1 else None
            if a is not None and not np.all(np.isfinite(a)):
                raise QuantpeError(f"ONNX initializer {t.name!r} contains NaN or infinite values")
    folded = fold(model, in_name, shape)
    out = g.output[0].name
    live = _live_nodes(folded.nodes, out)
    imp = _Importer(model, folded, in_name, shape, out)
    imp.onnx_uses = Counter(i for nd in live for i in nd.input)
    imp.onnx_uses[out] += 1
    for nd in live:
        for i in nd.input:
            imp.consumers[i].append(nd)
    for nd in live:
        try:
            imp.node(nd)
        except QuantpeError as e:
            msg = str(e)
            if not msg.startswith("node "):
                msg = f"node {nd.name or nd.output[0]!r} ({nd.op_type}): {msg}"
            raise QuantpeError(msg) from None
    if out in folded.consts:
        raise QuantpeError("the ONNX model's output is a constant (it does not depend on the input)")
    if out not in imp.alias:
        raise QuantpeError(f"ONNX output {out!r} is not produced by any node")
    if imp.alias[out] == INPUT:
        raise QuantpeError("the ONNX model computes nothing (its output is its input)")
    placed = [(imp.pos[n.name], n) for n in imp.nodes] + imp.regions()
    nodes = _topological([n for _, n in sorted(placed, key=lambda pn: pn[0])])
    keep = _live(nodes, imp.alias[out])
    return Graph(shape, tuple(n for n in nodes if n.name in keep), imp.alias[out])


def _live_nodes(nodes, out: str) -> list:
    """The ONNX nodes the output depends on, in order."""
    prod = {o: nd for nd in nodes for o in nd.output if o}
    need, todo = set(), [out]
    while todo:
        t = todo.pop()
        nd = prod.get(t)
        if nd is None or id(nd) in need:
            continue
        need.add(id(nd))
        todo.extend(i for i in nd.input if i)
        todo.extend(_subgraph_inputs(nd))
    return [nd for nd in nodes if id(nd) in need]


def _topological(nodes: list) -> list:
    """Stable topological order (a node after every input it reads)."""
    names = {n.name for n in nodes}
    deps = {n.name: {i for i in n.inputs if i in names} for n in nodes}
    users = defaultdict(list)
    for n in nodes:
        for i in deps[n.name]:
            users[i].append(n.name)
    order = {n.name: k for k, n in enumerate(nodes)}
    by = {n.name: n for n in nodes}
    ready = sorted((n.name for n in nodes if not deps[n.name]), key=order.get)
    out = []
    heap = [(order[r], r) for r in ready]
    heapq.heapify(heap)
    while heap:
        _, r = heapq.heappop(heap)
        out.append(by[r])
        for u in users[r]:
            deps[u].discard(r)
            if not deps[u]:
                heapq.heappush(heap, (order[u], u))
    if len(out) != len(nodes):
        raise QuantpeError("the imported graph has a cycle")         # pragma: no cover
    return out


def _live(nodes, output: str) -> set:
    """Names of the nodes the output depends on (dead branches are dropped)."""
    by = {n.name: n for n in nodes}
    live, todo = set(), [output]
    while todo:
        n = todo.pop()
        if n in live or n not in by:
            continue
        live.add(n)
        todo.extend(by[n].inputs)
    return live
