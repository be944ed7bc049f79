"""Weight-stationary R x C PE array: configuration and cycle-level golden reference.

Gemmini-style dataflow. PE(r, c) holds one weight vector of `lanes` (L) lanes; row r of the
array holds reduction slice r (lanes r*L .. r*L+L-1 of an R*L-long window), column c one output
channel. Activations move right along the rows, partial sums down the columns, one register
between neighbouring PEs; the array skews its inputs and de-skews its outputs itself, so a
window enters on one cycle and its C column sums leave together on one cycle.

Lane multiplier (`pe`): "int" = L exact w_bits x a_bits products (the INT8 baseline lane);
"strum" = the static StruM lane of `StrumConfig(variant, block=L, k, hb, lb)`: K full
multipliers and L-K low units behind the mask-driven selector, fed from the held block fields,
so the mask/high/low decode and the selector's control switch once per weight load only.

Hardware contract (rtl/array.py implements exactly this). Inputs sampled on the rising edge
that ends cycle t:
  valid            1 bit: a[t] is a window
  a[r*L + l]       R*L activations, a_bits signed, lane 0 of row 0 in the LSBs
  flip             1 bit, independent of valid: windows of input cycles > t use the weights
                   loaded before cycle t (the double buffer's swap); windows <= t the previous set
  w_load           1 bit: shift one weight row into the top of every column
  weights          int  : w[c*L + l] w_bits signed
                   strum: w_mask[c] (L bits), w_hi[c*K + i], w_lo[c*(L-K) + i], w_j[c] (DLIQ),
                   the StruM block word fields (`strum_codec.block_layout`) of column c
Weight rows shift down the columns: after a flip at t_f, row r holds the r-th most recent load
before t_f (0 = the latest), so the driver sends row R-1 first and row 0 last.
Protocol (a violation is a stimulus error, QuantpeError): a flip needs at least R loads since
reset; no load in cycles t_f .. t_f + R + C - 3 after a flip at t_f (the flip is still
travelling through the array); no valid window before the first flip; StruM loads are legal
blocks. Weights on cycles without w_load are ignored, and so are activations when valid = 0.
Outputs: out_valid[t + latency] = valid[t] with latency = R + C - 1, and on that cycle
out_sum[c] = sum_r sum_l a[t][r*L + l] * v[r][c][l] exactly (out_bits signed, never wraps),
v = the decoded weights of the set in use; out_sum holds the latest sums (0 after reset).
Synchronous active-high reset clears every register.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from .config import DesignConfig
from .dot import MAX_ACC_BITS, product_range
from .errors import ConfigError, QuantpeError
from .intmath import int_range
from .streams import port_stream
from .strum_codec import BlockFields, block_layout, block_values, check_fields, mask_to_bits
from .strum_config import BLOCK_SIZES, VARIANTS, StrumConfig, signed_width

__all__ = ["ArrayConfig", "PE_KINDS", "MAX_DIM", "input_ports", "weight_ports", "load_values",
           "array_schedule", "array_schedule_ports"]

PE_KINDS = ("int", "strum")
MAX_DIM = 32          # rows, cols
MAX_ARRAY_LANES = 64


@dataclasses.dataclass(frozen=True)
class ArrayConfig(DesignConfig):
    """An R x C weight-stationary array of L-lane PEs (defaults: 2 x 2 PEs of 4 INT8 lanes).

    rows, cols   R, C in 1..32;  lanes  L in 1..64 (StruM: L is the block size, 4..32)
    pe           "int" | "strum"
    a_bits       signed activation codes;  w_bits  signed weight codes ("int" only)
    variant, k, hb, lb   the StruM lane ("strum" only; k = 0 -> L // 2, stored resolved)
    """

    kind = "array"
    rows: int = 2
    cols: int = 2
    lanes: int = 4
    pe: str = "int"
    a_bits: int = 8
    w_bits: int = 8
    variant: str = "dliq"
    k: int = 0
    hb: int = 8
    lb: int = 4

    def __post_init__(self):
        if self.k == 0 and type(self.lanes) is int and type(self.k) is int and self.pe == "strum":
            object.__setattr__(self, "k", self.lanes // 2)
        super().__post_init__()

    def validate(self):
        for name, hi in (("rows", MAX_DIM), ("cols", MAX_DIM), ("lanes", MAX_ARRAY_LANES)):
            v = getattr(self, name)
            if not 1 <= v <= hi:
                raise ConfigError(f"array: {name} must be in 1..{hi}, got {v}")
        if self.pe not in PE_KINDS:
            raise ConfigError(f"array: pe must be one of {', '.join(PE_KINDS)}, got {self.pe!r}")
        if not 2 <= self.a_bits <= 16:
            raise ConfigError(f"array: a_bits must be in 2..16, got {self.a_bits}")
        if self.pe == "int":
            if not 2 <= self.w_bits <= 16:
                raise ConfigError(f"array: w_bits must be in 2..16, got {self.w_bits}")
            if self.k != 0:
                raise ConfigError("array: k applies to pe='strum' only")
            lane_fields = {"variant": "dliq", "hb": 8, "lb": 4}
            for name, default in lane_fields.items():
                if getattr(self, name) != default:
                    raise ConfigError(f"array: {name} applies to pe='strum' only (pe='int' takes the "
                                      f"default {default!r}), got {getattr(self, name)!r}")
        else:
            if self.lanes not in BLOCK_SIZES:
                raise ConfigError(f"array: a StruM lane needs lanes in {', '.join(map(str, BLOCK_SIZES))}, "
                                  f"got {self.lanes}")
            if self.variant not in VARIANTS:
                raise ConfigError(f"array: variant must be one of {', '.join(VARIANTS)}, got {self.variant!r}")
            _ = self.lane_cfg                                # StrumConfig validates k, hb, lb
        if self.out_bits > MAX_ACC_BITS:
            raise ConfigError(f"array: the column sum needs {self.out_bits} bits (> {MAX_ACC_BITS})")

    def short_name(self) -> str:
        lane = (f"i{self.w_bits}" if self.pe == "int"
                else f"strum-{self.variant}-k{self.k}-h{self.hb}l{self.lb}")
        return f"array-{self.rows}x{self.cols}-l{self.lanes}-{lane}-a{self.a_bits}"

    # ---- the lane and its exact ranges -------------------------------------------------------
    @property
    def lane_cfg(self) -> StrumConfig:
        """The StruM lane (static, per-block j for DLIQ, combinational); pe='strum' only."""
        if self.pe != "strum":
            raise ConfigError("array: lane_cfg applies to pe='strum' only")
        try:
            return StrumConfig(variant=self.variant, block=self.lanes, k=self.k, hb=self.hb,
                               lb=self.lb, a_bits=self.a_bits, acc_bits=MAX_ACC_BITS, pipeline=0)
        except ConfigError as e:
            raise ConfigError(f"array: {str(e).removeprefix('strum: ')}") from None

    def a_range(self) -> tuple:
        return int_range(self.a_bits, True)

    def w_range(self) -> tuple:
        return int_range(self.w_bits, True)

    def dot_range(self) -> tuple:
        """One PE's L-lane dot product over every port value."""
        if self.pe == "strum":
            return self.lane_cfg.strum_sum_range()
        lo, hi = product_range(self.a_range(), self.w_range())
        return lo * self.lanes, hi * self.lanes

    def psum_bits(self, row: int) -> int:
        """Width of the partial sum leaving row `row` (rows 0..row summed)."""
        lo, hi = self.dot_range()
        return signed_width(lo * (row + 1), hi * (row + 1))

    @property
    def out_bits(self) -> int:
        return self.psum_bits(self.rows - 1)

    @property
    def latency(self) -> int:
        return self.rows + self.cols - 1

    @property
    def flip_guard(self) -> int:
        """Cycles after a flip (its own included) with no load allowed: R + C - 2."""
        return self.rows + self.cols - 2

    @property
    def macs_per_cycle(self) -> int:
        return self.rows * self.cols * self.lanes


def weight_ports(cfg: ArrayConfig) -> tuple:
    """(port name, element bits, elements per column, signed) of the weight inputs."""
    if cfg.pe == "int":
        return (("w", cfg.w_bits, cfg.lanes, True),)
    out = []
    for f in block_layout(cfg.lane_cfg):
        if f.name == "mask":
            out.append(("w_mask", f.count, 1, False))
        else:
            out.append((f"w_{f.name}", f.bits, f.count, f.signed))
    return tuple(out)


def input_ports(cfg: ArrayConfig) -> tuple[str, ...]:
    return ("valid", "flip", "a", "w_load") + tuple(p[0] for p in weight_ports(cfg))


def _stream(inputs: Mapping, name: str, shape: tuple) -> np.ndarray:
    return port_stream(inputs, name, shape, "array")


def load_values(cfg: ArrayConfig, inputs: Mapping, cycles) -> np.ndarray:
    """Decoded weights (n, C, L) of the weight rows presented on `cycles`."""
    T = len(np.asarray(inputs["valid"]))
    C, L = cfg.cols, cfg.lanes
    cycles = np.asarray(cycles, dtype=np.int64)
    if cfg.pe == "int":
        w = _stream(inputs, "w", (T, C * L))[cycles].reshape(-1, C, L)
        lo, hi = cfg.w_range()
        if np.any((w < lo) | (w > hi)):
            raise QuantpeError(f"array: weight codes must be in {lo}..{hi}")
        return w
    lane = cfg.lane_cfg
    K = lane.k
    mask = _stream(inputs, "w_mask", (T, C))[cycles]
    if np.any((mask < 0) | (mask >> L != 0)):
        raise QuantpeError(f"array: w_mask must be {L}-bit unsigned values")
    f = BlockFields(mask_to_bits(mask, L),
                    _stream(inputs, "w_hi", (T, C * K))[cycles].reshape(-1, C, K),
                    _stream(inputs, "w_lo", (T, C * (L - K)))[cycles].reshape(-1, C, L - K),
                    _stream(inputs, "w_j", (T, C))[cycles] if lane.j_in_block else None)
    check_fields(lane, f, "array weight load")
    return block_values(lane, f, check=False)


def _row_loads(before: int, rows: int) -> np.ndarray:
    """Indices into the loads so far (`before` of them) of the rows 0..R-1 of a flip's set:
    the weight rows shift down, so row r holds the r-th most recent load."""
    return before - 1 - np.arange(rows)


def _set_in_use(flips: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """Index of the flip whose set each window uses: the last flip strictly before it."""
    return np.searchsorted(flips, windows) - 1


def array_schedule(cfg: ArrayConfig, inputs: Mapping) -> tuple[np.ndarray, np.ndarray]:
    """(out_valid (T,), out_sum (T, C)) of the array for per-cycle input port streams."""
    R, C, L = cfg.rows, cfg.cols, cfg.lanes
    valid = _stream(inputs, "valid", (len(np.asarray(inputs["valid"])),))
    T = len(valid)
    flip = _stream(inputs, "flip", (T,))
    w_load = _stream(inputs, "w_load", (T,))
    a = _stream(inputs, "a", (T, R * L))
    loads = np.flatnonzero(w_load == 1)
    flips = np.flatnonzero(flip == 1)
    windows = np.flatnonzero(valid == 1)
    lo, hi = cfg.a_range()
    if np.any((a[windows] < lo) | (a[windows] > hi)):
        raise QuantpeError(f"array: activation codes must be in {lo}..{hi}")
    values = load_values(cfg, inputs, loads)                     # (n_loads, C, L)
    # weight set of each flip: row r = the r-th most recent load before the flip
    sets = np.zeros((len(flips), R, C, L), dtype=np.int64)
    for i, tf in enumerate(flips):
        before = np.searchsorted(loads, tf)                      # loads at cycles < tf
        if before < R:
            raise QuantpeError(f"array: flip at cycle {tf} after only {before} weight loads "
                               f"(the {R} rows need {R})")
        late = loads[(loads >= tf) & (loads < tf + cfg.flip_guard)]
        if len(late):
            raise QuantpeError(f"array: weight load at cycle {late[0]} while the flip of cycle {tf} "
                               f"is still in the array (no load in cycles {tf}..{tf + cfg.flip_guard - 1})")
        sets[i] = values[_row_loads(before, R)]
    which = _set_in_use(flips, windows)
    if len(windows) and which[0] < 0:
        raise QuantpeError(f"array: valid window at cycle {windows[0]} before the first flip")
    sums = np.einsum("nrl,nrcl->nc", a[windows].reshape(-1, R, L), sets[which]) if len(windows) \
        else np.zeros((0, C), np.int64)
    out_valid = np.zeros(T, dtype=np.int64)
    held = np.zeros((T, C), dtype=np.int64)
    at = windows + cfg.latency
    keep = at < T
    out_valid[at[keep]] = 1
    held[at[keep]] = sums[keep]
    last = np.maximum.accumulate(np.where(out_valid == 1, np.arange(T), -1))
    out_sum = np.where((last >= 0)[:, None], held[np.maximum(last, 0)], 0)
    return out_valid, out_sum


def array_schedule_ports(cfg: ArrayConfig, inputs: Mapping) -> dict:
    """`array_schedule` as {output port name: per-cycle values} for the scoreboard."""
    out_valid, out_sum = array_schedule(cfg, inputs)
    return {"out_valid": out_valid, "out_sum": out_sum}
