"""Baseline dot-product PE: configuration and cycle-level golden reference.

Hardware contract (rtl/baseline.py implements exactly this):

Inputs, sampled on the rising clock edge that ends cycle t:
  valid, first, last          1 bit each; first/last are ignored when valid = 0
  a[i], w[i]  i < lanes       a_bits / w_bits, signed (two's complement) or unsigned
On a valid cycle the PE forms s = sum_i a[i] * w[i] exactly (sum_bits wide) and updates the
signed acc_bits accumulator: acc = s if first else acc + s, wrapped modulo 2^acc_bits (or
saturated when `saturate`). When last is also set, acc is emitted: out_valid is 1 for exactly
one cycle, `latency` cycles after the input cycle, and out_sum holds the emitted value from then
until the next emission (0 after reset). The accumulator keeps its value after an emission, so a
valid cycle without first continues the previous sum. latency = pipeline + 1.
Reset (synchronous, active high) clears acc, out_sum, out_valid and the pipeline.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .config import DesignConfig
from .dot import LaneWidths, MulRule, Pipelined, accumulate, exact_mul
from .intmath import wrap

__all__ = ["BaselineConfig", "Stimulus", "Expected", "baseline_schedule", "baseline_schedule_ports",
           "frame_schedule"]



@dataclasses.dataclass(frozen=True)
class BaselineConfig(LaneWidths, Pipelined, DesignConfig):
    """Parameters of the baseline PE (defaults: 16 lanes, int8 x int8, 32-bit accumulator)."""

    kind = "baseline"
    lanes: int = 16
    a_bits: int = 8
    w_bits: int = 8
    a_signed: bool = True
    w_signed: bool = True
    acc_bits: int = 32
    pipeline: int = 1      # registers between multipliers and accumulator: 0, 1 (after the adder tree), 2 (+ after multipliers)
    saturate: bool = False

    def validate(self):
        self.check_lane_widths()
        self.check_pipeline()
        self.check_acc_bits()

    def short_name(self) -> str:
        def t(bits, signed):
            return f"{'i' if signed else 'u'}{bits}"
        sat = "-sat" if self.saturate else ""
        return (f"baseline-l{self.lanes}-a{t(self.a_bits, self.a_signed)}-w{t(self.w_bits, self.w_signed)}"
                f"-acc{self.acc_bits}-p{self.pipeline}{sat}")


@dataclasses.dataclass
class Stimulus:
    """Per-cycle input streams of a dot-product PE (T cycles)."""

    valid: np.ndarray   # (T,) 0/1
    first: np.ndarray   # (T,) 0/1
    last: np.ndarray    # (T,) 0/1
    a: np.ndarray       # (T, lanes) integer codes
    w: np.ndarray       # (T, lanes) integer codes

    def __len__(self):
        return len(self.valid)


@dataclasses.dataclass
class Expected:
    """Per-cycle expected outputs (what the DUT shows during cycle t)."""

    out_valid: np.ndarray  # (T,) 0/1
    out_sum: np.ndarray    # (T,) signed acc_bits


def baseline_schedule(cfg: BaselineConfig, stim: Stimulus, mul: MulRule = exact_mul) -> Expected:
    """Cycle-exact expected outputs of the baseline PE for `stim` (T cycles after reset)."""
    lane_sums = np.sum(mul(stim.a, stim.w), axis=1, dtype=np.int64)      # exact, fits sum_bits
    return frame_schedule(lane_sums, stim.valid, stim.first, stim.last, cfg.acc_bits,
                          cfg.saturate, cfg.latency)


def frame_schedule(lane_sums, valid, first, last, acc_bits: int, saturating: bool,
                   latency: int) -> Expected:
    """The framed-accumulator timeline shared by every non-stalling dot-product PE.

    lane_sums[t] is the exact sum the PE forms in input cycle t; valid/first/last frame the
    sums as in the module docstring; the result of a `last` cycle t shows on out_valid/out_sum
    in cycle t + latency, and out_sum holds it until the next emission (0 after reset).
    """
    lane_sums = np.asarray(lane_sums, dtype=np.int64)
    T = len(lane_sums)
    valid = np.asarray(valid, bool)
    first = np.asarray(first, bool) & valid
    last = np.asarray(last, bool) & valid
    emitted = np.zeros(T, dtype=np.int64)       # value emitted by the input cycle t (if last)
    if saturating:
        acc = 0
        for t in np.flatnonzero(valid):
            acc = int(accumulate(0 if first[t] else acc, lane_sums[t], acc_bits, True))
            emitted[t] = acc
    else:
        # wrap mode is modular: acc(t) = sum of lane sums since the last `first`, wrapped.
        contrib = np.where(valid, lane_sums, 0)
        csum = np.cumsum(contrib)
        seg_start = np.maximum.accumulate(np.where(first, np.arange(T), -1))
        base = np.where(seg_start > 0, csum[np.maximum(seg_start - 1, 0)], 0)
        emitted = wrap(csum - base, acc_bits)
    out_valid = np.zeros(T, dtype=np.int64)
    idx = np.flatnonzero(last)
    idx_out = idx + latency
    keep = idx_out < T
    out_valid[idx_out[keep]] = 1
    # out_sum holds the latest emitted value: forward-fill from each emission cycle.
    held = np.zeros(T, dtype=np.int64)
    held[idx_out[keep]] = emitted[idx[keep]]
    which = np.maximum.accumulate(np.where(out_valid == 1, np.arange(T), -1))
    out_sum = np.where(which >= 0, held[np.maximum(which, 0)], 0)
    return Expected(out_valid=out_valid, out_sum=out_sum)


def baseline_schedule_ports(cfg: BaselineConfig, inputs: dict) -> dict:
    """{out_valid, out_sum} per cycle for the port streams `inputs` (valid, first, last, a, w)."""
    exp = baseline_schedule(cfg, Stimulus(**{k: inputs[k] for k in ("valid", "first", "last", "a", "w")}))
    return {"out_valid": exp.out_valid, "out_sum": exp.out_sum}
