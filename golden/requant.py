"""Requantiser (column): configuration and cycle-level golden reference.

Hardware contract (rtl/requant.py implements exactly this), N = `columns` lanes:

Inputs, sampled on the rising clock edge that ends cycle t:
  valid            1 bit: acc carries N accumulators to round this cycle
  acc[i], i < N    signed acc_bits, value acc[i] * 2^-f_acc (f_acc fractional bits)
  seed_load        1 bit, stochastic mode only: load the LFSR(s) from `seed` at the end of cycle t
  seed[j], j < M   lfsr_bits unsigned, stochastic mode only; M = 1 (shared LFSR or N = 1) or N
                   (one independent LFSR per lane); a loaded 0 becomes 1 (0 would lock up)
Outputs, what the DUT shows during cycle t:
  out_valid        1 bit, = valid of cycle t - 1 (latency 1: one output register)
  out[i]           signed WL = il + fl bits: the <il,fl> code of the latest valid input,
                   requantize(acc[i], f_acc, <il,fl>, mode, R) (golden.fixedpoint: round k =
                   f_acc - fl bits, then saturate); held while valid = 0; 0 after reset
  lfsr[j]          stochastic mode only: the LFSR state register(s) during cycle t
Random bits (stochastic mode): in a valid cycle lane i uses R = lfsr[j] & (2^k - 1) of its LFSR
(j = 0 when shared, j = i when independent): the state *before* the update. The LFSR then makes
`lfsr_steps` steps (golden.lfsr), only on valid cycles; a seed_load cycle loads instead (the
valid input of that cycle still uses the old state). Reset (synchronous, active high) sets
out = 0, out_valid = 0 and LFSR j to lane_seeds(lfsr_seed, M, ...)[j] (golden.lfsr: LFSR j starts
j * floor((2^lfsr_bits - 1) / M) steps after lfsr_seed).

Shared vs independent: a shared LFSR gives every lane of a cycle the same R, so the rounding
errors of the lanes are positively correlated (lane i and lane j round up together whenever both
fractions exceed 1 - R/2^k); independent LFSRs (same polynomial, phases (2^lfsr_bits - 1) / N
apart on one m-sequence) make them practically uncorrelated at N times the LFSR cost. With
lfsr_steps < k consecutive draws of one LFSR overlap (R_{t+1} = 2 R_t mod 2^k + new bit for
fibonacci, steps = 1), so successive roundings of one lane are correlated; lfsr_steps >= k
makes successive draws use fresh bits.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .config import DesignConfig
from .errors import ConfigError
from .fixedpoint import FixedFormat, check_mode, requantize
from .lfsr import LFSR_KINDS, MAXIMAL_POLYS, check_lfsr, lane_seeds, step_int

__all__ = ["RequantConfig", "requant_schedule", "requant_schedule_ports", "rounding_statistics",
           "MAX_ACC_BITS", "MAX_COLUMNS"]

MAX_ACC_BITS = 62
MAX_COLUMNS = 64


@dataclasses.dataclass(frozen=True)
class RequantConfig(DesignConfig):
    """Requantiser column: N acc_bits accumulators (f_acc fractional bits) -> N <il,fl> codes."""

    kind = "requant"
    columns: int = 1               # N lanes; 1 = a single requantiser
    acc_bits: int = 48
    f_acc: int = 28                # accumulator fractional bits (two <2,14> operands: 28)
    il: int = 2                    # output integer bits, including the sign
    fl: int = 14                   # output fractional bits
    mode: str = "stochastic"       # truncate | nearest | stochastic
    lfsr_bits: int = 16            # LFSR width (stochastic mode)
    lfsr_kind: str = "fibonacci"   # fibonacci | galois
    lfsr_poly: int = 0             # bit i = coefficient of x^i; 0 = the built-in maximal polynomial
    lfsr_maximal: bool = True      # require a maximal-length polynomial
    lfsr_steps: int = 1            # LFSR steps per draw
    lfsr_shared: bool = False      # one LFSR for all lanes (else one per lane)
    lfsr_seed: int = 1             # reset seed (lane 0; other lanes: golden.lfsr.lane_seeds)

    def validate(self):
        if not 1 <= self.columns <= MAX_COLUMNS:
            raise ConfigError(f"columns must be in 1..{MAX_COLUMNS}, got {self.columns}")
        if not 2 <= self.acc_bits <= MAX_ACC_BITS:
            raise ConfigError(f"acc_bits must be in 2..{MAX_ACC_BITS}, got {self.acc_bits}")
        fmt = self.fmt
        if not isinstance(self.mode, str):
            raise ConfigError(f"requant: mode must be a string, got {self.mode!r}")
        check_mode(self.mode)
        k = self.f_acc - fmt.fl
        if not 0 <= k <= self.acc_bits - 1:
            raise ConfigError(f"bits to drop k = f_acc - fl must be in 0..acc_bits-1 = "
                              f"0..{self.acc_bits - 1}, got {k}")
        if not isinstance(self.lfsr_kind, str) or self.lfsr_kind not in LFSR_KINDS:
            raise ConfigError(f"lfsr_kind must be one of {', '.join(LFSR_KINDS)}, got {self.lfsr_kind!r}")
        if self.lfsr_poly == 0 and self.lfsr_bits not in MAXIMAL_POLYS:
            raise ConfigError(f"no built-in maximal polynomial for a {self.lfsr_bits}-bit LFSR "
                              f"(built in: {min(MAXIMAL_POLYS)}..{max(MAXIMAL_POLYS)}); give lfsr_poly")
        check_lfsr(self.lfsr_bits, self.poly, self.lfsr_kind, self.lfsr_seed, self.lfsr_maximal)
        if not 1 <= self.lfsr_steps <= self.lfsr_bits:
            raise ConfigError(f"lfsr_steps must be in 1..lfsr_bits = 1..{self.lfsr_bits}, "
                              f"got {self.lfsr_steps}")
        if self.mode == "stochastic" and k > self.lfsr_bits:
            raise ConfigError(f"stochastic rounding drops k = {k} bits but the LFSR has only "
                              f"{self.lfsr_bits}")

    @property
    def fmt(self) -> FixedFormat:
        return FixedFormat(self.il, self.fl)

    @property
    def wl(self) -> int:
        return self.il + self.fl

    @property
    def k(self) -> int:
        return self.f_acc - self.fl

    @property
    def poly(self) -> int:
        return self.lfsr_poly or MAXIMAL_POLYS.get(self.lfsr_bits, 0)

    @property
    def stochastic(self) -> bool:
        return self.mode == "stochastic"

    @property
    def n_lfsr(self) -> int:
        return 1 if self.lfsr_shared or self.columns == 1 else self.columns

    def reset_seeds(self) -> list[int]:
        return lane_seeds(self.lfsr_seed, self.n_lfsr, self.lfsr_bits, self.poly, self.lfsr_kind)

    @property
    def latency(self) -> int:
        return 1

    def short_name(self) -> str:
        s = f"requant-n{self.columns}-acc{self.acc_bits}f{self.f_acc}-q{self.il}.{self.fl}-{self.mode}"
        if self.stochastic:
            s += f"-{self.lfsr_kind[:3]}{self.lfsr_bits}x{self.lfsr_steps}"
            if self.columns > 1:
                s += "-shared" if self.lfsr_shared else "-indep"
        return s


def _lfsr_schedule(cfg: RequantConfig, valid, load, seeds) -> np.ndarray:
    """LFSR state register(s) during every cycle, int64 (T, n_lfsr)."""
    T = len(valid)
    states = np.empty((T, cfg.n_lfsr), dtype=np.int64)
    cur = cfg.reset_seeds()
    w, p, kind, steps = cfg.lfsr_bits, cfg.poly, cfg.lfsr_kind, cfg.lfsr_steps
    for t in range(T):
        states[t] = cur
        if load[t]:
            cur = [int(s) or 1 for s in seeds[t]]
        elif valid[t]:
            cur = [step_int(s, w, p, kind, steps) for s in cur]
    return states


def requant_schedule(cfg: RequantConfig, inputs: dict) -> dict:
    """Cycle-exact outputs {out_valid (T,), out (T, N)[, lfsr (T, M)]} for the port streams."""
    valid = np.asarray(inputs["valid"], dtype=np.int64).reshape(-1)
    T, N = len(valid), cfg.columns
    acc = np.asarray(inputs["acc"], dtype=np.int64).reshape(T, N)
    res = {}
    if cfg.stochastic:
        load = np.asarray(inputs["seed_load"], dtype=np.int64).reshape(T)
        seeds = np.asarray(inputs["seed"], dtype=np.int64).reshape(T, cfg.n_lfsr)
        states = _lfsr_schedule(cfg, valid, load, seeds)
        r = states & ((1 << cfg.k) - 1)
        r = np.broadcast_to(r, (T, N)) if cfg.n_lfsr == 1 else r
        res["lfsr"] = states
    else:
        r = None
    y = requantize(acc, cfg.f_acc, cfg.fmt, cfg.mode, r)          # (T, N): every cycle's rounding
    out_valid = np.zeros(T, dtype=np.int64)
    out_valid[1:] = valid[:-1] != 0
    # out during cycle t = y of the latest valid cycle < t (0 before the first)
    src = np.maximum.accumulate(np.where(valid != 0, np.arange(T), -1))
    prev = np.concatenate([[-1], src[:-1]])
    out = np.where((prev >= 0)[:, None], y[np.maximum(prev, 0)], 0)
    res.update(out_valid=out_valid, out=out)
    return res


def requant_schedule_ports(cfg: RequantConfig, inputs: dict) -> dict:
    """Every output port per cycle (the registry's expected outputs)."""
    return requant_schedule(cfg, inputs)


def rounding_statistics(cfg: RequantConfig, n: int, seed: int) -> dict:
    """Mean rounding error of `cfg`'s rounding over n valid cycles after reset (its LFSR stream).

    Two data sets of n accumulators per lane (inside the output range, so no saturation):
    "uniform" (uniform fraction) and "ties" (fraction exactly 1/2). Errors are in units of the
    output step eps: e = Y - Z / 2^k. Returns per set: mean, the standard error from 100 batch
    means (robust to the correlation of successive LFSR draws), the naive std / sqrt(n N), and
    z = mean / SE (batch means); with N > 1 lanes also the mean correlation of lane pairs' errors.
    """
    rng = np.random.default_rng(seed)
    T, N, k = n, cfg.columns, cfg.k
    span = 1 << max(cfg.wl - 2, 0)
    y0 = rng.integers(-span, span, size=(T, N), dtype=np.int64)
    sets = {"uniform": y0 * (1 << k) + rng.integers(0, 1 << k, size=(T, N), dtype=np.int64),
            "ties": y0 * (1 << k) + ((1 << (k - 1)) if k else 0)}
    out = {}
    for name, z in sets.items():
        inputs = {"valid": np.ones(T + 1, np.int64), "acc": np.concatenate([z, z[:1]])}
        if cfg.stochastic:
            inputs.update(seed_load=np.zeros(T + 1, np.int64), seed=np.zeros((T + 1, cfg.n_lfsr), np.int64))
        y = requant_schedule(cfg, inputs)["out"][1:]
        e = y - z / float(1 << k)
        mean = float(e.mean())
        batches = e[: T - T % 100].reshape(100, -1).mean(axis=1)
        se = float(batches.std(ddof=1) / 10.0)
        z = mean / se if se else (0.0 if mean == 0 else float(np.sign(mean)) * float("inf"))
        d = {"samples": int(e.size), "mean_eps": mean, "se_eps": se,
             "se_naive_eps": float(e.std() / np.sqrt(e.size)), "z": z}
        if N > 1:
            c = np.corrcoef(e.T)
            d["lane_corr"] = float(c[~np.eye(N, dtype=bool)].mean())
        out[name] = d
    return out
