"""Generalised fixed point <IL,FL> (Gupta et al. 2015) and its three rounding modes.

Format: IL integer bits *including the sign*, FL fractional bits, WL = IL + FL <= 32; a value is
a signed WL-bit integer code c meaning c * eps with eps = 2^-FL, so the range is
[-2^(IL-1), 2^(IL-1) - eps] (codes [-2^(WL-1), 2^(WL-1) - 1]). Conversion = round, then
saturate to that range.

Rounding an integer Z with k fractional bits to drop (k >= 0; arithmetic shifts, floor):
  truncate:   Y = Z >> k                                  (floor, toward -inf)
  nearest:    Y = (Z + 2^(k-1) - 1) >> k  (k >= 1; Y = Z for k = 0)
              i.e. floor(x) if x - floor(x) <= eps/2, else floor(x) + eps: the paper's rule, so an
              exact tie rounds DOWN (toward -inf): 0.5 -> 0, -0.5 -> -1, 1.5 -> 1.
  stochastic: Y = (Z + R) >> k with R uniform on [0, 2^k - 1]: P(round up) = (Z mod 2^k) / 2^k
              exactly, so E[Y * 2^k] = Z (unbiased).
A dot product is accumulated exactly (int64) and rounded once (`fixed_dot`).

Real numbers (training) go through `to_fixed`: t = x * 2^FL; truncate floor(t); nearest
ceil(t - 1/2) (the same tie rule); stochastic floor(floor(t * 2^32) + R) / 2^32 with R uniform on
[0, 2^32 - 1], i.e. the integer rule above with k = 32 after truncating x to FL + 32 bits.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .errors import ConfigError, QuantpeError

__all__ = ["FixedFormat", "MODES", "check_mode", "round_shift", "requantize", "to_fixed", "quantize",
           "fixed_dot", "MAX_WL", "SR_REAL_BITS"]

MODES = ("truncate", "nearest", "stochastic")
MAX_WL = 32
SR_REAL_BITS = 32          # random bits per stochastic rounding of a real value


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ConfigError(f"rounding mode must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


@dataclasses.dataclass(frozen=True)
class FixedFormat:
    """<IL,FL>: IL >= 1 integer bits including the sign, FL >= 0 fractional bits, IL + FL <= 32."""

    il: int
    fl: int

    def __post_init__(self):
        for name in ("il", "fl"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ConfigError(f"fixed point {name.upper()} must be an integer, got {v!r}")
        if self.il < 1:
            raise ConfigError(f"fixed point IL must be >= 1 (it includes the sign bit), got {self.il}")
        if self.fl < 0:
            raise ConfigError(f"fixed point FL must be >= 0, got {self.fl}")
        if self.wl > MAX_WL:
            raise ConfigError(f"fixed point WL = IL + FL must be <= {MAX_WL}, got {self.wl}")

    @classmethod
    def from_wl(cls, wl: int, fl: int) -> FixedFormat:
        return cls(il=wl - fl, fl=fl)

    @property
    def wl(self) -> int:
        return self.il + self.fl

    @property
    def eps(self) -> float:
        return 2.0 ** -self.fl

    @property
    def code_min(self) -> int:
        return -(1 << (self.wl - 1))

    @property
    def code_max(self) -> int:
        return (1 << (self.wl - 1)) - 1

    @property
    def min_value(self) -> float:
        return self.code_min * self.eps

    @property
    def max_value(self) -> float:
        return self.code_max * self.eps

    def __str__(self):
        return f"<{self.il},{self.fl}>"


def _add_term(z: np.ndarray, k: int, mode: str, r) -> np.ndarray:
    if mode == "truncate" or k == 0:
        return np.zeros_like(z)
    if mode == "nearest":
        return np.full_like(z, (1 << (k - 1)) - 1)
    if r is None:
        raise QuantpeError("stochastic rounding needs the random draws r (uniform on [0, 2^k - 1])")
    r = np.broadcast_to(np.asarray(r, dtype=np.int64), z.shape)
    if r.size and (r.min() < 0 or r.max() >= (1 << k)):
        raise QuantpeError(f"random draws must be in [0, 2^{k} - 1]")
    return r


def round_shift(z, k: int, mode: str, r=None) -> np.ndarray:
    """Drop the k low bits of integer(s) z with rounding `mode` (module docstring), int64.

    `r`: the random draws of stochastic mode (same shape as z, each in [0, 2^k - 1]).
    Exact for |z| < 2^62.
    """
    check_mode(mode)
    if k < 0:
        raise QuantpeError(f"bits to drop must be >= 0, got {k}")
    z = np.asarray(z, dtype=np.int64)
    return (z + _add_term(z, k, mode, r)) >> k


def requantize(z, f_acc: int, fmt: FixedFormat, mode: str, r=None) -> np.ndarray:
    """Accumulator(s) z with f_acc fractional bits -> <IL,FL> codes: round k = f_acc - FL bits,
    then saturate to [code_min, code_max] (int64)."""
    k = f_acc - fmt.fl
    if k < 0:
        raise QuantpeError(f"accumulator has {f_acc} fractional bits, fewer than FL = {fmt.fl}")
    return np.clip(round_shift(z, k, mode, r), fmt.code_min, fmt.code_max)


def _finite(x, what: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise QuantpeError(f"{what} contains NaN or infinite values")
    return x


def to_fixed(x, fmt: FixedFormat, mode: str, rng: np.random.Generator | None = None,
             what: str = "value") -> np.ndarray:
    """Real value(s) x -> <IL,FL> codes (float64 arrays holding integers), rounded then saturated.

    Stochastic mode draws SR_REAL_BITS random bits per element from `rng`; P(up) is exact while
    |x| * 2^FL < 2^21 (always for WL <= 21: larger values saturate), otherwise float64 rounding of
    t * 2^32 limits it to 53 significant bits.
    """
    check_mode(mode)
    x = _finite(x, what)
    lo, hi = float(fmt.code_min), float(fmt.code_max)
    t = np.clip(x * 2.0 ** fmt.fl, lo - 1.0, hi + 1.0)     # beyond the range: saturates either way
    if mode == "truncate":
        c = np.floor(t)
    elif mode == "nearest":
        c = np.ceil(t - 0.5)
    else:
        if rng is None:
            raise QuantpeError("stochastic rounding needs a random generator")
        scale = float(1 << SR_REAL_BITS)
        r = rng.integers(0, 1 << SR_REAL_BITS, size=t.shape, dtype=np.int64).astype(np.float64)
        c = np.floor((np.floor(t * scale) + r) / scale)
    return np.clip(c, lo, hi)


def quantize(x, fmt: FixedFormat, mode: str, rng: np.random.Generator | None = None,
             what: str = "value") -> np.ndarray:
    """`to_fixed` as real values on the grid (codes * eps, float64, exact)."""
    return to_fixed(x, fmt, mode, rng, what) * fmt.eps


def fixed_dot(a, b, fa: FixedFormat, fb: FixedFormat, fout: FixedFormat, mode: str, r=None) -> np.ndarray:
    """Dot product(s) over the last axis of integer codes a (format fa) and b (format fb):
    the exact int64 sum (fa.fl + fb.fl fractional bits) requantised once to `fout`."""
    z = np.sum(np.asarray(a, np.int64) * np.asarray(b, np.int64), axis=-1, dtype=np.int64)
    return requantize(z, fa.fl + fb.fl, fout, mode, r)
