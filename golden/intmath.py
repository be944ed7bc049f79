"""Two's-complement integer rules shared by every golden model.

All functions work on numpy integer arrays (int64 internally) or Python ints and are exact as
long as the inputs fit in 62 bits.
"""
from __future__ import annotations

import numpy as np

__all__ = ["int_range", "wrap", "saturate", "fits", "to_unsigned",
           "round_half_away", "clog2"]


def clog2(n: int) -> int:
    """Smallest k with 2**k >= n (n >= 1)."""
    if n < 1:
        raise ValueError(f"clog2 needs n >= 1, got {n}")
    return (n - 1).bit_length()


def int_range(bits: int, signed: bool) -> tuple[int, int]:
    """Inclusive (min, max) of a `bits`-wide integer: [-2^(b-1), 2^(b-1)-1] or [0, 2^b-1]."""
    if bits < 1:
        raise ValueError(f"bit width must be >= 1, got {bits}")
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def wrap(x, bits: int, signed: bool = True):
    """Reduce `x` modulo 2^bits into the signed (two's complement) or unsigned range; on a
    `bits`-wide bit pattern this is its value read as signed or unsigned."""
    x = np.asarray(x, dtype=np.int64)
    mask = np.int64((1 << bits) - 1)
    u = x & mask
    if signed:
        u = np.where(u >= (1 << (bits - 1)), u - (1 << bits), u)
    return u


def saturate(x, bits: int, signed: bool = True):
    """Clamp `x` into the `bits`-wide signed or unsigned range."""
    lo, hi = int_range(bits, signed)
    return np.clip(np.asarray(x, dtype=np.int64), lo, hi)


def fits(x, bits: int, signed: bool) -> bool:
    """True when every element of `x` is representable in `bits` (signed or unsigned)."""
    lo, hi = int_range(bits, signed)
    x = np.asarray(x)
    return bool(x.size == 0 or (x.min() >= lo and x.max() <= hi))


def to_unsigned(x, bits: int):
    """Two's-complement bit pattern of `x` as a non-negative integer (the value on the wire)."""
    return np.asarray(x, dtype=np.int64) & np.int64((1 << bits) - 1)


def round_half_away(x):
    """Round float(s) to the nearest integer, exact halves away from zero (int64 result)."""
    x = np.asarray(x, dtype=np.float64)
    return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int64)
