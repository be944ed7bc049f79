"""Symmetric integer quantization of float tensors.

Contract: code = saturate(round_half_away(x / scale), bits, signed) with
- signed: range [-(2^(b-1)-1), 2^(b-1)-1] (the most negative code is not produced, so the
  range is symmetric: int8 -> +-127), scale = max|x| / (2^(b-1)-1);
- unsigned: range [0, 2^b-1], scale = max(x) / (2^b-1); a negative input is an error
  (QuantpeError naming the count and the most negative value), never a silent 0.
Scales are per tensor or per channel (one scale per index of `axis`); an all-zero tensor or
channel gets scale 1.0. Dequantization is code * scale.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import QuantpeError
from .intmath import round_half_away, saturate

__all__ = ["QTensor", "qmax", "compute_scale", "quantize", "dequantize", "check_bits"]

MIN_BITS, MAX_BITS = 2, 16


def check_bits(bits: int, what: str = "bits") -> None:
    """Raise ValueError unless MIN_BITS <= bits <= MAX_BITS."""
    if not isinstance(bits, (int, np.integer)) or not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(f"{what} must be an integer in {MIN_BITS}..{MAX_BITS}, got {bits!r}")


def qmax(bits: int, signed: bool) -> int:
    """Largest code magnitude used by symmetric quantization (127 for int8, 255 for uint8)."""
    return (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1


@dataclass(frozen=True)
class QTensor:
    """Integer codes plus the float scale(s) that give their real value: x ~= codes * scale."""

    codes: np.ndarray          # int64
    scale: np.ndarray          # float64, shape () per tensor or broadcastable per channel
    bits: int
    signed: bool

    def dequantize(self) -> np.ndarray:
        return self.codes * self.scale


def compute_scale(x, bits: int, signed: bool, axis: int | None = None) -> np.ndarray:
    """Scale mapping the largest magnitude of `x` (per tensor, or per index of `axis`) to qmax."""
    check_bits(bits)
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("cannot quantize a tensor with NaN or infinite values")
    if axis is None:
        peak = np.max(np.abs(x)) if signed else np.max(x, initial=0.0)
        peak = np.asarray(peak)
    else:
        red = tuple(i for i in range(x.ndim) if i != axis % x.ndim)
        peak = np.max(np.abs(x), axis=red, keepdims=True) if signed else \
            np.max(np.maximum(x, 0), axis=red, keepdims=True)
    scale = peak / qmax(bits, signed)
    return np.where(scale > 0, scale, 1.0)


def quantize(x, bits: int, signed: bool = True, axis: int | None = None, scale=None) -> QTensor:
    """Quantize `x` symmetrically; `scale` overrides the computed one (e.g. calibrated)."""
    check_bits(bits)
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("cannot quantize a tensor with NaN or infinite values")
    if not signed and x.size and x.min() < 0:
        raise QuantpeError(f"unsigned {bits}-bit codes asked for {int(np.count_nonzero(x < 0))} negative "
                           f"value(s) (most negative {x.min():g}): use signed codes or shift the input")
    if scale is None:
        scale = compute_scale(x, bits, signed, axis)
    scale = np.asarray(scale, dtype=np.float64)
    lo = -qmax(bits, True) if signed else 0
    codes = np.clip(round_half_away(x / scale), lo, qmax(bits, signed))
    codes = saturate(codes, bits, signed)
    return QTensor(codes=codes.astype(np.int64), scale=scale, bits=bits, signed=signed)


def dequantize(q: QTensor) -> np.ndarray:
    return q.dequantize()
