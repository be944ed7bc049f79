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
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from .array_map import Gemm
from .errors import QuantpeError
from .sip_tile import SipTileConfig
from .strum_config import signed_width

__all__ = ["SipLayerMap", "map_sip_gemm", "bitparallel_cycles", "layer_precision", "sip_layer_stream", "sip_unstream"]


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


def sip_layer_stream(cfg: SipTileConfig, name: str, cols: np.ndarray, wmat: np.ndarray,
                     precision: int | None = None):
    """(SipLayerMap, inputs): the tile's port trace computing cols (G, P, K) x wmat (O, K)."""
    G, P, K = cols.shape
    O = wmat.shape[0]
    if O % G or wmat.shape[1] != K:
        raise QuantpeError(f"weights {wmat.shape} do not match {G} groups of {K}-long windows")
    p = layer_precision(cols) if precision is None else precision
    m = map_sip_gemm(cfg, Gemm(name, G, O // G, K, P), p)
    if layer_precision(cols) > p:
        raise QuantpeError(f"{name}: activation codes need {layer_precision(cols)} bits, precision is {p}")
    W, F, L = cfg.windows, cfg.filters, cfg.lanes
    Og, nb = O // G, m.bricks_per_output
    Kp = nb * L
    colsp = np.zeros((G, m.window_tiles * W, Kp), np.int64)
    colsp[:, :P, :K] = cols
    wpad = np.zeros((G, m.filter_tiles * F, Kp), np.int64)
    wpad[:, :Og, :K] = wmat.reshape(G, Og, K)
    T = m.cycles
    z = {n: np.zeros(T, np.int64) for n in ("valid", "bfirst", "bend", "neg", "first", "last", "w_load", "flip")}
    abit = np.zeros((T, W), np.int64)
    w = np.zeros((T, F * L), np.int64)
    seq = []                                      # (activation codes (W, L), weights (F*L,), first, last)
    for g, wt, ft in _pass_order(m):
        for b in range(nb):
            seq.append((colsp[g, wt * W:(wt + 1) * W, b * L:(b + 1) * L],
                        wpad[g, ft * F:(ft + 1) * F, b * L:(b + 1) * L].reshape(-1), b == 0, b == nb - 1))
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


def sip_unstream(cfg: SipTileConfig, m: SipLayerMap, out_valid, out_sum) -> np.ndarray:
    """The layer output (O, P) from a captured trace of `sip_layer_stream`."""
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
