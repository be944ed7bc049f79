"""Constrained-random stimulus with named corners for the weight-stationary array (numpy only).

A run is a sequence of tile passes: R (sometimes R+1) weight loads, a flip, then the pass's
windows. The next pass's loads overlap the current pass's windows (double buffering) as soon as
the protocol allows (`ArrayConfig.flip_guard` cycles after the flip); a pass shorter than that
waits on idle cycles. A flip is put either on an idle cycle or on the last window of the
previous pass (back-to-back passes). Idle cycles and cycles without w_load carry garbage
(StruM: masks of any popcount), which the array must ignore. Everything derives from one
numpy Generator, so a seed reproduces a run exactly.
"""
from __future__ import annotations

import numpy as np
from quantpe.golden.array import ArrayConfig, weight_ports
from quantpe.golden.intmath import int_range
from quantpe.golden.strum_codec import bits_to_mask
from quantpe.golden.strum_config import J_MAX

from .plan import RegressionPlan

__all__ = ["array_stimulus", "array_corners", "ARRAY_PLAN"]


def array_corners(cfg: ArrayConfig) -> tuple[str, ...]:
    names = ["all_min", "all_max", "zero_weights", "single_window_pass", "flip_with_last_window",
             "flip_on_idle", "load_overlaps_stream", "load_bound_pass", "extra_load_shifted_out",
             "load_at_guard_edge", "idle_gap_garbage"]
    if cfg.pe == "strum":
        names += ["high_at_low_end", "high_at_high_end", "low_codes_zero"]
        names += ["j_max"] if cfg.variant == "dliq" else ["mip2q_zero_code"]
    return tuple(names)


class _Gen:
    def __init__(self, cfg: ArrayConfig, rng: np.random.Generator):
        self.cfg, self.rng = cfg, rng
        self.rows: list[dict] = []
        self.cov = dict.fromkeys(array_corners(cfg), 0)

    # ---- operands ------------------------------------------------------------------------
    def _ints(self, lo, hi, n, extreme=0.15):
        x = self.rng.integers(lo, hi + 1, size=n)
        pick = self.rng.random(n) < extreme
        x[pick] = self.rng.choice([lo, hi, 0, lo + 1, hi - 1], size=int(pick.sum()))
        return np.clip(x, lo, hi)

    def acts(self, fill=None):
        n = self.cfg.rows * self.cfg.lanes
        return np.full(n, fill, np.int64) if fill is not None else self._ints(*self.cfg.a_range(), n)

    def weight_row(self, style="random") -> dict:
        """One legal weight row (every column) as {weight port: values}."""
        cfg, rng = self.cfg, self.rng
        C, L = cfg.cols, cfg.lanes
        if cfg.pe == "int":
            lo, hi = cfg.w_range()
            w = {"random": lambda: self._ints(lo, hi, C * L), "min": lambda: np.full(C * L, lo),
                 "max": lambda: np.full(C * L, hi), "zero": lambda: np.zeros(C * L, np.int64)}[style]()
            return {"w": np.asarray(w, np.int64)}
        lane = cfg.lane_cfg
        K = lane.k
        masks, his, los, js = [], [], [], []
        for _ in range(C):
            bits = np.zeros(L, np.int64)
            if style in ("min", "high_at_low_end"):
                bits[:K] = 1
            elif style in ("max", "high_at_high_end"):
                bits[L - K:] = 1
            else:
                bits[rng.choice(L, K, replace=False)] = 1
            masks.append(int(bits_to_mask(bits)))
            hlo, hhi = lane.hi_range()
            llo, lhi = lane.lo_range()
            if style == "min":
                hi_, lo_, j = np.full(K, hlo), np.full(L - K, llo if lane.variant == "dliq" else lhi), J_MAX
            elif style == "max":
                hi_, lo_, j = np.full(K, hhi), np.full(L - K, lhi if lane.variant == "dliq" else lhi >> 1), J_MAX
            elif style == "zero":
                hi_ = np.zeros(K, np.int64)
                lo_ = np.zeros(L - K, np.int64) if lane.variant == "dliq" else np.full(L - K, 1 << lane.e_bits)
                j = int(rng.integers(0, J_MAX + 1))
            else:
                hi_, lo_ = self._ints(hlo, hhi, K), self._ints(llo, lhi, L - K)
                j = int(rng.integers(0, J_MAX + 1))
                if style == "low_codes_zero":
                    lo_ = np.zeros(L - K, np.int64)
            his.append(hi_)
            los.append(lo_)
            js.append(j)
        out = {"w_mask": np.array(masks, np.int64), "w_hi": np.concatenate(his).astype(np.int64),
               "w_lo": np.concatenate(los).astype(np.int64)}
        if lane.j_in_block:
            out["w_j"] = np.array(js, np.int64)
        return out

    def garbage_weights(self) -> dict:
        cfg = self.cfg
        return {name: self.rng.integers(*int_range(bits, sgn), endpoint=True, size=cfg.cols * count)
                for name, bits, count, sgn in weight_ports(cfg)}

    # ---- cycles --------------------------------------------------------------------------
    def emit(self, valid=0, flip=0, a=None, load=None):
        if load is None:
            load_flag, weights = 0, self.garbage_weights()
        else:
            load_flag, weights = 1, load
        self.rows.append(dict(valid=valid, flip=flip, a=self.acts() if a is None else a,
                              w_load=load_flag, **weights))

    def arrays(self, T: int) -> dict:
        rows = self.rows[:T]
        while len(rows) < T:                 # pad with idle garbage (never needed in practice)
            self.emit()
            rows = self.rows[:T]
        return {name: np.array([r[name] for r in rows], np.int64) for name in rows[0]}


def _pass_weights(g: _Gen, style: str) -> list[dict]:
    """The weight rows of one pass in load order (row R-1 first), sometimes one extra row first
    (it is shifted out of the bottom by the last load)."""
    R = g.cfg.rows
    rows = [g.weight_row(style) for _ in range(R)]
    if g.rng.random() < 0.2:
        rows.insert(0, g.weight_row("random"))
        g.cov["extra_load_shifted_out"] += 1
    return rows


def array_stimulus(cfg: ArrayConfig, cycles: int, seed: int):
    """`cycles` cycles of array stimulus: tile passes with corner weights first, then random.
    Long: one named corner after another, each a few lines."""
    rng = np.random.default_rng(seed)
    g = _Gen(cfg, rng)
    guard = cfg.flip_guard
    g.emit()
    g.emit()
    g.cov["idle_gap_garbage"] += 1
    for load in _pass_weights(g, "random"):           # the first pass's loads, then its flip
        g.emit(load=load)
        if rng.random() < 0.3:
            g.emit()
    styles = ["min", "max", "zero"]
    if cfg.pe == "strum":
        styles += ["high_at_low_end", "high_at_high_end", "low_codes_zero"]
    held = None                                         # last window of the previous pass
    first_style = "random"
    while True:
        style = styles.pop(0) if styles else "random"
        pending = _pass_weights(g, style)               # the next pass's weight rows
        # the flip of this pass, alone or on the previous pass's last window; with guard 0
        # (a 1 x 1 array) the flip cycle may already carry the next pass's first load
        load = pending.pop(0) if guard == 0 and rng.random() < 0.5 else None
        if load is not None:
            g.cov["load_at_guard_edge"] += 1
        if held is not None:
            g.emit(valid=1, flip=1, a=held, load=load)
            g.cov["flip_with_last_window"] += 1
        else:
            g.emit(flip=1, load=load)
            g.cov["flip_on_idle"] += 1
        if len(g.rows) >= cycles:
            break
        act_fill = {"min": cfg.a_range()[0], "max": cfg.a_range()[1]}.get(first_style)
        n = 1 if rng.random() < 0.15 else int(rng.integers(2, 12))
        if n == 1:
            g.cov["single_window_pass"] += 1
        k = 1                                           # cycles since the flip
        windows = n
        back_to_back = rng.random() < 0.5 and n > 1
        stop_at = 1 if back_to_back else 0              # hold the last window for the next flip
        while windows > stop_at or pending:
            load = pending[0] if pending and k >= guard and rng.random() < 0.85 else None
            if load is not None:
                pending.pop(0)
                if k == guard:
                    g.cov["load_at_guard_edge"] += 1
            if windows > stop_at and rng.random() < 0.85:
                g.emit(valid=1, a=g.acts(act_fill), load=load)
                windows -= 1
                if load is not None:
                    g.cov["load_overlaps_stream"] += 1
            else:
                g.emit(load=load)
                if windows <= stop_at:
                    g.cov["load_bound_pass"] += 1
                else:
                    g.cov["idle_gap_garbage"] += 1
            k += 1
        if first_style in ("min", "max", "zero"):
            g.cov[{"min": "all_min", "max": "all_max", "zero": "zero_weights"}[first_style]] += 1
        if first_style in ("high_at_low_end", "high_at_high_end", "low_codes_zero"):
            g.cov[first_style] += 1
        held = g.acts(act_fill) if back_to_back else None
        first_style = style
    inputs = g.arrays(cycles)
    if cfg.pe == "strum":
        lane = cfg.lane_cfg
        on = inputs["w_load"] == 1
        if lane.j_in_block and np.any(inputs["w_j"][on] == J_MAX):
            g.cov["j_max"] += 1
        if lane.variant == "mip2q" and np.any(inputs["w_lo"][on] == 1 << lane.e_bits):
            g.cov["mip2q_zero_code"] += 1
    return inputs, g.cov


ARRAY_PLAN = RegressionPlan(
    configs={
        "2x2-l4-int8": ArrayConfig(),
        "2x3-l4-strum-dliq": ArrayConfig(rows=2, cols=3, pe="strum", variant="dliq"),
        "3x2-l4-strum-mip2q": ArrayConfig(rows=3, cols=2, pe="strum", variant="mip2q", k=1, lb=3),
        "1x1-l1-int4": ArrayConfig(rows=1, cols=1, lanes=1, a_bits=4, w_bits=4),
    },
    cycles={"verilator": 6000, "icarus": 2000}, corners=array_corners,
    sims={"1x1-l1-int4": ("icarus",)})
