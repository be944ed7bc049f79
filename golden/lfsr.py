"""Bit-exact LFSR model: the random bits of the stochastic-rounding requantiser.

Polynomial: an integer `poly` whose bit i is the coefficient of x^i; degree = `width` (bit
`width` set) and constant term 1 (bit 0 set). Its taps are the exponents i in 1..width with
bit i set; tap i acts on state bit i-1, so the tap mask is `poly >> 1`.

State: a `width`-bit unsigned integer s (bit 0 = LSB). One step:
  fibonacci: s' = ((s << 1) | parity(s & taps)) mod 2^width      (shift towards the MSB; the
             new bit enters at bit 0; connection polynomial = poly)
  galois:    s' = (s >> 1) ^ (taps if s & 1 else 0)               (shift towards the LSB; the
             bit leaving at bit 0 toggles the tap positions)
Both have period 2^width - 1 from any non-zero seed exactly when `poly` is primitive
(maximal-length); the all-zero state is a fixed point (lock-up), so a seed must be non-zero.
A random draw R of k bits is the low k bits of the state, `s & (2^k - 1)`, read before the
`steps` steps the LFSR makes per draw (k <= width; over a full period each non-zero k-bit value
appears 2^(width-k) times and 0 appears 2^(width-k) - 1 times).

MAXIMAL_POLYS gives one primitive polynomial per width 8..32 (the tap sets of Xilinx XAPP052);
`is_maximal` checks any polynomial by the order of x modulo poly.
"""
from __future__ import annotations

import numpy as np

from .errors import ConfigError

__all__ = ["MAXIMAL_TAPS", "MAXIMAL_POLYS", "LFSR_KINDS", "poly_from_taps", "taps_of", "is_maximal",
           "check_lfsr", "lfsr_step", "step_int", "lfsr_states", "lfsr_jump",
           "lane_seeds", "MIN_WIDTH", "MAX_WIDTH"]

LFSR_KINDS = ("fibonacci", "galois")
MIN_WIDTH, MAX_WIDTH = 2, 32

# width -> taps (exponents of the non-constant terms), XAPP052 table
MAXIMAL_TAPS = {
    8: (8, 6, 5, 4), 9: (9, 5), 10: (10, 7), 11: (11, 9), 12: (12, 6, 4, 1), 13: (13, 4, 3, 1),
    14: (14, 5, 3, 1), 15: (15, 14), 16: (16, 15, 13, 4), 17: (17, 14), 18: (18, 11),
    19: (19, 6, 2, 1), 20: (20, 17), 21: (21, 19), 22: (22, 21), 23: (23, 18), 24: (24, 23, 22, 17),
    25: (25, 22), 26: (26, 6, 2, 1), 27: (27, 5, 2, 1), 28: (28, 25), 29: (29, 27), 30: (30, 6, 4, 1),
    31: (31, 28), 32: (32, 22, 2, 1),
}


def poly_from_taps(taps) -> int:
    """x^t1 + x^t2 + ... + 1 as an integer (bit i = coefficient of x^i)."""
    p = 1
    for t in taps:
        p |= 1 << t
    return p


MAXIMAL_POLYS = {w: poly_from_taps(t) for w, t in MAXIMAL_TAPS.items()}


def taps_of(poly: int) -> int:
    """Tap mask on the state: bit i-1 set for every tap exponent i >= 1."""
    return poly >> 1


def _polymulmod(a: int, b: int, p: int, n: int) -> int:
    r = 0
    while b:
        if b & 1:
            r ^= a
        b >>= 1
        a <<= 1
        if a >> n & 1:
            a ^= p
    return r


def _xpow(e: int, p: int, n: int) -> int:
    result, base = 1, 2          # x mod p (degree n >= 2)
    while e:
        if e & 1:
            result = _polymulmod(result, base, p, n)
        base = _polymulmod(base, base, p, n)
        e >>= 1
    return result


def _prime_factors(m: int) -> list[int]:
    out, d = [], 2
    while d * d <= m:
        if m % d == 0:
            out.append(d)
            while m % d == 0:
                m //= d
        d += 1
    if m > 1:
        out.append(m)
    return out


def is_maximal(poly: int, width: int) -> bool:
    """True when `poly` (degree `width`, constant term 1) is primitive: x has order 2^width - 1."""
    if poly >> width != 1 or not poly & 1:
        return False
    order = (1 << width) - 1
    if _xpow(order, poly, width) != 1:
        return False
    return all(_xpow(order // q, poly, width) != 1 for q in _prime_factors(order))


def check_lfsr(width: int, poly: int, kind: str, seed: int, maximal: bool = True) -> None:
    """ConfigError (one line) unless the LFSR parameters are usable."""
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise ConfigError(f"LFSR width must be in {MIN_WIDTH}..{MAX_WIDTH}, got {width}")
    if kind not in LFSR_KINDS:
        raise ConfigError(f"LFSR kind must be one of {', '.join(LFSR_KINDS)}, got {kind!r}")
    if poly >> width != 1 or not poly & 1:
        raise ConfigError(f"LFSR polynomial {poly:#x} must have degree {width} and constant term 1")
    if maximal and not is_maximal(poly, width):
        raise ConfigError(f"LFSR polynomial {poly:#x} is not maximal-length for width {width} "
                          f"(period < 2^{width} - 1)")
    if not 0 <= seed < (1 << width):
        raise ConfigError(f"LFSR seed must fit in {width} bits, got {seed}")
    if seed == 0:
        raise ConfigError("LFSR seed 0 locks the LFSR at 0 (the all-zero state never changes)")


def _parity(x):
    x = np.asarray(x, dtype=np.int64)
    for s in (32, 16, 8, 4, 2, 1):
        x = x ^ (x >> s)
    return x & 1


def lfsr_step(state, width: int, poly: int, kind: str, steps: int = 1):
    """State(s) after `steps` steps (numpy int64 array or int, element-wise)."""
    s = np.asarray(state, dtype=np.int64)
    taps = np.int64(taps_of(poly))
    mask = np.int64((1 << width) - 1)
    for _ in range(steps):
        if kind == "fibonacci":
            s = ((s << 1) | _parity(s & taps)) & mask
        else:
            s = (s >> 1) ^ np.where(s & 1, taps, np.int64(0))
    return s if s.ndim else int(s)


def step_int(s: int, width: int, poly: int, kind: str, steps: int = 1) -> int:
    """`lfsr_step` on one Python int (fast path of the cycle schedule)."""
    taps, mask = taps_of(poly), (1 << width) - 1
    for _ in range(steps):
        if kind == "fibonacci":
            s = ((s << 1) | ((s & taps).bit_count() & 1)) & mask
        else:
            s = (s >> 1) ^ (taps if s & 1 else 0)
    return s


def lfsr_states(seed: int, n: int, width: int, poly: int, kind: str, steps: int = 1) -> np.ndarray:
    """The n states s_0 = seed, s_1, ... (one draw each, `steps` steps apart), int64 (n,)."""
    out = np.empty(n, dtype=np.int64)
    s = int(seed)
    for i in range(n):
        out[i] = s
        s = step_int(s, width, poly, kind, steps)
    return out


def lfsr_jump(state: int, n: int, width: int, poly: int, kind: str) -> int:
    """The state n steps after `state`, in O(width^2 log n): both steps are linear maps over GF(2)
    (invertible, since the constant term is 1), so M^n is formed by repeated squaring."""
    cols = [step_int(1 << j, width, poly, kind) for j in range(width)]      # M e_j

    def apply(m, v):
        out, j = 0, 0
        while v:
            if v & 1:
                out ^= m[j]
            v >>= 1
            j += 1
        return out
    while n:
        if n & 1:
            state = apply(cols, state)
        cols = [apply(cols, c) for c in cols]                                # M <- M M
        n >>= 1
    return state


def lane_seeds(seed: int, lanes: int, width: int, poly: int, kind: str) -> list[int]:
    """Reset states of `lanes` independent LFSRs: lane j starts j * floor((2^width - 1) / lanes)
    steps after `seed` on the same m-sequence (equally spaced phases: with a maximal polynomial no
    two lanes share a state within that many steps). Lane 0 gets `seed`."""
    gap = ((1 << width) - 1) // lanes
    return [lfsr_jump(seed, j * gap, width, poly, kind) for j in range(lanes)]
