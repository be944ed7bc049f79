"""Constrained-random StruM PE stimulus with named corner cases (numpy only).

`strum_stimulus(cfg, cycles, seed)` returns (inputs, coverage): `inputs` maps every input port
of the PE (`golden.strum.input_ports`) to per-cycle arrays, `coverage` counts how often each
named corner was driven. Every valid StruM block is built as fields, packed into its block
word with `strum_codec.pack_blocks` and the port values are unpacked from those words, so the
stimulus goes through the one wire format. Idle cycles (valid = 0) carry garbage, including
masks with the wrong number of ones, which the PE must ignore. With select="group" every valid
mask has exactly K/G ones per group and the named masks are applied per group. For DLIQ with shift="layer" the
`j` port is held for runs of cycles (a "layer") and changed only between frames, except in the
j corners. Everything derives from one numpy Generator, so a seed reproduces a run exactly.
"""
from __future__ import annotations

import numpy as np
from quantpe.golden.strum import input_ports
from quantpe.golden.strum_codec import (
    BlockFields,
    bits_to_mask,
    block_values,
    mip2q_code,
    pack_blocks,
    unpack_blocks,
)
from quantpe.golden.strum_config import J_MAX, StrumConfig

from .plan import RegressionPlan

__all__ = ["strum_stimulus", "strum_corners", "corner_masks", "STRUM_PLAN"]


def strum_corners(cfg: StrumConfig) -> tuple[str, ...]:
    names = ["zero_block", "high_at_low_end", "high_at_high_end", "alternating_mask",
             "low_codes_zero", "max_magnitude_positive", "max_magnitude_negative",
             "acc_wrap_or_saturate", "idle_gap_garbage", "continue_without_first",
             "restart_without_last", "back_to_back_first_last"]
    if cfg.variant == "dliq":
        names += ["j_zero", "j_max"]
    else:
        names += ["mip2q_zero_code", "e_max"]
    if cfg.dynamic:
        names += ["plain_mode", "plain_min_times_min", "mode_switch_in_frame"]
    return tuple(names)


def corner_masks(block: int, k: int, groups: int = 1) -> dict:
    """Named masks (lane bits, (block,)) with exactly k ones; with `groups` > 1 (select="group")
    each group of block/groups consecutive lanes gets the named pattern with k/groups ones, so
    e.g. "high_at_low_end" puts the high lanes at the low end of every group."""
    if groups > 1:
        per = [corner_masks(block // groups, k // groups) for _ in range(groups)]
        return {name: np.concatenate([p[name] for p in per]) for name in per[0]}
    low_end = np.zeros(block, np.int64)
    low_end[:k] = 1
    high_end = low_end[::-1].copy()
    order = [lane for lane in range(0, block, 2)] + [lane for lane in range(1, block, 2)]
    alt = np.zeros(block, np.int64)
    alt[order[:k]] = 1
    alt_odd = np.zeros(block, np.int64)
    alt_odd[(order[block // 2:] + order[:block // 2])[:k]] = 1
    return {"high_at_low_end": low_end, "high_at_high_end": high_end,
            "alternating_mask": alt, "alternating_odd": alt_odd}


class _Gen:
    def __init__(self, cfg: StrumConfig, rng: np.random.Generator):
        self.cfg, self.rng = cfg, rng
        self.rows = []
        self.cov = dict.fromkeys(strum_corners(cfg), 0)
        self.layer_j = int(rng.integers(0, J_MAX + 1))

    # ---- operands ----
    def _ints(self, lo, hi, n, extreme=0.15):
        x = self.rng.integers(lo, hi + 1, size=n)
        pick = self.rng.random(n) < extreme
        x[pick] = self.rng.choice([lo, hi, 0, lo + 1, hi - 1], size=int(pick.sum()))
        return np.clip(x, lo, hi)

    def acts(self):
        return self._ints(*self.cfg.a_range(), self.cfg.block)

    def rand_fields(self, mask=None):
        cfg, rng = self.cfg, self.rng
        B, K = cfg.block, cfg.k
        if mask is None:
            G, L = cfg.n_groups, cfg.group_lanes
            mask = np.zeros(B, np.int64)
            for g in range(G):          # select="group": exactly K/G ones in every group
                mask[g * L + rng.choice(L, cfg.group_k, replace=False)] = 1
        hi = self._ints(*cfg.hi_range(), K)
        lo = self._ints(*cfg.lo_range(), B - K)
        j = int(rng.integers(0, J_MAX + 1)) if cfg.shift == "block" else self.layer_j
        return dict(mask=np.asarray(mask, np.int64), hi=hi, lo=lo, j=j)

    # ---- rows ----
    def block(self, first, last, a, fields, garbage_plain=True):
        w = self._ints(*self.cfg.plain_range(), self.cfg.block) if garbage_plain else np.zeros(self.cfg.block, np.int64)
        self.rows.append(dict(valid=1, first=first, last=last, a=np.broadcast_to(a, self.cfg.block),
                              mode=1, w=w, fields=fields))

    def plain(self, first, last, a, w):
        self.rows.append(dict(valid=1, first=first, last=last, a=np.broadcast_to(a, self.cfg.block),
                              mode=0, w=np.broadcast_to(w, self.cfg.block), fields=None))

    def idle(self, n):
        cfg, rng = self.cfg, self.rng
        for _ in range(n):       # garbage everywhere, masks of any popcount
            self.rows.append(dict(valid=0, first=int(rng.integers(2)), last=int(rng.integers(2)),
                                  a=self.acts(), mode=int(rng.integers(2)),
                                  w=self._ints(*cfg.plain_range(), cfg.block), fields=None))

    def random_block(self, first, last):
        cfg = self.cfg
        if cfg.dynamic and self.rng.random() < 0.4:
            self.plain(first, last, self.acts(), self._ints(*cfg.plain_range(), cfg.block))
            self.cov["plain_mode"] += 1
        else:
            self.block(first, last, self.acts(), self.rand_fields())

    # ---- streams ----
    def arrays(self, T: int) -> dict:
        cfg, rng = self.cfg, self.rng
        B, K = cfg.block, cfg.k
        rows = self.rows[:T]
        out = {n: np.zeros(T, np.int64) for n in ("valid", "first", "last", "mode", "mask", "j")}
        out.update(a=np.zeros((T, B), np.int64), w=np.zeros((T, B), np.int64),
                   hi=np.zeros((T, K), np.int64), lo=np.zeros((T, B - K), np.int64))
        for t, r in enumerate(rows):
            for n in ("valid", "first", "last", "mode"):
                out[n][t] = r[n]
            out["a"][t], out["w"][t] = r["a"], r["w"]
        strum = [t for t, r in enumerate(rows) if r["fields"] is not None]
        if strum:
            fs = [rows[t]["fields"] for t in strum]
            f = BlockFields(np.array([x["mask"] for x in fs]), np.array([x["hi"] for x in fs]),
                            np.array([x["lo"] for x in fs]), np.array([x["j"] for x in fs]))
            if not cfg.j_in_block:
                f = BlockFields(f.mask, f.hi, f.lo, None)
            words = pack_blocks(cfg, f)                  # the stored block words ...
            g = unpack_blocks(cfg, words)                # ... are what the PE ports carry
            out["mask"][strum] = bits_to_mask(g.mask)
            out["hi"][strum], out["lo"][strum] = g.hi, g.lo
            out["j"][strum] = g.j if g.j is not None else [x["j"] for x in fs]
        other = [t for t in range(len(rows)) if rows[t]["fields"] is None]
        if other:                                        # garbage StruM fields (any popcount)
            n = len(other)
            out["mask"][other] = rng.integers(0, 1 << B, size=n)
            out["hi"][other] = rng.integers(-(1 << (cfg.hb - 1)), 1 << (cfg.hb - 1), size=(n, K))
            lo, hi = cfg.lo_range()
            out["lo"][other] = rng.integers(lo, hi + 1, size=(n, B - K))
            out["j"][other] = self.layer_j if cfg.shift == "layer" else rng.integers(0, J_MAX + 1, size=n)
        return {n: out[n] for n in input_ports(cfg)}


def strum_stimulus(cfg: StrumConfig, cycles: int, seed: int):
    """`cycles` cycles of StruM PE stimulus: named corners first, then random frames.
    Long: one named corner after another, each a few lines."""
    rng = np.random.default_rng(seed)
    g = _Gen(cfg, rng)
    B, K = cfg.block, cfg.k
    alo, ahi = cfg.a_range()
    hmax = cfg.hi_range()[1]
    g.idle(2)
    g.cov["idle_gap_garbage"] += 1

    def zero_low():
        if cfg.variant == "dliq":
            return np.zeros(B - K, np.int64)
        return np.full(B - K, int(mip2q_code(cfg, 1, 0)))

    # zero block and the named masks, each its own single-block frame
    f = g.rand_fields()
    f.update(hi=np.zeros(K, np.int64), lo=zero_low())
    g.block(1, 1, g.acts(), f)
    g.cov["zero_block"] += 1
    for name, mask in corner_masks(B, K, cfg.n_groups).items():
        g.block(1, 1, g.acts(), g.rand_fields(mask))
        g.cov[name if name in g.cov else "alternating_mask"] += 1
    # all low codes zero (raw code 0: DLIQ value 0, MIP2Q value +1), and MIP2Q's zero code
    f = g.rand_fields()
    f["lo"] = np.zeros(B - K, np.int64)
    g.block(1, 1, g.acts(), f)
    g.cov["low_codes_zero"] += 1
    if cfg.variant == "dliq":
        for jv, name in ((0, "j_zero"), (J_MAX, "j_max")):
            f = g.rand_fields()
            f["j"] = jv
            f["lo"] = g._ints(*cfg.lo_range(), B - K, extreme=0.6)
            g.block(1, 1, g.acts(), f)
            g.cov[name] += 1
    else:
        f = g.rand_fields()
        f["lo"] = zero_low()
        g.block(1, 1, g.acts(), f)
        g.cov["mip2q_zero_code"] += 1
        emax = cfg.low_shift_max
        f = g.rand_fields()
        f["lo"] = mip2q_code(cfg, rng.integers(0, 2, B - K), np.full(B - K, emax))
        g.block(1, 1, g.acts(), f)
        g.cov["e_max"] += 1

    # largest-magnitude blocks: extreme activation times extreme weights of the opposite sign
    a_ext = alo if cfg.a_signed else ahi

    def extreme_fields(positive: bool):
        s = (-1 if a_ext < 0 else 1) * (1 if positive else -1)   # weight sign giving that sum sign
        f = g.rand_fields()
        f["hi"] = np.full(K, s * hmax)
        if cfg.variant == "dliq":
            qlo, qhi = cfg.lo_range()
            f["lo"] = np.full(B - K, qlo if s < 0 else qhi)
            f["j"] = J_MAX
        else:
            f["lo"] = np.full(B - K, int(mip2q_code(cfg, 1 if s < 0 else 0, cfg.low_shift_max)))
        return f

    if cfg.shift == "layer":
        g.layer_j = J_MAX
    g.block(1, 1, a_ext, extreme_fields(True))
    g.cov["max_magnitude_positive"] += 1
    g.block(1, 1, a_ext, extreme_fields(False))
    g.cov["max_magnitude_negative"] += 1
    if cfg.dynamic:
        plo = cfg.plain_range()[0]
        g.plain(1, 1, a_ext, np.full(B, plo if a_ext < 0 else cfg.plain_range()[1]))
        g.cov["plain_min_times_min"] += 1
        g.cov["plain_mode"] += 1
        g.plain(1, 0, g.acts(), g._ints(*cfg.plain_range(), B))
        g.block(0, 0, g.acts(), g.rand_fields())
        g.plain(0, 1, g.acts(), g._ints(*cfg.plain_range(), B))
        g.cov["mode_switch_in_frame"] += 1
        g.cov["plain_mode"] += 2

    # accumulator overflow, both directions, when it fits in half the budget
    pos = extreme_fields(True)
    vals = _block_sum_bound(cfg, a_ext, pos)
    n_over = -(-(1 << (cfg.acc_bits - 1)) // max(vals, 1)) + 2
    if len(g.rows) + 2 * n_over + 8 <= cycles // 2:
        for positive in (True, False):
            f = extreme_fields(positive)
            for k in range(n_over):
                g.block(int(k == 0), int(k in (n_over // 2, n_over - 1)), a_ext, f)
        g.cov["acc_wrap_or_saturate"] += 1
    if cfg.shift == "layer":
        g.layer_j = int(rng.integers(0, J_MAX + 1))

    # frame structure corners
    for _ in range(4):
        g.random_block(1, 1)
    g.cov["back_to_back_first_last"] += 4
    g.idle(3)
    g.cov["idle_gap_garbage"] += 1
    g.random_block(0, 1)            # continues the previous sum
    g.cov["continue_without_first"] += 1
    g.random_block(1, 0)            # frame abandoned ...
    g.random_block(1, 1)            # ... by a new first
    g.cov["restart_without_last"] += 1

    # random frames: length 1..8, 20% idle gaps; a new layer j every few frames
    while len(g.rows) < cycles:
        n = int(rng.integers(1, 9))
        if cfg.shift == "layer" and rng.random() < 0.3:
            g.layer_j = int(rng.integers(0, J_MAX + 1))
        for k in range(n):
            if rng.random() < 0.2:
                g.idle(int(rng.integers(1, 4)))
                g.cov["idle_gap_garbage"] += 1
            g.random_block(int(k == 0), int(k == n - 1))
    return g.arrays(cycles), g.cov


def _block_sum_bound(cfg: StrumConfig, a_ext: int, f: dict) -> int:
    """|block sum| of the extreme block `f` with all activations a_ext (exact)."""
    fields = BlockFields(f["mask"], f["hi"], f["lo"], np.int64(f["j"]) if cfg.has_j else None)
    return int(abs(np.sum(block_values(cfg, fields) * a_ext)))


def _strum_run_corners(cfg: StrumConfig) -> list[str]:
    # a 32-bit accumulator needs ~10^4 cycles of maximal sums to overflow: the wrap/saturate
    # corner is required of the configs with a narrow accumulator (the B=8 ones)
    return [c for c in strum_corners(cfg) if c != "acc_wrap_or_saturate" or cfg.acc_bits <= 22]


_STRUM_CONFIGS = {
    "dliq-static-b16k8": StrumConfig(variant="dliq", structure="static"),
    "mip2q-static-b16k8": StrumConfig(variant="mip2q", structure="static"),
    "dliq-dynamic-b16k8": StrumConfig(variant="dliq", structure="dynamic"),
    "mip2q-dynamic-b16k8": StrumConfig(variant="mip2q", structure="dynamic"),
    "dliq-static-b8k2-layer": StrumConfig(variant="dliq", structure="static", block=8, k=2,
                                          shift="layer", pipeline=2, acc_bits=21),
    "mip2q-static-b4k3": StrumConfig(variant="mip2q", structure="static", block=4, k=3, lb=3,
                                     hb=6, pipeline=0),
    "dliq-dynamic-b8k6-sat": StrumConfig(variant="dliq", structure="dynamic", block=8, k=6,
                                         acc_bits=20, saturate=True),
    "mip2q-dynamic-b32k16": StrumConfig(variant="mip2q", structure="dynamic", block=32, k=16),
    # the cheaper grouped selection network (K/G high lanes in each of G lane groups)
    "mip2q-static-b16k8-g4": StrumConfig(variant="mip2q", structure="static", select="group", groups=4),
    "dliq-static-b16k6-g2": StrumConfig(variant="dliq", structure="static", k=6, select="group"),
    "dliq-dynamic-b16k8-g8": StrumConfig(variant="dliq", structure="dynamic", select="group", groups=8),
    # the K=6 operating point of the report's targets; and MIP2Q's carry-in path with product
    # registers (pipeline 2), unsigned activations and a narrow wrapping accumulator
    "mip2q-static-b16k6-g2": StrumConfig(variant="mip2q", structure="static", k=6, select="group"),
    "mip2q-static-b8k5-p2-u": StrumConfig(variant="mip2q", structure="static", block=8, k=5, pipeline=2,
                                          a_signed=False, acc_bits=20),
}
# Verilator builds cost ~20 s each: the four B=16 points, the grouped g4 and the K=6 point run on
# both simulators, the others on Icarus (their RTL is the same generator with other parameters)
_BOTH = {*list(_STRUM_CONFIGS)[:4], "mip2q-static-b16k8-g4", "mip2q-static-b16k6-g2"}
STRUM_PLAN = RegressionPlan(
    configs=_STRUM_CONFIGS, cycles={"verilator": 6000, "icarus": 1500}, corners=_strum_run_corners,
    sims={n: (("icarus", "verilator") if n in _BOTH else ("icarus",)) for n in _STRUM_CONFIGS})
