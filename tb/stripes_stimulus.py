"""Stimulus for the Stripes SIP PE: a brick stream plus input-valid and output-ready patterns,
turned into per-cycle drive arrays by the golden schedule (numpy only).

The stream mixes random bricks, named corners (all-zero, one max value, all negative, the most
negative value, alternating extremes), one brick per precision 1..a_bits, a long first..last run
of the largest products (wraps a minimal accumulator), single-brick sums followed by a sink
that holds ready low (output back-pressure), random input stalls with garbage on the ports, and
a back-to-back stretch. Coverage is measured on the golden schedule, not assumed.
"""
from __future__ import annotations

import numpy as np
from quantpe.golden.intmath import fits
from quantpe.golden.stripes import BrickStream, StripesConfig, brick_cycles, stripes_schedule

from .plan import RegressionPlan

__all__ = ["make_stream", "stripes_run", "stripes_stimulus", "stripes_coverage", "port_inputs", "STRIPES_CORNERS",
           "STRIPES_PLAN"]

STRIPES_CORNERS = ("output_backpressure_stall", "input_stall_while_ready", "back_to_back",
                   "accumulator_wrap", "all_precisions")


def make_stream(cfg, rng, n_random):
    """Random bricks, corners, one brick per precision 1..a_bits, a wrap run, single sums.

    Returns (BrickStream, index of the first of 4 consecutive single-brick sums).
    Long: one named corner after another."""
    L, A = cfg.lanes, cfg.a_bits
    lo, hi = cfg.a_range()
    wlo, whi = cfg.w_range()
    rows = []           # (a, w, first, last, window or None)

    def rand_w():
        return rng.integers(wlo, whi + 1, L)

    def rand_window():
        if rng.random() < 0.3:
            return (A - 1, 0)
        m = int(rng.integers(0, A))
        return (m, int(rng.integers(0, m + 1)))

    for _ in range(n_random):
        a = rng.integers(lo, hi + 1, L) >> rng.integers(0, A)
        a = np.clip(a << rng.integers(0, 3), lo, hi)
        a = np.where(rng.random(L) < 0.2, 0, a)
        rows.append([a, rand_w(), rng.random() < 0.25, rng.random() < 0.4, rand_window()])
    corners = [np.zeros(L), np.full(L, hi), np.eye(1, L, L // 2)[0] * hi, np.full(L, lo)]
    if cfg.a_signed:
        corners += [np.full(L, -1), -(np.arange(L) % (1 << (A - 1))) - 1,
                    np.where(np.arange(L) % 2, lo, hi), np.eye(1, L, L - 1)[0] * lo]
    for c in corners:
        w = rand_w() if rng.random() < 0.7 else np.full(L, wlo)
        rows.append([c, w, rng.random() < 0.25, rng.random() < 0.4, rand_window()])
    for p in range(1, A + 1):           # one lane of precision and trailing width exactly p
        b = np.zeros(L, np.int64)
        if cfg.a_signed:                # -1 = [0..0]; 1 = [1..0]; 1 - 2^(p-1) = 10..01
            b[rng.integers(L)] = (-1, 1)[p - 1] if p <= 2 else 1 - (1 << (p - 1))
        else:
            b[rng.integers(L)] = (1 << (p - 1)) | 1
        lsb = int(rng.integers(0, A - p + 1))       # static: a window of width p
        rows.append([b, rand_w(), rng.random() < 0.25, rng.random() < 0.4, (lsb + p - 1, lsb)])
    rows = [rows[k] for k in rng.permutation(len(rows))]
    # 8 largest-product bricks inside one sum (wraps a minimal accumulator), full window
    big_a = lo if cfg.a_signed else hi
    big_w = wlo if cfg.w_signed else whi
    wrap_run = [[np.full(L, big_a), np.full(L, big_w), k == 0, k == 7, (A - 1, 0)] for k in range(8)]
    k0 = int(rng.integers(len(rows) + 1))
    rows[k0:k0] = wrap_run
    # 4 single-brick sums in a row (to provoke output back-pressure stalls)
    singles = [[rng.integers(lo, hi + 1, L) >> A // 2, rand_w(), True, True, rand_window()]
               for _ in range(4)]
    k1 = int(rng.integers(len(rows) - 6))
    k1 += 7 if k1 > k0 else 0                       # not inside the wrap run
    rows[k1:k1] = singles
    rows[0][2] = True
    a = np.array([r[0] for r in rows], np.int64)
    w = np.array([r[1] for r in rows], np.int64)
    first = np.array([r[2] for r in rows], np.int64)
    last = np.array([r[3] for r in rows], np.int64)
    kw = {}
    if cfg.mode == "static":
        kw = dict(msb=np.array([r[4][0] for r in rows]), lsb=np.array([r[4][1] for r in rows]))
    return BrickStream(a, w, first, last, **kw), k1


def stripes_run(cfg: StripesConfig, rng: np.random.Generator, n_random: int):
    """(bricks, schedule with random fill) for one randomised run; sized to complete."""
    bricks, k1 = make_stream(cfg, rng, n_random)
    P = brick_cycles(cfg, bricks.a, bricks.msb, bricks.lsb)
    T = int(P.sum() * 2 + 2 * len(P) + 100)
    valid = (rng.random(T) < 0.75).astype(np.int64)
    valid[:P[:len(P) // 4].sum()] = 1                   # a back-to-back stretch
    ready = (rng.random(T) < 0.5).astype(np.int64)
    # hold the sink off from the first single-brick sum's emission on: the next ones stall.
    # (changing out_ready from cycle e on does not change the schedule before e)
    e = stripes_schedule(cfg, bricks, valid, ready).emit[k1]
    ready[e:e + 4 * cfg.max_cycles + 20] = 0
    return bricks, stripes_schedule(cfg, bricks, valid, ready, fill_rng=rng)


def stripes_coverage(cfg: StripesConfig, bricks: BrickStream, s) -> dict:
    """How often each named situation occurs in schedule `s` (0 = not exercised)."""
    T = len(s)
    early = np.arange(T) < s.accept[-1]
    cov = {
        "output_backpressure_stall": int((s.finish - s.accept > s.cycles).sum()),
        "input_stall_while_ready": int((early & (s.in_valid == 0) & (s.in_ready == 1)).sum()),
        "back_to_back": int((s.accept[1:] == s.finish[:-1]).sum()),
        "accumulator_wrap": 0,
        "all_precisions": int(cfg.mode == "parallel" or
                              set(range(1, cfg.a_bits + 1)) <= set(s.cycles.tolist())),
    }
    runs = np.split(s.value, np.flatnonzero(bricks.first)[1:])
    cov["accumulator_wrap"] = sum(int(not fits(np.cumsum(r), cfg.acc_bits, True)) for r in runs)
    for p in range(1, cfg.a_bits + 1):
        cov[f"precision_{p}"] = int((s.cycles == p).sum())
    return cov


def stripes_stimulus(cfg: StripesConfig, cycles: int, seed: int):
    """(inputs, coverage) for the HDL-memory harness; about `cycles` cycles long.

    `inputs` holds the drive arrays of every input port, plus the brick stream and the valid and
    ready patterns under keys starting with "_" (the scoreboard recomputes the expected outputs
    from those with the golden schedule).
    """
    rng = np.random.default_rng(seed)
    per_brick = 2 * (cfg.a_bits if cfg.mode != "parallel" else 1) + 2
    bricks, s = stripes_run(cfg, rng, max(20, cycles // per_brick))
    return port_inputs(cfg, bricks, s), stripes_coverage(cfg, bricks, s)


def port_inputs(cfg: StripesConfig, bricks: BrickStream, s) -> dict:
    """The drive arrays of every input port for schedule `s` of `bricks`, plus the brick stream
    and the valid/ready patterns under "_" keys (from which `stripes_schedule_ports` recomputes
    the expected outputs)."""
    inputs = {"in_valid": s.in_valid, "first": s.first, "last": s.last, "a": s.a, "w": s.w,
              "out_ready": s.out_ready}
    if cfg.mode == "static":
        inputs.update(win_msb=s.win_msb, win_lsb=s.win_lsb)
    inputs.update({"_a": bricks.a, "_w": bricks.w, "_first": bricks.first, "_last": bricks.last,
                   "_in_valid": s.in_valid, "_out_ready": s.out_ready})
    if cfg.mode == "static":
        inputs.update(_msb=np.asarray(bricks.msb), _lsb=np.asarray(bricks.lsb))
    return inputs


def _stripes_corners(cfg: StripesConfig) -> list[str]:
    need = ["output_backpressure_stall", "input_stall_while_ready", "back_to_back", "all_precisions"]
    return need + (["accumulator_wrap"] if cfg.acc_bits == cfg.sum_bits else [])


STRIPES_PLAN = RegressionPlan(
    configs={
        "static-i8": StripesConfig(),
        "dynamic-lead-u8": StripesConfig(mode="dynamic", lanes=8, a_signed=False, acc_bits=20),
        "dynamic-trail-g4": StripesConfig(mode="dynamic", trailing=True, group=4),
        "parallel-l3": StripesConfig(mode="parallel", lanes=3, a_bits=5, a_signed=False, w_bits=4,
                                     w_signed=False, acc_bits=12),
    },
    cycles={"verilator": 6000, "icarus": 2500}, corners=_stripes_corners)
