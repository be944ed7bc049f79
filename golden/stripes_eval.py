"""Stripes / Dynamic Stripes on the digits MLP: profiled precisions, real traces, cycle totals.

Everything here is computed with the bit-exact integer model (`qmodel`) and the Stripes golden
rules (`stripes_precision`, `stripes`); nothing is re-derived.

SIP signedness (`a_signed`): the model's codes are signed a_bits two's complement integers, and
every one the digits MLP produces is in [0, qmax] (pixels >= 0, ReLU after every hidden layer);
`evaluate_stripes` checks that every trace value is >= 0 (`min_code` per layer) and raises
QuantpeError otherwise when a_signed is False. The same non-negative integers are valid
*unsigned* a_bits-bit codes, so both SIPs see the same values; they differ in the precision rule
(`stripes_precision`): unsigned p = highest set bit + 1, signed p = that + 1 (the sign bit).

Precision-reduction rule (what the static-window SIP computes, `accuracy_with_precisions`):
  layer l's input codes a (a_bits codes, signed or unsigned per a_signed) are replaced by
      window_value(a, msb_l, lsb_l),  (msb_l, lsb_l) = static_window(p_l, msb_l, a_bits)
  i.e. the window [msb_l .. max(0, msb_l - p_l + 1)] where msb_l = covering_msb of layer l's
  *full-precision* input codes over the calibration split (the training split: the same data
  that set the quantization scales). Bits below lsb are dropped (truncation toward -infinity to
  a multiple of 2^lsb, no rounding); bits above msb are ignored (the value wraps modulo
  2^(msb+1); with msb = covering msb this never happens on the calibration split, and cannot
  happen at all when msb = a_bits - 1, which is the case for every layer of the digits model
  at 8 and 16 bits because requantization clips to qmax = 2^(a_bits-1) - 1 and the calibration
  maximum is qmax). Signed SIP: the window's top bit is a sign bit; ReLU codes are >= 0, so it
  is 0. Unsigned SIP: covering msb = signed covering msb - 1 (msb = a_bits - 2 here), no sign bit.
  Consequence (exact, tested): when every code fed to a layer is in [0, 2^msb_s) with msb_s the
  signed window msb, the unsigned window of p bits [msb_s - 1 .. lsb] and the signed window of
  p + 1 bits [msb_s .. lsb] have the same lsb and give the same value (truncation of a to a
  multiple of 2^lsb), so accuracy_unsigned(p) == accuracy_signed(min(p + 1, a_bits)): an
  unsigned SIP reaches the same accuracy with one bit less per layer; the accuracies at the
  *same* p differ. Likewise a detection group that is not all zero needs exactly one cycle
  less unsigned (same trailing one, leading one one position lower); an all-zero group costs 1
  cycle in both. The reduced codes go through the unchanged layer (`QLayer.accumulators`, then
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
from .stripes_precision import (
    PrecisionProfile,
    covering_msb,
    detect_windows,
    profile_precisions,
    static_window,
    window_value,
)

__all__ = ["layer_windows", "run_windowed", "accuracy_with_precisions", "profile_model",
           "StripesEval", "evaluate_stripes", "precision_histogram", "check_nonnegative",
           "CYCLE_COLUMNS", "DEFAULT_TOLERANCE"]

DEFAULT_TOLERANCE = 0.0       # absolute accuracy loss allowed on the profiling (calibration) split


def _msbs(qmodel: QModel, calib_x, a_signed: bool = True) -> list:
    codes = qmodel.capture(calib_x)
    return [covering_msb(c, layer.in_bits, a_signed) for c, layer in zip(codes, qmodel.layers)]


def layer_windows(qmodel: QModel, precisions, msbs) -> list:
    """Static windows [(msb, lsb)] of `precisions` (one int per layer, 1..a_bits of the layer)."""
    p = [int(v) for v in precisions]
    if len(p) != len(qmodel.layers) or len(msbs) != len(qmodel.layers):
        raise QuantpeError(f"need one precision and one msb per layer ({len(qmodel.layers)})")
    return [static_window(pl, int(m), layer.in_bits)
            for pl, m, layer in zip(p, msbs, qmodel.layers)]


def run_windowed(qmodel: QModel, x, windows, a_signed: bool = True):
    """Integer logits with every layer's input codes reduced to its window, and the per-layer
    (codes, reduced values) that the layer received: (logits, [(a, window_value(a)), ...]).
    a_signed: window rule of a signed (two's complement) or unsigned SIP; unsigned needs every
    code >= 0 (QuantpeError otherwise, from the code range check)."""
    a = qmodel.quantize_input(x)
    seen = []
    for layer, (msb, lsb) in zip(qmodel.layers, windows):
        v = window_value(a, msb, lsb, layer.in_bits, a_signed)
        seen.append((a, v))
        acc = layer.accumulators(v, qmodel.acc_bits)
        a = acc if layer.is_last else layer.outputs(acc)
    return a, seen


def accuracy_with_precisions(qmodel: QModel, precisions, x=None, y=None, msbs=None,
                             a_signed: bool = True) -> float:
    """Accuracy of `qmodel` on (x, y) (default: the test split) with layer l's inputs reduced to
    precisions[l] bits by the static-window rule of the module docstring (signed or unsigned
    SIP). msbs: per-layer window msb (default: covering msb over the training split, same rule)."""
    data = load_digits_split() if x is None or y is None or msbs is None else None
    if x is None or y is None:
        x, y = data.x_test, data.y_test
    if msbs is None:
        msbs = _msbs(qmodel, data.x_train, a_signed)
    logits, _ = run_windowed(qmodel, x, layer_windows(qmodel, precisions, msbs), a_signed)
    return float(np.mean(np.argmax(logits, axis=1) == np.asarray(y)))


def profile_model(qmodel: QModel, x, y, msbs, tolerance: float = DEFAULT_TOLERANCE,
                  relative: bool = False, a_signed: bool = True) -> PrecisionProfile:
    """Stripes per-layer profile of `qmodel` on (x, y) (all layers must share one a_bits)."""
    bits = set(qmodel.a_bits)
    if len(bits) != 1:
        raise QuantpeError(f"profiling needs one activation width for all layers, got {qmodel.a_bits}")
    return profile_precisions(lambda p: accuracy_with_precisions(qmodel, p, x, y, msbs, a_signed),
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
    a_signed: bool         # SIP activation signedness (the codes are the same either way)
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
                           # window, groups / groups_at_p (detected lead precision == p),
                           # min_code (smallest code of the full and profiled test traces),
                           # nonzero_bricks (bricks of the profiled fields with a non-zero lane)
    totals: dict
    hist_lead: tuple       # index = detected precision (0 unused)
    hist_trail: tuple

    def speedup(self, num: str, den: str) -> float:
        return self.totals[num] / self.totals[den]


CYCLE_COLUMNS = ("parallel", "serial_full", "stripes_lossless", "stripes", "dyn_lead", "dyn_trail",
                 "dyn_lead_lossless", "dyn_trail_lossless")


def check_nonnegative(traces, what: str = "trace") -> None:
    """QuantpeError unless every code of every per-layer trace is >= 0 (unsigned SIP input)."""
    for i, t in enumerate(traces):
        t = np.asarray(t)
        if t.size and t.min() < 0:
            raise QuantpeError(f"layer {i} {what} holds the negative code {int(t.min())}: an unsigned "
                               "SIP needs activation codes >= 0")


@functools.lru_cache(maxsize=8)
def _profiled(a_bits: int, tolerance: float, a_signed: bool = True):
    data = load_digits_split()
    q = build_qmodel(a_bits=a_bits)
    if not a_signed:
        check_nonnegative(q.capture(data.x_train), "calibration trace")
    msbs = _msbs(q, data.x_train, a_signed)
    return q, msbs, profile_model(q, data.x_train, data.y_train, msbs, tolerance, a_signed=a_signed)


@functools.lru_cache(maxsize=32)
def evaluate_stripes(a_bits: int = 8, lanes: int = 16, group: int = 16, lockstep: int = 1,
                     tolerance: float = DEFAULT_TOLERANCE, a_signed: bool = True) -> StripesEval:
    """Profile and count cycles of the digits MLP with `a_bits`-bit activations on a signed
    (a_signed, two's complement) or unsigned SIP; the codes are the model's, checked >= 0 for
    the unsigned SIP (QuantpeError otherwise) and recorded as min_code per layer.

    Profile on the training split (tolerance absolute, accuracy fraction), cycles on the test
    split traces. Columns (per layer and total, SIP cycles as in the module docstring):
    parallel, serial_full, stripes_lossless (window [covering msb of the test trace..0]),
    stripes (profiled window), dyn_lead / dyn_trail (detector on the profiled p-bit fields,
    G = group), dyn_lead_lossless / dyn_trail_lossless (detector on the raw codes).
    """
    data = load_digits_split()
    q, msbs, prof = _profiled(a_bits, tolerance, a_signed)
    windows = layer_windows(q, prof.precisions, msbs)
    full_tr = q.capture(data.x_test)
    if not a_signed:
        check_nonnegative(full_tr, "test trace")
    logits, seen = run_windowed(q, data.x_test, windows, a_signed)
    acc_prof = float(np.mean(np.argmax(logits, axis=1) == data.y_test))
    cfg = StripesConfig(lanes=lanes, a_bits=a_bits, w_bits=8, a_signed=a_signed, w_signed=True,
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
        nb = -(-field.shape[1] // lanes)
        fp = np.zeros((field.shape[0], nb * lanes), np.int64)
        fp[:, :field.shape[1]] = field
        layers.append(dict(layer=i, groups=int(h.sum()), groups_at_p=int(h[p]), rows=raw.rows,
                           inputs=int(w.shape[1]), outputs=raw.outputs,
                           min_code=int(min(full_tr[i].min(), seen[i][0].min())),
                           nonzero_bricks=int(np.count_nonzero(fp.reshape(-1, lanes).any(axis=1))),
                           bricks=raw.bricks, precision=p, window=[msb, lsb],
                           parallel=raw.parallel, serial_full=raw.serial_full,
                           stripes_lossless=raw.stripes, stripes=pro.stripes,
                           dyn_lead=pro.dynamic_lead, dyn_trail=pro.dynamic_trail,
                           dyn_lead_lossless=raw.dynamic_lead, dyn_trail_lossless=raw.dynamic_trail))
    totals = {k: sum(l_[k] for l_ in layers) for k in CYCLE_COLUMNS}
    return StripesEval(a_bits=a_bits, a_signed=a_signed, lanes=lanes, group=group, lockstep=lockstep,
                       tolerance=tolerance, profile=prof, msbs=tuple(msbs),
                       windows=tuple(tuple(w_) for w_ in windows),
                       test_accuracy_full=q.accuracy(data.x_test, data.y_test),
                       test_accuracy_profiled=acc_prof, layers=tuple(layers), totals=totals,
                       hist_lead=tuple(int(v) for v in precision_histogram(cfg, fields, False)),
                       hist_trail=tuple(int(v) for v in precision_histogram(
                           dataclasses.replace(cfg, trailing=True), fields, True)))
