"""Stripes / Dynamic Stripes on the digits MLP: profiled precisions, real traces, cycle totals.

Everything here is computed with the bit-exact integer model (`qmodel`) and the Stripes golden
rules (`stripes_precision`, `stripes`); nothing is re-derived.

Precision-reduction rule (what the static-window SIP computes, `accuracy_with_precisions`):
  layer l's input codes a (signed a_bits two's complement, the model's codes) are replaced by
      window_value(a, msb_l, lsb_l),  (msb_l, lsb_l) = static_window(p_l, msb_l, a_bits)
  i.e. the window [msb_l .. max(0, msb_l - p_l + 1)] where msb_l = covering_msb of layer l's
  *full-precision* input codes over the calibration split (the training split: the same data
  that set the quantization scales). Bits below lsb are dropped (truncation toward -infinity to
  a multiple of 2^lsb, no rounding); bits above msb are ignored (the value wraps modulo
  2^(msb+1); with msb = covering msb this never happens on the calibration split, and cannot
  happen at all when msb = a_bits - 1, which is the case for every layer of the digits model
  at 8 and 16 bits because requantization clips to qmax = 2^(a_bits-1) - 1 and the calibration
  maximum is qmax). The window's top bit is a sign bit (signed SIP); ReLU codes are >= 0, so it
  is 0. The reduced codes go through the unchanged layer (`QLayer.accumulators`, then
  `QLayer.outputs`), so a reduced layer also changes the inputs of the next layer.

Profiling: `profile_precisions` (per-layer search, then joint bumps) with, by default,
tolerance 0 absolute on the calibration split: the profiled model must be at least as accurate
as the full-precision a_bits model on that split (the paper's "100% relative accuracy").

Neuron -> brick mapping (the `stripes.layer_cycles` model): one SIP of L = 16 lanes computes
one output neuron's inner product over K inputs as ceil(K / L) bricks (zero-padded), one brick
per input transaction; the SIP's weights are the neuron's weights. Every one of a layer's M
output neurons is processed for every sample, so a layer costs
    M * sum over samples n and bricks b of P(n, b)    SIP cycles,
P = 1 (bit-parallel PE), a_bits (bit-serial, full word), p_l (Stripes), detected group
precision max over the brick's groups (Dynamic Stripes). This equals the time of a tile of M'
SIPs that share one activation brick and hold M' different filters (Stripes' tile) times M/M':
the ratio between variants does not depend on M'. `lockstep` > 1 additionally makes `lockstep`
samples (the tile's windows) wait for the slowest of them brick by brick.

Dynamic Stripes on top of the profile (the paper's Dynamic Stripes): the activations are stored
at their profiled precision, i.e. as the p_l-bit fields window_value(a) >> lsb_l of the profiled
run, and the detector trims that field per group of G lanes (leading one; optionally trailing
one): exact on the profiled values, so the profiled accuracy is kept. The "lossless" columns run
the detector on the raw a_bits codes of the full-precision model (no profile at all).
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from .digits import load_digits_split
from .errors import QuantpeError
from .qmodel import QModel, build_qmodel
from .stripes import StripesConfig, layer_cycles
from .stripes_precision import (PrecisionProfile, covering_msb, detect_windows,
                                profile_precisions, static_window, window_value)

__all__ = ["layer_windows", "run_windowed", "accuracy_with_precisions", "profile_model",
           "StripesEval", "evaluate_stripes", "precision_histogram", "DEFAULT_TOLERANCE"]

DEFAULT_TOLERANCE = 0.0       # absolute accuracy loss allowed on the profiling (calibration) split


def _msbs(qmodel: QModel, calib_x) -> list:
    codes = qmodel.capture(calib_x)
    return [covering_msb(c, layer.in_bits, True) for c, layer in zip(codes, qmodel.layers)]


def layer_windows(qmodel: QModel, precisions, msbs) -> list:
    """Static windows [(msb, lsb)] of `precisions` (one int per layer, 1..a_bits of the layer)."""
    p = [int(v) for v in precisions]
    if len(p) != len(qmodel.layers) or len(msbs) != len(qmodel.layers):
        raise QuantpeError(f"need one precision and one msb per layer ({len(qmodel.layers)})")
    return [static_window(pl, int(m), layer.in_bits)
            for pl, m, layer in zip(p, msbs, qmodel.layers)]


def run_windowed(qmodel: QModel, x, windows):
    """Integer logits with every layer's input codes reduced to its window, and the per-layer
    (codes, reduced values) that the layer received: (logits, [(a, window_value(a)), ...])."""
    a = qmodel.quantize_input(x)
    seen = []
    for layer, (msb, lsb) in zip(qmodel.layers, windows):
        v = window_value(a, msb, lsb, layer.in_bits, True)
        seen.append((a, v))
        acc = layer.accumulators(v, qmodel.acc_bits)
        a = acc if layer.is_last else layer.outputs(acc)
    return a, seen


def accuracy_with_precisions(qmodel: QModel, precisions, x=None, y=None, msbs=None) -> float:
    """Accuracy of `qmodel` on (x, y) (default: the test split) with layer l's inputs reduced to
    precisions[l] bits by the static-window rule of the module docstring. msbs: per-layer window
    msb (default: covering msb over the training split)."""
    data = load_digits_split() if x is None or y is None or msbs is None else None
    if x is None or y is None:
        x, y = data.x_test, data.y_test
    if msbs is None:
        msbs = _msbs(qmodel, data.x_train)
    logits, _ = run_windowed(qmodel, x, layer_windows(qmodel, precisions, msbs))
    return float(np.mean(np.argmax(logits, axis=1) == np.asarray(y)))


def profile_model(qmodel: QModel, x, y, msbs, tolerance: float = DEFAULT_TOLERANCE,
                  relative: bool = False) -> PrecisionProfile:
    """Stripes per-layer profile of `qmodel` on (x, y) (all layers must share one a_bits)."""
    bits = set(qmodel.a_bits)
    if len(bits) != 1:
        raise QuantpeError(f"profiling needs one activation width for all layers, got {qmodel.a_bits}")
    return profile_precisions(lambda p: accuracy_with_precisions(qmodel, p, x, y, msbs),
                              len(qmodel.layers), bits.pop(), tolerance, relative)


def precision_histogram(cfg: StripesConfig, traces, trailing: bool) -> np.ndarray:
    """Counts (a_bits + 1,) of detected group precisions (index = precision, 1..a_bits) over the
    detection groups of every brick of every trace (each (N, K), zero-padded to whole bricks)."""
    hist = np.zeros(cfg.a_bits + 1, np.int64)
    for t in traces:
        n, k = t.shape
        nb = -(-k // cfg.lanes)
        xp = np.zeros((n, nb * cfg.lanes), np.int64)
        xp[:, :k] = t
        m, l_ = detect_windows(xp.reshape(-1, cfg.lanes), cfg.a_bits, cfg.a_signed, cfg.group, trailing)
        hist += np.bincount((m - l_ + 1).ravel(), minlength=cfg.a_bits + 1)
    return hist


@dataclasses.dataclass(frozen=True)
class StripesEval:
    """Results for one activation width (see `evaluate_stripes`)."""

    a_bits: int
    lanes: int
    group: int
    lockstep: int
    tolerance: float
    profile: PrecisionProfile
    msbs: tuple
    windows: tuple
    test_accuracy_full: float
    test_accuracy_profiled: float
    layers: tuple          # per layer: dict of cycle counts (CYCLE_COLUMNS), shapes, precision,
                           # window, groups / groups_at_p (detected lead precision == p)
    totals: dict
    hist_lead: tuple       # index = detected precision (0 unused)
    hist_trail: tuple

    def speedup(self, num: str, den: str) -> float:
        return self.totals[num] / self.totals[den]


CYCLE_COLUMNS = ("parallel", "serial_full", "stripes_lossless", "stripes", "dyn_lead", "dyn_trail",
                 "dyn_lead_lossless", "dyn_trail_lossless")


@functools.lru_cache(maxsize=4)
def _profiled(a_bits: int, tolerance: float):
    data = load_digits_split()
    q = build_qmodel(a_bits=a_bits)
    msbs = _msbs(q, data.x_train)
    return q, msbs, profile_model(q, data.x_train, data.y_train, msbs, tolerance)


@functools.lru_cache(maxsize=16)
def evaluate_stripes(a_bits: int = 8, lanes: int = 16, group: int = 16, lockstep: int = 1,
                     tolerance: float = DEFAULT_TOLERANCE) -> StripesEval:
    """Profile and count cycles of the digits MLP with `a_bits`-bit signed activations.

    Profile on the training split (tolerance absolute, accuracy fraction), cycles on the test
    split traces. Columns (per layer and total, SIP cycles as in the module docstring):
    parallel, serial_full, stripes_lossless (window [covering msb of the test trace..0]),
    stripes (profiled window), dyn_lead / dyn_trail (detector on the profiled p-bit fields,
    G = group), dyn_lead_lossless / dyn_trail_lossless (detector on the raw codes).
    """
    data = load_digits_split()
    q, msbs, prof = _profiled(a_bits, tolerance)
    windows = layer_windows(q, prof.precisions, msbs)
    full_tr = q.capture(data.x_test)
    logits, seen = run_windowed(q, data.x_test, windows)
    acc_prof = float(np.mean(np.argmax(logits, axis=1) == data.y_test))
    cfg = StripesConfig(lanes=lanes, a_bits=a_bits, w_bits=8, a_signed=True, w_signed=True,
                        mode="dynamic", group=group)
    layers, fields = [], []
    for i, layer in enumerate(q.layers):
        w = layer.weight.codes
        raw = layer_cycles(cfg, full_tr[i], w, lockstep=lockstep)
        msb, lsb = windows[i]
        p = msb - lsb + 1
        field = seen[i][1] >> lsb              # exact: window values are multiples of 2^lsb
        fields.append(field)
        pro = layer_cycles(cfg, field, w, window=(p - 1, 0), lockstep=lockstep)
        if pro.stripes_mismatches:
            raise QuantpeError("internal: profiled fields are not exact in their own window")
        h = precision_histogram(cfg, [field], False)
        layers.append(dict(layer=i, groups=int(h.sum()), groups_at_p=int(h[p]), rows=raw.rows, inputs=int(w.shape[1]), outputs=raw.outputs,
                           bricks=raw.bricks, precision=p, window=[msb, lsb],
                           parallel=raw.parallel, serial_full=raw.serial_full,
                           stripes_lossless=raw.stripes, stripes=pro.stripes,
                           dyn_lead=pro.dynamic_lead, dyn_trail=pro.dynamic_trail,
                           dyn_lead_lossless=raw.dynamic_lead, dyn_trail_lossless=raw.dynamic_trail))
    totals = {k: sum(l_[k] for l_ in layers) for k in CYCLE_COLUMNS}
    return StripesEval(a_bits=a_bits, lanes=lanes, group=group, lockstep=lockstep,
                       tolerance=tolerance, profile=prof, msbs=tuple(msbs),
                       windows=tuple(tuple(w_) for w_ in windows),
                       test_accuracy_full=q.accuracy(data.x_test, data.y_test),
                       test_accuracy_profiled=acc_prof, layers=tuple(layers), totals=totals,
                       hist_lead=tuple(int(v) for v in precision_histogram(cfg, fields, False)),
                       hist_trail=tuple(int(v) for v in precision_histogram(
                           dataclasses.replace(cfg, trailing=True), fields, True)))
