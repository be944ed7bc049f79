"""Layer mapper: conv and linear layers tiled onto the weight-stationary array (`golden.array`).

A layer is a grouped matrix product (`lowering`): G groups, each O_g output channels over a
reduction of K = KH*KW*C_g at P windows (OH*OW per sample, 1 for a linear layer, times the
batch). One *tile pass* holds the weights of C output channels (one group) x R*L reduction
positions in the array and streams the P windows of the group through it: the pass order is
group, then output-channel tile, then reduction tile (innermost); a reduction tile's column
sums are added by the accumulator memory outside the array. The reduction is zero-padded to a
multiple of R*L, the last output tile leaves unused columns with zero weights; a depthwise layer
(O_g = 1) uses one column per pass.

Schedule (the protocol of `golden.array`, cycle 0 = the first cycle after reset): the first
pass's R weight rows load on cycles 0..R-1 and its flip is on cycle f_0 = R; pass i streams its
windows on cycles f_i + 1 .. f_i + P, while the next pass's rows load from f_i + guard on
(guard = R + C - 2 cycles after the flip, double buffering), and its flip is on
f_{i+1} = f_i + max(P, guard + R), the same cycle as pass i's last window when P dominates.
The last sums leave on cycle f_last + P + latency, so a layer takes
    cycles = R + (passes - 1) * max(P, guard + R) + P + latency + 1.
Every weight is loaded once per tile pass and used by P windows (reuse factor P).
`layer_stream` builds exactly that port trace for real operand codes; `unstream` adds the
captured column sums of the reduction tiles back into the layer output (N, O, P).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from .array import ArrayConfig, weight_ports
from .errors import QuantpeError
from quantpe.golden.layers import Conv2d, Linear
from quantpe.golden.graph import Graph
from .lowering import im2col
from .strum_codec import bits_to_mask
from .strum_encode import encode_int

__all__ = ["Gemm", "LayerMap", "gemm_of", "map_gemm", "map_graph", "layer_operands", "layer_stream",
           "unstream", "pass_order"]


@dataclasses.dataclass(frozen=True)
class Gemm:
    """The shape of one layer as the array sees it."""

    name: str
    groups: int        # G
    out_per_group: int  # O_g
    reduction: int     # K
    windows: int       # P (windows of one group, whole batch)

    @property
    def macs(self) -> int:
        return self.groups * self.out_per_group * self.reduction * self.windows


@dataclasses.dataclass(frozen=True)
class LayerMap:
    """Figures of one layer on one array (module docstring for the schedule)."""

    name: str
    gemm: Gemm
    k_tiles: int
    o_tiles: int
    passes: int
    pass_cycles: int       # cycles between two flips: max(P, guard + R)
    cycles: int
    weight_loads: int      # row loads (cycles with w_load)
    weights_loaded: int    # weight values loaded (passes * R * C * L, padding included)
    macs: int              # useful multiply-accumulates of the layer
    array_macs: int        # multiply-accumulates the array can do per cycle (R * C * L)

    @property
    def macs_capacity(self) -> int:
        return self.cycles * self.array_macs

    @property
    def utilisation(self) -> float:
        return self.macs / self.macs_capacity

    @property
    def reuse(self) -> float:
        """Uses of each loaded weight value: the windows streamed per pass."""
        return float(self.gemm.windows)

    @property
    def load_bound(self) -> bool:
        """True when the weight loads, not the windows, set the pass time."""
        return self.pass_cycles > self.gemm.windows

    def to_dict(self) -> dict:
        return {"layer": self.name, "groups": self.gemm.groups, "out_per_group": self.gemm.out_per_group,
                "reduction": self.gemm.reduction, "windows": self.gemm.windows, "k_tiles": self.k_tiles,
                "o_tiles": self.o_tiles, "passes": self.passes, "cycles": self.cycles,
                "weight_loads": self.weight_loads, "weights_loaded": self.weights_loaded,
                "macs": self.macs, "utilisation": self.utilisation, "reuse": self.reuse,
                "load_bound": self.load_bound}


def gemm_of(name: str, layer, in_shape: tuple, batch: int = 1) -> Gemm:
    """The Gemm of a Conv2d / Linear `layer` whose per-sample input shape is `in_shape`."""
    if batch < 1:
        raise QuantpeError(f"batch must be >= 1, got {batch}")
    if isinstance(layer, Conv2d):
        _, oh, ow = layer.out_shape([in_shape])
        return Gemm(name, layer.groups, layer.out_channels // layer.groups, layer.taps * layer.cg,
                    oh * ow * batch)
    if isinstance(layer, Linear):
        o, k = layer.weight.shape
        return Gemm(name, 1, o, k, batch)
    raise QuantpeError(f"{name}: only Conv2d and Linear layers map onto the array, got {type(layer).__name__}")


def map_gemm(cfg: ArrayConfig, g: Gemm) -> LayerMap:
    R, C, L = cfg.rows, cfg.cols, cfg.lanes
    k_tiles = math.ceil(g.reduction / (R * L))
    o_tiles = math.ceil(g.out_per_group / C)
    passes = g.groups * o_tiles * k_tiles
    pass_cycles = max(g.windows, cfg.flip_guard + R)
    cycles = R + (passes - 1) * pass_cycles + g.windows + cfg.latency + 1
    return LayerMap(g.name, g, k_tiles, o_tiles, passes, pass_cycles, cycles, passes * R,
                    passes * R * C * L, g.macs, cfg.macs_per_cycle)


def map_graph(cfg: ArrayConfig, graph: Graph, batch: int = 1) -> list[LayerMap]:
    """LayerMap of every Conv2d / Linear node of `graph`, in graph order."""
    out = []
    for name in graph.weight_layers:
        node = graph.node(name)
        out.append(map_gemm(cfg, gemm_of(name, node.layer, graph.shapes[node.inputs[0]], batch)))
    return out


def layer_operands(layer, codes: np.ndarray, weight_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cols (G, N*P, K), wmat (O, K)) of integer input `codes` (N, ...) and lowered weight
    codes (O, K) of a Conv2d / Linear layer."""
    codes = np.asarray(codes, dtype=np.int64)
    wmat = np.asarray(weight_codes, dtype=np.int64)
    if isinstance(layer, Conv2d):
        cols = im2col(codes, *layer.kernel, layer.stride, layer.padding, layer.dilation, layer.groups)
        n, g, p, k = cols.shape
        return np.ascontiguousarray(cols.transpose(1, 0, 2, 3)).reshape(g, n * p, k), wmat
    if isinstance(layer, Linear):
        return codes.reshape(1, len(codes), -1), wmat
    raise QuantpeError(f"only Conv2d and Linear layers map onto the array, got {type(layer).__name__}")


def pass_order(m: LayerMap):
    """(group, output tile, reduction tile) of every pass, in schedule order."""
    return [(g, o, k) for g in range(m.gemm.groups) for o in range(m.o_tiles) for k in range(m.k_tiles)]


def _weight_rows(cfg: ArrayConfig, wmat: np.ndarray):
    """(port rows, decoded weights): the weights (O, Kp) as one port row per (output channel,
    reduction slice of L) -- {port: (O, Kp / L, values per column)} -- and their decoded values
    (O, Kp). The int lane takes the codes as they are; the StruM lane StruM-codes them
    (`strum_encode.encode_int`: blocks of L along the reduction axis)."""
    O, Kp = wmat.shape
    L = cfg.lanes
    if cfg.pe == "int":
        return {"w": wmat.reshape(O, Kp // L, L)}, wmat
    lane = cfg.lane_cfg
    t = encode_int(wmat, lane)
    f = t.fields
    rows = {"w_mask": bits_to_mask(f.mask)[..., None], "w_hi": f.hi, "w_lo": f.lo}
    if lane.j_in_block:
        rows["w_j"] = f.j[..., None]
    return rows, t.values()


def layer_stream(cfg: ArrayConfig, name: str, cols: np.ndarray, wmat: np.ndarray):
    """(LayerMap, inputs, weights): the array's port trace computing cols x wmat, `cycles` long,
    and the decoded weights (O, K) it computes with (= wmat for the int lane; the StruM coding
    of wmat, `_weight_rows`, for the StruM lane).

    Activations of a pass are held between windows (valid = 0 cycles repeat the last window)
    and weight ports hold their last row between loads, so the trace toggles only what the
    mapping moves. Unused columns of the last output tile get zero weights."""
    G, P, K = cols.shape
    O = wmat.shape[0]
    if O % G or wmat.shape[1] != K:
        raise QuantpeError(f"weights {wmat.shape} do not match {G} groups of {K}-long windows")
    m = map_gemm(cfg, Gemm(name, G, O // G, K, P))
    R, C, L = cfg.rows, cfg.cols, cfg.lanes
    Og, RL = O // G, R * L
    Kp = m.k_tiles * RL
    colsp = np.zeros((G, P, Kp), np.int64)
    colsp[:, :, :K] = cols
    # one spare all-zero output channel fills the unused columns
    wpad = np.zeros((O + 1, Kp), np.int64)
    wpad[:O, :K] = wmat
    rows, values = _weight_rows(cfg, wpad)
    T = m.cycles
    valid = np.zeros(T, np.int64)
    flip = np.zeros(T, np.int64)
    w_load = np.zeros(T, np.int64)
    a = np.zeros((T, RL), np.int64)
    w = {port: np.zeros((T, C * count), np.int64) for port, _, count, _ in weight_ports(cfg)}
    flips = [R + i * m.pass_cycles for i in range(m.passes)]
    for i, (g, ot, kt) in enumerate(pass_order(m)):
        start = 0 if i == 0 else flips[i - 1] + cfg.flip_guard
        o0 = g * Og + ot * C
        chans = [o0 + c if ot * C + c < Og else O for c in range(C)]
        w_load[start:start + R] = 1
        for port, v in rows.items():                   # row R-1 first: it shifts to the bottom
            sl = v[chans][:, kt * R:(kt + 1) * R]      # (C, R, per column)
            w[port][start:start + R] = sl.transpose(1, 0, 2).reshape(R, -1)[::-1]
        f = flips[i]
        flip[f] = 1
        valid[f + 1:f + 1 + P] = 1
        a[f + 1:f + 1 + P] = colsp[g, :, kt * RL:(kt + 1) * RL]
    # hold operands where nothing new is driven
    for arr, on in ((a, valid), *((v, w_load) for v in w.values())):
        idx = np.maximum.accumulate(np.where(on == 1, np.arange(T), 0))
        arr[:] = arr[idx]
    return m, {"valid": valid, "flip": flip, "a": a, "w_load": w_load, **w}, values[:O, :K]


def unstream(cfg: ArrayConfig, m: LayerMap, out_valid: np.ndarray, out_sum: np.ndarray) -> np.ndarray:
    """The layer output (G*O_g, P) from a captured trace of `layer_stream` (reduction tiles added)."""
    at = np.flatnonzero(np.asarray(out_valid) == 1)
    P, C = m.gemm.windows, cfg.cols
    if len(at) != m.passes * P:
        raise QuantpeError(f"{m.name}: {len(at)} output cycles, the mapping has {m.passes * P}")
    sums = np.asarray(out_sum)[at].reshape(m.passes, P, C)
    Og = m.gemm.out_per_group
    y = np.zeros((m.gemm.groups * Og, P), np.int64)
    for i, (g, ot, _) in enumerate(pass_order(m)):
        n = min(C, Og - ot * C)
        o0 = g * Og + ot * C
        y[o0:o0 + n] += sums[i, :, :n].T
    return y
