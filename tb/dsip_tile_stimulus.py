"""Constrained-random stimulus with named corners for the Dynamic Stripes tile (numpy only).

An output is 1..4 bricks; each brick is W x L a_bits-bit codes (per window a precision of its
own, or one for all) and its F x L weights. The stimulus knows the tile's schedule (a brick
taken on cycle t holds the tile until t + P, P = `golden.dsip_tile.brick_precision`), so it
offers each brick on a cycle where ready = 1, back to back or after idle gaps; while the tile
is busy the ports carry garbage, sometimes with valid = 1 (ignored: ready = 0). Everything
derives from one numpy Generator, so a seed reproduces a run exactly.
"""
from __future__ import annotations

import numpy as np
from quantpe.golden.dsip_tile import DSipTileConfig, brick_precision, window_precisions
from quantpe.golden.intmath import int_range

from .plan import RegressionPlan
from .sip_tile_stimulus import tile_weights

__all__ = ["dsip_tile_stimulus", "DSIP_TILE_CORNERS", "DSIP_TILE_PLAN"]

DSIP_TILE_CORNERS = ("all_zero_brick", "all_minus_one_brick", "max_negative_brick", "max_positive_brick",
                     "single_plane_brick", "full_precision_brick", "mixed_window_precisions",
                     "multi_brick_output", "back_to_back_bricks", "offer_while_busy", "idle_gap",
                     "restart_without_last", "acc_wrap")


def _codes_of_precision(rng, p: int, n: int) -> np.ndarray:
    """n codes of precision <= p, one of them exactly p (when n > 0)."""
    lo, hi = -(1 << (p - 1)), (1 << (p - 1)) - 1
    x = rng.integers(lo, hi + 1, n)
    x[rng.integers(0, n)] = rng.choice([lo, hi]) if p > 1 else -1
    return x


def dsip_tile_stimulus(cfg: DSipTileConfig, cycles: int, seed: int):
    """Long: plans the bricks (corners first), then lays them on cycles where ready = 1."""
    rng = np.random.default_rng(seed)
    W, F, L, A = cfg.windows, cfg.filters, cfg.lanes, cfg.a_bits
    alo, ahi = int_range(A, True)
    wlo, whi = int_range(cfg.w_bits, True)
    clo, chi = int_range(cfg.acc_bits, True)
    cov = dict.fromkeys(DSIP_TILE_CORNERS, 0)

    def brick_codes(style):
        fixed = {"zero": 0, "minus_one": -1, "min": alo, "max": ahi}
        if style in fixed:
            return np.full((W, L), fixed[style])
        if style == "mixed" or rng.random() < 0.5:
            ps = rng.integers(1, A + 1, W)
        else:
            ps = np.full(W, int(rng.choice([1, A, *range(1, A + 1)])))
        return np.stack([_codes_of_precision(rng, int(p), L) for p in ps])

    def weights(style):
        return tile_weights(rng, style, F * L, wlo, whi)

    # bricks: (codes, weights, first, last, tags)
    bricks, styles, planned = [], ["min", "max", "zero", "minus_one", "mixed"], 0
    while planned < cycles:
        style = styles.pop(0) if styles else str(rng.choice(["random"] * 12 + ["zero", "minus_one", "mixed"]))
        n = 4 if style in ("min", "max") else int(rng.integers(1, 5))
        abandon = style == "random" and rng.random() < 0.1
        exact = np.zeros((W, F), np.int64)
        for b in range(n):
            codes, w = brick_codes(style), weights(style)
            p = int(brick_precision(cfg, codes))
            pw = window_precisions(cfg, codes)
            exact += codes @ w.reshape(F, L).T
            tags = ["single_plane_brick"] * (p == 1) + ["full_precision_brick"] * (p == A)
            tags += ["mixed_window_precisions"] * (len(set(pw.tolist())) > 1)
            tags += {"zero": ["all_zero_brick"], "minus_one": ["all_minus_one_brick"],
                     "min": ["max_negative_brick"], "max": ["max_positive_brick"]}.get(style, [])
            if b == n - 1:
                tags += ["multi_brick_output"] * (n > 1) + ["restart_without_last"] * abandon
                tags += ["acc_wrap"] * bool(np.any((exact < clo) | (exact > chi)))
            bricks.append((codes, w, b == 0, b == n - 1 and not abandon, tags))
            planned += p + 1
    rows: list[dict] = []

    def garbage(valid=0):
        rows.append(dict(valid=valid, first=int(rng.integers(0, 2)), last=int(rng.integers(0, 2)),
                         a=rng.integers(alo, ahi + 1, W * L), w=rng.integers(wlo, whi + 1, F * L)))

    free, prev_end = 0, None            # first cycle the tile is ready; last plane of the previous brick
    for codes, w, first, last, tags in bricks:
        while len(rows) < free:                                  # busy: ready = 0
            offer = rng.random() < 0.3
            garbage(valid=int(offer))
            cov["offer_while_busy"] += offer
        if rng.random() < 0.15:
            for _ in range(int(rng.integers(1, 3))):
                garbage()
            cov["idle_gap"] += 1
        t = len(rows)
        rows.append(dict(valid=1, first=int(first), last=int(last), a=codes.reshape(-1), w=w))
        p = int(brick_precision(cfg, codes))
        cov["back_to_back_bricks"] += t == prev_end
        free = prev_end = t + p
        if t + p + 1 < cycles:                                   # its planes and output are in the run
            for tag in tags:
                cov[tag] += 1
        if len(rows) > cycles:
            break
    while len(rows) < cycles:
        garbage(valid=int(rng.random() < 0.2))
    rows = rows[:cycles]
    return {name: np.array([r[name] for r in rows], np.int64) for name in rows[0]}, cov


def _corners(cfg: DSipTileConfig):
    return [c for c in DSIP_TILE_CORNERS if (c != "acc_wrap" or cfg.acc_bits == cfg.brick_bits)
            and (c != "mixed_window_precisions" or cfg.windows > 1)]


DSIP_TILE_PLAN = RegressionPlan(
    configs={
        "2x2-l4-a8w8-window": DSipTileConfig(),
        "3x2-l3-a4w4-acc-min-sip": DSipTileConfig(windows=3, filters=2, lanes=3, a_bits=4, w_bits=4,
                                                  acc_bits=DSipTileConfig(lanes=3, a_bits=4, w_bits=4,
                                                                          acc_bits=32).brick_bits,
                                                  detect="sip"),
    },
    cycles={"verilator": 6000, "icarus": 2000}, corners=_corners)
