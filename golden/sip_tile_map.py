"""Layer mapper for the Stripes tile (`golden.sip_tile`): conv and linear layers at a per-layer
activation precision p.

A layer is a grouped matrix product (`golden.array_map.Gemm`). The reduction of every output is
cut into bricks of L consecutive reduction positions (zero-padded at the end); one *pass* holds
W windows x F output channels of one group, and streams their bricks one after the other, p
bit planes per brick (the p-bit two's-complement codes, sign plane first). Pass order: group,
window tile, filter tile; bricks innermost. Schedule (cycle 0 = the first after reset): the
first brick's weights load on cycle 0, its flip and the second brick's load are on cycle 1,
brick b of the whole run streams on cycles 2 + b*p .. 2 + b*p + p - 1, and its last plane also
flips in brick b+1's weights and loads brick b+2's (double buffering without a bubble). So
    cycles = 2 + bricks * p + 1     (the last sums show one cycle after the last plane).
The tile does W*F*L one-bit x w_bits products per cycle, the peak of a bit-parallel tile of
W*F*L/b b-bit multipliers. That baseline (`bitparallel_cycles`, DaDianNao's organisation) is
W*F/b filters x L lanes working on one window per cycle, the same bricks and a bubble-free
schedule: G * ceil(O_g / (W*F/b)) * P * bricks_per_output + 3 cycles. On a conv layer with
enough windows the speed-up is b / p; a layer with fewer windows than W (a linear layer at
batch 1) leaves SIP rows idle, which the bit-parallel tile does not.

Dynamic Stripes (`golden.dsip_tile`, `map_dsip_gemm` / `dsip_layer_stream`): the same passes
and bricks in the same order, each brick's codes handed to the tile whole; brick b costs its
detected precision P_b (`dsip_tile.brick_precision`: the largest fewest-signed-bits of its W x L
codes, the W windows of the pass in lockstep; padding codes are 0 and never raise it), and the
bricks are taken back to back from cycle 0 (brick b on cycle P_0 + .. + P_(b-1)), so
    cycles = sum_b P_b + 2      (the last sums show on cycle sum_b P_b + 1).
The filter tiles of a window tile repeat its bricks, hence their precisions.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from .array_map import Gemm
from .dsip_tile import brick_precision
from .errors import QuantpeError
from .sip_tile import SipTileConfig
from .strum_config import signed_width

__all__ = ["SipLayerMap", "DSipLayerMap", "map_sip_gemm", "map_dsip_gemm", "bitparallel_cycles", "layer_precision",
           "sip_layer_stream", "dsip_layer_stream", "sip_unstream"]


@dataclasses.dataclass(frozen=True)
class SipLayerMap:
    name: str
    gemm: Gemm
    precision: int
    window_tiles: int
    filter_tiles: int
    bricks_per_output: int
    passes: int
    bricks: int
    cycles: int
    macs: int
    tile_products: int          # one-bit x weight products per cycle: W * F * L

    @property
    def utilisation(self) -> float:
        """Useful MAC-bits (MACs x p) over the tile's one-bit products in the run."""
        return self.macs * self.precision / (self.cycles * self.tile_products)


def layer_precision(codes) -> int:
    """The per-layer precision: the fewest signed bits holding every activation code."""
    c = np.asarray(codes, dtype=np.int64)
    return signed_width(int(c.min()), int(c.max()))


def map_sip_gemm(cfg: SipTileConfig, g: Gemm, precision: int) -> SipLayerMap:
    if not 1 <= precision <= cfg.a_bits:
        raise QuantpeError(f"{g.name}: precision must be in 1..{cfg.a_bits}, got {precision}")
    wt, ft = math.ceil(g.windows / cfg.windows), math.ceil(g.out_per_group / cfg.filters)
    nb = math.ceil(g.reduction / cfg.lanes)
    passes = g.groups * wt * ft
    bricks = passes * nb
    return SipLayerMap(g.name, g, precision, wt, ft, nb, passes, bricks, 2 + bricks * precision + 1,
                       g.macs, cfg.windows * cfg.filters * cfg.lanes)


def bitparallel_cycles(cfg: SipTileConfig, g: Gemm, bits: int) -> int:
    """Cycles of the bit-parallel tile of the same peak throughput at `bits`-bit operands
    (module docstring): W*F/bits filters of L bits-bit multipliers, one window per cycle."""
    filters = cfg.windows * cfg.filters // bits
    if filters < 1 or cfg.windows * cfg.filters % bits:
        raise QuantpeError(f"a bit-parallel tile of {bits}-bit multipliers needs W*F divisible by {bits}")
    return g.groups * math.ceil(g.out_per_group / filters) * g.windows * math.ceil(g.reduction / cfg.lanes) + 3


def _pass_order(m: SipLayerMap):
    return [(g, wt, ft) for g in range(m.gemm.groups) for wt in range(m.window_tiles)
            for ft in range(m.filter_tiles)]


def _gemm_of(name: str, cols: np.ndarray, wmat: np.ndarray) -> Gemm:
    G, P, K = cols.shape
    O = wmat.shape[0]
    if O % G or wmat.shape[1] != K:
        raise QuantpeError(f"weights {wmat.shape} do not match {G} groups of {K}-long windows")
    return Gemm(name, G, O // G, K, P)


def _padded_codes(cfg: SipTileConfig, m, cols: np.ndarray) -> np.ndarray:
    """cols (G, P, K) zero-padded to (G, window_tiles * W, bricks_per_output * L)."""
    G, P, K = cols.shape
    colsp = np.zeros((G, m.window_tiles * cfg.windows, m.bricks_per_output * cfg.lanes), np.int64)
    colsp[:, :P, :K] = cols
    return colsp


def _brick_sequence(cfg: SipTileConfig, m, cols: np.ndarray, wmat: np.ndarray) -> list:
    """[(activation codes (W, L), weights (F*L,), first, last)] of every brick in stream order."""
    G, _, K = cols.shape
    W, F, L = cfg.windows, cfg.filters, cfg.lanes
    Og, nb = m.gemm.out_per_group, m.bricks_per_output
    colsp = _padded_codes(cfg, m, cols)
    wpad = np.zeros((G, m.filter_tiles * F, nb * L), np.int64)
    wpad[:, :Og, :K] = wmat.reshape(G, Og, K)
    return [(colsp[g, wt * W:(wt + 1) * W, b * L:(b + 1) * L],
             wpad[g, ft * F:(ft + 1) * F, b * L:(b + 1) * L].reshape(-1), b == 0, b == nb - 1)
            for g, wt, ft in _pass_order(m) for b in range(nb)]


def sip_layer_stream(cfg: SipTileConfig, name: str, cols: np.ndarray, wmat: np.ndarray,
                     precision: int | None = None):
    """(SipLayerMap, inputs): the tile's port trace computing cols (G, P, K) x wmat (O, K)."""
    g_ = _gemm_of(name, cols, wmat)
    p = layer_precision(cols) if precision is None else precision
    m = map_sip_gemm(cfg, g_, p)
    if layer_precision(cols) > p:
        raise QuantpeError(f"{name}: activation codes need {layer_precision(cols)} bits, precision is {p}")
    W, F, L = cfg.windows, cfg.filters, cfg.lanes
    T = m.cycles
    z = {n: np.zeros(T, np.int64) for n in ("valid", "bfirst", "bend", "neg", "first", "last", "w_load", "flip")}
    abit = np.zeros((T, W), np.int64)
    w = np.zeros((T, F * L), np.int64)
    seq = _brick_sequence(cfg, m, cols, wmat)
    z["w_load"][0], w[0] = 1, seq[0][1]
    z["flip"][1] = 1
    if len(seq) > 1:
        z["w_load"][1], w[1] = 1, seq[1][1]
    lanes = np.arange(L)
    for b, (codes, _, first, last) in enumerate(seq):
        u = codes & ((1 << p) - 1)
        for k in range(p):
            t = 2 + b * p + k
            bit = p - 1 - k
            z["valid"][t] = 1
            abit[t] = np.sum(((u >> bit) & 1) << lanes, axis=1)
            z["bfirst"][t] = z["neg"][t] = int(k == 0)
            if k == p - 1:
                z["bend"][t], z["first"][t], z["last"][t] = 1, int(first), int(last)
                z["flip"][t] = int(b + 1 < len(seq))
                if b + 2 < len(seq):
                    z["w_load"][t], w[t] = 1, seq[b + 2][1]
    idx = np.maximum.accumulate(np.where(z["w_load"] == 1, np.arange(T), 0))
    w[:] = w[idx]                                 # weight ports hold between loads
    return m, {**z, "abit": abit, "w": w}


@dataclasses.dataclass(frozen=True)
class DSipLayerMap:
    """A layer on the Dynamic Stripes tile: `SipLayerMap`'s tiling, the detected precision of
    every brick in stream order (`brick_precisions`, int64 (bricks,)) and their cycle count."""

    name: str
    gemm: Gemm
    window_tiles: int
    filter_tiles: int
    bricks_per_output: int
    passes: int
    bricks: int
    cycles: int
    macs: int
    tile_products: int
    brick_precisions: np.ndarray = dataclasses.field(compare=False, repr=False)

    @property
    def mean_precision(self) -> float:
        return float(self.brick_precisions.mean())


def map_dsip_gemm(cfg: SipTileConfig, g: Gemm, cols: np.ndarray) -> DSipLayerMap:
    """The Dynamic Stripes mapping of layer g on its real input codes cols (G, P, K) (module
    docstring); codes outside a_bits signed: QuantpeError."""
    if tuple(np.shape(cols)) != (g.groups, g.windows, g.reduction):
        raise QuantpeError(f"{g.name}: codes {np.shape(cols)} are not {g.groups} x {g.windows} x {g.reduction}")
    s = map_sip_gemm(cfg, g, 1)
    W, L = cfg.windows, cfg.lanes
    colsp = _padded_codes(cfg, s, np.asarray(cols, np.int64))
    G, nb = g.groups, s.bricks_per_output
    pb = brick_precision(cfg, colsp.reshape(G, s.window_tiles, W, nb, L).transpose(0, 1, 3, 2, 4))
    per = np.broadcast_to(pb[:, :, None, :], (G, s.window_tiles, s.filter_tiles, nb)).reshape(-1)
    return DSipLayerMap(g.name, g, s.window_tiles, s.filter_tiles, nb, s.passes, s.bricks,
                        int(per.sum()) + 2, g.macs, s.tile_products, per.astype(np.int64))


def dsip_layer_stream(cfg: SipTileConfig, name: str, cols: np.ndarray, wmat: np.ndarray):
    """(DSipLayerMap, inputs): the Dynamic Stripes tile's port trace computing cols (G, P, K) x
    wmat (O, K): brick b taken on cycle sum_(j<b) P_j, offered (valid = 1, held) from the cycle
    after the previous take; valid = 0 after the last take."""
    m = map_dsip_gemm(cfg, _gemm_of(name, cols, wmat), cols)
    seq = _brick_sequence(cfg, m, cols, wmat)
    T = m.cycles
    takes = np.concatenate([[0], np.cumsum(m.brick_precisions)[:-1]])
    idx = np.searchsorted(takes, np.arange(T))          # the brick on the ports: first take >= t
    on = idx < len(seq)
    ix = np.minimum(idx, len(seq) - 1)
    a = np.stack([c.reshape(-1) for c, *_ in seq])[ix]
    w = np.stack([wv for _, wv, *_ in seq])[ix]
    first = np.array([f for *_, f, _ in seq], np.int64)[ix]
    last = np.array([la for *_, la in seq], np.int64)[ix]
    return m, {"valid": on.astype(np.int64), "first": first * on, "last": last * on, "a": a * on[:, None],
               "w": w * on[:, None]}


def sip_unstream(cfg: SipTileConfig, m: SipLayerMap | DSipLayerMap, out_valid, out_sum) -> np.ndarray:
    """The layer output (O, P) from a captured trace of `sip_layer_stream` or `dsip_layer_stream`."""
    at = np.flatnonzero(np.asarray(out_valid) == 1)
    if len(at) != m.passes:
        raise QuantpeError(f"{m.name}: {len(at)} output cycles, the mapping has {m.passes}")
    W, F = cfg.windows, cfg.filters
    g_ = m.gemm
    y = np.zeros((g_.groups, m.filter_tiles * F, m.window_tiles * W), np.int64)
    sums = np.asarray(out_sum)[at].reshape(m.passes, W, F)
    for i, (g, wt, ft) in enumerate(_pass_order(m)):
        y[g, ft * F:(ft + 1) * F, wt * W:(wt + 1) * W] = sums[i].T
    return y[:, :g_.out_per_group, :g_.windows].reshape(g_.groups * g_.out_per_group, g_.windows)
