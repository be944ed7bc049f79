"""Stimulus for the approximate-multiplier PE: the baseline PE's corners and random frames, plus
a burst of every operand pair where lane multipliers are most wrong (numpy only)."""
from __future__ import annotations

import numpy as np
from quantpe.golden.approx import exact_table, mul_table, operand_values
from quantpe.golden.approx_pe import ApproxPEConfig

from .plan import RegressionPlan
from .stimulus import BASELINE_CORNERS, baseline_stimulus

__all__ = ["approx_pe_stimulus", "APPROX_PE_CORNERS", "APPROX_PE_PLAN"]

APPROX_PE_CORNERS = BASELINE_CORNERS + ("worst_error_pairs",)


def approx_pe_stimulus(cfg: ApproxPEConfig, cycles: int, seed: int):
    """`cycles` cycles: the baseline PE stimulus (ApproxPEConfig duck-types its ranges), with the
    cycles after the named corners partly replaced by single-cycle frames in which every lane
    gets one of its own multiplier's worst-error operand pairs (largest |approx - exact|)."""
    inputs, cov = baseline_stimulus(cfg, cycles, seed)
    cov = {**cov, "worst_error_pairs": 0}
    rng = np.random.default_rng(seed ^ 0x5A5A)
    L = cfg.lanes
    worst = []
    for c in cfg.lane_configs():
        err = np.abs(mul_table(c) - exact_table(c.a_bits, c.b_bits, c.signed))
        ia, ib = np.nonzero(err == err.max())
        worst.append((operand_values(c.a_bits, c.signed)[ia], operand_values(c.b_bits, c.signed)[ib]))
    n = min(16, max(0, cycles // 8))
    # near the end (the baseline corners stay untouched), leaving room for the latency
    for t in range(max(0, cycles - n - cfg.latency - 2), max(0, cycles - cfg.latency - 2)):
        for i, (va, vb) in enumerate(worst):
            j = int(rng.integers(len(va)))
            inputs["a"][t, i] = va[j]
            inputs["w"][t, i] = vb[j]
        inputs["valid"][t] = inputs["first"][t] = inputs["last"][t] = 1
        cov["worst_error_pairs"] += 1
    assert inputs["a"].shape == (cycles, L)
    return inputs, cov


APPROX_PE_PLAN = RegressionPlan(
    configs={
        # int8, four different lane kinds, default pipeline
        "l4-i8-mix": ApproxPEConfig(lanes=4, lane_muls=("truncated:t=6,compensate=1", "drum:k=3", "mitchell",
                                                        "broken_array:hbl=1,vbl=6")),
        # unsigned 4x4, pipeline 2, saturating small accumulator
        "l4-u4-mix-sat": ApproxPEConfig(lanes=4, a_bits=4, w_bits=4, signed=False, acc_bits=11, pipeline=2,
                                        saturate=True, lane_muls=("perforated:perf_rows=1", "exact", "drum:k=2",
                                                                  "ssm:k=3,t=1")),
        # signed 6x3 (asymmetric), combinational, one kind for all lanes (DRUM k=2 overshoots: y_bits 10)
        "l5-i6x3-drum": ApproxPEConfig(lanes=5, a_bits=6, w_bits=3, acc_bits=14, pipeline=0, mul="drum:k=2"),
    },
    cycles={"verilator": 6000, "icarus": 2000},
    corners=lambda cfg: [c for c in APPROX_PE_CORNERS if c != "acc_wrap_or_saturate"])
