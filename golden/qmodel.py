"""Integer inference of the digits MLP: what the hardware computes, bit for bit.

Layer i has K inputs and O outputs; a batch has N samples. All integers are int64 arrays.
- Input codes a[n, k]: signed a_bits[i]-bit codes with one per-tensor scale s_a[i].
  Layer 0: a = quantize(x, a_bits[0], signed, scale=s_a[0]) = clip(round_half_away(x / s_a),
  -qmax, qmax); pixels are >= 0 so the codes are in [0, qmax] (0..127 for int8).
  Hidden layers: the previous layer's requantized output, in [0, qmax].
- Weight codes w[o, k]: symmetric per output channel, s_w[o] = max_k |W[o, k]| / qmax(w_bits),
  codes in [-qmax, qmax] (+-127 for int8; see quantize.py). `with_weights` may install any
  integer matrix in the same units (e.g. decoded StruM values q * 2^j); it is never clipped.
- Bias: b[o] = saturate(round_half_away(B[o] / (s_a * s_w[o])), acc_bits) (int32 by default).
- Accumulator: acc[n, o] = wrap(sum_k mul(a[n, k], w[o, k]) + b[o], acc_bits), i.e.
  `dot(..., acc_bits)` then `accumulate(acc, b, acc_bits)` (two's complement, wraps at 32 bits by
  default). mul = None uses the exact product through an int64 matmul (same result, faster);
  any MulRule (a codes, w codes) -> products can be set per layer or for all layers.
- Requantization (hidden layers) to the next layer's codes, per output channel o:
  M[o] = s_a * s_w[o] / s_a[i+1] ~= mult[o] / 2^shift[o], mult an unsigned mult_bits-bit integer
  in [2^(mult_bits-1), 2^mult_bits - 1] (mult_bits = 16 by default), shift in 1..62 (see
  fixed_point_multiplier for multipliers too small for that range);
  y = (acc * mult + (1 << (shift - 1))) >> shift   (arithmetic shift: rounds half up, i.e.
  toward +infinity: 2.5 -> 3, -2.5 -> -2), then ReLU + saturation: a_next = clip(y, 0, qmax).
  The product acc * mult fits in acc_bits + mult_bits - 1 <= 61 bits.
- Last layer: the wrapped accumulators are the integer logits; class = argmax (ties: lowest index).
- Calibration: s_a[i] = max |float input of layer i| over the calibration batch (default: the
  training split) / qmax(a_bits[i]); float inputs come from the float model (max calibration).

`python -m quantpe.golden.qmodel` prints float and integer test accuracies.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .digits import load_digits_split
from .dot import MulRule, accumulate, dot
from .errors import ConfigError, QuantpeError
from .intmath import int_range, round_half_away, saturate, wrap
from .mlp import MLP, check_batch, load_reference_model
from .qerror import mse_sqnr
from .quantize import MAX_BITS, MIN_BITS, QTensor, compute_scale, qmax, quantize

__all__ = ["QLayer", "QModel", "TensorError", "build_qmodel", "fixed_point_multiplier",
           "requantize", "tensor_error", "accuracy_report", "DEFAULT_ACC_BITS",
           "DEFAULT_MULT_BITS"]

DEFAULT_ACC_BITS = 32
DEFAULT_MULT_BITS = 16
MAX_SHIFT = 62
_MUL_CHUNK = 1 << 21          # products per call of a custom MulRule (bounds memory)


# ---------------------------------------------------------------- requantization primitives

def fixed_point_multiplier(m: float, mult_bits: int = DEFAULT_MULT_BITS) -> tuple[int, int]:
    """(mult, shift) with m ~= mult / 2^shift, mult in [2^(mult_bits-1), 2^mult_bits - 1].

    mult = round_half_away(f * 2^mult_bits) where m = f * 2^e, f in [0.5, 1) (relative error
    <= 2^-mult_bits), shift = mult_bits - e. When that shift would exceed 62 (m < 2^(mult_bits-63),
    e.g. a channel whose weights decayed to ~0), shift = 62 and mult = round_half_away(m * 2^62),
    which may be small or 0. QuantpeError unless m > 0 is finite and shift >= 1.
    """
    if not 2 <= mult_bits <= 30:
        raise ConfigError(f"mult_bits must be in 2..30, got {mult_bits}")
    m = float(m)
    if not (math.isfinite(m) and m > 0):
        raise QuantpeError(f"requantization multiplier must be positive and finite, got {m}")
    f, e = math.frexp(m)
    mult = int(round_half_away(f * (1 << mult_bits)))
    shift = mult_bits - e
    if mult == 1 << mult_bits:
        mult >>= 1
        shift -= 1
    if shift > MAX_SHIFT:              # tiny m (e.g. a dead channel): fewer significant bits
        mult = int(round_half_away(math.ldexp(m, MAX_SHIFT)))
        shift = MAX_SHIFT
    if shift < 1:
        raise QuantpeError(f"requantization multiplier {m:g} needs shift {shift}, "
                           f"outside 1..{MAX_SHIFT}")
    return mult, shift


def requantize(acc, mult, shift, out_bits: int, relu: bool = True) -> np.ndarray:
    """(acc * mult + 2^(shift-1)) >> shift (round half up), then clip to [0 or -qmax, qmax].

    `mult`/`shift` broadcast against `acc` (per output channel along the last axis).
    """
    acc = np.asarray(acc, dtype=np.int64)
    mult = np.asarray(mult, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    y = (acc * mult + np.left_shift(np.int64(1), shift - 1)) >> shift
    hi = qmax(out_bits, True)
    return np.clip(y, 0 if relu else -hi, hi)


# ---------------------------------------------------------------- error metrics

@dataclass(frozen=True)
class TensorError:
    """Quantization error of one tensor: MSE and SQNR = 10 log10(sum x^2 / sum (x - xq)^2) dB."""

    layer: int
    bits: int
    mse: float
    sqnr_db: float          # +inf when the error is exactly zero


def tensor_error(x, xq, layer: int = -1, bits: int = 0) -> TensorError:
    mse, sqnr = mse_sqnr(x, xq)
    return TensorError(layer=layer, bits=bits, mse=mse, sqnr_db=sqnr)


# ---------------------------------------------------------------- layers and model

def signed_width_of(codes: np.ndarray) -> int:
    """Smallest signed width holding every code (at least 2)."""
    peak = int(np.max(np.abs(codes), initial=0))
    return max(2, peak.bit_length() + 1)


@dataclass(frozen=True, eq=False)
class QLayer:
    """One integer layer (see the module docstring for the arithmetic).

    weight: QTensor, codes (O, K) int64, scale (O, 1) float64 per output channel.
    bias: (O,) int64 accumulator-scale codes. in_scale/in_bits: the layer's input codes.
    out_scale/out_bits/mult/shift: the requantizer (None on the last layer).
    float_weight/float_bias: the float parameters the codes approximate.
    mul: MulRule or None (exact products through a fast int64 matmul).
    """

    index: int
    weight: QTensor
    bias: np.ndarray
    in_scale: float
    in_bits: int
    out_scale: float | None
    out_bits: int | None
    mult: np.ndarray | None
    shift: np.ndarray | None
    float_weight: np.ndarray
    float_bias: np.ndarray
    mul: MulRule | None = None
    weight_replaced: bool = False

    @property
    def is_last(self) -> bool:
        return self.out_scale is None

    @property
    def in_features(self) -> int:
        return self.weight.codes.shape[1]

    @property
    def out_features(self) -> int:
        return self.weight.codes.shape[0]

    @property
    def acc_scale(self) -> np.ndarray:
        """Real value of one accumulator LSB per output channel: s_a * s_w[o], shape (O,)."""
        return self.in_scale * self.weight.scale[:, 0]

    def accumulators(self, a: np.ndarray, acc_bits: int) -> np.ndarray:
        """acc (N, O) = wrap(sum_k mul(a[n, k], w[o, k]) + bias[o], acc_bits)."""
        w = self.weight.codes
        if self.mul is None:
            acc = wrap(a @ w.T, acc_bits)
        else:
            step = max(1, _MUL_CHUNK // w.size)
            parts = [dot(a[s:s + step, None, :], w[None, :, :], acc_bits, mul=self.mul)
                     for s in range(0, len(a), step)]
            acc = np.concatenate(parts, axis=0) if parts else np.zeros((0, len(w)), np.int64)
        return accumulate(acc, self.bias, acc_bits)

    def outputs(self, acc: np.ndarray) -> np.ndarray:
        """Next layer's input codes from the accumulators (hidden layers only)."""
        return requantize(acc, self.mult, self.shift, self.out_bits, relu=True)


def _make_layer(index, w_codes: QTensor, float_w, float_b, in_scale, in_bits, out_scale,
                out_bits, acc_bits, mult_bits, mul=None, replaced=False) -> QLayer:
    s_w = np.broadcast_to(np.asarray(w_codes.scale, dtype=np.float64),
                          (w_codes.codes.shape[0], 1)).copy()
    if not (np.all(np.isfinite(s_w)) and np.all(s_w > 0)):
        raise QuantpeError(f"layer {index}: weight scales must be positive and finite")
    acc_scale = in_scale * s_w[:, 0]
    bias = saturate(round_half_away(np.clip(float_b / acc_scale, -2.0 ** 62, 2.0 ** 62)), acc_bits)
    mult = shift = None
    if out_scale is not None:
        pairs = [fixed_point_multiplier(s / out_scale, mult_bits) for s in acc_scale]
        mult = np.array([p[0] for p in pairs], dtype=np.int64)
        shift = np.array([p[1] for p in pairs], dtype=np.int64)
    codes = np.array(w_codes.codes, dtype=np.int64)
    weight = QTensor(codes=codes, scale=s_w, bits=w_codes.bits, signed=True)
    for arr in (codes, s_w, bias) + ((mult, shift) if mult is not None else ()):
        arr.setflags(write=False)
    return QLayer(index=index, weight=weight, bias=bias, in_scale=float(in_scale),
                  in_bits=in_bits, out_scale=None if out_scale is None else float(out_scale),
                  out_bits=out_bits, mult=mult, shift=shift, float_weight=float_w,
                  float_bias=float_b, mul=mul, weight_replaced=replaced)


def check_requant_widths(acc_bits, mult_bits) -> None:
    """ConfigError unless mult_bits is in 2..30 and acc_bits in 2..62 - mult_bits (the int64
    product of an accumulator and a requantization multiplier must fit)."""
    if not 2 <= mult_bits <= 30:
        raise ConfigError(f"mult_bits must be in 2..30, got {mult_bits}")
    if isinstance(acc_bits, bool) or not isinstance(acc_bits, (int, np.integer)) \
            or not 2 <= acc_bits <= 62 - mult_bits:
        raise ConfigError(f"acc_bits must be in 2..{62 - mult_bits} with {mult_bits}-bit "
                          f"requantization multipliers, got {acc_bits!r}")


def check_fits_int64(label, codes: np.ndarray, in_bits: int) -> None:
    """QuantpeError unless every (O, K) weight-code dot product with in_bits activations stays
    exact in int64."""
    k = codes.shape[1]
    if int(np.max(np.abs(codes), initial=0)) * (1 << (in_bits - 1)) * k >= 1 << 62:
        raise QuantpeError(f"layer {label}: weight codes too large for exact int64 sums")


def replacement_codes(label, c: np.ndarray) -> np.ndarray:
    """Replacement weight codes as int64: integers (or integral finite floats below 2^62)."""
    if np.issubdtype(c.dtype, np.floating):
        if not np.all(np.isfinite(c)) or np.any(c != np.round(c)) \
                or np.max(np.abs(c), initial=0) >= 2.0 ** 62:
            raise QuantpeError(f"layer {label}: replacement weights must be finite integers")
    elif not np.issubdtype(c.dtype, np.integer):
        raise QuantpeError(f"layer {label}: replacement weights must be integers, got {c.dtype}")
    return c.astype(np.int64)


def replacement_scale(label, scale, default: np.ndarray, channels: int) -> np.ndarray:
    """The (channels, 1) weight scale of replaced codes: `default` when scale is None."""
    if scale is None:
        return default
    try:
        s = np.asarray(scale, dtype=np.float64).reshape(-1, 1)
    except (TypeError, ValueError) as e:
        raise QuantpeError(f"layer {label}: bad weight scale: {e}") from None
    if s.shape != (channels, 1):
        raise QuantpeError(f"layer {label}: weight scale must have {channels} entries")
    return s


@dataclass(frozen=True, eq=False)
class QModel:
    """Integer MLP: `layers` in order, accumulator width, requantizer multiplier width."""

    layers: tuple
    acc_bits: int = DEFAULT_ACC_BITS
    mult_bits: int = DEFAULT_MULT_BITS

    # -- shapes and bits
    @property
    def in_features(self) -> int:
        return self.layers[0].in_features

    @property
    def w_bits(self) -> tuple:
        return tuple(layer.weight.bits for layer in self.layers)

    @property
    def a_bits(self) -> tuple:
        return tuple(layer.in_bits for layer in self.layers)

    # -- inference
    def quantize_input(self, x) -> np.ndarray:
        """Float pixels (N, 64) in [0, 1] -> layer-0 input codes (N, 64) int64."""
        x = check_batch(x, self.in_features)
        first = self.layers[0]
        return quantize(x, first.in_bits, signed=True, scale=first.in_scale).codes

    def _check_codes(self, a0) -> np.ndarray:
        a = np.asarray(a0)
        if a.ndim != 2 or a.shape[1] != self.in_features:
            raise QuantpeError(f"input codes must have shape (n, {self.in_features}), got {a.shape}")
        if a.size and not np.issubdtype(a.dtype, np.integer):
            raise QuantpeError(f"input codes must be integers, got dtype {a.dtype}")
        lo, hi = int_range(self.layers[0].in_bits, True)
        if a.size and (a.min() < lo or a.max() > hi):
            raise QuantpeError(f"input codes outside the signed {self.layers[0].in_bits}-bit range")
        return a.astype(np.int64)

    def run_codes(self, a0, capture: bool = False):
        """Integer logits (N, O_last) from layer-0 input codes; with capture=True returns
        (logits, [input codes of layer 0, 1, ...])."""
        a = self._check_codes(a0)
        inputs = []
        for layer in self.layers:
            if capture:
                inputs.append(a)
            acc = layer.accumulators(a, self.acc_bits)
            a = acc if layer.is_last else layer.outputs(acc)
        return (a, inputs) if capture else a

    def logits(self, x) -> np.ndarray:
        """Integer logits (N, 10) int64 (last-layer accumulators) for float pixels x."""
        return self.run_codes(self.quantize_input(x))

    def capture(self, x) -> list:
        """Integer input codes of every layer for batch x: [(N, 64), (N, 64), (N, 32)]."""
        return self.run_codes(self.quantize_input(x), capture=True)[1]

    def predict(self, x) -> np.ndarray:
        """argmax of the integer logits (ties: lowest index)."""
        return np.argmax(self.logits(x), axis=1)

    def accuracy(self, x, y) -> float:
        return float(np.mean(self.predict(x) == np.asarray(y)))

    # -- variants
    def _layer_indices(self, layers) -> list:
        n = len(self.layers)
        if layers is None:
            return list(range(n))
        idx = [layers] if isinstance(layers, (int, np.integer)) else list(layers)
        for i in idx:
            if not isinstance(i, (int, np.integer)) or not -n <= i < n:
                raise QuantpeError(f"layer index must be in 0..{n - 1}, got {i!r}")
        return [int(i) % n for i in idx]

    def with_mul(self, mul: MulRule | None, layers: int | Iterable[int] | None = None) -> QModel:
        """Copy using multiplication rule `mul` (None: exact) in `layers` (None: all)."""
        if mul is not None and not callable(mul):
            raise QuantpeError(f"mul must be a callable (a, w) -> products or None, got {mul!r}")
        chosen = set(self._layer_indices(layers))
        new = tuple(dataclasses.replace(l, mul=mul) if i in chosen else l
                    for i, l in enumerate(self.layers))
        return dataclasses.replace(self, layers=new)

    def with_weights(self, layer: int, codes, scale=None) -> QModel:
        """Copy with layer `layer`'s integer weight matrix replaced by `codes` (O, K), kept as is
        (no clipping; values beyond the original width are allowed). With scale=None the codes
        are in the existing units s_w[o] and bias/requantizer are unchanged; a new per-channel
        `scale` (O,) or (O, 1) re-derives the bias codes and (mult, shift) from it.
        QTensor.bits becomes the larger of the old width and the smallest signed width of codes.
        """
        i = self._layer_indices(layer)[0]
        old = self.layers[i]
        try:
            c = np.asarray(codes)
        except (TypeError, ValueError) as e:
            raise QuantpeError(f"layer {i}: replacement weights are not an array: {e}") from None
        if c.shape != old.weight.codes.shape:
            raise QuantpeError(f"layer {i}: replacement weights must have shape "
                               f"{old.weight.codes.shape}, got {c.shape}")
        c = replacement_codes(i, c)
        check_fits_int64(i, c, old.in_bits)
        s = replacement_scale(i, scale, old.weight.scale, old.out_features)
        qt = QTensor(codes=c, scale=s, bits=max(old.weight.bits, signed_width_of(c)), signed=True)
        new = _make_layer(i, qt, old.float_weight, old.float_bias, old.in_scale, old.in_bits,
                          old.out_scale, old.out_bits, self.acc_bits, self.mult_bits,
                          mul=old.mul, replaced=True)
        return dataclasses.replace(self, layers=self.layers[:i] + (new,) + self.layers[i + 1:])

    # -- error metrics
    def weight_errors(self) -> list:
        """Per layer: MSE and SQNR (dB) of codes * s_w versus the float weights."""
        return [tensor_error(l.float_weight, l.weight.dequantize(), i, l.weight.bits)
                for i, l in enumerate(self.layers)]

    def activation_errors(self, model: MLP, x) -> list:
        """Per layer: MSE and SQNR (dB) of input codes * s_a versus the float model's input."""
        floats = model.layer_inputs(x)
        codes = self.capture(x)
        return [tensor_error(f, c * l.in_scale, i, l.in_bits)
                for i, (f, c, l) in enumerate(zip(floats, codes, self.layers))]


def _per_layer(bits, n: int, what: str) -> list:
    vals = [bits] * n if isinstance(bits, (int, np.integer)) else list(bits)
    if len(vals) != n:
        raise ConfigError(f"{what} needs one value or {n} values, got {len(vals)}")
    for v in vals:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not MIN_BITS <= v <= MAX_BITS:
            raise ConfigError(f"{what} must be integers in {MIN_BITS}..{MAX_BITS}, got {v!r}")
    return [int(v) for v in vals]


def build_qmodel(model: MLP | None = None, w_bits: int | Sequence[int] = 8,
                 a_bits: int | Sequence[int] = 8, calib_x=None,
                 acc_bits: int = DEFAULT_ACC_BITS, mult_bits: int = DEFAULT_MULT_BITS,
                 mul: MulRule | None = None) -> QModel:
    """Quantize a float MLP (default: the reference digits model) into a QModel.

    w_bits / a_bits: one width for every layer or one per layer (a_bits[i] is the width of
    layer i's input codes). calib_x: calibration batch (default: the digits training split).
    mul: multiplication rule for every layer (None: exact).
    """
    if model is None:
        model = load_reference_model()
    if not isinstance(model, MLP):
        raise QuantpeError(f"build_qmodel needs an MLP, got {type(model).__name__}")
    n = model.n_layers
    wb = _per_layer(w_bits, n, "w_bits")
    ab = _per_layer(a_bits, n, "a_bits")
    check_requant_widths(acc_bits, mult_bits)
    if mul is not None and not callable(mul):
        raise QuantpeError(f"mul must be a callable (a, w) -> products or None, got {mul!r}")
    if calib_x is None:
        calib_x = load_digits_split().x_train
    floats = model.layer_inputs(calib_x)
    if len(floats[0]) == 0:
        raise QuantpeError("calibration batch is empty")
    in_scales = [float(compute_scale(f, b, signed=True)) for f, b in zip(floats, ab)]
    layers = []
    for i in range(n):
        wq = quantize(model.weights[i], wb[i], signed=True, axis=0)
        last = i == n - 1
        layers.append(_make_layer(i, wq, model.weights[i], model.biases[i], in_scales[i], ab[i],
                                  None if last else in_scales[i + 1], None if last else ab[i + 1],
                                  int(acc_bits), mult_bits, mul=mul))
    return QModel(layers=tuple(layers), acc_bits=int(acc_bits), mult_bits=mult_bits)


# ---------------------------------------------------------------- reporting

def accuracy_report(model: MLP | None = None, w_bits=8, a_bits=8) -> dict:
    """Float and integer accuracies of `model` (default: reference) on the digits split."""
    model = load_reference_model() if model is None else model
    data = load_digits_split()
    q = build_qmodel(model, w_bits=w_bits, a_bits=a_bits)
    return dict(float_train=model.accuracy(data.x_train, data.y_train),
                float_test=model.accuracy(data.x_test, data.y_test),
                int_train=q.accuracy(data.x_train, data.y_train),
                int_test=q.accuracy(data.x_test, data.y_test),
                w_bits=q.w_bits, a_bits=q.a_bits, n_test=len(data.y_test))
