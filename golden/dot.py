"""Exact integer products and dot products with a two's-complement accumulator.

Contract: products are exact (a * w, or a user-supplied multiplication rule); sums are exact and
then reduced into the accumulator: wrapped modulo 2^acc_bits (default) or saturated. Wrapping
the final sum equals wrapping after every addition, so `dot` is order-independent in wrap mode.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .config import shown
from .errors import ConfigError
from .intmath import clog2, int_range, saturate, wrap
from .quantize import MAX_BITS, MIN_BITS

__all__ = ["MulRule", "exact_mul", "product_bits", "product_range", "sum_bits", "lane_sum_bits", "accumulate", "dot",
           "MAX_ACC_BITS", "MAX_LANES", "MAX_PIPELINE", "check_in_range", "check_acc_bits",
           "LaneWidths", "Pipelined"]

MAX_ACC_BITS = 62   # every golden sum stays exact in int64
MAX_LANES = 256     # a PE's lanes (the adder tree and the stimulus memories stay small)
MAX_PIPELINE = 2    # registers between the multipliers and the accumulator: 0, 1 or 2

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


def product_range(a_range: tuple[int, int], w_range: tuple[int, int]) -> tuple[int, int]:
    """Inclusive (min, max) of a * w over a in a_range and w in w_range (exact products)."""
    c = [x * y for x in a_range for y in w_range]
    return min(c), max(c)


def lane_sum_bits(product_width: int, lanes: int) -> int:
    """Width of a signed adder-tree output that holds any sum of `lanes` product_width-bit terms."""
    return product_width + clog2(lanes)


def sum_bits(a_bits: int, w_bits: int, a_signed: bool, w_signed: bool, lanes: int) -> int:
    """Width of a signed adder-tree output that holds any sum of `lanes` exact products."""
    return lane_sum_bits(product_bits(a_bits, w_bits, a_signed, w_signed), lanes)


def check_in_range(name: str, value: int, lo: int, hi: int, prefix: str = "") -> None:
    """ConfigError `<prefix><name> must be in lo..hi, got value` unless lo <= value <= hi."""
    if not lo <= value <= hi:
        raise ConfigError(f"{prefix}{name} must be in {lo}..{hi}, got {shown(value)}")


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
        return lane_sum_bits(self.product_bits, self.lanes)

    def a_range(self) -> tuple[int, int]:
        return int_range(self.a_bits, self.a_signed)

    def w_range(self) -> tuple[int, int]:
        return int_range(self.w_bits, self.w_signed)

    def check_lane_widths(self, prefix: str = "", min_bits: int = MIN_BITS, max_bits: int = MAX_BITS) -> None:
        """ConfigError unless 1 <= lanes <= MAX_LANES and a_bits, w_bits in min_bits..max_bits."""
        check_in_range("lanes", self.lanes, 1, MAX_LANES, prefix)
        for name in ("a_bits", "w_bits"):
            check_in_range(name, getattr(self, name), min_bits, max_bits, prefix)

    def check_acc_bits(self, prefix: str = "") -> None:
        check_acc_bits(self.acc_bits, self.sum_bits, self.lanes, self.product_bits, prefix)


class Pipelined:
    """Mixin for PEs with a `pipeline` field: latency = pipeline + 1 cycles from input to output."""

    @property
    def latency(self) -> int:
        return self.pipeline + 1

    def check_pipeline(self, prefix: str = "") -> None:
        if not 0 <= self.pipeline <= MAX_PIPELINE:
            raise ConfigError(f"{prefix}pipeline must be 0, 1 or 2, got {self.pipeline}")


def accumulate(acc, x, acc_bits: int, saturating: bool = False):
    """acc + x reduced into a signed acc_bits accumulator (wrap or saturate)."""
    s = np.asarray(acc, dtype=np.int64) + np.asarray(x, dtype=np.int64)
    return saturate(s, acc_bits) if saturating else wrap(s, acc_bits)


def dot(a, w, acc_bits: int = 32, mul: MulRule = exact_mul, axis: int = -1):
    """Dot product along `axis` with an acc_bits wrapping accumulator (exact products)."""
    return wrap(np.sum(mul(a, w), axis=axis, dtype=np.int64), acc_bits)
