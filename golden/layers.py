"""Layer library and layer graphs: float inference (with gradients) and bit-exact integer inference.

Float model (`Graph`): a single-input, single-output DAG of `Node`s in topological order; the
graph input is named "input" and holds a batch (N,) + input_shape (float64). Layers:
Conv2d (stride, padding, dilation, groups; depthwise = groups = channels), Linear (on the last
axis: (N, ..., K) -> (N, ..., O)), Clip (ReLU = Clip(0, inf), ReLU6 = Clip(0, 6)), MaxPool,
AvgPool, GlobalAvgPool, Add (two inputs, same shape), Concat (channel axis 1), Flatten
(N, ...) -> (N, prod), ActMatMul (a @ b of two activations), QuantDequant (a pre-quantized
model's fake quantization), FloatOp (an ONNX subgraph run in float, `float_exec`: every
operator without an integer layer). BatchNorm is folded into the
preceding conv (`fold_batchnorm`). Convs are lowered as documented in `lowering.py`; a Linear's
reduction rows are the positions before its last axis.

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
  (`kept_scale`: zero point 0 and its code range within the tensor's width; else calibrated), and
  so is the scale of the requantizing node (or input) that feeds only it, so that node requantizes
  straight to the model's grid; the node itself requantizes with `_multiplier`(s_in / s) (exactly
  the identity when s_in = s) and clamps to its real range [(qmin - zp) s, (qmax - zp) s] in
  codes (as a Clip, intersected with a fused Clip's codes and [-qmax, qmax]: an int8 -128 becomes
  -127; uint8 with zero point 0 clamps at 0, the ReLU onnxruntime folds into it).
- FloatOp (requantizing), as ONNX QDQ inference runs a float operator: inputs dequantized
  (codes * s_in), the subgraph in float, y quantized at s_o: clip(round_half_away(y / s_o), lo, hi).
`with_mul` / `with_weights` / `capture` behave as in `qmodel.QModel`; weight layers are named
by node name or by index into `QGraph.weight_layers` (Conv2d/Linear nodes in graph order).
"""
from __future__ import annotations

import dataclasses
import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from collections.abc import Sequence

import numpy as np

from .dot import MulRule, dot
from .errors import ConfigError, QuantpeError
from .float_exec import run_subgraph
from .intmath import round_half_away, saturate, wrap
from .lowering import (col2im, conv_output_size, grouped_matmul, im2col, int_matmul,
                       lower_weights, pair4, unlower_weights)
from .qmodel import (DEFAULT_ACC_BITS, DEFAULT_MULT_BITS, check_fits_int64, check_requant_widths,
                     fixed_point_multiplier, replacement_codes, replacement_scale, signed_width_of)
from .quantize import MAX_BITS, MIN_BITS, QTensor, compute_scale, qmax, quantize

__all__ = ["Layer", "Conv2d", "Linear", "Clip", "ReLU", "ReLU6", "MaxPool", "AvgPool",
           "GlobalAvgPool", "Add", "Concat", "Flatten", "ActMatMul", "FloatOp", "QuantDequant", "fold_batchnorm", "Node", "Graph",
           "QWeight", "QGraph", "build_qgraph", "tensor_widths", "save_graph", "load_graph", "LAYER_TYPES",
           "INPUT"]

INPUT = "input"
INF = math.inf
_MUL_CHUNK = 1 << 21          # products per call of a custom MulRule (bounds memory)
_NEG = -(1 << 62)             # MaxPool padding code: never the maximum
CHUNK = 256                   # samples per inference chunk in predict / logits


def _frozen(a, what: str) -> np.ndarray:
    try:
        a = np.array(a, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise QuantpeError(f"{what} are not numeric: {e}") from None
    if not np.all(np.isfinite(a)):
        raise QuantpeError(f"{what} contain NaN or infinite values")
    a.setflags(write=False)
    return a


def _pair(v, what: str) -> tuple:
    p = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(p) != 2 or any(isinstance(x, bool) or int(x) != x or x < 1 for x in p):
        raise QuantpeError(f"{what} must be one or two positive integers, got {v!r}")
    return int(p[0]), int(p[1])


# =============================================================================== float layers

class Layer:
    """Base class. forward(*xs) -> y; forward_train -> (y, cache); backward(cache, gy) ->
    (input gradients, {param name: gradient}); out_shape(per-sample input shapes) -> shape."""

    op: ClassVar[str] = "layer"
    arity: ClassVar[int] = 1            # number of inputs (0: any number >= 1)
    params: ClassVar[tuple] = ()        # names of the float array parameters
    requantizes: ClassVar[bool] = False  # integer node sets a new calibrated scale

    def attrs(self) -> dict:
        """JSON-able non-array fields (serialisation)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in self.params}

    def forward_train(self, *xs):
        return self.forward(*xs), xs

    def replace_params(self, **arrays) -> Layer:
        return dataclasses.replace(self, **arrays)


def _check_image(shape, what: str) -> tuple:
    if len(shape) != 3:
        raise QuantpeError(f"{what} needs a (C, H, W) input per sample, got {tuple(shape)}")
    return shape


@dataclass(frozen=True, eq=False)
class Conv2d(Layer):
    """2-D convolution, weight (O, C_in/groups, KH, KW), bias (O,); padding (top, left, bottom,
    right); zero padding. Reduction order: `lowering`."""

    weight: np.ndarray
    bias: np.ndarray
    stride: tuple = (1, 1)
    padding: tuple = (0, 0, 0, 0)
    dilation: tuple = (1, 1)
    groups: int = 1
    op: ClassVar[str] = "Conv2d"
    params: ClassVar[tuple] = ("weight", "bias")
    requantizes: ClassVar[bool] = True

    def __post_init__(self):
        w = _frozen(self.weight, "conv weights")
        b = _frozen(self.bias, "conv bias")
        g = self.groups
        if isinstance(g, bool) or not isinstance(g, (int, np.integer)) or g < 1:
            raise QuantpeError(f"conv groups must be a positive integer, got {g!r}")
        if w.ndim != 4 or w.shape[0] % g or b.shape != (w.shape[0],) or 0 in w.shape:
            raise QuantpeError(f"conv needs weight (O, C_g, KH, KW) with O divisible by groups={g} "
                               f"and bias (O,), got {w.shape} and {b.shape}")
        object.__setattr__(self, "weight", w)
        object.__setattr__(self, "bias", b)
        object.__setattr__(self, "groups", int(g))
        object.__setattr__(self, "stride", _pair(self.stride, "conv stride"))
        object.__setattr__(self, "dilation", _pair(self.dilation, "conv dilation"))
        object.__setattr__(self, "padding", pair4(self.padding))

    @property
    def out_channels(self) -> int:
        return self.weight.shape[0]

    @property
    def cg(self) -> int:
        """Input channels per group (C_g)."""
        return self.weight.shape[1]

    @property
    def in_channels(self) -> int:
        return self.cg * self.groups

    @property
    def kernel(self) -> tuple:
        return self.weight.shape[2], self.weight.shape[3]

    @property
    def taps(self) -> int:
        return self.kernel[0] * self.kernel[1]

    @property
    def lowered(self) -> np.ndarray:
        """(O, KH*KW*C_g) in the reduction order of `lowering`."""
        return lower_weights(self.weight)

    def out_shape(self, shapes):
        c, h, w = _check_image(shapes[0], "Conv2d")
        if c != self.in_channels:
            raise QuantpeError(f"Conv2d expects {self.in_channels} input channels, got {c}")
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        pt, pl, pb, pr = self.padding
        return (self.out_channels, conv_output_size(h, kh, sh, pt, pb, dh),
                conv_output_size(w, kw, sw, pl, pr, dw))

    def _cols(self, x, pad_value=0):
        return im2col(x, *self.kernel, self.stride, self.padding, self.dilation, self.groups, pad_value)

    def forward(self, x):
        return self.forward_train(x)[0]

    def forward_train(self, x):
        cols = self._cols(x)
        n = x.shape[0]
        _, oh, ow = self.out_shape([x.shape[1:]])
        y = grouped_matmul(cols, self.lowered) + self.bias[None, :, None]
        return y.reshape(n, self.out_channels, oh, ow), (x.shape, cols)

    def backward(self, cache, gy):
        x_shape, cols = cache
        n, g, p, k = cols.shape
        o = self.out_channels
        gyg = gy.reshape(n, g, o // g, p)
        gt = np.ascontiguousarray(gyg.transpose(1, 2, 0, 3)).reshape(g, o // g, n * p)
        dw = np.matmul(gt, np.ascontiguousarray(cols.transpose(1, 0, 2, 3)).reshape(g, n * p, k))
        dw = dw.reshape(o, k)
        dcols = np.matmul(np.ascontiguousarray(gt.transpose(0, 2, 1)), self.lowered.reshape(g, o // g, k))
        dcols = dcols.reshape(g, n, p, k).transpose(1, 0, 2, 3)
        dx = col2im(dcols, x_shape, *self.kernel, self.stride, self.padding, self.dilation, self.groups)
        return [dx], {"weight": unlower_weights(dw, self.cg, *self.kernel), "bias": gy.sum(axis=(0, 2, 3))}


@dataclass(frozen=True, eq=False)
class Linear(Layer):
    """y = x @ W.T + b over the last axis, weight (O, K), bias (O,); input (N, ..., K) -> (N, ..., O)
    (a token-wise projection: every leading position is one row of the reduction)."""

    weight: np.ndarray
    bias: np.ndarray
    op: ClassVar[str] = "Linear"
    params: ClassVar[tuple] = ("weight", "bias")
    requantizes: ClassVar[bool] = True

    def __post_init__(self):
        w = _frozen(self.weight, "linear weights")
        b = _frozen(self.bias, "linear bias")
        if w.ndim != 2 or b.shape != (w.shape[0],) or 0 in w.shape:
            raise QuantpeError(f"Linear needs weight (O, K) and bias (O,), got {w.shape} and {b.shape}")
        object.__setattr__(self, "weight", w)
        object.__setattr__(self, "bias", b)

    @property
    def out_channels(self) -> int:
        return self.weight.shape[0]

    @property
    def lowered(self) -> np.ndarray:
        return self.weight

    def out_shape(self, shapes):
        s = tuple(shapes[0])
        if not s or s[-1] != self.weight.shape[1]:
            raise QuantpeError(f"Linear expects (..., {self.weight.shape[1]}) inputs per sample, got {s}")
        return s[:-1] + (self.out_channels,)

    def forward(self, x):
        return x @ self.weight.T + self.bias

    def backward(self, cache, gy):
        (x,) = cache
        k, o = self.weight.shape[1], self.out_channels
        x2, g2 = x.reshape(-1, k), gy.reshape(-1, o)
        return [gy @ self.weight], {"weight": g2.T @ x2, "bias": g2.sum(axis=0)}


@dataclass(frozen=True, eq=False)
class Clip(Layer):
    """y = min(max(x, lo), hi); ReLU = Clip(0, inf), ReLU6 = Clip(0, 6)."""

    lo: float = -INF
    hi: float = INF
    op: ClassVar[str] = "Clip"

    def __post_init__(self):
        lo, hi = float(self.lo), float(self.hi)
        if math.isnan(lo) or math.isnan(hi) or not lo < hi:
            raise QuantpeError(f"Clip needs lo < hi, got {self.lo}, {self.hi}")
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)

    def attrs(self):
        return {"lo": _json_float(self.lo), "hi": _json_float(self.hi)}

    def out_shape(self, shapes):
        return tuple(shapes[0])

    def forward(self, x):
        return np.clip(x, self.lo, self.hi)

    def backward(self, cache, gy):
        (x,) = cache
        return [gy * ((x > self.lo) & (x < self.hi))], {}


def ReLU() -> Clip:
    return Clip(0.0, INF)


def ReLU6() -> Clip:
    return Clip(0.0, 6.0)


def _json_float(v: float):
    return v if math.isfinite(v) else ("inf" if v > 0 else "-inf")


@dataclass(frozen=True, eq=False)
class _Pool(Layer):
    kernel: tuple = (2, 2)
    stride: tuple = None
    padding: tuple = (0, 0, 0, 0)

    def __post_init__(self):
        object.__setattr__(self, "kernel", _pair(self.kernel, f"{self.op} kernel"))
        object.__setattr__(self, "stride", _pair(self.kernel if self.stride is None else self.stride,
                                                 f"{self.op} stride"))
        object.__setattr__(self, "padding", pair4(self.padding))

    def out_shape(self, shapes):
        c, h, w = _check_image(shapes[0], self.op)
        (kh, kw), (sh, sw) = self.kernel, self.stride
        pt, pl, pb, pr = self.padding
        if max(pt, pb) >= kh or max(pl, pr) >= kw:
            raise QuantpeError(f"{self.op} padding {self.padding} must be smaller than the kernel "
                               f"{self.kernel}")
        return c, conv_output_size(h, kh, sh, pt, pb), conv_output_size(w, kw, sw, pl, pr)

    def cols(self, x, pad_value):
        """(N, C, P, KH*KW) window values."""
        c = im2col(x, *self.kernel, self.stride, self.padding, (1, 1), x.shape[1], pad_value)
        return c

    def _shape(self, x):
        return (x.shape[0],) + self.out_shape([x.shape[1:]])


@dataclass(frozen=True, eq=False)
class MaxPool(_Pool):
    """Max over each window (padding never wins)."""

    op: ClassVar[str] = "MaxPool"

    def forward(self, x):
        return self.cols(x, -INF).max(axis=-1).reshape(self._shape(x))

    def forward_train(self, x):
        cols = self.cols(x, -INF)
        idx = np.argmax(cols, axis=-1)
        y = np.take_along_axis(cols, idx[..., None], axis=-1)[..., 0]
        return y.reshape(self._shape(x)), (x.shape, idx, cols.shape)

    def backward(self, cache, gy):
        x_shape, idx, cshape = cache
        g = np.zeros(cshape)
        np.put_along_axis(g, idx[..., None], gy.reshape(idx.shape)[..., None], axis=-1)
        return [col2im(g, x_shape, *self.kernel, self.stride, self.padding, (1, 1), x_shape[1])], {}


@dataclass(frozen=True, eq=False)
class AvgPool(_Pool):
    """Mean over each window; count_include_pad=False divides by the non-padded positions."""

    count_include_pad: bool = False
    op: ClassVar[str] = "AvgPool"
    requantizes: ClassVar[bool] = True

    def divisors(self, h: int, w: int) -> np.ndarray:
        """(OH*OW,) window divisors."""
        ones = np.ones((1, 1, h, w))
        n = self.cols(ones, 0.0).sum(axis=-1)[0, 0]
        return np.full_like(n, self.kernel[0] * self.kernel[1]) if self.count_include_pad else n

    def forward(self, x):
        d = self.divisors(*x.shape[2:])
        return (self.cols(x, 0.0).sum(axis=-1) / d).reshape(self._shape(x))

    def backward(self, cache, gy):
        (x,) = cache
        d = self.divisors(*x.shape[2:])
        t = self.kernel[0] * self.kernel[1]
        g = np.repeat((gy.reshape(gy.shape[0], gy.shape[1], -1) / d)[..., None], t, axis=-1)
        return [col2im(g, x.shape, *self.kernel, self.stride, self.padding, (1, 1), x.shape[1])], {}


@dataclass(frozen=True, eq=False)
class GlobalAvgPool(Layer):
    """(N, C, H, W) -> (N, C, 1, 1) means."""

    op: ClassVar[str] = "GlobalAvgPool"
    requantizes: ClassVar[bool] = True

    def out_shape(self, shapes):
        c, _, _ = _check_image(shapes[0], self.op)
        return c, 1, 1

    def forward(self, x):
        return x.mean(axis=(2, 3), keepdims=True)

    def backward(self, cache, gy):
        (x,) = cache
        return [np.broadcast_to(gy / (x.shape[2] * x.shape[3]), x.shape).copy()], {}


@dataclass(frozen=True, eq=False)
class Add(Layer):
    """Elementwise sum of two tensors of the same shape (residual connection)."""

    op: ClassVar[str] = "Add"
    arity: ClassVar[int] = 2
    requantizes: ClassVar[bool] = True

    def out_shape(self, shapes):
        if tuple(shapes[0]) != tuple(shapes[1]):
            raise QuantpeError(f"Add needs two inputs of the same shape, got {tuple(shapes[0])} "
                               f"and {tuple(shapes[1])}")
        return tuple(shapes[0])

    def forward(self, a, b):
        return a + b

    def backward(self, cache, gy):
        return [gy, gy], {}


@dataclass(frozen=True, eq=False)
class Concat(Layer):
    """Concatenation along the channel axis (axis 1 of the batch)."""

    op: ClassVar[str] = "Concat"
    arity: ClassVar[int] = 0
    requantizes: ClassVar[bool] = True

    def out_shape(self, shapes):
        rest = {tuple(s[1:]) for s in shapes}
        if len(rest) != 1 or any(len(s) < 1 for s in shapes):
            raise QuantpeError(f"Concat inputs must agree except in the channel axis, got "
                               f"{[tuple(s) for s in shapes]}")
        return (sum(s[0] for s in shapes),) + rest.pop()

    def forward(self, *xs):
        return np.concatenate(xs, axis=1)

    def backward(self, cache, gy):
        edges = np.cumsum([x.shape[1] for x in cache])[:-1]
        return list(np.split(gy, edges, axis=1)), {}


@dataclass(frozen=True, eq=False)
class Flatten(Layer):
    """(N, ...) -> (N, prod(...)), row-major."""

    op: ClassVar[str] = "Flatten"

    def out_shape(self, shapes):
        return (int(np.prod(shapes[0])),)

    def forward(self, x):
        return x.reshape(x.shape[0], -1)

    def backward(self, cache, gy):
        (x,) = cache
        return [gy.reshape(x.shape)], {}


@dataclass(frozen=True, eq=False)
class ActMatMul(Layer):
    """a @ b of two activation tensors per sample: (..., M, K) @ (..., K, P), leading dims
    broadcast (attention scores Q @ K^T, weights @ V). Integer rule: `ActMatMulQNode`."""

    op: ClassVar[str] = "ActMatMul"
    arity: ClassVar[int] = 2
    requantizes: ClassVar[bool] = True

    def out_shape(self, shapes):
        a, b = (tuple(s) for s in shapes)
        if len(a) < 2 or len(b) < 2 or a[-1] != b[-2]:
            raise QuantpeError(f"ActMatMul needs (..., M, K) @ (..., K, P), got {a} and {b}")
        try:
            lead = np.broadcast_shapes(a[:-2], b[:-2])
        except ValueError:
            raise QuantpeError(f"ActMatMul leading dims {a[:-2]} and {b[:-2]} do not broadcast") from None
        return tuple(lead) + (a[-2], b[-1])

    def macs(self, shapes) -> int:
        """Multiply-accumulates per sample for per-sample input shapes."""
        return int(np.prod(self.out_shape(shapes))) * int(shapes[0][-1])

    def forward(self, a, b):
        return np.matmul(a, b)

    def backward(self, cache, gy):
        a, b = cache
        return [gy @ np.swapaxes(b, -1, -2), np.swapaxes(a, -1, -2) @ gy], {}


@dataclass(frozen=True, eq=False)
class FloatOp(Layer):
    """An ONNX subgraph that runs in float (`float_exec`): `model` its base64 text (inputs in0,
    in1, ..., one output), `ops` its operators, `out` the per-sample output shape, `float_macs`
    the multiply-accumulates per sample of its MAC operators (work not on the PEs). Any number
    of inputs. Integer rule: `FloatQNode`."""

    model: str = ""
    ops: tuple = ()
    out: tuple = ()
    float_macs: int = 0
    op: ClassVar[str] = "FloatOp"
    arity: ClassVar[int] = 0
    requantizes: ClassVar[bool] = True

    def __post_init__(self):
        if not isinstance(self.model, str) or not self.model:
            raise QuantpeError("FloatOp needs a serialized ONNX subgraph")
        object.__setattr__(self, "ops", tuple(str(o) for o in self.ops))
        object.__setattr__(self, "out", tuple(int(v) for v in self.out))
        object.__setattr__(self, "float_macs", int(self.float_macs))

    def out_shape(self, shapes):
        return self.out

    def forward(self, *xs):
        y = run_subgraph(self.model, xs)
        if y.shape[1:] != self.out:
            raise QuantpeError(f"float subgraph ({', '.join(self.ops)}) gave per-sample shape "
                               f"{y.shape[1:]}, expected {self.out}")
        return y

    def forward_train(self, *xs):
        raise QuantpeError(f"float subgraph ({', '.join(self.ops)}) has no gradient (not trainable)")


@dataclass(frozen=True, eq=False)
class QuantDequant(Layer):
    """A pre-quantized model's fake quantization of an activation (ONNX QuantizeLinear ->
    DequantizeLinear per tensor, QONNX Quant): y = (clip(rint(x / scale) + zero_point, qmin, qmax)
    - zero_point) * scale (rint: half to even, as onnxruntime rounds). Integer rule: a
    requantizer to the model's own scale (`kept_scale`), see the module docstring."""

    scale: float = 1.0
    zero_point: int = 0
    qmin: int = -128
    qmax: int = 127
    op: ClassVar[str] = "QuantDequant"
    requantizes: ClassVar[bool] = True

    def __post_init__(self):
        s = float(self.scale)
        if not (math.isfinite(s) and s > 0) or not int(self.qmin) <= int(self.zero_point) <= int(self.qmax):
            raise QuantpeError(f"QuantDequant needs a positive scale and qmin <= zero point <= qmax, got "
                               f"{self.scale}, {self.zero_point}, [{self.qmin}, {self.qmax}]")
        for k, v in (("scale", s), ("zero_point", int(self.zero_point)), ("qmin", int(self.qmin)),
                     ("qmax", int(self.qmax))):
            object.__setattr__(self, k, v)

    def kept_scale(self, bits: int) -> float | None:
        """The model's scale when its codes are the tensor's signed `bits`-bit codes (zero point 0,
        [qmin, qmax] within [-2^(bits-1), 2^(bits-1) - 1]), else None (calibrated instead)."""
        q = qmax(bits, True)
        return self.scale if self.zero_point == 0 and self.qmin >= -q - 1 and self.qmax <= q else None

    def real_range(self) -> tuple[float, float]:
        """[(qmin - zero_point) * scale, (qmax - zero_point) * scale]: the values it represents."""
        return (self.qmin - self.zero_point) * self.scale, (self.qmax - self.zero_point) * self.scale

    def out_shape(self, shapes):
        return tuple(shapes[0])

    def forward(self, x):
        return (np.clip(np.rint(x / self.scale) + self.zero_point, self.qmin, self.qmax) - self.zero_point) \
            * self.scale

    def backward(self, cache, gy):                 # straight-through estimator inside the range
        (x,) = cache
        lo, hi = (self.qmin - self.zero_point) * self.scale, (self.qmax - self.zero_point) * self.scale
        return [gy * ((x >= lo) & (x <= hi))], {}


LAYER_TYPES = {c.op: c for c in (Conv2d, Linear, Clip, MaxPool, AvgPool, GlobalAvgPool, Add,
                                 Concat, Flatten, ActMatMul, FloatOp, QuantDequant)}


def fold_batchnorm(conv: Conv2d, gamma, beta, mean, var, eps: float = 1e-5) -> Conv2d:
    """conv followed by BatchNorm (inference) as one conv: W' = W * k, b' = (b - mean) * k + beta,
    k = gamma / sqrt(var + eps) per output channel."""
    arrs = [_frozen(a, "batchnorm parameters").reshape(-1) for a in (gamma, beta, mean, var)]
    if any(a.shape != (conv.out_channels,) for a in arrs):
        raise QuantpeError(f"batchnorm needs {conv.out_channels} values per parameter")
    gamma, beta, mean, var = arrs
    if np.any(var + eps <= 0):
        raise QuantpeError("batchnorm variance + eps must be positive")
    k = gamma / np.sqrt(var + eps)
    return dataclasses.replace(conv, weight=conv.weight * k[:, None, None, None],
                               bias=(conv.bias - mean) * k + beta)


# =============================================================================== graph

@dataclass(frozen=True, eq=False)
class Node:
    name: str
    layer: Layer
    inputs: tuple


@dataclass(frozen=True, eq=False)
class Graph:
    """A layer DAG: nodes in topological order, input "input" of per-sample `input_shape`,
    output node `output` (default: the last node). Shapes are checked at construction."""

    input_shape: tuple
    nodes: tuple
    output: str | None = None
    shapes: dict = field(init=False, repr=False)

    def __post_init__(self):
        shape = tuple(int(v) for v in self.input_shape)
        if not shape or min(shape) < 1:
            raise QuantpeError(f"input shape must be positive sizes, got {self.input_shape!r}")
        object.__setattr__(self, "input_shape", shape)
        nodes = tuple(Node(n.name, n.layer, tuple(n.inputs)) for n in self.nodes)
        if not nodes:
            raise QuantpeError("a graph needs at least one node")
        shapes = {INPUT: shape}
        for nd in nodes:
            if not isinstance(nd.name, str) or not nd.name or nd.name in shapes:
                raise QuantpeError(f"node name {nd.name!r} is empty or used twice")
            if not isinstance(nd.layer, Layer):
                raise QuantpeError(f"node {nd.name}: {nd.layer!r} is not a layer")
            if nd.layer.arity and len(nd.inputs) != nd.layer.arity or not nd.inputs:
                raise QuantpeError(f"node {nd.name}: {nd.layer.op} takes {nd.layer.arity or '>= 1'} "
                                   f"inputs, got {len(nd.inputs)}")
            for i in nd.inputs:
                if i not in shapes:
                    raise QuantpeError(f"node {nd.name}: input {i!r} is not an earlier node")
            try:
                shapes[nd.name] = tuple(nd.layer.out_shape([shapes[i] for i in nd.inputs]))
            except QuantpeError as e:
                raise QuantpeError(f"node {nd.name}: {e}") from None
        out = nodes[-1].name if self.output is None else self.output
        if out not in shapes or out == INPUT:
            raise QuantpeError(f"graph output {out!r} is not a node")
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "output", out)
        object.__setattr__(self, "shapes", shapes)

    # -- structure
    def node(self, name: str) -> Node:
        for nd in self.nodes:
            if nd.name == name:
                return nd
        raise QuantpeError(f"no node named {name!r}")

    def consumers(self, name: str) -> list:
        return [nd.name for nd in self.nodes if name in nd.inputs]

    @property
    def weight_layers(self) -> tuple:
        """Names of the Conv2d / Linear nodes, in graph order."""
        return tuple(nd.name for nd in self.nodes if isinstance(nd.layer, (Conv2d, Linear)))

    @property
    def output_shape(self) -> tuple:
        return self.shapes[self.output]

    def params(self) -> dict:
        """{(node name, param name): array} of every float parameter."""
        return {(nd.name, p): getattr(nd.layer, p) for nd in self.nodes for p in nd.layer.params}

    def with_params(self, params: dict) -> Graph:
        """Copy with parameters replaced ({(node, param): array}, missing keys unchanged)."""
        nodes = []
        for nd in self.nodes:
            new = {p: params[(nd.name, p)] for p in nd.layer.params if (nd.name, p) in params}
            nodes.append(Node(nd.name, nd.layer.replace_params(**new) if new else nd.layer, nd.inputs))
        return Graph(self.input_shape, tuple(nodes), self.output)

    # -- float inference
    def check_input(self, x, what: str = "input") -> np.ndarray:
        """`x` as float64 (N,) + input_shape; QuantpeError on a wrong shape or NaN/inf."""
        try:
            x = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise QuantpeError(f"{what} is not a numeric array: {e}") from None
        if x.ndim < 1 or tuple(x.shape[1:]) != self.input_shape:
            raise QuantpeError(f"{what} must have shape (n, {', '.join(map(str, self.input_shape))}), "
                               f"got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise QuantpeError(f"{what} contains NaN or infinite values")
        return x

    def forward(self, x, capture: bool = False):
        """Float output (N,) + output_shape; capture=True returns (output, {name: tensor})."""
        vals = {INPUT: self.check_input(x)}
        for nd in self.nodes:
            vals[nd.name] = nd.layer.forward(*(vals[i] for i in nd.inputs))
        return (vals[self.output], vals) if capture else vals[self.output]

    def predict(self, x) -> np.ndarray:
        """argmax of the flattened output per sample (ties: lowest index), in chunks."""
        x = self.check_input(x)
        out = np.concatenate([self.forward(x[s:s + CHUNK]) for s in range(0, len(x), CHUNK)]) \
            if len(x) > CHUNK else self.forward(x)
        return np.argmax(out.reshape(len(out), -1), axis=1)

    def accuracy(self, x, y) -> float:
        return float(np.mean(self.predict(x) == np.asarray(y)))

    # -- gradients (training)
    def forward_train(self, x):
        vals, caches = {INPUT: self.check_input(x)}, {}
        for nd in self.nodes:
            vals[nd.name], caches[nd.name] = nd.layer.forward_train(*(vals[i] for i in nd.inputs))
        return vals[self.output], caches

    def backward(self, caches: dict, grad_out) -> dict:
        """{(node, param): gradient} from d loss / d output and the caches of forward_train."""
        grads = {self.output: grad_out}
        pgrads = {}
        for nd in reversed(self.nodes):
            g = grads.pop(nd.name, None)
            if g is None:
                continue
            gin, gp = nd.layer.backward(caches[nd.name], g)
            for p, v in gp.items():
                pgrads[(nd.name, p)] = v
            for i, gi in zip(nd.inputs, gin):
                if i != INPUT:
                    grads[i] = grads[i] + gi if i in grads else gi
        return pgrads


# =============================================================================== integer graph

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
        (float64) BLAS, exact because every product and partial sum is an integer of magnitude
        below B; the bias is added in int64 and the wrap is skipped when B + max|bias| is below
        2^(acc_bits-1) (the wrap is then the identity); otherwise int64."""
        a = np.asarray(a, dtype=np.int64)
        w = self.weight.codes
        sums = int(np.max(np.abs(a), initial=0)) * int(np.max(np.abs(w), initial=0)) * w.shape[1]
        peak = sums + int(np.max(np.abs(self.bias), initial=0))
        if self.mul is None and sums < 1 << 53:
            ftype = np.float32 if sums < 1 << 24 else np.float64
            cols = self.columns(a.astype(ftype))
            y = grouped_matmul(cols, w.astype(ftype)).astype(np.int64) + self.bias[None, :, None]
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
                step = max(1, _MUL_CHUNK // wg.size)
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
            return self.layer.cols(x, _NEG).max(axis=-1).reshape(self.layer._shape(x))
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
        return float(np.mean(self.predict(x) == np.asarray(y)))

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
        clamp = _fused_clip(self.graph, name)
        new = _make_weight(name, old.inputs, old.layer, qt, old.in_scale, old.in_bits, old.out_scale,
                           clamp, self.acc_bits, self.mult_bits, mul=old.mul, replaced=True,
                           out_bits=old.out_bits, pre=old.pre)
        return self._replace_nodes({name: new})


def _fused_clip(graph: Graph, name: str) -> Clip | None:
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
    many variants). See the module docstring for every rule."""
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
            c = _fused_clip(graph, nd.name)
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
        clip = _fused_clip(graph, nd.name) if lay.requantizes else None
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


# =============================================================================== files

def save_graph(graph: Graph, path, meta: dict | None = None) -> Path:
    """Write `graph` as an .npz: "graph" (JSON structure), "<node>.<param>" arrays, "meta" JSON;
    fixed zip timestamps and order, so the same graph gives the same bytes (`golden.npz`)."""
    from .npz import write_npz
    struct = {"input_shape": list(graph.input_shape), "output": graph.output,
              "nodes": [{"name": nd.name, "op": nd.layer.op, "inputs": list(nd.inputs),
                         "attrs": _jsonable(nd.layer.attrs())} for nd in graph.nodes]}
    arrays = {"graph": np.array(json.dumps(struct, sort_keys=True)),
              "meta": np.array(json.dumps(meta or {}, sort_keys=True))}
    for (name, p), a in graph.params().items():
        arrays[f"{name}.{p}"] = a
    return write_npz(path, arrays)


def _jsonable(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, tuple):
            v = list(v)
        elif isinstance(v, (np.integer,)):
            v = int(v)
        out[k] = v
    return out


def _layer_from(op: str, attrs: dict, arrays: dict) -> Layer:
    cls = LAYER_TYPES.get(op)
    if cls is None:
        raise QuantpeError(f"unknown layer type {op!r}")
    kw = dict(attrs)
    if cls is Clip:
        kw = {k: float(v) for k, v in kw.items()}
    for k in ("stride", "padding", "dilation", "kernel"):
        if isinstance(kw.get(k), list):
            kw[k] = tuple(kw[k])
    return cls(**kw, **arrays)


def load_graph(path) -> tuple[Graph, dict]:
    """Read a file written by `save_graph`: (Graph, meta); QuantpeError if unusable."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            struct = json.loads(str(f["graph"].reshape(-1)[0]))
            meta = json.loads(str(f["meta"].reshape(-1)[0])) if "meta" in f.files else {}
            nodes = []
            for nd in struct["nodes"]:
                cls = LAYER_TYPES.get(nd["op"])
                params = cls.params if cls else ()
                arrays = {p: f[f"{nd['name']}.{p}"] for p in params}
                layer = _layer_from(nd["op"], nd["attrs"], arrays)
                nodes.append(Node(nd["name"], layer, tuple(nd["inputs"])))
    except (OSError, KeyError, ValueError, TypeError, zipfile.BadZipFile) as e:
        raise QuantpeError(f"cannot read a layer graph from {path}: {e}") from None
    return Graph(tuple(struct["input_shape"]), tuple(nodes), struct["output"]), meta
