"""Bit-exact integer inference of a layer graph: `build_qgraph(graph, calib_x, ...)` -> `QGraph`.

Integer model (`QGraph`, built by `build_qgraph`), the MLP's conventions (`qmodel`) on a graph:
- Tensors: signed codes, one per-tensor scale s and one width b each, codes in [-qmax, qmax]
  (qmax = 2^(b-1) - 1). The input is quantize(x, b_input, signed=True, scale=s_input).
- Widths (mixed precision): `a_bits` is one width (every tensor has it: the uniform model) or
  one per weight layer, the width of the codes that layer's multipliers see (2..16). The width
  of a tensor made by the input or a requantizing node is the largest a_bits of the weight
  layers it reaches through non-requantizing nodes (Clip, MaxPool, Flatten), or the largest of
  all a_bits when it also reaches another requantizing node or is the graph output; a
  non-requantizing node keeps its input's width. A weight layer whose input tensor has another
  width b_t than its own a_bits first requantizes its input: own scale s_l = max|x| / qmax(a_bits)
  calibrated on the float input tensor, (mult, shift) = fixed_point_multiplier(s_t / s_l), codes
  a' = clip((a * mult + 2^(shift-1)) >> shift, -qmax, qmax) (the hardware's input requantizer).
  With one width every tensor has it and no input requantizer exists. Every requantization
  multiplier m >= 2^(mult_bits-2) (only possible across widths: a narrow accumulator to a wide
  tensor) uses `_multiplier`: the same mult with a shift < 1, an exact left shift.
- Calibration: s = max|x| / qmax over the calibration batch (0 -> 1.0) of the float tensor,
  (qmax of the tensor's width), for the graph input and for the output of every *requantizing* node (Conv2d, Linear, Add,
  Concat, AvgPool, GlobalAvgPool). MaxPool, Flatten and a stand-alone Clip keep their input's
  scale. A Clip that is the only consumer of a requantizing node (and that node is not the
  graph output) is *fused*: the node's scale is calibrated on the Clip's output and its
  requantizer clamps to the Clip's codes; the Clip node then passes the codes through.
- Clamp of a Clip(lo, hi) at scale s: [max(-qmax, round_half_away(lo/s)), min(qmax,
  round_half_away(hi/s))] (inf -> qmax; ReLU -> [0, qmax]). Unfused requantizers clamp to
  [-qmax, qmax].
- Conv2d / Linear: weights per output channel symmetric, w_bits codes of the lowered (O, K)
  matrix (quantize(W, w_bits, axis=0)); bias b[o] = saturate(round_half_away(B[o] / (s_in *
  s_w[o])), acc_bits); acc = wrap(sum_r mul(a_r, w[o, r]) + b[o], acc_bits) over the reduction
  axis of `lowering` (zero padding = code 0); requantization per output channel with
  (mult, shift) = fixed_point_multiplier(s_in * s_w[o] / s_out, mult_bits):
  y = clip((acc * mult + 2^(shift-1)) >> shift, lo, hi). A Conv2d/Linear that produces the
  graph output is not requantized: its wrapped accumulators are the integer outputs (logits).
- Add(a, b): M_a = s_a / s_o, M_b = s_b / s_o; (m_big, shift) = fixed_point_multiplier(max),
  the other multiplier m = round_half_away(M * 2^shift) (same shift);
  y = clip((a*m_a + b*m_b + 2^(shift-1)) >> shift, lo, hi).
- Concat: input i is requantized alone with fixed_point_multiplier(s_i / s_o) and clamped.
- AvgPool / GlobalAvgPool: acc = sum of the window's codes (padding adds 0); divisor d = window
  size (count_include_pad) or its number of non-padded positions; per distinct d,
  (mult, shift) = fixed_point_multiplier(s_in / (d * s_o)); y = clip(requantized acc).
- MaxPool: max of the window's codes (padding never wins). Flatten: reshape.
- ActMatMul(a, b) (requantizing): acc = wrap(a_codes @ b_codes, acc_bits) (exact);
  (mult, shift) = `_multiplier`(s_a * s_b / s_o); y = clip(requantized acc, lo, hi).
- QuantDequant (requantizing, a pre-quantized model's QDQ pair): its scale is the model's own
  (`kept_scale`: its code range shifted by the zero point within the tensor's width; else calibrated), and
  so is the scale of the requantizing node (or input) that feeds only it, so that node requantizes
  straight to the model's grid; the node itself requantizes with `_multiplier`(s_in / s) (exactly
  the identity when s_in = s) and clamps to its real range [(qmin - zp) s, (qmax - zp) s] in
  codes (as a Clip, intersected with a fused Clip's codes and [-qmax, qmax]: an int8 -128 becomes
  -127; uint8 with zero point 0 clamps at 0, the ReLU onnxruntime folds into it).
- FloatOp (requantizing), as ONNX QDQ inference runs a float operator: inputs dequantized
  (codes * s_in), the subgraph in float, y quantized at s_o: clip(round_half_away(y / s_o), lo, hi).
`with_mul` / `with_weights` / `capture` behave as in `qmodel.QModel`; weight layers are named
by node name or by index into `QGraph.weight_layers` (Conv2d/Linear nodes in graph order).
Imports: numpy, `quantpe.golden`.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from quantpe.golden.dot import MulRule, dot
from quantpe.golden.errors import ConfigError, QuantpeError
from quantpe.golden.graph import Graph, top1_score
from quantpe.golden.intmath import round_half_away, saturate, wrap
from quantpe.golden.layers import (
    CHUNK,
    INPUT,
    ActMatMul,
    Add,
    AvgPool,
    Clip,
    Concat,
    Conv2d,
    FloatOp,
    GlobalAvgPool,
    Layer,
    Linear,
    MaxPool,
    QuantDequant,
)
from quantpe.golden.lowering import exact_conv_sums, grouped_matmul, int_matmul, lower_weights
from quantpe.golden.qmodel import (
    DEFAULT_ACC_BITS,
    DEFAULT_MULT_BITS,
    check_fits_int64,
    check_requant_widths,
    fixed_point_multiplier,
    replacement_codes,
    replacement_scale,
    signed_width_of,
)
from quantpe.golden.quantize import QTensor, compute_scale, qmax

from quantpe.golden.layers import MAXPOOL_PAD_CODE, MUL_CHUNK
from .quantize import MAX_BITS, MIN_BITS, quantize

__all__ = ["QWeight", "QGraph", "ActMatMulQNode", "FloatQNode", "build_qgraph", "tensor_widths", "fused_clip"]


def _requant(acc, mult, shift, lo: int, hi: int) -> np.ndarray:
    """clip((acc * mult + 2^(shift-1)) >> shift, lo, hi); mult/shift broadcast against acc. A shift
    < 1 (`_multiplier` of m >= 2^(mult_bits-2)) is the exact clip(acc * mult * 2^-shift, lo, hi)."""
    acc = np.asarray(acc, dtype=np.int64)
    shift = np.asarray(shift, np.int64)
    if np.any(shift < 1):
        up = np.maximum(1 - shift, 0)
        acc, shift = np.left_shift(acc, up), shift + up
    y = (acc * mult + np.left_shift(np.int64(1), shift - 1)) >> shift
    return np.clip(y, lo, hi)


def _multiplier(m: float, mult_bits: int) -> tuple[int, int]:
    """`fixed_point_multiplier(m)`, extended to m >= 2^(mult_bits-2) (a narrow accumulator
    requantized to a wider tensor, e.g. 4x4-bit products to 16-bit codes): with e = the binary
    exponent of m (frexp) and k = e - (mult_bits - 2), (mult, shift - k) where (mult, shift) =
    fixed_point_multiplier(m / 2^k); the shift may then be < 1 (an exact left shift)."""
    if m < 2.0 ** (mult_bits - 2):
        return fixed_point_multiplier(m, mult_bits)
    k = math.frexp(m)[1] - (mult_bits - 2)
    mult, shift = fixed_point_multiplier(math.ldexp(m, -k), mult_bits)
    return mult, shift - k


def _clamp_codes(clip: Clip | None, scale: float, bits: int) -> tuple[int, int]:
    q = qmax(bits, True)
    if clip is None:
        return -q, q

    def code(v):
        return int(np.clip(round_half_away(v / scale), -q, q)) if math.isfinite(v) else (q if v > 0 else -q)
    return code(clip.lo), code(clip.hi)


def _channel_axis(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(O,) per-channel values shaped to broadcast on axis 1 of x."""
    return np.asarray(v).reshape((-1,) + (1,) * (x.ndim - 2))


@dataclass(frozen=True, eq=False)
class QWeight:
    """One integer Conv2d / Linear node (module docstring for the arithmetic).

    weight: QTensor, codes (O, K) int64 in the lowered reduction order, scale (O, 1);
    bias (O,) accumulator codes; out_scale None: raw accumulators (graph output).
    """

    name: str
    inputs: tuple
    layer: Layer
    weight: QTensor
    bias: np.ndarray
    in_scale: float
    in_bits: int
    out_scale: float | None
    out_bits: int
    mult: np.ndarray | None
    shift: np.ndarray | None
    lo: int
    hi: int
    mul: MulRule | None = None
    weight_replaced: bool = False
    pre: tuple | None = None          # input requantizer (mult, shift, lo, hi); None: codes as is

    @property
    def is_conv(self) -> bool:
        return isinstance(self.layer, Conv2d)

    @property
    def is_raw(self) -> bool:
        return self.out_scale is None

    @property
    def acc_scale(self) -> np.ndarray:
        return self.in_scale * self.weight.scale[:, 0]

    @property
    def groups(self) -> int:
        return self.layer.groups if self.is_conv else 1

    def columns(self, a) -> np.ndarray:
        """Input codes lowered to (N, G, P, K) (Linear: (N, 1, P, K), P = the positions before the
        last axis, 1 for an (N, K) input), same dtype (int64 default)."""
        a = np.asarray(a)
        if a.dtype.kind not in "f":
            a = a.astype(np.int64)
        if self.is_conv:
            return self.layer._cols(a, 0)
        return a.reshape(len(a), 1, -1, a.shape[-1])

    def accumulators(self, a, acc_bits: int) -> np.ndarray:
        """Wrapped accumulators (N, O, OH, OW) or (N, O).

        Exact products: when B = max|a| * max|w| * K < 2^24 (2^53) the sums are formed in float32
        (float64), a conv's by `exact_conv_sums`, exact in any summation order because every
        product and partial sum is an integer of magnitude below B; the bias is added in int64 and the wrap is skipped when B + max|bias| is below
        2^(acc_bits-1) (the wrap is then the identity); otherwise int64."""
        a = np.asarray(a, dtype=np.int64)
        w = self.weight.codes
        sums = int(np.max(np.abs(a), initial=0)) * int(np.max(np.abs(w), initial=0)) * w.shape[1]
        peak = sums + int(np.max(np.abs(self.bias), initial=0))
        if self.mul is None and sums < 1 << 53:
            ftype = np.float32 if sums < 1 << 24 else np.float64
            if self.is_conv:
                lay = self.layer
                y = exact_conv_sums(a.astype(ftype), w.astype(ftype), *lay.kernel, lay.stride, lay.padding,
                                    lay.dilation, lay.groups)
            else:
                y = grouped_matmul(self.columns(a.astype(ftype)), w.astype(ftype))
            y = y.astype(np.int64) + self.bias[None, :, None]
            if peak >= 1 << (acc_bits - 1):
                y = wrap(y, acc_bits)
            return self._shaped(y, a)
        cols = self.columns(a)
        n, g, p, k = cols.shape
        if self.mul is None:
            y = grouped_matmul(cols, w, int_matmul)        # exact; wrapped once below
        else:
            og = w.shape[0] // g
            y = np.zeros((n, w.shape[0], p), np.int64)
            for gi in range(g):
                rows = cols[:, gi].reshape(n * p, k)
                wg = w[gi * og:(gi + 1) * og]
                step = max(1, MUL_CHUNK // wg.size)
                part = np.concatenate([dot(rows[s:s + step, None, :], wg[None], acc_bits, mul=self.mul)
                                       for s in range(0, n * p, step)], axis=0)
                y[:, gi * og:(gi + 1) * og] = part.reshape(n, p, og).transpose(0, 2, 1)
        return self._shaped(wrap(y + self.bias[None, :, None], acc_bits), a)

    def _shaped(self, y, a):
        """(N, O, P) -> (N, O, OH, OW) for a conv, (N, ..., O) for a Linear."""
        if self.is_conv:
            return y.reshape(y.shape[:2] + tuple(self._out_hw(a)))
        if a.ndim == 2:
            return y[:, :, 0]
        return np.ascontiguousarray(y.transpose(0, 2, 1)).reshape(a.shape[:-1] + (y.shape[1],))

    def per_channel(self, v, y) -> np.ndarray:
        """(O,) per-output-channel values shaped to broadcast against outputs y (axis 1 of a conv,
        the last axis of a Linear)."""
        return _channel_axis(y, v) if self.is_conv else np.asarray(v)

    def _out_hw(self, a):
        return self.layer.out_shape([a.shape[1:]])[1:]

    def input_codes(self, a) -> np.ndarray:
        """The in_bits codes the multipliers see: `a` after the input requantizer (if any)."""
        if self.pre is None:
            return a
        m, s, lo, hi = self.pre
        return _requant(a, m, s, lo, hi)

    def run(self, a, acc_bits: int, transform=None) -> np.ndarray:
        """Output codes (raw accumulators on the graph output); transform(codes) -> codes, if
        given, replaces the codes after the input requantizer."""
        a = self.input_codes(a)
        acc = self.accumulators(a if transform is None else transform(a), acc_bits)
        if self.is_raw:
            return acc
        return _requant(acc, self.per_channel(self.mult, acc), self.per_channel(self.shift, acc), self.lo, self.hi)


@dataclass(frozen=True, eq=False)
class _QOp:
    """A non-weight integer node: `kind` with its requantization constants."""

    name: str
    inputs: tuple
    layer: Layer | None
    kind: str                    # pass | clamp | maxpool | flatten | add | concat | avgpool | gap | requant
    lo: int = 0
    hi: int = 0
    mults: tuple = ()            # add: (m_a, m_b); concat: per input; avgpool: per position
    shifts: tuple = ()

    def run(self, xs, acc_bits: int):
        k = self.kind
        if k == "pass":
            return xs[0]
        if k == "clamp":
            return np.clip(xs[0], self.lo, self.hi)
        if k == "flatten":
            return xs[0].reshape(len(xs[0]), -1)
        if k == "requant":
            return _requant(xs[0], self.mults[0], self.shifts[0], self.lo, self.hi)
        if k == "maxpool":
            x = xs[0]
            return self.layer.cols(x, MAXPOOL_PAD_CODE).max(axis=-1).reshape(self.layer._shape(x))
        if k == "add":
            (ma, mb), shift = self.mults, self.shifts[0]
            acc = xs[0] * np.int64(ma) + xs[1] * np.int64(mb)
            return _requant(acc, 1, shift, self.lo, self.hi)
        if k == "concat":
            return np.concatenate([_requant(x, m, s, self.lo, self.hi)
                                   for x, m, s in zip(xs, self.mults, self.shifts)], axis=1)
        x = xs[0]
        if k == "gap":
            acc = x.sum(axis=(2, 3), keepdims=True)
            return _requant(acc, self.mults[0], self.shifts[0], self.lo, self.hi)
        acc = self.layer.cols(x, 0).sum(axis=-1)                    # avgpool (N, C, P)
        m = np.asarray(self.mults, np.int64)
        s = np.asarray(self.shifts, np.int64)
        return _requant(acc, m, s, self.lo, self.hi).reshape(self.layer._shape(x))


@dataclass(frozen=True, eq=False)
class ActMatMulQNode:
    """Integer ActMatMul: both operands are their tensors' signed codes (scales s_a, s_b);
    acc = wrap(sum_k a[.., m, k] * b[.., k, p], acc_bits) (exact); one requantizer,
    (mult, shift) = `_multiplier`(s_a * s_b / s_out), y = clip(requantized acc, lo, hi)."""

    name: str
    inputs: tuple
    layer: ActMatMul
    mult: int
    shift: int
    lo: int
    hi: int

    def run(self, xs, acc_bits: int):
        acc = wrap(int_matmul(xs[0], xs[1]), acc_bits)
        return _requant(acc, self.mult, self.shift, self.lo, self.hi)


@dataclass(frozen=True, eq=False)
class FloatQNode:
    """Integer FloatOp, as ONNX QDQ inference runs a float operator between quantized tensors:
    inputs dequantized (codes * s_in), the subgraph in float, the output quantized at s_out:
    clip(round_half_away(y / s_out), lo, hi) (NaN -> 0, +-inf -> hi / lo)."""

    name: str
    inputs: tuple
    layer: FloatOp
    in_scales: tuple
    out_scale: float
    lo: int
    hi: int

    def run(self, xs, acc_bits: int):
        y = self.layer.forward(*(np.asarray(x, np.float64) * s for x, s in zip(xs, self.in_scales)))
        v = y / self.out_scale
        if not np.isfinite(v).all():
            v = np.nan_to_num(v, nan=0.0, posinf=self.hi, neginf=self.lo)
        return round_half_away(np.clip(v, self.lo, self.hi)).astype(np.int64)


def _make_weight(name, inputs, layer, wq: QTensor, in_scale, bits, out_scale, clamp, acc_bits,
                 mult_bits, mul=None, replaced=False, out_bits=None, pre=None) -> QWeight:
    """bits: input code width (in_bits); out_bits: output tensor width (None: bits)."""
    out_bits = bits if out_bits is None else out_bits
    s_w = np.broadcast_to(np.asarray(wq.scale, dtype=np.float64), (wq.codes.shape[0], 1)).copy()
    if not (np.all(np.isfinite(s_w)) and np.all(s_w > 0)):
        raise QuantpeError(f"layer {name}: weight scales must be positive and finite")
    acc_scale = in_scale * s_w[:, 0]
    bias = saturate(round_half_away(np.clip(layer.bias / acc_scale, -2.0 ** 62, 2.0 ** 62)), acc_bits)
    mult = shift = None
    lo = hi = 0
    if out_scale is not None:
        pairs = [_multiplier(s / out_scale, mult_bits) for s in acc_scale]
        mult = np.array([p[0] for p in pairs], dtype=np.int64)
        shift = np.array([p[1] for p in pairs], dtype=np.int64)
        lo, hi = _clamp_codes(clamp, out_scale, out_bits)
    codes = np.array(wq.codes, dtype=np.int64)
    weight = QTensor(codes=codes, scale=s_w, bits=wq.bits, signed=True)
    for arr in (codes, s_w, bias) + ((mult, shift) if mult is not None else ()):
        arr.setflags(write=False)
    return QWeight(name=name, inputs=inputs, layer=layer, weight=weight, bias=bias,
                   in_scale=float(in_scale), in_bits=bits,
                   out_scale=None if out_scale is None else float(out_scale), out_bits=out_bits,
                   mult=mult, shift=shift, lo=lo, hi=hi, mul=mul, weight_replaced=replaced, pre=pre)


@dataclass(frozen=True, eq=False)
class QGraph:
    """Integer graph: `nodes` (QWeight / integer ops) in the float graph's order, the per-tensor
    `scales` {name: s} and `widths` {name: bits} (None: every tensor a_bits), the input width
    `a_bits` (the one activation width of a uniform model), accumulator and multiplier widths."""

    graph: Graph
    nodes: tuple
    scales: dict
    a_bits: int
    acc_bits: int = DEFAULT_ACC_BITS
    mult_bits: int = DEFAULT_MULT_BITS
    widths: dict | None = None

    @property
    def layer_a_bits(self) -> tuple:
        """Per weight layer, the width of the codes its multipliers see (graph order)."""
        return tuple(self._get(n).in_bits for n in self.weight_layers)

    # -- structure
    @property
    def weight_layers(self) -> tuple:
        return tuple(nd.name for nd in self.nodes if isinstance(nd, QWeight))

    @property
    def output(self) -> str:
        return self.graph.output

    def layer(self, which) -> QWeight:
        """Weight layer by name or index into weight_layers."""
        return self._get(self._names(which)[0])

    def _get(self, name: str):
        for nd in self.nodes:
            if nd.name == name:
                return nd
        raise QuantpeError(f"no node named {name!r}")

    def _names(self, layers) -> list:
        names = self.weight_layers
        if layers is None:
            return list(names)
        items = [layers] if isinstance(layers, (str, int, np.integer)) else list(layers)
        out = []
        for it in items:
            if isinstance(it, str):
                if it not in names:
                    raise QuantpeError(f"{it!r} is not a weight layer (have: {', '.join(names)})")
                out.append(it)
            elif isinstance(it, (int, np.integer)) and not isinstance(it, bool) \
                    and -len(names) <= it < len(names):
                out.append(names[int(it)])
            else:
                raise QuantpeError(f"weight layer must be a name or an index in 0..{len(names) - 1}, "
                                   f"got {it!r}")
        return out

    @property
    def w_bits(self) -> tuple:
        return tuple(self._get(n).weight.bits for n in self.weight_layers)

    # -- inference
    def quantize_input(self, x) -> np.ndarray:
        x = self.graph.check_input(x)
        return quantize(x, self.a_bits, signed=True, scale=self.scales[INPUT]).codes

    def run_codes(self, a0, capture: bool = False, transform: dict | None = None):
        """Integer output from input codes; capture=True returns (output, {name: codes}) with every
        tensor (including "input"). transform {weight layer name: fn(codes) -> codes} replaces the
        input codes a weight layer computes with (e.g. a Stripes precision window)."""
        a = np.asarray(a0)
        if a.size and not np.issubdtype(a.dtype, np.integer):
            raise QuantpeError(f"input codes must be integers, got dtype {a.dtype}")
        if a.ndim < 1 or tuple(a.shape[1:]) != self.graph.input_shape:
            dims = ", ".join(map(str, self.graph.input_shape))
            raise QuantpeError(f"input codes must have shape (n, {dims}), got {a.shape}")
        q = qmax(self.a_bits, True)
        if a.size and (a.min() < -q - 1 or a.max() > q):
            raise QuantpeError(f"input codes outside the signed {self.a_bits}-bit range")
        vals = {INPUT: a.astype(np.int64)}
        transform = transform or {}
        for nd in self.nodes:
            xs = [vals[i] for i in nd.inputs]
            if isinstance(nd, QWeight):
                vals[nd.name] = nd.run(xs[0], self.acc_bits, transform.get(nd.name))
            else:
                vals[nd.name] = nd.run(xs, self.acc_bits)
        out = vals[self.output]
        return (out, vals) if capture else out

    def resume(self, vals: dict, start: str, transform: dict | None = None, capture: bool = False):
        """Output when every node before weight layer `start` keeps its value in `vals` (a capture
        of the same batch) and the nodes from `start` on are recomputed (cached-prefix inference:
        same result as run_codes when only `start` and later layers change); capture=True also
        returns the new capture."""
        names = [nd.name for nd in self.nodes]
        if start not in names:
            raise QuantpeError(f"no node named {start!r}")
        vals = dict(vals)
        transform = transform or {}
        for nd in self.nodes[names.index(start):]:
            xs = [vals[i] for i in nd.inputs]
            if isinstance(nd, QWeight):
                vals[nd.name] = nd.run(xs[0], self.acc_bits, transform.get(nd.name))
            else:
                vals[nd.name] = nd.run(xs, self.acc_bits)
        return (vals[self.output], vals) if capture else vals[self.output]

    def logits(self, x) -> np.ndarray:
        """Integer output for float input x (raw accumulators when a weight layer is the output);
        computed in chunks of CHUNK samples (same result, less memory traffic)."""
        a = self.quantize_input(x)
        if len(a) <= CHUNK:
            return self.run_codes(a)
        return np.concatenate([self.run_codes(a[s:s + CHUNK]) for s in range(0, len(a), CHUNK)])

    def capture(self, x) -> dict:
        """Integer codes of every tensor for float input x: {"input": ..., node name: ...}."""
        return self.run_codes(self.quantize_input(x), capture=True)[1]

    def layer_inputs(self, x) -> dict:
        """{weight layer name: its input codes} for float input x."""
        vals = self.capture(x)
        return {n: self._get(n).input_codes(vals[self._get(n).inputs[0]]) for n in self.weight_layers}

    def dequantize_output(self, y) -> np.ndarray:
        out = self._get(self.output)
        if isinstance(out, QWeight) and out.is_raw:
            return y * out.per_channel(out.acc_scale, y)
        return y * self.scales[self.output]

    def predict(self, x) -> np.ndarray:
        y = self.logits(x)
        return np.argmax(y.reshape(len(y), -1), axis=1)

    def accuracy(self, x, y) -> float:
        """`graph.top1_score` of the integer outputs (labels (N,) or, per position, (N, T))."""
        return top1_score(self.logits(x), y)

    # -- variants
    def _replace_nodes(self, new: dict) -> QGraph:
        return dataclasses.replace(self, nodes=tuple(new.get(nd.name, nd) for nd in self.nodes))

    def with_mul(self, mul: MulRule | None, layers=None) -> QGraph:
        """Copy using product rule `mul` (None: exact) in `layers` (names/indices; None: all)."""
        if mul is not None and not callable(mul):
            raise QuantpeError(f"mul must be a callable (a, w) -> products or None, got {mul!r}")
        return self._replace_nodes({n: dataclasses.replace(self._get(n), mul=mul)
                                    for n in self._names(layers)})

    def with_bias_offsets(self, layer, offsets) -> QGraph:
        """Copy with the integer `offsets` (O,) added to weight layer `layer`'s bias codes, the sum
        saturated to acc_bits as every bias code is (`bias_comp`: an approximate multiplier's
        mean error folded into the bias)."""
        name = self._names(layer)[0]
        old = self._get(name)
        c = np.asarray(offsets)
        if c.shape != old.bias.shape or c.dtype.kind not in "iu":
            raise QuantpeError(f"layer {name}: bias offsets must be {old.bias.shape[0]} integers, "
                               f"got shape {c.shape} of {c.dtype}")
        bias = saturate(old.bias + c.astype(np.int64), self.acc_bits)
        bias.setflags(write=False)
        return self._replace_nodes({name: dataclasses.replace(old, bias=bias)})

    def with_weights(self, layer, codes, scale=None) -> QGraph:
        """Copy with weight layer `layer`'s integer weights replaced by `codes`, the lowered (O, K)
        matrix or (conv) the OIHW tensor, kept as is (never clipped). scale=None keeps the units
        s_w[o] (bias and requantizer unchanged); a new per-channel scale (O,) re-derives them."""
        name = self._names(layer)[0]
        old = self._get(name)
        try:
            c = np.asarray(codes)
        except (TypeError, ValueError) as e:
            raise QuantpeError(f"layer {name}: replacement weights are not an array: {e}") from None
        shape = old.weight.codes.shape
        if old.is_conv and c.shape == old.layer.weight.shape:
            c = lower_weights(c)
        if c.shape != shape:
            alt = f" or {old.layer.weight.shape}" if old.is_conv else ""
            raise QuantpeError(f"layer {name}: replacement weights must have shape {shape}{alt}, "
                               f"got {c.shape}")
        c = replacement_codes(name, c)
        check_fits_int64(name, c, old.in_bits)
        s = replacement_scale(name, scale, old.weight.scale, shape[0])
        qt = QTensor(codes=c, scale=s, bits=max(old.weight.bits, signed_width_of(c)), signed=True)
        clamp = fused_clip(self.graph, name)
        new = _make_weight(name, old.inputs, old.layer, qt, old.in_scale, old.in_bits, old.out_scale,
                           clamp, self.acc_bits, self.mult_bits, mul=old.mul, replaced=True,
                           out_bits=old.out_bits, pre=old.pre)
        return self._replace_nodes({name: new})


def fused_clip(graph: Graph, name: str) -> Clip | None:
    """The Clip fused into requantizing node `name`, if any (module docstring)."""
    if name == graph.output:
        return None
    cons = graph.consumers(name)
    if len(cons) == 1:
        nd = graph.node(cons[0])
        if isinstance(nd.layer, Clip):
            return nd.layer
    return None


def _per_layer(v, names, what: str) -> list:
    """One width or one per weight layer -> list of ints in MIN_BITS..MAX_BITS (ConfigError)."""
    vs = [v] * len(names) if isinstance(v, (int, np.integer)) else list(v)
    if len(vs) != len(names):
        raise ConfigError(f"{what} needs one value or {len(names)} values, got {len(vs)}")
    for x in vs:
        if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or not MIN_BITS <= x <= MAX_BITS:
            raise ConfigError(f"{what} must be integers in {MIN_BITS}..{MAX_BITS}, got {x!r}")
    return [int(x) for x in vs]


def tensor_widths(graph: Graph, layer_a: dict, default: int) -> dict:
    """{tensor name: bits} for per-weight-layer input widths `layer_a` (module docstring)."""
    weights = set(graph.weight_layers)

    def reach(name) -> list:
        out = [default] if name == graph.output else []
        for c in graph.consumers(name):
            lay = graph.node(c).layer
            if c in weights:
                out.append(layer_a[c])
            elif lay.requantizes:
                out.append(default)
            else:
                out.extend(reach(c))
        return out

    widths = {}
    for name in (INPUT,) + tuple(nd.name for nd in graph.nodes):
        nd = None if name == INPUT else graph.node(name)
        if nd is not None and not nd.layer.requantizes:
            widths[name] = widths[nd.inputs[0]]
        else:
            widths[name] = max(reach(name), default=default)
    return widths


def build_qgraph(graph: Graph, calib_x, w_bits: int | Sequence[int] = 8, a_bits: int = 8,
                 acc_bits: int = DEFAULT_ACC_BITS, mult_bits: int = DEFAULT_MULT_BITS,
                 mul: MulRule | None = None, float_capture: dict | None = None) -> QGraph:
    """Quantize a float graph with per-tensor activation scales calibrated on `calib_x`.

    w_bits, a_bits: one width or one per weight layer (graph order; a_bits = the width of the
    layer's input codes). mul: product rule of every weight layer (None: exact). float_capture:
    `graph.forward(calib_x, capture=True)[1]` when the caller has it already (searches building
    many variants). See the module docstring for every rule.
    Long: the calibration and lowering rules of the module docstring, node by node in one pass."""
    check_requant_widths(acc_bits, mult_bits)
    names = graph.weight_layers
    wb = _per_layer(w_bits, names, "w_bits")
    ab = _per_layer(a_bits, names, "a_bits")
    layer_a = dict(zip(names, ab))
    widths = tensor_widths(graph, layer_a, max(ab, default=8) if not isinstance(a_bits, (int, np.integer))
                           else int(a_bits))
    if mul is not None and not callable(mul):
        raise QuantpeError(f"mul must be a callable (a, w) -> products or None, got {mul!r}")
    floats = graph.forward(calib_x, capture=True)[1] if float_capture is None else float_capture
    if len(floats[INPUT]) == 0:
        raise QuantpeError("calibration batch is empty")
    wbits = dict(zip(names, (int(v) for v in wb)))

    fused = {}                     # clip node -> requantizing node it is fused into
    for nd in graph.nodes:
        if nd.layer.requantizes:
            c = fused_clip(graph, nd.name)
            if c is not None:
                fused[graph.consumers(nd.name)[0]] = nd.name
    fused_into = {v: k for k, v in fused.items()}

    def kept(name):
        """A pre-quantized model's scale for tensor `name` (module docstring), or None."""
        lay = None if name == INPUT else graph.node(name).layer
        if isinstance(lay, QuantDequant):
            return lay.kept_scale(widths[name])
        cons = graph.consumers(name)
        if name != graph.output and len(cons) == 1 and (lay is None or lay.requantizes) \
                and isinstance(graph.node(cons[0]).layer, QuantDequant):
            return graph.node(cons[0]).layer.kept_scale(widths[name])
        return None

    def calib(name):
        s = kept(name)
        if s is not None:
            return s
        t = floats[fused_into.get(name, name)]
        return float(compute_scale(t, widths[name], signed=True))

    scales = {INPUT: calib(INPUT)}
    qnodes = []
    for nd in graph.nodes:
        lay, ins = nd.layer, nd.inputs
        if nd.name in fused:
            scales[nd.name] = scales[fused[nd.name]]
            qnodes.append(_QOp(nd.name, ins, lay, "pass"))
            continue
        clip = fused_clip(graph, nd.name) if lay.requantizes else None
        if isinstance(lay, (Conv2d, Linear)):
            raw = nd.name == graph.output
            out_scale = None if raw else calib(nd.name)
            wq = quantize(lay.lowered, wbits[nd.name], signed=True, axis=0)
            bits, in_scale, pre = layer_a[nd.name], scales[ins[0]], None
            if scales[ins[0]] is None:
                raise QuantpeError(f"node {nd.name}: input {ins[0]} is a raw accumulator output")
            if widths[ins[0]] != bits:                    # input requantizer (module docstring)
                in_scale = float(compute_scale(floats[ins[0]], bits, signed=True))
                m, sh = _multiplier(scales[ins[0]] / in_scale, mult_bits)
                pre = (m, sh, -qmax(bits, True), qmax(bits, True))
            q = _make_weight(nd.name, ins, lay, wq, in_scale, bits, out_scale, clip,
                             int(acc_bits), mult_bits, mul=mul, out_bits=widths[nd.name], pre=pre)
            check_fits_int64(nd.name, q.weight.codes, bits)
            qnodes.append(q)
            scales[nd.name] = out_scale
            continue
        if not lay.requantizes:
            s = scales[ins[0]]
            scales[nd.name] = s
            if isinstance(lay, Clip):
                lo, hi = _clamp_codes(lay, s, widths[nd.name])
                qnodes.append(_QOp(nd.name, ins, lay, "clamp", lo, hi))
            else:
                qnodes.append(_QOp(nd.name, ins, lay, "maxpool" if isinstance(lay, MaxPool) else "flatten"))
            continue
        for i in ins:
            if scales[i] is None:
                raise QuantpeError(f"node {nd.name}: input {i} is a raw accumulator output")
        s_o = calib(nd.name)
        scales[nd.name] = s_o
        lo, hi = _clamp_codes(clip, s_o, widths[nd.name])
        if isinstance(lay, FloatOp):
            qnodes.append(FloatQNode(nd.name, ins, lay, tuple(scales[i] for i in ins), s_o, lo, hi))
        elif isinstance(lay, ActMatMul):
            m, sh = _multiplier(scales[ins[0]] * scales[ins[1]] / s_o, mult_bits)
            qnodes.append(ActMatMulQNode(nd.name, ins, lay, m, sh, lo, hi))
        elif isinstance(lay, QuantDequant):
            m, sh = _multiplier(scales[ins[0]] / s_o, mult_bits)
            rlo, rhi = _clamp_codes(Clip(*lay.real_range()), s_o, widths[nd.name])
            qnodes.append(_QOp(nd.name, ins, lay, "requant", max(lo, rlo), min(hi, rhi), (m,), (sh,)))
        elif isinstance(lay, Add):
            ms = [scales[i] / s_o for i in ins]
            big = int(np.argmax(ms))
            m_big, shift = _multiplier(ms[big], mult_bits)
            mults = [0, 0]
            mults[big] = m_big
            mults[1 - big] = int(round_half_away(math.ldexp(ms[1 - big], shift)))
            qnodes.append(_QOp(nd.name, ins, lay, "add", lo, hi, tuple(mults), (shift,)))
        elif isinstance(lay, Concat):
            pairs = [_multiplier(scales[i] / s_o, mult_bits) for i in ins]
            qnodes.append(_QOp(nd.name, ins, lay, "concat", lo, hi, tuple(p[0] for p in pairs),
                               tuple(p[1] for p in pairs)))
        elif isinstance(lay, GlobalAvgPool):
            _, h, w = graph.shapes[ins[0]]
            m, s = _multiplier(scales[ins[0]] / (h * w * s_o), mult_bits)
            qnodes.append(_QOp(nd.name, ins, lay, "gap", lo, hi, (m,), (s,)))
        elif isinstance(lay, AvgPool):
            _, h, w = graph.shapes[ins[0]]
            pairs = [_multiplier(scales[ins[0]] / (d * s_o), mult_bits)
                     for d in lay.divisors(h, w)]
            qnodes.append(_QOp(nd.name, ins, lay, "avgpool", lo, hi, tuple(p[0] for p in pairs),
                               tuple(p[1] for p in pairs)))
        else:                                        # pragma: no cover - LAYER_TYPES is closed
            raise QuantpeError(f"node {nd.name}: no integer rule for {lay.op}")
    return QGraph(graph=graph, nodes=tuple(qnodes), scales=scales, a_bits=widths[INPUT],
                  acc_bits=int(acc_bits), mult_bits=mult_bits, widths=widths)
