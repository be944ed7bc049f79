"""Every technique on one pretrained model of `model_fetch`, on its real inputs (`real_inputs`).

`real_model_figures(name, n, seed)`: the model imported (`golden.onnx_io.import_onnx`), its float
outputs on n real inputs as the labels (no labels ship with the models: "accuracy" is agreement
with the float model, per sample for a classifier, per output position for a sequence model,
`golden.graph.top1_score`), the INT8 model (`build_qgraph`, per-channel weights, calibrated on
the same n inputs) and, all bit-exact:
  pe share     MACs on the PEs / all MACs (`golden.mac_share`)
  int8         agreement and output SQNR (dB) of the INT8 model against the float model
  strum        StruM DLIQ and MIP2Q at K = B/2 (`golden.model_eval.strum_eval_model`, padded):
               agreement, and the per-layer weight SQNR (median, minimum over the layers)
  approx       per weight layer alone: the smallest of `DEFAULT_APPROX` (area of the 8x8 unit,
               synthesised by the cached flow) whose agreement is within 1 point of INT8's, tried
               in order of area with cached-prefix inference; then every layer's pick at once
  stripes      Stripes profile at 100% relative accuracy on the first PROFILE_SAMPLES inputs, and
               Dynamic Stripes over Stripes in cycles on the conv layers over all n
               (`stripes_eval_model`, 16 lanes, groups of 16; every output column at its own pace,
               and 16 windows in lockstep), with the profile's agreement on all n
  quantune     QuantuneV2 plans (`golden.plan_search.quantune`) over 8x8 / 8x4 / 4x4 / 2x2 at each
               of `QUANTUNE_BUDGETS` of the all-8x8 area x MACs, and their agreement
A model whose `metric` is sqnr (a detector) gets the pe share, the INT8 and StruM output SQNR and
weight SQNR only: the other techniques select on accuracy.
"""
from __future__ import annotations

import time
import warnings

import numpy as np

from quantpe.explore import model_fetch
from quantpe.explore.plans import AREA, make_problem, mul_area, prefetch_areas
from quantpe.explore.real_inputs import model_inputs
from quantpe.golden import plan_search
from quantpe.golden.approx import approx_mul, sign_magnitude_mul
from quantpe.golden.errors import QuantpeError
from quantpe.golden.graph import top1_score
from quantpe.golden.mac_share import mac_share
from quantpe.golden.model_eval import (DEFAULT_APPROX, StrumPaddingWarning, speedups, stripes_eval_model,
                                       stripes_profile, strum_eval_model)
from quantpe.golden.onnx_io import import_onnx
from quantpe.golden.plan import layer_macs
from quantpe.golden.qerror import mse_sqnr
from quantpe.golden.qgraph import build_qgraph

__all__ = ["real_model_figures", "SAMPLES", "QUANTUNE_BUDGETS", "within_one_point"]

#: real inputs per model, by metric (the sequence model scores 40 positions per sample; the
#: detector is 3.2 GMAC per sample, and each float calibration capture about 2.5 GB per sample)
SAMPLES = {"top1": 16, "positions": 4, "sqnr": 1}

#: the Stripes profile is searched on the first PROFILE_SAMPLES inputs (its calibration split)
PROFILE_SAMPLES = 8

#: QuantuneV2's budgets: these fractions of the all-8x8 area x MACs (0.5 is all 8x4, or 8x8 layers
#: paid for by 4-bit ones)
QUANTUNE_BUDGETS = (0.75, 0.5)


def within_one_point(score: float, reference: float) -> bool:
    """An agreement `score` loses at most 1 point against `reference` (scores in 0..1)."""
    return score >= reference - 0.01 - 1e-12


def _labels(m, out):
    if m.metric == "top1":
        return np.argmax(out.reshape(len(out), -1), axis=1)
    if m.metric == "positions":
        return np.argmax(out, axis=-1).reshape(len(out), -1)
    return None


def _strum(graph, q8, x, y, f_out) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StrumPaddingWarning)
        s = strum_eval_model(graph, q8, x, x, y if y is not None else np.zeros(len(x), np.int64),
                             float_out=f_out)
    out = {}
    for v in ("dliq", "mip2q"):
        sq = [r["sqnr_db"] for r in s["layers"] if r["variant"] == v]
        out[v] = dict(weight_sqnr_median_db=float(np.median(sq)), weight_sqnr_min_db=float(np.min(sq)),
                      agreement=None if y is None else s["accuracy"][v])
    out["padded_layers"] = sum(r["pad"] > 0 for r in s["layers"] if r["variant"] == "dliq")
    out["output_sqnr_db"] = s["output_sqnr_db"]
    out["config"] = s["config"]
    return out


def _approx(q8, x, y, macs) -> dict:
    """Per-layer pick of the smallest multiplier within 1 point (module docstring)."""
    prefetch_areas(DEFAULT_APPROX)
    exact = _exact_area()
    cands = sorted(DEFAULT_APPROX, key=lambda c: AREA[c])
    rules = {c: approx_mul(c) if c.signed else sign_magnitude_mul(c) for c in cands}
    a0 = q8.quantize_input(x)
    out0, vals = q8.run_codes(a0, capture=True)
    ref = top1_score(out0, y)
    picks, evals = {}, 0
    for name in q8.weight_layers:
        for c in cands:
            if AREA[c] >= exact:
                break
            evals += 1
            if within_one_point(top1_score(q8.with_mul(rules[c], [name]).resume(vals, name), y), ref):
                picks[name] = c
                break
    q = q8
    for name, c in picks.items():
        q = q.with_mul(rules[c], [name])
    total = sum(macs.values())
    saved = sum(macs[n] * (exact - AREA[c]) for n, c in picks.items())
    return dict(layers=len(q8.weight_layers), approximate_layers=len(picks),
                picks={n: c.short_name() for n, c in picks.items()},
                pick_counts={s: sum(c.short_name() == s for c in picks.values()) for s in
                             dict.fromkeys(c.short_name() for c in picks.values())},
                areas_um2={c.short_name(): AREA[c] for c in cands}, exact_area_um2=exact,
                area_macs_saving=saved / (exact * total), evaluations=evals,
                agreement_all_picks=top1_score(q.run_codes(a0), y), int8_agreement=ref)


def _exact_area() -> float:
    """µm² of the 8x8 exact reference multiplier (the plans' `exact_reference` area)."""
    return float(mul_area(8, 8))


def _stripes(q8, x, y) -> dict:
    xc, yc = x[:PROFILE_SAMPLES], y[:PROFILE_SAMPLES]
    prof = stripes_profile(q8, xc, yc)
    out = {}
    for key, lock in (("independent", 1), ("lockstep16", 16)):
        st = stripes_eval_model(q8, xc, yc, x, y, profile=prof, lockstep=lock)
        convs = [r["layer"] for r in st["layers"] if q8.layer(r["layer"]).is_conv]
        sel = {k: sum(r[k] for r in st["layers"] if r["layer"] in convs) for k in st["totals"]}
        sp = speedups({"totals": sel})
        out[key] = dict(dstripes_over_stripes=sp["dstripes_lead_over_stripes"],
                        stripes_over_serial8=sp["stripes_over_serial_full"])
    return dict(conv_layers=len(convs), profile=st["profile"]["precisions"], profile_samples=len(xc),
                profile_evaluations=st["profile"]["evaluations"], **out,
                agreement_full=st["test_accuracy_full"], agreement_profiled=st["test_accuracy_profiled"])


def _quantune(graph, x, y) -> list:
    pb = make_problem(graph, x, x, y)
    out = []
    for fraction in QUANTUNE_BUDGETS:
        r = plan_search.quantune(pb, fraction * pb.cost(pb.top))
        counts = {f"{a}x{w}": sum(tuple(o) == (a, w) for o in r.plan) for a, w in pb.options}
        out.append(dict(budget_fraction=fraction, cost_fraction=r.cost / pb.cost(pb.top), agreement=r.accuracy,
                        plan=[f"{a}x{w}" for a, w in r.plan], plan_counts={k: v for k, v in counts.items() if v},
                        seconds=r.seconds,
                        evaluations=r.evals))
    return out


def real_model_figures(name: str, n: int | None = None, seed: int = 0) -> dict:
    """The figures of one pretrained model (module docstring); QuantpeError if not fetched."""
    m = model_fetch.MODELS.get(name)
    if m is None:
        raise QuantpeError(f"unknown model {name!r}; known: {', '.join(model_fetch.MODELS)}")
    path = model_fetch.model_path(name)
    if not path.is_file():
        raise QuantpeError(f"model {name} is not in the cache {path.parent}: run `quantpe model fetch {name}`")
    n = n or SAMPLES[m.metric]
    t = {}
    t0 = time.perf_counter()
    graph = import_onnx(path, input_shape=m.shape)
    t["import"] = time.perf_counter() - t0
    x = model_inputs(m, n, seed)
    f_out = graph.forward(x)
    y = _labels(m, f_out)
    t0 = time.perf_counter()
    q8 = build_qgraph(graph, x)
    i_out = q8.logits(x)
    t["int8"] = time.perf_counter() - t0
    share = mac_share(graph)
    r = dict(model=name, kind=m.kind, package=f"{m.package}=={m.version}", licence=m.licence, metric=m.metric,
             samples=n, seed=seed, input_shape=list(m.shape), source=m.source, weight_layers=len(q8.weight_layers),
             pe_share=share["pe_share"], pe_macs=share["pe_macs"], float_ops=share["float_ops"],
             int8=dict(agreement=None if y is None else top1_score(i_out, y),
                       output_sqnr_db=float(mse_sqnr(f_out, q8.dequantize_output(i_out))[1])))
    t0 = time.perf_counter()
    r["strum"] = _strum(graph, q8, x, y, f_out)
    t["strum"] = time.perf_counter() - t0
    if y is not None:
        macs = layer_macs(graph)
        for key, fn in (("approx", lambda: _approx(q8, x, y, macs)), ("stripes", lambda: _stripes(q8, x, y)),
                        ("quantune", lambda: _quantune(graph, x, y))):
            t0 = time.perf_counter()
            r[key] = fn()
            t[key] = time.perf_counter() - t0
    r["seconds"] = t
    return r
