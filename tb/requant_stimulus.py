"""Constrained-random stimulus with named corners for the requantiser column (numpy only).

Layout of the `cycles` cycles (all lanes of a row use one valid):
  0-1       idle (garbage on acc: must be ignored)
  2-41      valid every cycle, no seed load: the LFSR stream right after reset
  42-...    the named corners, one row each (exact ties of both signs, largest/smallest
            accumulator, saturating values both ways, zero and all-ones fractions)
  then      seed events (stochastic mode): a load with valid, a load of 0 (becomes 1), a load of
            all ones, two loads back to back, a load while idle; then constrained-random rows
            (85% valid, 0.5% random re-seeds) to the end.
Coverage is counted from what was driven, with the golden model giving the random draws R, so
a corner counts only if it really happened (e.g. a saturation after rounding).
"""
from __future__ import annotations

import numpy as np
from quantpe.golden.fixedpoint import round_shift
from quantpe.golden.requant import RequantConfig, requant_schedule

from .plan import RegressionPlan

__all__ = ["requant_stimulus", "REQUANT_CORNERS", "applicable_corners", "REQUANT_CONFIGS", "REQUANT_PLAN"]

REQUANT_CORNERS = ("stream_after_reset", "tie_positive", "tie_negative", "acc_max", "acc_min",
                   "sat_high", "sat_low", "zero_fraction", "max_fraction", "round_up", "round_down",
                   "k_zero", "k_max", "idle_gap", "seed_load", "seed_load_zero", "seed_load_with_valid",
                   "seed_load_back_to_back")


def _limits(cfg: RequantConfig):
    lo, hi = -(1 << (cfg.acc_bits - 1)), (1 << (cfg.acc_bits - 1)) - 1
    return lo, hi


def applicable_corners(cfg: RequantConfig) -> list[str]:
    """The corners this config can reach (e.g. no ties when k = 0, no saturation when the
    rounded accumulator always fits the output)."""
    lo, hi = _limits(cfg)
    k = cfg.k
    rmax = (1 << k) - 1 if cfg.stochastic else None
    y_hi = int(round_shift(hi, k, cfg.mode, rmax))
    y_lo = int(round_shift(lo, k, cfg.mode, 0 if cfg.stochastic else None))
    out = ["stream_after_reset", "acc_max", "acc_min", "idle_gap", "round_down"]
    if k >= 1:
        out += ["tie_positive", "tie_negative", "zero_fraction", "max_fraction"]
        if cfg.mode != "truncate":
            out.append("round_up")
    if y_hi > cfg.fmt.code_max:
        out.append("sat_high")
    if y_lo < cfg.fmt.code_min:
        out.append("sat_low")
    out += ["k_zero"] if k == 0 else []
    out += ["k_max"] if k == cfg.acc_bits - 1 else []
    if cfg.stochastic:
        out += ["seed_load", "seed_load_zero", "seed_load_with_valid", "seed_load_back_to_back"]
    return [c for c in REQUANT_CORNERS if c in out]


def _values(rng, cfg: RequantConfig, shape) -> np.ndarray:
    """Random accumulators: 45% near the output range, 20% near zero, 20% full range, 10% extremes,
    5% exact ties near the output range."""
    lo, hi = _limits(cfg)
    k, fmt = cfg.k, cfg.fmt
    frac = rng.integers(0, 1 << k, size=shape, dtype=np.int64) if k else np.zeros(shape, np.int64)
    y_near = rng.integers(fmt.code_min - 3, fmt.code_max + 4, size=shape, dtype=np.int64)
    y_small = rng.integers(-4, 5, size=shape, dtype=np.int64)
    full = rng.integers(lo, hi, size=shape, dtype=np.int64, endpoint=True)
    ext = rng.choice(np.array([lo, hi, lo + 1, hi - 1, 0, -1], dtype=np.int64), size=shape)
    pick = rng.random(shape)
    with np.errstate(over="ignore"):
        near = np.clip(y_near, lo >> k, hi >> k) * (1 << k) + frac
        small = np.clip(y_small, lo >> k, hi >> k) * (1 << k) + frac
    tie = near - frac + ((1 << (k - 1)) if k else 0)
    v = np.where(pick < 0.45, near, np.where(pick < 0.65, small, np.where(pick < 0.85, full, ext)))
    v = np.where(pick >= 0.95, tie, v)
    return np.clip(v, lo, hi)


def _corner_rows(rng, cfg: RequantConfig) -> list[np.ndarray]:
    lo, hi = _limits(cfg)
    k, fmt, N = cfg.k, cfg.fmt, cfg.columns
    rows = [np.full(N, hi), np.full(N, lo)]

    def shifted(y, f):
        return np.clip(np.clip(y, lo >> k, hi >> k) * (1 << k) + f, lo, hi)

    def y_in(n):
        return rng.integers(fmt.code_min, fmt.code_max + 1, size=n, dtype=np.int64)

    if k >= 1:
        half = 1 << (k - 1)
        for _ in range(3):
            rows.append(shifted(np.abs(y_in(N)) % (fmt.code_max + 1), half))              # +ties
            rows.append(shifted(-1 - np.abs(y_in(N)) % (fmt.code_max + 1), half))         # -ties
        rows.append(shifted(y_in(N), 0))
        rows.append(shifted(y_in(N), (1 << k) - 1))
        rows.append(np.full(N, half if half <= hi else hi))           # +0.5 eps
        rows.append(np.full(N, -half if -half >= lo else lo))         # -0.5 eps
    for y in (fmt.code_max, fmt.code_max + 1, fmt.code_max + 5, fmt.code_min, fmt.code_min - 1,
              fmt.code_min - 5):
        rows.append(shifted(np.full(N, y), rng.integers(0, 1 << k, size=N, dtype=np.int64) if k else 0))
    return rows


def requant_stimulus(cfg: RequantConfig, cycles: int, seed: int):
    """`cycles` cycles of stimulus for the requantiser: (inputs, coverage)."""
    rng = np.random.default_rng(seed)
    T, N, M, w = cycles, cfg.columns, cfg.n_lfsr, cfg.lfsr_bits
    valid = (rng.random(T) < 0.85).astype(np.int64)
    acc = _values(rng, cfg, (T, N))
    load = np.zeros(T, np.int64)
    seeds = rng.integers(0, 1 << w, size=(T, M), dtype=np.int64)
    valid[:2] = 0
    valid[2:42] = 1
    t = 42
    for row in _corner_rows(rng, cfg):
        if t < T:
            valid[t], acc[t] = 1, row
        t += 1
    valid[t:t + 3] = 0                                    # an idle gap after the corners
    t += 3
    if cfg.stochastic:
        # (cycle offset, valid, seed or None = random): load with valid, load 0 while idle,
        # load all ones, two loads back to back, a load while idle
        events = [(0, 1, None), (2, 0, 0), (5, 1, (1 << w) - 1), (8, 1, None), (9, 0, None),
                  (12, 0, None)]
        for off, v, s in events:
            if t + off < T:
                load[t + off], valid[t + off] = 1, v
                if s is not None:
                    seeds[t + off] = s
        t += 16
        rest = np.arange(T) >= t
        load |= (rest & (rng.random(T) < 0.005)).astype(np.int64)
        seeds[rest & (rng.random(T) < 0.1)] = 0
    inputs = {"valid": valid, "acc": acc}
    if cfg.stochastic:
        inputs.update(seed_load=load, seed=seeds)
    return inputs, _coverage(cfg, inputs)


def _coverage(cfg: RequantConfig, inputs: dict) -> dict:
    valid = inputs["valid"].astype(bool)
    T, k, fmt = len(valid), cfg.k, cfg.fmt
    acc = inputs["acc"].reshape(T, cfg.columns)
    lo, hi = _limits(cfg)
    v = valid[:, None]
    if cfg.stochastic:
        states = requant_schedule(cfg, inputs)["lfsr"]
        r = states & ((1 << k) - 1)
        r = np.broadcast_to(r, acc.shape) if cfg.n_lfsr == 1 else r
    else:
        r = None
    y = round_shift(acc, k, cfg.mode, r)
    low = acc & ((1 << k) - 1)
    cov = dict.fromkeys(REQUANT_CORNERS, 0)
    load = inputs.get("seed_load", np.zeros(T, np.int64)).astype(bool)
    first_load = int(np.flatnonzero(load)[0]) if load.any() else T
    cov["stream_after_reset"] = int(valid[:first_load].sum())
    if k >= 1:
        tie = v & (low == 1 << (k - 1))
        cov["tie_positive"] = int((tie & (acc >= 0)).sum())
        cov["tie_negative"] = int((tie & (acc < 0)).sum())
        cov["zero_fraction"] = int((v & (low == 0)).sum())
        cov["max_fraction"] = int((v & (low == (1 << k) - 1)).sum())
    cov["acc_max"] = int((v & (acc == hi)).sum())
    cov["acc_min"] = int((v & (acc == lo)).sum())
    cov["sat_high"] = int((v & (y > fmt.code_max)).sum())
    cov["sat_low"] = int((v & (y < fmt.code_min)).sum())
    up = y > (acc >> k)
    cov["round_up"] = int((v & up).sum())
    cov["round_down"] = int((v & ~up & (low != 0)).sum()) if k else int(v.sum())
    cov["k_zero"] = int(valid.sum()) if k == 0 else 0
    cov["k_max"] = int(valid.sum()) if k == cfg.acc_bits - 1 else 0
    cov["idle_gap"] = int((~valid[1:] & valid[:-1]).sum())
    if cfg.stochastic:
        seeds = inputs["seed"].reshape(T, cfg.n_lfsr)
        cov["seed_load"] = int(load.sum())
        cov["seed_load_zero"] = int((load & (seeds == 0).any(axis=1)).sum())
        cov["seed_load_with_valid"] = int((load & valid).sum())
        cov["seed_load_back_to_back"] = int((load[1:] & load[:-1]).sum())
    return cov


REQUANT_CONFIGS = {
    # the default: 48-bit accumulator with 28 fractional bits -> <2,14>, 16-bit fibonacci LFSR
    "sr-default": RequantConfig(),
    "nearest": RequantConfig(mode="nearest"),
    "truncate": RequantConfig(mode="truncate"),
    # k = 0 (nothing to drop), saturation both ways
    "nearest-k0": RequantConfig(acc_bits=20, f_acc=8, il=3, fl=8, mode="nearest"),
    # k = acc_bits - 1
    "sr-kmax": RequantConfig(acc_bits=20, f_acc=27, il=4, fl=8, lfsr_bits=19),
    "nearest-kmax": RequantConfig(acc_bits=20, f_acc=27, il=4, fl=8, mode="nearest"),
    # columns: independent galois LFSRs with fresh bits per draw, and one shared LFSR
    "col4-indep-gal32": RequantConfig(columns=4, lfsr_bits=32, lfsr_kind="galois", lfsr_steps=14,
                                      lfsr_seed=0xDEADBEEF),
    "col3-shared-fib24": RequantConfig(columns=3, lfsr_bits=24, lfsr_steps=3, lfsr_shared=True),
    "col3-indep-fib16": RequantConfig(columns=3),
    # a short galois run for the default regression
    "col2-indep-gal16": RequantConfig(columns=2, lfsr_kind="galois", lfsr_steps=2),
}
#: the default regression (every other config and simulator pair runs with --slow): both LFSR
#: kinds and nearest rounding with k > 0 (k = 14) and k = 0
REQUANT_PLAN = RegressionPlan(
    configs={n: REQUANT_CONFIGS[n] for n in ("sr-default", "nearest", "nearest-k0", "sr-kmax",
                                              "col2-indep-gal16", "col3-shared-fib24", "col3-indep-fib16")},
    cycles={"verilator": 20000, "icarus": 4000}, corners=applicable_corners,
    sims={"sr-default": ("icarus", "verilator"), "nearest": ("icarus",), "nearest-k0": ("icarus",),
          "sr-kmax": ("icarus",), "col2-indep-gal16": ("icarus",), "col3-shared-fib24": ("icarus",),
          "col3-indep-fib16": ("icarus",)})
