"""The layer library: each layer's parameters, its float forward and backward pass.

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
The graph of layers is `graph.Graph`, its integer lowering `qgraph.build_qgraph`, its file
`graph_io`. Imports: numpy, `quantpe.golden`.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .errors import QuantpeError
from .float_exec import run_subgraph
from .lowering import (
    col2im,
    conv_output_size,
    grouped_matmul,
    im2col,
    lower_weights,
    pair4,
    unlower_weights,
)
from .quantize import qmax

__all__ = ["Layer", "Conv2d", "Linear", "Clip", "ReLU", "ReLU6", "MaxPool", "AvgPool", "GlobalAvgPool", "Add",
           "Concat", "Flatten", "ActMatMul", "FloatOp", "QuantDequant", "fold_batchnorm", "LAYER_TYPES", "INPUT"]

INPUT = "input"
INF = math.inf
MUL_CHUNK = 1 << 21          # products per call of a custom MulRule (bounds memory)
MAXPOOL_PAD_CODE = -(1 << 62)             # MaxPool padding code: never the maximum
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
    the multiply-accumulates per sample of its MAC operators (work not on the PEs);
    `per_sample`: the subgraph holds batch-1 constants (a model exported at batch 1) and runs
    one sample at a time. Any number of inputs. Integer rule: `FloatQNode`."""

    model: str = ""
    ops: tuple = ()
    out: tuple = ()
    float_macs: int = 0
    per_sample: bool = False
    op: ClassVar[str] = "FloatOp"
    arity: ClassVar[int] = 0
    requantizes: ClassVar[bool] = True

    def __post_init__(self):
        if not isinstance(self.model, str) or not self.model:
            raise QuantpeError("FloatOp needs a serialized ONNX subgraph")
        object.__setattr__(self, "ops", tuple(str(o) for o in self.ops))
        object.__setattr__(self, "out", tuple(int(v) for v in self.out))
        object.__setattr__(self, "float_macs", int(self.float_macs))
        object.__setattr__(self, "per_sample", bool(self.per_sample))

    def out_shape(self, shapes):
        return self.out

    def forward(self, *xs):
        if self.per_sample:
            y = np.concatenate([run_subgraph(self.model, [x[i:i + 1] for x in xs]) for i in range(len(xs[0]))])
        else:
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
        """The model's scale when its codes, shifted by the zero point, are the tensor's signed
        `bits`-bit codes ([qmin - zp, qmax - zp] within [-2^(bits-1), 2^(bits-1) - 1]: the value
        (q - zp) * scale is the code q - zp on the grid of `scale`, so an asymmetric uint8 tensor
        is kept exactly from 9 bits on, or at 8 with zp = 128), else None (calibrated instead)."""
        q = qmax(bits, True)
        lo, hi = self.qmin - self.zero_point, self.qmax - self.zero_point
        return self.scale if lo >= -q - 1 and hi <= q else None

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


# =============================================================================== integer graph


# =============================================================================== files


