"""Stripes tile: W windows x F filters of serial inner-product units (SIPs), golden reference.

SIP(w, f) multiplies the bit-serial activations of window w with the held weight brick of
filter f (L weights). Each cycle carries one *bit plane* per window: bit i of abit[w] is the
current bit of lane i's activation, broadcast to the F SIPs of window w; the weights of filter f
are held in one register shared by the W SIPs of filter f. Planes come MSB first; a brick of
p planes (1 <= p <= a_bits) is a p-bit two's-complement activation code per lane, its first
plane the sign plane (`neg`). Static Stripes: p is the layer's profiled precision, so a brick
takes p cycles instead of the bit-parallel unit's one.

Hardware contract (rtl/sip_tile.py implements exactly this). Inputs sampled on the rising
edge that ends cycle t; everything is ignored when valid = 0 except w_load and flip:
  valid            1 bit: a bit plane
  abit[w]          L bits, bit i = lane i of window w (element 0 = window 0 in the LSBs)
  bfirst, bend     the plane is the first (MSB) / last (LSB) plane of a brick
  neg              the plane is the brick's sign plane (legal only with bfirst)
  first, last      (read with bend only) the brick starts a new output / ends it
  w_load           1 bit: shadow[f] <= w[f*L .. f*L+L-1] for every filter (w_bits signed)
  flip             1 bit: planes of cycles > t use the weights loaded before cycle t
Each SIP computes s = sum_i bit_i * w_i (the adder tree of the AND-gated weights), then
brick <= (bfirst ? 0 : 2 * brick) + (neg ? -s : s), exact; with bend, acc <= (first ? 0 : acc)
+ brick (the new brick value), wrapped modulo 2^acc_bits; with bend & last the new acc is
emitted: out_valid = 1 in cycle t + 1, out_sum[w*F + f] holds it until the next emission (0
after reset). A brick's value is therefore sum_i code_i * w_i for the p-bit codes of its planes.
Protocol (a violation is a stimulus error, QuantpeError): every brick starts with bfirst and
ends with bend, has at most a_bits planes, and neg only on its first plane; no valid plane
before the first flip.
Reset (synchronous, active high) clears every register.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from .config import DesignConfig
from .dot import MAX_ACC_BITS, product_range
from .errors import ConfigError, QuantpeError
from .intmath import int_range, wrap
from .streams import port_stream
from .strum_config import signed_width

__all__ = ["SipTileConfig", "input_ports", "sip_tile_schedule", "sip_tile_schedule_ports"]


@dataclasses.dataclass(frozen=True)
class SipTileConfig(DesignConfig):
    """W windows x F filters of L-lane SIPs (defaults: 2 x 2 SIPs of 4 lanes, up to 8-bit
    activations, int8 weights, 24-bit accumulators). Paper tile: 16 x 16 of 16 lanes."""

    kind = "sip_tile"
    windows: int = 2
    filters: int = 2
    lanes: int = 4
    a_bits: int = 8
    w_bits: int = 8
    acc_bits: int = 24

    def validate(self):
        for name, hi in (("windows", 32), ("filters", 32), ("lanes", 64)):
            v = getattr(self, name)
            if not 1 <= v <= hi:
                raise ConfigError(f"sip_tile: {name} must be in 1..{hi}, got {v}")
        for name in ("a_bits", "w_bits"):
            if not 2 <= getattr(self, name) <= 16:
                raise ConfigError(f"sip_tile: {name} must be in 2..16, got {getattr(self, name)}")
        if not self.brick_bits <= self.acc_bits <= MAX_ACC_BITS:
            raise ConfigError(f"sip_tile: acc_bits must be in {self.brick_bits}..{MAX_ACC_BITS}, "
                              f"got {self.acc_bits}")

    def short_name(self) -> str:
        return (f"sip_tile-{self.windows}x{self.filters}-l{self.lanes}-a{self.a_bits}-w{self.w_bits}"
                f"-acc{self.acc_bits}")

    def plane_range(self) -> tuple:
        """One plane's adder-tree sum s (every subset of the lanes' weights)."""
        lo, hi = int_range(self.w_bits, True)
        return lo * self.lanes, hi * self.lanes

    def brick_range(self) -> tuple:
        """A brick's value: a_bits-bit signed codes times the weights, over every lane."""
        lo, hi = product_range(int_range(self.a_bits, True), int_range(self.w_bits, True))
        return lo * self.lanes, hi * self.lanes

    @property
    def plane_bits(self) -> int:
        return signed_width(*self.plane_range())

    @property
    def brick_bits(self) -> int:
        return signed_width(*self.brick_range())

    @property
    def latency(self) -> int:
        return 1


def input_ports(cfg: SipTileConfig) -> tuple[str, ...]:
    return ("valid", "bfirst", "bend", "neg", "first", "last", "abit", "w_load", "flip", "w")


def _stream(inputs: Mapping, name: str, shape: tuple) -> np.ndarray:
    return port_stream(inputs, name, shape, "sip_tile")


def sip_tile_schedule(cfg: SipTileConfig, inputs: Mapping) -> tuple[np.ndarray, np.ndarray]:
    """(out_valid (T,), out_sum (T, W*F)) of the tile for per-cycle input port streams."""
    W, F, L = cfg.windows, cfg.filters, cfg.lanes
    T = len(np.asarray(inputs["valid"]))
    ctl = {n: _stream(inputs, n, (T,)) for n in ("valid", "bfirst", "bend", "neg", "first", "last",
                                                  "w_load", "flip")}
    abit = _stream(inputs, "abit", (T, W))
    w = _stream(inputs, "w", (T, F * L)).reshape(T, F, L)
    wlo, whi = int_range(cfg.w_bits, True)
    loads = ctl["w_load"] == 1
    if np.any((w[loads] < wlo) | (w[loads] > whi)):
        raise QuantpeError(f"sip_tile: weight codes must be in {wlo}..{whi}")
    if np.any((abit < 0) | (abit >> L != 0)):
        raise QuantpeError(f"sip_tile: abit must be {L}-bit unsigned values")
    bits = (abit[:, :, None] >> np.arange(L)) & 1                       # (T, W, L)
    shadow = np.zeros((F, L), np.int64)
    active = None
    brick = np.zeros((W, F), np.int64)
    acc = np.zeros((W, F), np.int64)
    planes = 0                                                           # planes of the open brick
    out_valid = np.zeros(T, np.int64)
    out_sum = np.zeros((T, W * F), np.int64)
    held = np.zeros(W * F, np.int64)
    for t in range(T):
        out_sum[t] = held
        emit = None
        if ctl["valid"][t]:
            if active is None:
                raise QuantpeError(f"sip_tile: bit plane at cycle {t} before the first flip")
            bf, be, ng = ctl["bfirst"][t], ctl["bend"][t], ctl["neg"][t]
            if not bf and planes == 0:
                raise QuantpeError(f"sip_tile: plane at cycle {t} outside a brick (no bfirst)")
            if bf and planes:
                raise QuantpeError(f"sip_tile: bfirst at cycle {t} inside an open brick")
            if ng and not bf:
                raise QuantpeError(f"sip_tile: neg at cycle {t} on a plane that is not the brick's first")
            planes += 1
            if planes > cfg.a_bits:
                raise QuantpeError(f"sip_tile: brick longer than a_bits = {cfg.a_bits} planes at cycle {t}")
            s = np.einsum("wl,fl->wf", bits[t], active)
            brick = (0 if bf else 2 * brick) + (-s if ng else s)
            if be:
                acc = wrap((0 if ctl["first"][t] else acc) + brick, cfg.acc_bits)
                planes = 0
                if ctl["last"][t]:
                    emit = acc.reshape(-1).copy()
        if ctl["flip"][t]:
            active = shadow.copy()
        if loads[t]:
            shadow = w[t].copy()
        if emit is not None and t + 1 < T:
            out_valid[t + 1] = 1
            held = emit
    return out_valid, out_sum


def sip_tile_schedule_ports(cfg: SipTileConfig, inputs: Mapping) -> dict:
    out_valid, out_sum = sip_tile_schedule(cfg, inputs)
    return {"out_valid": out_valid, "out_sum": out_sum}
