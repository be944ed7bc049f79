"""Constrained-random stimulus with named corners for the Stripes tile (numpy only).

An output is 1..4 bricks; each brick has its own filter weights (loaded into the shadow while
the previous brick streams, swapped in by a flip on the previous brick's last plane or on an
idle cycle) and p = 1..a_bits planes of p-bit two's-complement codes per window and lane, MSB
(sign plane) first. Idle cycles and cycles without w_load carry garbage. Everything derives
from one numpy Generator, so a seed reproduces a run exactly.
"""
from __future__ import annotations

import numpy as np
from quantpe.golden.intmath import int_range
from quantpe.golden.sip_tile import SipTileConfig

from .plan import RegressionPlan

__all__ = ["sip_tile_stimulus", "tile_weights", "SIP_TILE_CORNERS", "SIP_TILE_PLAN"]


def tile_weights(rng, style: str, n: int, lo: int, hi: int) -> np.ndarray:
    """n weights of one brick load: all lo / all hi (style "min" / "max"), else uniform in
    [lo, hi] with about 15% of them drawn from the corners lo, hi, 0, -1, 1."""
    if style in ("min", "max"):
        return np.full(n, lo if style == "min" else hi)
    x = rng.integers(lo, hi + 1, n)
    pick = rng.random(n) < 0.15
    x[pick] = rng.choice([lo, hi, 0, -1, 1], size=int(pick.sum()))
    return x

SIP_TILE_CORNERS = ("single_plane_brick", "full_precision_brick", "all_min", "all_max",
                    "multi_brick_output", "back_to_back_outputs", "flip_on_last_plane", "flip_on_idle",
                    "load_and_flip_same_cycle", "idle_gap_garbage", "restart_without_last", "acc_wrap")


def sip_tile_stimulus(cfg: SipTileConfig, cycles: int, seed: int):
    """Long: one named corner after another, each a few lines."""
    rng = np.random.default_rng(seed)
    W, F, L = cfg.windows, cfg.filters, cfg.lanes
    wlo, whi = int_range(cfg.w_bits, True)
    alo, ahi = int_range(cfg.acc_bits, True)
    cov = dict.fromkeys(SIP_TILE_CORNERS, 0)
    rows: list[dict] = []

    def row(valid=0, bfirst=0, bend=0, neg=0, first=0, last=0, abit=None, w_load=None, flip=0):
        if not valid:                                  # garbage control and bits, ignored
            bfirst, bend, neg, first, last = (int(v) for v in rng.integers(0, 2, 5))
        rows.append(dict(valid=valid, bfirst=bfirst, bend=bend, neg=neg, first=first, last=last,
                         abit=rng.integers(0, 1 << L, W) if abit is None else abit,
                         w_load=int(w_load is not None), flip=flip,
                         w=rng.integers(wlo, whi + 1, F * L) if w_load is None else w_load))

    def weights(style):
        return tile_weights(rng, style, F * L, wlo, whi)

    # the bricks of enough outputs, planned up front: (weights, codes (W, L), p, first, last,
    # the corners the brick drives: counted when its last plane is in the run)
    bricks, styles, planned = [], ["min", "max"], 0
    while planned < cycles:
        style = styles.pop(0) if styles else "random"
        n = 4 if style != "random" else int(rng.integers(1, 5))
        abandon = style == "random" and rng.random() < 0.1
        exact = np.zeros((W, F), np.int64)
        for b in range(n):
            p = cfg.a_bits if style != "random" else int(rng.choice([1, cfg.a_bits, *range(1, cfg.a_bits + 1)]))
            tags = ["single_plane_brick"] * (p == 1) + ["full_precision_brick"] * (p == cfg.a_bits)
            clo, chi = -(1 << (p - 1)), (1 << (p - 1)) - 1
            codes = {"min": np.full((W, L), clo), "max": np.full((W, L), chi)}.get(style)
            if codes is None:
                codes = rng.integers(clo, chi + 1, (W, L))
            w = weights(style)
            exact += codes @ w.reshape(F, L).T
            if b == n - 1:
                tags += ["multi_brick_output"] * (n > 1) + ["restart_without_last"] * abandon
                tags += {"min": ["all_min"], "max": ["all_max"]}.get(style, [])
                tags += ["acc_wrap"] * bool(np.any((exact < alo) | (exact > ahi)))
            bricks.append((w, codes, p, b == 0, b == n - 1 and not abandon, tags))
            planned += p + 1
    # cycles: load brick i's weights after brick i-1's flip, flip them in before brick i
    row()
    loaded = None              # index of the brick whose weights sit in the shadow, not flipped
    flipped = -1               # index of the brick whose weights are active
    for i, (w, codes, p, first, last, tags) in enumerate(bricks):
        if flipped < i:
            if loaded != i:
                row(w_load=w)
                loaded = i
            nxt = i + 1 < len(bricks) and rng.random() < 0.4
            row(flip=1, w_load=bricks[i + 1][0] if nxt else None)
            cov["flip_on_idle"] += 1
            cov["load_and_flip_same_cycle"] += nxt
            flipped, loaded = i, (i + 1 if nxt else None)
        u = codes & ((1 << p) - 1)
        for k in range(p - 1, -1, -1):
            if rng.random() < 0.1:
                row()
                cov["idle_gap_garbage"] += 1
            bits = np.sum(((u >> k) & 1) << np.arange(L), axis=1)
            load = None
            if loaded is None and i + 1 < len(bricks) and rng.random() < 0.5:
                load, loaded = bricks[i + 1][0], i + 1          # overlaps the streaming
            flip = int(k == 0 and loaded == i + 1 and load is None and rng.random() < 0.7)
            row(valid=1, bfirst=int(k == p - 1), bend=int(k == 0), neg=int(k == p - 1),
                first=int(first), last=int(last), abit=bits, w_load=load, flip=flip)
            if flip:
                cov["flip_on_last_plane"] += 1
                flipped, loaded = i + 1, None
        if len(rows) > cycles:
            break
        for tag in tags:
            cov[tag] += 1
        if last and i + 1 < len(bricks) and flipped == i + 1:
            cov["back_to_back_outputs"] += 1
    while len(rows) < cycles:
        row()
    rows = rows[:cycles]
    return {name: np.array([r[name] for r in rows], np.int64) for name in rows[0]}, cov


def _corners(cfg: SipTileConfig):
    return [c for c in SIP_TILE_CORNERS if c != "acc_wrap" or cfg.acc_bits == cfg.brick_bits]


SIP_TILE_PLAN = RegressionPlan(
    configs={
        "2x2-l4-a8w8": SipTileConfig(),
        "3x2-l3-a4w4-acc-min": SipTileConfig(windows=3, filters=2, lanes=3, a_bits=4, w_bits=4,
                                             acc_bits=SipTileConfig(lanes=3, a_bits=4, w_bits=4,
                                                                    acc_bits=32).brick_bits),
    },
    cycles={"verilator": 6000, "icarus": 2000}, corners=_corners)
