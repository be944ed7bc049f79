"""Dynamic Stripes tile: the Stripes tile (`golden.sip_tile`) with run-time precision detection.

The feeder hands the tile one *brick of activation codes* per window (not bit planes): L
a_bits-bit two's-complement codes for each of the W windows, with the F filters' weights of
that brick. A detector per window (the detection group = the window's L lanes, shared by the
F SIPs of the window) finds the brick's precision as `stripes_precision.detect_windows`
defines it, leading bit only: P_w = bit_length(OR_i magnitude(a_wi)) + 1, magnitude(a) = a XOR
sign-extension (~a for a < 0), so P_w is in 1..a_bits (an all-0 or all-(-1) group: 1). The W
windows run in lockstep, so the tile serialises P = max_w P_w planes of every window: bit P-1
(the sign plane, negated) down to bit 0. That is exact for every window (a code that fits
P_w <= P bits has bit P-1 equal to its sign), so a brick costs P cycles and its value is
sum_i a_i * w_i with no truncation. detect = "sip" gives each of the W*F SIPs its own detector
on its window's codes: the same P_w (the F SIPs of a window see the same activations), so the
same schedule and outputs cycle for cycle; only the detector count (W*F instead of W) differs.

Hardware contract (rtl/dsip_tile.py implements exactly this). Inputs sampled on the rising
edge that ends cycle t:
  valid            1 bit: a brick is offered
  a[w*L + i]       a_bits signed: lane i of window w
  w[f*L + i]       w_bits signed: the brick's weight of filter f, lane i
  first, last      the brick starts a new output / ends it
Outputs:
  ready            1 bit, from the state only: ready = !busy | (k == 0); the brick is taken
                   (accepted) in cycle t when valid & ready; valid & !ready is ignored (the
                   feeder holds its brick; whatever the ports carry then does not matter)
  out_valid, out_sum[w*F + f] (acc_bits signed): as in `golden.sip_tile`
State: busy, k (the bit index of the current plane), fp (it is the brick's first plane), the
latched codes, weights, first and last. Accepted in cycle t: the registers take a, w, first,
last; k <= P - 1; fp <= 1; busy <= 1. So the brick's planes stream on cycles t+1 .. t+P (bit
P-1 first) and the next brick can be taken on cycle t+P (its last plane): back-to-back bricks
have no bubble. In a busy cycle: every SIP does the `sip_tile` plane step with bfirst = neg =
fp, bend = (k == 0) and the latched first / last; then k <= k - 1, fp <= 0 when k > 0, and
busy <= 0 when k == 0 and no brick is taken. With bend & last the sums show in cycle t + 1
(out_valid = 1 for one cycle, out_sum held until the next emission, 0 after reset).
A run of bricks taken back to back from cycle 0 therefore ends with its last out_valid on cycle
sum_b P_b + 1. Codes and weights of an accepted brick outside their ranges: QuantpeError.
Reset (synchronous, active high) clears every register (busy = 0: ready = 1).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from .config import shown
from .errors import ConfigError, QuantpeError
from .intmath import int_range, wrap
from .sip_tile import SipTileConfig
from .stripes_precision import detect_windows
from .streams import port_stream

__all__ = ["DETECTS", "DSipTileConfig", "input_ports", "brick_precision", "window_precisions",
           "dsip_tile_schedule", "dsip_tile_schedule_ports"]

DETECTS = ("window", "sip")


@dataclasses.dataclass(frozen=True)
class DSipTileConfig(SipTileConfig):
    """W x F SIP tile fed with activation codes, detecting each brick's planes (defaults: 2 x 2).

    The `SipTileConfig` fields, and detect: one detector per window ("window", the Dynamic
    Stripes organisation) or per SIP ("sip")."""

    kind = "dsip_tile"
    detect: str = "window"

    def validate(self):
        super().validate()
        if self.detect not in DETECTS:
            raise ConfigError(f"dsip_tile: detect must be one of {', '.join(DETECTS)}, got {shown(self.detect)}")

    def short_name(self) -> str:
        return "d" + super().short_name() + f"-det{self.detect}"

    @property
    def detectors(self) -> int:
        return self.windows * (self.filters if self.detect == "sip" else 1)


def input_ports(cfg: DSipTileConfig) -> tuple[str, ...]:
    return ("valid", "first", "last", "a", "w")


def window_precisions(cfg: SipTileConfig, codes) -> np.ndarray:
    """Detected precision P_w (..., W) of bricks of codes (..., W, L) (a_bits signed, checked)."""
    msb, lsb = detect_windows(codes, cfg.a_bits, True, cfg.lanes, False)
    return (msb - lsb + 1)[..., 0]


def brick_precision(cfg: SipTileConfig, codes) -> np.ndarray:
    """Planes of bricks (..., W, L) in lockstep: the slowest window's precision, (...)."""
    return window_precisions(cfg, codes).max(axis=-1)


def dsip_tile_schedule(cfg: DSipTileConfig, inputs: Mapping) -> tuple[np.ndarray, ...]:
    """(ready (T,), out_valid (T,), out_sum (T, W*F)) for per-cycle input port streams."""
    W, F, L = cfg.windows, cfg.filters, cfg.lanes
    T = len(np.asarray(inputs["valid"]))
    ctl = {n: port_stream(inputs, n, (T,), "dsip_tile") for n in ("valid", "first", "last")}
    a = port_stream(inputs, "a", (T, W * L), "dsip_tile").reshape(T, W, L)
    w = port_stream(inputs, "w", (T, F * L), "dsip_tile").reshape(T, F, L)
    alo, ahi = int_range(cfg.a_bits, True)
    wlo, whi = int_range(cfg.w_bits, True)
    busy, k, fp, first, last = False, 0, False, 0, 0
    codes = np.zeros((W, L), np.int64)
    wts = np.zeros((F, L), np.int64)
    brick = np.zeros((W, F), np.int64)
    acc = np.zeros((W, F), np.int64)
    ready = np.zeros(T, np.int64)
    out_valid = np.zeros(T, np.int64)
    out_sum = np.zeros((T, W * F), np.int64)
    held = np.zeros(W * F, np.int64)
    for t in range(T):
        out_sum[t] = held
        ready[t] = rdy = int(not busy or k == 0)
        emit = None
        if busy:                                    # one plane: bit k of every code
            s = np.einsum("wl,fl->wf", (codes >> k) & 1, wts)
            brick = (0 if fp else 2 * brick) + (-s if fp else s)
            if k == 0:
                acc = wrap((0 if first else acc) + brick, cfg.acc_bits)
                if last:
                    emit = acc.reshape(-1).copy()
                busy = False
            else:
                k, fp = k - 1, False
        if ctl["valid"][t] and rdy:
            if np.any((a[t] < alo) | (a[t] > ahi)) or np.any((w[t] < wlo) | (w[t] > whi)):
                raise QuantpeError(f"dsip_tile: brick at cycle {t} has codes outside {alo}..{ahi} "
                                   f"or weights outside {wlo}..{whi}")
            codes, wts = a[t].copy(), w[t].copy()
            first, last = int(ctl["first"][t]), int(ctl["last"][t])
            k, fp, busy = int(brick_precision(cfg, codes)) - 1, True, True
        if emit is not None and t + 1 < T:
            out_valid[t + 1] = 1
            held = emit
    return ready, out_valid, out_sum


def dsip_tile_schedule_ports(cfg: DSipTileConfig, inputs: Mapping) -> dict:
    ready, out_valid, out_sum = dsip_tile_schedule(cfg, inputs)
    return {"ready": ready, "out_valid": out_valid, "out_sum": out_sum}
