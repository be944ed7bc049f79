"""Every technique on any layer-graph model (MLP, CNN, imported ONNX): StruM, approximate
multipliers, Stripes / Dynamic Stripes. All figures come from the bit-exact `qgraph.QGraph`.

StruM (`strum_eval_model`): each weight layer's float lowered matrix (O, K) (`lowering` order) is
zero-padded at the end of its reduction axis to Kp = ceil(K / B) * B, encoded (`strum_encode.
encode`: scale = the INT8 per-channel scale, checked), decoded, and the first K columns are
installed with `QGraph.with_weights` (padded weights always decode to 0, checked, so the
padded activations - zeros as well - do not change any sum). Storage per layer: O * Kp/B blocks
of `block_bits` (+3 for a per-layer j); bits/weight = storage / (O * K real weights). When that
exceeds INT8 (hb bits/weight) a `StrumPaddingWarning` is issued and the row is flagged:
the layer is cheaper as plain INT8 on the dynamic PE. `strum_operands` gives the padded
weight blocks and activation rows one layer streams (for testbenches).

Approximate multipliers (`approx_eval_model`): the product rule of each `ApproxMulConfig` in
every weight layer (`QGraph.with_mul`; unsigned units in sign-magnitude form).

Stripes (`stripes_eval_model`), the rules of `stripes_eval` on bricks of `lowering.bricks`
(16 input channels at one tap of one window; idle lanes = 0): a layer with G groups and O_g
outputs per group costs O_g * sum over groups, rows (windows) and bricks of P cycles of one SIP
column (P = 1 bit-parallel, a_bits full-word serial, p_l Stripes profiled window, detected
precision for Dynamic Stripes), counted from the bricks alone (no matmul). `lockstep` > 1: that
many consecutive windows advance together at the slowest brick (a tile of SIP columns).
Profile: `stripes_precision.profile_precisions` at tolerance 0 (100% relative accuracy) on the
calibration split, each candidate evaluated with cached-prefix inference (`QGraph.resume`:
layers before the first reduced one are not recomputed). Windows [msb..lsb] below the covering
msb of each layer's calibration inputs; signed SIP (codes are two's complement).
"""
from __future__ import annotations

import time
import warnings

import numpy as np

from .approx import ApproxMulConfig, approx_mul, sign_magnitude_mul
from .errors import QuantpeError
from quantpe.golden.qgraph import QGraph, QWeight, build_qgraph
from quantpe.golden.graph import Graph, top1_score
from .layers import INPUT
from .lowering import bricks, n_bricks, pad_reduction
from .qerror import mse_sqnr
from .stripes_precision import covering_msb, detect_windows, profile_precisions, static_window, window_value
from .strum_codec import block_bits
from .strum_config import StrumConfig
from .strum_encode import encode

__all__ = ["StrumPaddingWarning", "strum_operands", "strum_eval_model", "approx_eval_model",
           "DEFAULT_APPROX", "layer_bricks", "brick_precisions", "stripes_eval_model",
           "run_windowed", "evaluate_model", "format_report"]


class StrumPaddingWarning(UserWarning):
    """A padded StruM layer costs more bits per weight than plain INT8."""


def _acc(q: QGraph, x, y) -> float:
    return q.accuracy(x, y)


# =============================================================================== StruM

def _padded_encode(layer: QWeight, cfg: StrumConfig):
    w = layer.layer.lowered
    o, k = w.shape
    wp, pad = pad_reduction(w, cfg.block)
    t = encode(wp, cfg)
    if not np.array_equal(t.scale, np.broadcast_to(layer.weight.scale, t.scale.shape)):
        raise QuantpeError(f"layer {layer.name}: StruM and INT8 scales differ")
    vals = t.values()
    if pad and np.any(vals[:, k:]):
        raise QuantpeError(f"internal: layer {layer.name}: padded weights do not decode to 0")
    return t, vals[:, :k], pad


def strum_operands(q: QGraph, name, x, cfg: StrumConfig | None = None) -> dict:
    """What one StruM PE streams for weight layer `name` on batch x: {"words": (O, nb) block words
    of the padded weights, "activations": (G, rows, Kp) padded input codes, "pad": Kp - K,
    "values": (O, Kp) decoded weights}; output channel o of group g dots rows of group g."""
    cfg = cfg or StrumConfig()
    layer = q.layer(name)
    t, _, pad = _padded_encode(layer, cfg)
    a = q.layer_inputs(x)[layer.name]
    cols = layer.columns(a)                               # (N, G, P, K)
    n, g, p, k = cols.shape
    act, _ = pad_reduction(cols.transpose(1, 0, 2, 3).reshape(g, n * p, k), cfg.block)
    return {"words": t.words(), "activations": act, "pad": pad, "values": t.values(), "config": cfg}


def strum_eval_model(graph: Graph, q8: QGraph, calib_x, x, y, cfg: StrumConfig | None = None,
                     layers=None, float_out=None) -> dict:
    """Accuracy on (x, y) of INT8 / StruM-DLIQ / StruM-MIP2Q / INT4 weights in `layers` (default:
    all weight layers) of the INT8 model q8 (calibrated on calib_x; INT4 is rebuilt on it), and the
    padded storage per layer (module docstring); with `float_out` (the float model's outputs on
    x) also each model's output SQNR in dB against it ("output_sqnr_db").
    Warns (StrumPaddingWarning) for each layer whose padded format costs more than INT8."""
    cfg = cfg or StrumConfig()
    if cfg.hb != 8 or set(q8.w_bits) != {8}:
        raise QuantpeError(f"StruM evaluation needs an INT8 model and hb=8, got w_bits {q8.w_bits}, "
                           f"hb={cfg.hb}")
    names = q8._names(layers)
    variants = {v: cfg.replace(variant=v, shift=cfg.shift if v == "dliq" else "block", structure="static",
                               acc_bits=62) for v in ("dliq", "mip2q")}
    rows, models = [], {}
    for vname, vc in variants.items():
        qm = q8
        for name in names:
            layer = q8.layer(name)
            t, vals, pad = _padded_encode(layer, vc)
            qm = qm.with_weights(name, vals)
            o, k = vals.shape
            bits = t.storage_bits
            bpw = bits / (o * k)
            w = layer.layer.lowered
            sq = mse_sqnr(w, vals * layer.weight.scale)[1]
            rows.append(dict(layer=name, variant=vname, shape=[o, k], pad=pad, padded_k=k + pad,
                             storage_bits=bits, bits_per_weight=bpw, int8_bits=8 * o * k,
                             worse_than_int8=bpw > 8, sqnr_db=sq))
            if bpw > 8:
                warnings.warn(f"layer {name}: {vname} StruM padded {k} -> {k + pad} costs {bpw:.2f} "
                              f"bits/weight, more than INT8 (8): keep this layer INT8", StrumPaddingWarning,
                              stacklevel=2)
        models[vname] = qm
    q4 = build_qgraph(graph, calib_x, w_bits=[4 if n in names else 8 for n in q8.weight_layers],
                      a_bits=q8.a_bits)
    acc = {"float": graph.accuracy(x, y), "int8": _acc(q8, x, y)}
    for vname, qm in models.items():
        acc[vname] = _acc(qm, x, y)
    acc["int4"] = _acc(q4, x, y)
    bpw = {"int8": 8.0, "int4": 4.0}
    bpw.update({v: block_bits(vc) / vc.block for v, vc in variants.items()})
    out = {"accuracy": acc, "layers": rows, "bits_per_weight_unpadded": bpw,
           "config": variants["dliq"].to_dict(), "strum_layers": names, "n": int(len(y))}
    if float_out is not None:
        out["output_sqnr_db"] = {k: float(mse_sqnr(float_out, qm.dequantize_output(qm.logits(x)))[1])
                                 for k, qm in (("int8", q8), *models.items(), ("int4", q4))}
    return out


# =============================================================================== approximate multipliers

DEFAULT_APPROX = (
    ApproxMulConfig(method="ssm", k=6, t=2),
    ApproxMulConfig(method="drum", k=4),
    ApproxMulConfig(method="truncated", t=6, compensate=True),
    ApproxMulConfig(method="mitchell"),
)


def approx_eval_model(q8: QGraph, x, y, configs=DEFAULT_APPROX) -> list:
    """[{config, short_name, accuracy}] with each multiplier in every weight layer of q8."""
    out = []
    for cfg in configs:
        rule = approx_mul(cfg) if cfg.signed else sign_magnitude_mul(cfg)
        out.append(dict(config_id=cfg.config_id, name=cfg.short_name(),
                        accuracy=_acc(q8.with_mul(rule), x, y)))
    return out


# =============================================================================== Stripes

def layer_bricks(layer: QWeight, a, lanes: int = 16) -> np.ndarray:
    """Bricks (G, rows, n_bricks, lanes) of input codes `a` of weight layer `layer`."""
    cols = layer.columns(a)                                # (N, G, P, K)
    n, g, p, k = cols.shape
    cg, taps = (layer.layer.cg, layer.layer.taps) if layer.is_conv else (k, 1)
    return np.stack([bricks(cols[:, gi].reshape(n * p, k), cg, taps, lanes) for gi in range(g)])


def brick_precisions(b: np.ndarray, a_bits: int, group: int, trailing: bool,
                     signed: bool = True) -> np.ndarray:
    """Detected cycles per brick (same leading shape as b without the lane axis)."""
    lanes = b.shape[-1]
    m, l_ = detect_windows(b.reshape(-1, lanes), a_bits, signed, group, trailing)
    return (m - l_ + 1).max(axis=1).reshape(b.shape[:-1])


def _lock_sum(p: np.ndarray, lockstep: int) -> int:
    """p (G, R, nb): sum over groups and brick index of the max over each chunk of `lockstep` rows."""
    g, r, nb = p.shape
    pad = (-r) % lockstep
    if pad:
        p = np.concatenate([p, np.zeros((g, pad, nb), p.dtype)], axis=1)
    return int(p.reshape(g, -1, lockstep, nb).max(axis=2).sum())


#: rows of one layer's bricks held at once by `_layer_cycles` (bounds memory: a depthwise layer's
#: bricks are 16 lanes for each of its 1-channel columns)
CYCLE_ROWS = 1 << 15


def _layer_cycles(layer: QWeight, a, window, a_bits, lanes, group, lockstep, fields) -> dict:
    # lowered as float32 (every code of <= 16 bits is exact in it: half the memory of int64)
    cols, fcols = (layer.columns(np.asarray(v, np.float32)) for v in (a, fields))   # (N, G, P, K)
    n, g, p, k = cols.shape
    cg, taps = (layer.layer.cg, layer.layer.taps) if layer.is_conv else (k, 1)
    r, nb = n * p, n_bricks(cg, taps, lanes)
    og = layer.weight.codes.shape[0] // g
    steps = og * g * (-(-r // lockstep)) * nb
    msb, lsb = window
    real = int(layer.weight.codes.shape[1])
    out = dict(layer=layer.name, groups=g, rows=r, bricks=nb, lane_use=real / (nb * lanes), outputs=og * g,
               window=[msb, lsb], precision=msb - lsb + 1,
               parallel=steps, serial_full=steps * a_bits, stripes=steps * (msb - lsb + 1))
    names = {(key, t): f"dyn_{'trail' if t else 'lead'}" + (f"_{key}" if key else "")
             for key in ("lossless", "") for t in (False, True)}
    sums = dict.fromkeys(names.values(), 0)
    step = max(1, CYCLE_ROWS // lockstep) * lockstep     # whole lockstep chunks: the same maxima
    for gi in range(g):
        rows = {"lossless": cols[:, gi].reshape(r, k), "": fcols[:, gi].reshape(r, k)}
        for s in range(0, r, step):
            for key, c in rows.items():
                bb = bricks(c[s:s + step].astype(np.int64), cg, taps, lanes)[None]
                for t in (False, True):
                    sums[names[key, t]] += og * _lock_sum(brick_precisions(bb, a_bits, group, t), lockstep)
    out.update(sums)
    out["stripes_lossless"] = steps * (covering_msb(a, a_bits, True) + 1)
    return out


CYCLE_KEYS = ("parallel", "serial_full", "stripes_lossless", "stripes", "dyn_lead", "dyn_trail",
              "dyn_lead_lossless", "dyn_trail_lossless")


def _windows_transform(q: QGraph, windows: dict) -> dict:
    return {n: (lambda a, w=w: window_value(a, w[0], w[1], q.a_bits, True)) for n, w in windows.items()}


def _narrow(v: np.ndarray) -> np.ndarray:
    """A lossless copy of integer array `v` in the narrowest signed dtype holding every value
    (int8, int16, int32; else `v` itself): cached captures take 1/8 to 1/2 of the memory."""
    if v.dtype.kind != "i" or v.size == 0:
        return v
    lo, hi = int(v.min()), int(v.max())
    for t in (np.int8, np.int16, np.int32):
        if np.iinfo(t).min <= lo and hi <= np.iinfo(t).max:
            return v.astype(t) if np.dtype(t).itemsize < v.dtype.itemsize else v
    return v


def _frontiers(q: QGraph, starts) -> dict:
    """{start: the tensors computed before node `start` that a node from `start` on reads}: all
    `QGraph.resume` from `start` needs of a capture."""
    pos = {INPUT: -1, **{nd.name: i for i, nd in enumerate(q.nodes)}}
    return {s: sorted({t for nd in q.nodes[pos[s]:] for t in nd.inputs if pos[t] < pos[s]}) for s in starts}


def stripes_profile(q: QGraph, x_cal, y_cal, tolerance: float = 0.0, cache_entries: int = 4,
                    joint: str = "ranked"):
    """(profile, msbs): per-weight-layer static precisions at `tolerance` (absolute) on the
    calibration data. Cached-prefix inference: the captures of the full-precision run and of the
    `cache_entries` most recently used precision vectors are kept; a candidate resumes from the
    first layer where it differs from the cached vector that agrees with it longest (all nodes
    before that layer see the same inputs and windows, so their values are reused exactly).
    Cached tensors are kept narrowed (`_narrow`, lossless) and share the prefix they did not
    recompute; a resume reads the tensors it needs (`_frontiers`) widened back to int64.
    joint: the joint search of `profile_precisions` ("ranked": O(L) evaluations)."""
    names = q.weight_layers
    a0 = q.quantize_input(x_cal)
    _, vals = q.run_codes(a0, capture=True)
    msbs = {n: covering_msb(vals[q.layer(n).inputs[0]], q.a_bits, True) for n in names}
    fronts = _frontiers(q, names)
    y_cal = np.asarray(y_cal)
    full = (q.a_bits,) * len(names)
    cache = {full: {k: _narrow(v) for k, v in vals.items()}}      # precision vector -> capture
    del vals
    recent: list = []                          # non-full keys, least recently used first

    def first_diff(u, v):
        return next((i for i, (x, y) in enumerate(zip(u, v)) if x != y), len(u))

    def accuracy(p):
        p = tuple(p)
        base = max(cache, key=lambda c: first_diff(c, p))
        d = first_diff(base, p)
        if base in recent:
            recent.remove(base)
            recent.append(base)
        if d == len(names):
            out = cache[base][q.output]
        else:
            wins = {n: static_window(pl, msbs[n], q.a_bits) for n, pl in zip(names, p) if pl < q.a_bits}
            live = {t: cache[base][t].astype(np.int64) for t in fronts[names[d]]}
            out, cap = q.resume(live, names[d], _windows_transform(q, wins), capture=True)
            entry = dict(cache[base])
            entry.update((k, _narrow(v)) for k, v in cap.items() if k not in live)
            cache[p] = entry
            recent.append(p)
            while len(recent) > cache_entries:
                del cache[recent.pop(0)]
        return top1_score(out, y_cal)
    return profile_precisions(accuracy, len(names), q.a_bits, tolerance, joint=joint), msbs


def stripes_eval_model(q: QGraph, x_cal, y_cal, x, y, lanes: int = 16, group: int = 16,
                       lockstep: int = 1, tolerance: float = 0.0, profile=None) -> dict:
    """Profile on (x_cal, y_cal), cycles on x (module docstring). Returns per-layer rows, totals,
    the profile, test accuracy at full and profiled precision."""
    if profile is None:
        profile = stripes_profile(q, x_cal, y_cal, tolerance)
    prof, msbs = profile
    names = q.weight_layers
    windows = {n: static_window(p, msbs[n], q.a_bits) for n, p in zip(names, prof.precisions)}
    a0 = q.quantize_input(x)
    _, full = q.run_codes(a0, capture=True)
    out_p, seen = run_windowed(q, a0, windows)
    rows = []
    for n in names:
        a = full[q.layer(n).inputs[0]]
        msb, lsb = windows[n]
        fields = window_value(seen[n], msb, lsb, q.a_bits, True) >> lsb
        rows.append(_layer_cycles(q.layer(n), a, (msb, lsb), q.a_bits, lanes, group, lockstep, fields))
    totals = {k: sum(r[k] for r in rows) for k in CYCLE_KEYS}
    yv = np.asarray(y)
    return dict(profile=dict(precisions=list(prof.precisions), independent=list(prof.independent),
                             reference=prof.reference, accuracy=prof.accuracy, evaluations=prof.evaluations),
                windows={n: list(w) for n, w in windows.items()}, layers=rows, totals=totals,
                lanes=lanes, group=group, lockstep=lockstep,
                test_accuracy_full=top1_score(full[q.output], yv), test_accuracy_profiled=top1_score(out_p, yv))


def run_windowed(q: QGraph, a0, windows: dict):
    """Output and per-layer *received* input codes (before the window) with every window applied."""
    seen = {}
    tf = {}
    for n, (msb, lsb) in windows.items():
        def f(a, n=n, msb=msb, lsb=lsb):
            seen[n] = a
            return window_value(a, msb, lsb, q.a_bits, True)
        tf[n] = f
    out = q.run_codes(a0, transform=tf)
    return out, seen


def speedups(st: dict) -> dict:
    t = st["totals"]
    return dict(dstripes_lead_over_stripes=t["stripes"] / t["dyn_lead"],
                dstripes_trail_over_stripes=t["stripes"] / t["dyn_trail"],
                dstripes_lossless_over_stripes_lossless=t["stripes_lossless"] / t["dyn_lead_lossless"],
                stripes_over_serial_full=t["serial_full"] / t["stripes"],
                stripes_cycles_vs_parallel=t["stripes"] / t["parallel"])


# =============================================================================== all together

def evaluate_model(graph: Graph, x_cal, y_cal, x, y, name: str = "model", w_bits: int = 8,
                   a_bits: int = 8, conv_only: bool = True, strum_cfg: StrumConfig | None = None,
                   approx_configs=DEFAULT_APPROX, lockstep: int = 16) -> dict:
    """StruM, approximate-multiplier and Stripes figures of one model (calibration on x_cal,
    Stripes profile on (x_cal, y_cal), scores on (x, y)). Stripes cycles are reported for the
    conv layers when the model has any and conv_only, else for every weight layer."""
    t0 = time.perf_counter()
    q8 = build_qgraph(graph, x_cal, w_bits=w_bits, a_bits=a_bits)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", StrumPaddingWarning)
        strum = strum_eval_model(graph, q8, x_cal, x, y, strum_cfg)
    strum["warnings"] = [str(w.message) for w in caught]
    approx = approx_eval_model(q8, x, y, approx_configs)
    prof = stripes_profile(q8, x_cal, y_cal)
    st1 = stripes_eval_model(q8, x_cal, y_cal, x, y, profile=prof)
    stl = stripes_eval_model(q8, x_cal, y_cal, x, y, lockstep=lockstep, profile=prof)
    convs = [r["layer"] for r in st1["layers"] if q8.layer(r["layer"]).is_conv]
    sel = convs if (conv_only and convs) else [r["layer"] for r in st1["layers"]]
    for st in (st1, stl):
        st["selected"] = sel
        st["totals_selected"] = {k: sum(r[k] for r in st["layers"] if r["layer"] in sel) for k in CYCLE_KEYS}
        st["speedups"] = speedups({"totals": st["totals_selected"]})
        st["speedups_all_layers"] = speedups(st)
    return dict(model=name, w_bits=w_bits, a_bits=a_bits, n_test=int(len(y)), strum=strum, approx=approx,
                stripes=st1, stripes_lockstep=stl, seconds=time.perf_counter() - t0)


def format_report(r: dict) -> list:
    """Human-readable lines of `evaluate_model`'s result."""
    s, a, st, stl = r["strum"], r["approx"], r["stripes"], r["stripes_lockstep"]
    acc = s["accuracy"]
    lines = [f"{r['model']}: {r['n_test']} test samples, w{r['w_bits']} a{r['a_bits']} "
             f"({r['seconds']:.1f} s)",
             "StruM accuracy: " + ", ".join(f"{k} {v:.4f}" for k, v in acc.items())]
    for row in s["layers"]:
        lines.append(f"  {row['variant']:5} {row['layer']:8} K={row['shape'][1]:4} pad {row['pad']:2} -> "
                     f"{row['padded_k']:4}: {row['bits_per_weight']:.2f} bits/weight, "
                     f"SQNR {row['sqnr_db']:.2f} dB"
                     + ("  [worse than INT8]" if row["worse_than_int8"] else ""))
    lines += [f"  warning: {w}" for w in s["warnings"]]
    lines.append("approximate multipliers (every weight layer): " +
                 ", ".join(f"{e['name']} {e['accuracy']:.4f}" for e in a))
    p = st["profile"]
    lines.append(f"Stripes profile (100% relative accuracy on the calibration split): precisions "
                 f"{p['precisions']} (independent {p['independent']}), {p['evaluations']} evaluations; "
                 f"test accuracy full {st['test_accuracy_full']:.4f}, "
                 f"profiled {st['test_accuracy_profiled']:.4f}")
    for row in st["layers"]:
        lines.append(f"  {row['layer']:8} groups {row['groups']:2} rows {row['rows']:6} "
                     f"bricks {row['bricks']:3} lane use {row['lane_use']:.2f} p={row['precision']} "
                     f"cycles: parallel {row['parallel']:,} Stripes {row['stripes']:,} "
                     f"DStripes {row['dyn_lead']:,} (lossless {row['dyn_lead_lossless']:,})")
    for label, e in (("independent columns", st), (f"lockstep {stl['lockstep']} windows", stl)):
        sp = e["speedups"]
        lines.append(f"layers {', '.join(e['selected'])} ({label}): DStripes/Stripes lead "
                     f"{sp['dstripes_lead_over_stripes']:.3f}x, "
                     f"trail {sp['dstripes_trail_over_stripes']:.3f}x, "
                     f"lossless {sp['dstripes_lossless_over_stripes_lossless']:.3f}x; Stripes over full-word "
                     f"serial {sp['stripes_over_serial_full']:.3f}x; Stripes cycles / bit-parallel "
                     f"{sp['stripes_cycles_vs_parallel']:.2f}")
    return lines
