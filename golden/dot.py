"""Exact integer products and dot products with a two's-complement accumulator.

Contract: products are exact (a * w, or a user-supplied multiplication rule); sums are exact and
then reduced into the accumulator: wrapped modulo 2^acc_bits (default) or saturated. Wrapping
the final sum equals wrapping after every addition, so `dot` is order-independent in wrap mode.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .errors import ConfigError
from .intmath import clog2, saturate, wrap

__all__ = ["MulRule", "exact_mul", "product_bits", "sum_bits", "accumulate", "dot",
           "MAX_ACC_BITS", "check_acc_bits", "LaneWidths"]

MAX_ACC_BITS = 62   # every golden sum stays exact in int64

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


def check_acc_bits(acc_bits: int, need: int, lanes: int, product_width: int, prefix: str = "") -> None:
    """ConfigError unless need <= acc_bits <= MAX_ACC_BITS (need = the lane-sum width)."""
    if not need <= acc_bits <= MAX_ACC_BITS:
        raise ConfigError(f"{prefix}acc_bits must be in {need}..{MAX_ACC_BITS} for {lanes} lanes of "
                          f"{product_width}-bit products, got {acc_bits}")


class LaneWidths:
    """Mixin for configs with lanes, a_bits, w_bits, a_signed, w_signed and acc_bits fields."""

    @property
    def product_bits(self) -> int:
        return product_bits(self.a_bits, self.w_bits, self.a_signed, self.w_signed)

    @property
    def sum_bits(self) -> int:
        return sum_bits(self.a_bits, self.w_bits, self.a_signed, self.w_signed, self.lanes)

    def check_acc_bits(self, prefix: str = "") -> None:
        check_acc_bits(self.acc_bits, self.sum_bits, self.lanes, self.product_bits, prefix)


def accumulate(acc, x, acc_bits: int, saturating: bool = False):
    """acc + x reduced into a signed acc_bits accumulator (wrap or saturate)."""
    s = np.asarray(acc, dtype=np.int64) + np.asarray(x, dtype=np.int64)
    return saturate(s, acc_bits) if saturating else wrap(s, acc_bits)


def dot(a, w, acc_bits: int = 32, mul: MulRule = exact_mul, axis: int = -1):
    """Dot product along `axis` with an acc_bits wrapping accumulator (exact products)."""
    return wrap(np.sum(mul(a, w), axis=axis, dtype=np.int64), acc_bits)
