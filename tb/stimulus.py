"""Constrained-random stimulus with named corner cases for the dot-product PEs (numpy only).

Each generator returns (inputs, coverage): `inputs` maps input port names to per-cycle arrays,
`coverage` counts how often each named corner was driven (a corner with count 0 was not hit).
Everything derives from one numpy Generator, so a seed reproduces a run exactly.
"""
from __future__ import annotations

import numpy as np
from quantpe.golden.baseline import BaselineConfig
from quantpe.golden.dot import product_range
from quantpe.golden.intmath import int_range

from .plan import RegressionPlan

__all__ = ["baseline_stimulus", "BASELINE_CORNERS", "BASELINE_PLAN"]

BASELINE_CORNERS = ("continue_from_reset", "all_min", "all_max", "min_times_min", "zeros",
                    "acc_wrap_or_saturate", "back_to_back_first_last", "idle_gap",
                    "continue_without_first", "restart_without_last")


class _Stream:
    def __init__(self, lanes):
        self.lanes = lanes
        self.rows = []

    def add(self, valid, first, last, a, w):
        self.rows.append((valid, first, last, np.broadcast_to(a, self.lanes),
                          np.broadcast_to(w, self.lanes)))

    def idle(self, n, rng, cfg):
        for _ in range(n):   # inputs carry garbage while valid = 0: they must be ignored
            self.add(0, int(rng.integers(2)), int(rng.integers(2)), _rand(rng, cfg.a_range(), self.lanes),
                     _rand(rng, cfg.w_range(), self.lanes))

    def arrays(self, T):
        rows = self.rows[:T]
        return {"valid": np.array([r[0] for r in rows], np.int64),
                "first": np.array([r[1] for r in rows], np.int64),
                "last": np.array([r[2] for r in rows], np.int64),
                "a": np.array([r[3] for r in rows], np.int64),
                "w": np.array([r[4] for r in rows], np.int64)}


def _rand(rng, rng_range, n, extreme=0.15):
    lo, hi = rng_range
    x = rng.integers(lo, hi + 1, size=n)
    pick = rng.random(n) < extreme
    x[pick] = rng.choice([lo, hi, 0, lo + 1 if lo < 0 else 1, -1 if lo < 0 else hi - 1], size=pick.sum())
    return np.clip(x, lo, hi)


def baseline_stimulus(cfg: BaselineConfig, cycles: int, seed: int):
    """`cycles` cycles of stimulus for the baseline PE: named corners first, then random frames."""
    rng = np.random.default_rng(seed)
    L = cfg.lanes
    (alo, ahi), (wlo, whi) = cfg.a_range(), cfg.w_range()
    cov = dict.fromkeys(BASELINE_CORNERS, 0)
    s = _Stream(L)
    s.idle(2, rng, cfg)
    # the first valid cycle after reset has no `first`: the sum continues from the reset value 0
    s.add(1, 0, 1, _rand(rng, (alo, ahi), L), _rand(rng, (wlo, whi), L)); cov["continue_from_reset"] += 1
    # corners, each framed as its own sum
    s.add(1, 1, 1, alo, wlo); cov["all_min"] += 1; cov["min_times_min"] += 1
    s.add(1, 1, 1, ahi, whi); cov["all_max"] += 1
    s.add(1, 1, 1, alo, whi); s.add(1, 1, 1, ahi, wlo)
    s.add(1, 1, 1, 0, 0); cov["zeros"] += 1
    s.add(1, 1, 0, 0, _rand(rng, (wlo, whi), L)); s.add(1, 0, 1, _rand(rng, (alo, ahi), L), 0)
    for _ in range(4):      # back-to-back single-cycle frames
        s.add(1, 1, 1, _rand(rng, (alo, ahi), L), _rand(rng, (wlo, whi), L))
    cov["back_to_back_first_last"] += 4
    s.idle(3, rng, cfg); cov["idle_gap"] += 1
    s.add(1, 0, 1, _rand(rng, (alo, ahi), L), _rand(rng, (wlo, whi), L))   # continues previous sum
    cov["continue_without_first"] += 1
    s.add(1, 1, 0, _rand(rng, (alo, ahi), L), _rand(rng, (wlo, whi), L))   # frame abandoned ...
    s.add(1, 1, 1, _rand(rng, (alo, ahi), L), _rand(rng, (wlo, whi), L))   # ... by a new first
    cov["restart_without_last"] += 1
    # accumulator overflow: the largest-magnitude lane sum, repeated until the range is exceeded
    plo, phi = product_range(cfg.a_range(), cfg.w_range())
    big = max(-plo, phi)
    n_over = -(-(int_range(cfg.acc_bits, True)[1] + 1) // (big * L)) + 2
    if len(s.rows) + 2 * n_over + 8 <= cycles:
        a_pick, w_pick = (alo, wlo) if abs(alo * wlo) == big else (ahi, whi)
        for k in range(n_over):
            s.add(1, int(k == 0), int(k in (n_over // 2, n_over - 1)), a_pick, w_pick)
        for k in range(n_over):  # and the negative direction
            s.add(1, int(k == 0), int(k == n_over - 1), alo if alo < 0 else ahi, whi if alo < 0 else wlo)
        cov["acc_wrap_or_saturate"] += 1
    # random frames: length 1..8, 20% idle cycles, 15% extreme operand values
    while len(s.rows) < cycles:
        n = int(rng.integers(1, 9))
        for k in range(n):
            if rng.random() < 0.2:
                s.idle(int(rng.integers(1, 4)), rng, cfg)
                cov["idle_gap"] += 1
            s.add(1, int(k == 0), int(k == n - 1), _rand(rng, (alo, ahi), L), _rand(rng, (wlo, whi), L))
    return s.arrays(cycles), cov


def _baseline_corners(cfg) -> list[str]:
    # wrap/saturate needs a narrow accumulator within the run (checked by the stimulus count)
    return [c for c in BASELINE_CORNERS if c != "acc_wrap_or_saturate"]


BASELINE_PLAN = RegressionPlan(
    configs={
        "l16-int8": BaselineConfig(),                                        # the reference PE
        "l4-int4xuint4": BaselineConfig(lanes=4, a_bits=4, w_bits=4, w_signed=False, acc_bits=12,
                                        pipeline=2),
        "l8-int2-sat": BaselineConfig(lanes=8, a_bits=2, w_bits=2, acc_bits=7, pipeline=0,
                                      saturate=True),
    },
    cycles={"verilator": 20000, "icarus": 4000}, corners=_baseline_corners)
