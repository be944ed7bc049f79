"""Activation precision for Stripes / Dynamic Stripes: detection, windows, truncation, profiling.

Bit-level rules (shared by the golden PE schedule in `stripes.py` and by `rtl/stripes.py`):

* Activation codes are `a_bits`-bit integers, unsigned or two's complement (`signed`).
* A *window* [msb..lsb] (0 <= lsb <= msb < a_bits) is the set of bit positions a SIP processes,
  one position per cycle: P = msb - lsb + 1 cycles. The value the SIP multiplies by is
  `window_value`: the bits msb..lsb of the a_bits-bit pattern, scaled by 2^lsb, where for signed
  activations the window's top bit msb has weight -2^msb (it acts as the sign bit):
      field = (pattern >> lsb) mod 2^P ;  signed: field -= 2^P if field >= 2^(P-1) ;  value = field << lsb
  Bits below lsb are dropped (truncation toward -infinity to a multiple of 2^lsb, no rounding).
  Bits above msb are ignored, so a value that does not fit the window wraps modulo 2^(msb+1)
  (not saturated): the result is wrong unless the profile is right. window_value(a) == a exactly
  when all bits below lsb are 0 and a fits in (msb+1) bits (signed) / below 2^(msb+1) (unsigned).
* Lane precision (the minimal leading-only window [p-1..0] that is exact):
  unsigned: p = highest set bit + 1 (0 -> 1); signed: p = index of the highest bit that differs
  from the sign bit + 2 (0 and -1 -> 1), computed as bit_length(a XOR sign-extension) + 1.
* Dynamic detection per detection group (G consecutive lanes of one brick): OR the per-lane
  magnitudes (unsigned: the code; signed: a XOR sign-extension = ~a for a < 0), leading one h of
  the OR -> msb = h (unsigned) or h + 1 (signed), msb = 0 when the OR is 0. With trailing-one
  detection, lsb = lowest set bit of the OR of the raw a_bits-bit *patterns* (not of the
  magnitudes: -4 = ...100 has two zero low bits, its magnitude 3 has none), lsb = 0 when that OR
  is 0; otherwise lsb = 0. The detected window is always exact and always has lsb <= msb.
  Group precision P = msb - lsb + 1 (an all-zero group: [0..0], 1 cycle).

Profiling (Stripes' static per-layer precision): `profile_precisions` is the classic per-layer
search over a caller-supplied accuracy function; `static_window` maps a precision to a window
below a layer's covering msb (`covering_msb`), i.e. low-order bits are the ones given up.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from .errors import QuantpeError
from .intmath import int_range, to_unsigned

__all__ = ["check_codes", "check_window", "bit_length", "magnitude", "lane_precision",
           "detect_windows", "window_value", "covering_msb", "static_window",
           "PrecisionProfile", "profile_precisions", "JOINT_SEARCHES"]


def check_codes(x, bits: int, signed: bool, what: str = "activation") -> np.ndarray:
    """`x` as int64 after checking it holds integer codes of the given width (else QuantpeError)."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "iub":
        raise QuantpeError(f"{what} codes must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    lo, hi = int_range(bits, signed)
    if arr.size:
        bad = (arr < lo) | (arr > hi)
        if bad.any():
            raise QuantpeError(
                f"{what} code {int(arr[bad].flat[0])} is outside [{lo}, {hi}] "
                f"({'signed' if signed else 'unsigned'} {bits}-bit)")
    return arr


def check_window(msb, lsb, a_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(msb, lsb) as int64 arrays after checking 0 <= lsb <= msb < a_bits (else QuantpeError)."""
    m = np.asarray(msb)
    l_ = np.asarray(lsb)
    if m.dtype.kind not in "iu" or l_.dtype.kind not in "iu":
        raise QuantpeError(f"window msb/lsb must be integers, got {m.dtype}/{l_.dtype}")
    m, l_ = np.broadcast_arrays(m.astype(np.int64), l_.astype(np.int64))
    if m.size:
        if (m >= a_bits).any():
            raise QuantpeError(f"window msb {int(m[m >= a_bits].flat[0])} must be < a_bits = {a_bits}")
        if (l_ < 0).any():
            raise QuantpeError(f"window lsb {int(l_[l_ < 0].flat[0])} must be >= 0")
        bad = m < l_
        if bad.any():
            raise QuantpeError(f"window msb {int(m[bad].flat[0])} is below lsb {int(l_[bad].flat[0])}")
    return m, l_


def bit_length(x) -> np.ndarray:
    """Elementwise int.bit_length of non-negative integers (0 -> 0)."""
    v = np.asarray(x, dtype=np.int64).copy()
    if v.size and v.min() < 0:
        raise ValueError("bit_length needs non-negative values")
    n = np.zeros_like(v)
    while v.size and v.any():
        n += v > 0
        v >>= 1
    return n


def magnitude(a, signed: bool) -> np.ndarray:
    """Detector magnitude of a code: the code (unsigned) or a XOR sign-extension (signed)."""
    a = np.asarray(a, dtype=np.int64)
    return np.where(a < 0, ~a, a) if signed else a


def lane_precision(a, a_bits: int, signed: bool) -> np.ndarray:
    """Per-value precision in 1..a_bits (see module docstring); codes are range-checked."""
    a = check_codes(a, a_bits, signed)
    return np.maximum(bit_length(magnitude(a, signed)) + (1 if signed else 0), 1)


def detect_windows(a, a_bits: int, signed: bool, group: int, trailing: bool):
    """Detected windows of bricks `a` (..., L): (msb, lsb), each (..., L // group), int64.

    Detection group j holds lanes j*group .. j*group + group - 1.
    """
    a = check_codes(a, a_bits, signed)
    L = a.shape[-1]
    if group < 1 or L % group:
        raise QuantpeError(f"detection group {group} must divide the lane count {L}")
    ag = a.reshape(a.shape[:-1] + (L // group, group))
    or_mag = np.bitwise_or.reduce(magnitude(ag, signed), axis=-1)
    msb = bit_length(or_mag) - (0 if signed else 1)
    msb = np.maximum(msb, 0)
    if trailing:
        or_raw = np.bitwise_or.reduce(to_unsigned(ag, a_bits), axis=-1)
        lsb = np.where(or_raw == 0, 0, bit_length(or_raw & -or_raw) - 1)
    else:
        lsb = np.zeros_like(msb)
    return msb.astype(np.int64), lsb.astype(np.int64)


def window_value(a, msb, lsb, a_bits: int, signed: bool) -> np.ndarray:
    """Value a SIP computes with for code(s) `a` under window(s) [msb..lsb] (broadcasting)."""
    a = check_codes(a, a_bits, signed)
    msb, lsb = check_window(msb, lsb, a_bits)
    p = msb - lsb + 1
    field = (to_unsigned(a, a_bits) >> lsb) & ((np.int64(1) << p) - 1)
    if signed:
        field = np.where(field >= (np.int64(1) << (p - 1)), field - (np.int64(1) << p), field)
    return field << lsb


def covering_msb(trace, a_bits: int, signed: bool) -> int:
    """Smallest msb such that window [msb..0] is exact for every code of `trace` (codes checked
    as `check_codes` does): max `lane_precision` - 1, from the two extreme codes alone (a lane's
    precision grows with its `magnitude`, the largest of which is max(a) or ~min(a))."""
    a = np.asarray(trace)
    if a.dtype.kind not in "iub" or a.size == 0:
        check_codes(a, a_bits, signed)                 # refuses a non-integer dtype
        return 0
    lo_c, hi_c = int(a.min()), int(a.max())
    lo, hi = int_range(a_bits, signed)
    if lo_c < lo or hi_c > hi:
        check_codes(a, a_bits, signed)                 # refuses, naming the first bad code
    return max(hi_c, ~lo_c).bit_length() if signed else max(hi_c.bit_length(), 1) - 1


def static_window(precision: int, msb: int, a_bits: int) -> tuple[int, int]:
    """Window of `precision` bits ending at `msb`: (msb, max(0, msb - precision + 1)).

    A precision wider than msb + 1 gives [msb..0] (it cannot be used: no bits below 0).
    """
    if not 1 <= precision <= a_bits:
        raise QuantpeError(f"precision must be in 1..{a_bits}, got {precision}")
    if not 0 <= msb < a_bits:
        raise QuantpeError(f"window msb must be in 0..{a_bits - 1}, got {msb}")
    return msb, max(0, msb - precision + 1)


# ----------------------------------------------------------------------------- profiling

@dataclasses.dataclass(frozen=True)
class PrecisionProfile:
    """Result of `profile_precisions`.

    precisions: final per-layer precisions (joint accuracy within tolerance);
    independent: per-layer minima found with every other layer at full precision;
    reference: accuracy at full precision; accuracy: accuracy of `precisions`;
    bumps: layers whose precision the joint phase raised by one, in order;
    drops: layers the "ranked" descent lowered back by one, in order (precisions = independent
    + bumps - drops); evaluations: distinct precision vectors evaluated (calls of `accuracy`).
    """

    precisions: tuple
    independent: tuple
    reference: float
    accuracy: float
    threshold: float
    bumps: tuple
    evaluations: int
    drops: tuple = ()


JOINT_SEARCHES = ("ranked", "greedy")


def profile_precisions(accuracy: Callable[[tuple], float], n_layers: int, max_bits: int,
                       tolerance: float = 0.0, relative: bool = False,
                       min_bits: int = 1, joint: str = "ranked") -> PrecisionProfile:
    """Per-layer minimal activation precision (the Stripes / Judd et al. profiling search).

    `accuracy(precisions)` takes a tuple of n_layers ints in min_bits..max_bits and returns a
    float (higher is better; it should be deterministic). Acceptance threshold:
    reference - tolerance (absolute) or reference * (1 - tolerance) (relative), where reference =
    accuracy((max_bits,) * n_layers). Search:
    1. independently for each layer l: lower p_l from max_bits one bit at a time, all other
       layers at max_bits, while the accuracy stays >= threshold; p_l = the last passing value
       (so every precision between p_l and max_bits passed);
    2. joint check with all p_l at once; while it fails, raise layers by one bit, re-checking
       after each raise, in one of two ways (`joint`):
       - "greedy": raise the layer (among those below max_bits) whose increment gives the highest
         accuracy (ties: lowest index). One scoring of every layer per raise: O(L) evaluations
         per raise, O(L^2) in all.
       - "ranked" (default): score every layer below max_bits once (the accuracy of its one-bit
         increment), then raise them one at a time in descending score order (ties: lowest
         index) until the check passes; when every scored layer has been raised and it still
         fails, score again. Then one descent pass undoes what the ranking over-raised: for each
         raise, latest first, lower that layer by one bit (never below p_l) when the result
         still passes (`drops`). At most 2 L evaluations per round, max_bits - min_bits rounds
         and one per raise in the descent: O(L) evaluations in all. It equals "greedy" when one
         raise suffices.
       Both terminate: at all-max the accuracy equals the reference.
    Calls are memoised; `evaluations` counts distinct vectors.
    Long: the profile search (per-layer descent, then the bump pass) in one loop."""
    if joint not in JOINT_SEARCHES:
        raise QuantpeError(f"joint search must be one of {', '.join(JOINT_SEARCHES)}, got {joint!r}")
    if n_layers < 1:
        raise QuantpeError(f"n_layers must be >= 1, got {n_layers}")
    if not 1 <= min_bits <= max_bits:
        raise QuantpeError(f"need 1 <= min_bits <= max_bits, got {min_bits}, {max_bits}")
    if not tolerance >= 0:
        raise QuantpeError(f"tolerance must be >= 0, got {tolerance}")
    cache: dict[tuple, float] = {}

    def acc(p: Sequence[int]) -> float:
        key = tuple(int(x) for x in p)
        if key not in cache:
            cache[key] = float(accuracy(key))
        return cache[key]

    full = (max_bits,) * n_layers
    ref = acc(full)
    threshold = ref * (1.0 - tolerance) if relative else ref - tolerance
    indep = []
    for layer in range(n_layers):
        p = max_bits
        while p > min_bits:
            trial = list(full)
            trial[layer] = p - 1
            if acc(trial) < threshold:
                break
            p -= 1
        indep.append(p)
    cur = list(indep)
    bumps = []

    def scored() -> list:
        """Layers below max_bits, best one-bit increment first (ties: lowest index)."""
        scores = []
        for layer in range(n_layers):
            if cur[layer] < max_bits:
                trial = list(cur)
                trial[layer] += 1
                scores.append((-acc(trial), layer))
        if not scores:          # all at max but still below threshold: non-deterministic accuracy
            raise QuantpeError("accuracy function is not deterministic: full precision fails its own threshold")
        return [layer for _, layer in sorted(scores)]

    while acc(cur) < threshold:
        order = scored()
        for layer in (order[:1] if joint == "greedy" else order):
            cur[layer] += 1
            bumps.append(layer)
            if acc(cur) >= threshold:
                break
    drops = []
    if joint == "ranked":
        for layer in reversed(bumps):
            if cur[layer] > indep[layer]:
                trial = list(cur)
                trial[layer] -= 1
                if acc(trial) >= threshold:
                    cur = trial
                    drops.append(layer)
    return PrecisionProfile(precisions=tuple(cur), independent=tuple(indep), reference=ref,
                            accuracy=acc(cur), threshold=threshold, bumps=tuple(bumps), drops=tuple(drops),
                            evaluations=len(cache))
