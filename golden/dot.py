"""Exact integer products and dot products with a two's-complement accumulator.

Contract: products are exact (a * w, or a user-supplied multiplication rule); sums are exact and
then reduced into the accumulator: wrapped modulo 2^acc_bits (default) or saturated. Wrapping
the final sum equals wrapping after every addition, so `dot` is order-independent in wrap mode.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .intmath import clog2, saturate, wrap

__all__ = ["MulRule", "exact_mul", "product_bits", "sum_bits", "accumulate", "dot"]

MulRule = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""Elementwise integer product rule: (a codes, w codes) -> products, numpy broadcasting."""


def exact_mul(a, w):
    return np.asarray(a, dtype=np.int64) * np.asarray(w, dtype=np.int64)


def product_bits(a_bits: int, w_bits: int, a_signed: bool, w_signed: bool) -> int:
    """Width of a signed register that holds every exact a x w product.

    signed x signed and signed x unsigned need a_bits + w_bits; unsigned x unsigned needs one
    more bit because the sum datapath is always signed.
    """
    return a_bits + w_bits + (0 if (a_signed or w_signed) else 1)


def sum_bits(a_bits: int, w_bits: int, a_signed: bool, w_signed: bool, lanes: int) -> int:
    """Width of a signed adder-tree output that holds any sum of `lanes` exact products."""
    return product_bits(a_bits, w_bits, a_signed, w_signed) + clog2(lanes)


def accumulate(acc, x, acc_bits: int, saturating: bool = False):
    """acc + x reduced into a signed acc_bits accumulator (wrap or saturate)."""
    s = np.asarray(acc, dtype=np.int64) + np.asarray(x, dtype=np.int64)
    return saturate(s, acc_bits) if saturating else wrap(s, acc_bits)


def dot(a, w, acc_bits: int = 32, mul: MulRule = exact_mul, axis: int = -1):
    """Dot product along `axis` with an acc_bits wrapping accumulator (exact products)."""
    return wrap(np.sum(mul(a, w), axis=axis, dtype=np.int64), acc_bits)
