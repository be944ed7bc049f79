"""`quantpe bench onnx`: importing and running a large converter-style ONNX model (not a test).

The model (`scale_model`) is a MobileNetV3-like classifier written the way tf2onnx and
torch.onnx write one, with random (seeded) weights: an NHWC input and a Transpose to NCHW, a
3x3 stride-2 stem, then inverted-residual blocks (1x1 expand, 3x3 depthwise, 1x1 project), every
BatchNorm written out as Sub / Div / Mul / Add, hard-swish (HardSigmoid + Mul) after the expand
convs, squeeze-and-excitation (GlobalAveragePool, 1x1, Relu, 1x1, HardSigmoid, Mul) in every
other block, residual Adds, then global pooling, a flatten through Shape / Gather / Unsqueeze /
Concat / Reshape, a Gemm and a Softmax. `convs` conv layers in all (SE convs included).
The benchmark imports it at `size` x `size` and times, on `images` random images in one run:
import (folding, mapping, float regions), integer model build (calibration), bit-exact integer
inference; it reports the PE share of the MACs, the float operators and the top-1 agreement.
Then, on the same images, with accuracy = top-1 agreement with the float model (no labels):
a QuantuneV2 plan (`explore.plans.precision_plan`, the `quantpe plan --method quantune` path:
default precisions, cost ceiling `budget` x the all-8x8 cost; the multipliers' Yosys areas are
fetched first and timed apart) and the Stripes profile of every weight layer at tolerance 0
(`model_eval.stripes_profile`: 100% relative accuracy, cached-prefix inference). Each phase has
its wall time, its CPU time (the machine may be shared) and its peak RSS (VmHWM, reset before
the phase where Linux allows it, else the process peak so far); the result dict (`--json`)
holds the plan and the precisions found.
"""
from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from quantpe.explore.plans import PRECISIONS, exact_reference, precision_plan, prefetch_areas
from quantpe.golden.atomic import write_text
from quantpe.golden.mac_share import mac_share, mac_share_text
from quantpe.golden.model_eval import stripes_profile
from quantpe.golden.onnx_io import import_onnx
from quantpe.golden.plan import check_plan_model, validate_plan
from quantpe.golden.qgraph import build_qgraph

__all__ = ["scale_model", "bench_onnx"]


class _Net:
    def __init__(self, rng):
        self.rng, self.nodes, self.inits, self.k, self.convs = rng, [], [], 0, 0

    def const(self, v, dtype=np.float32):
        self.k += 1
        self.inits.append(numpy_helper.from_array(np.asarray(v, dtype=dtype), f"c{self.k}"))
        return f"c{self.k}"

    def op(self, op, ins, **attrs):
        self.k += 1
        out = f"t{self.k}"
        self.nodes.append(helper.make_node(op, list(ins), [out], name=f"{op}_{self.k}", **attrs))
        return out

    def conv(self, x, cin, cout, k=1, stride=1, group=1):
        self.convs += 1
        fan = cin // group * k * k
        w = self.const(self.rng.standard_normal((cout, cin // group, k, k)) * np.sqrt(2.0 / fan))
        return self.op("Conv", [x, w], kernel_shape=[k, k], strides=[stride, stride], group=group,
                       pads=[k // 2] * 4)

    def bn(self, x, c):
        r = self.rng
        y = self.op("Sub", [x, self.const(r.standard_normal((1, c, 1, 1)) * 0.05)])
        y = self.op("Div", [y, self.const(np.sqrt(r.random((c, 1, 1)) * 0.5 + 0.75))])
        y = self.op("Mul", [y, self.const(r.random((c, 1, 1)) * 0.5 + 0.75)])
        return self.op("Add", [y, self.const(r.standard_normal((1, c, 1, 1)) * 0.05)])

    def hswish(self, x):
        return self.op("Mul", [x, self.op("HardSigmoid", [x], alpha=1 / 6, beta=0.5)])

    def se(self, x, c):
        s = self.op("GlobalAveragePool", [x])
        s = self.op("Relu", [self.conv(s, c, max(c // 4, 4))])
        s = self.op("HardSigmoid", [self.conv(s, max(c // 4, 4), c)], alpha=1 / 6, beta=0.5)
        return self.op("Mul", [x, s])


def scale_model(convs: int = 50, size: int = 224, classes: int = 100, seed: int = 0):
    """The benchmark's ONNX model (module docstring) with at least `convs` conv layers."""
    net = _Net(np.random.default_rng(seed))
    x = net.op("Transpose", ["image"], perm=[0, 3, 1, 2])
    y = net.hswish(net.bn(net.conv(x, 3, 16, k=3, stride=2), 16))
    c, b = 16, 0
    while net.convs < convs - 1:
        stride = 2 if b % 3 == 0 and b < 12 else 1
        cout = min(c * 2, 96) if stride == 2 else c
        e = c * 3
        h = net.hswish(net.bn(net.conv(y, c, e), e))
        h = net.op("Relu", [net.bn(net.conv(h, e, e, k=3, stride=stride, group=e), e)])
        if b % 2 == 1 and net.convs + 3 < convs - 1:
            h = net.se(h, e)
        h = net.bn(net.conv(h, e, cout), cout)
        y = net.op("Add", [h, y]) if stride == 1 and cout == c else h
        c, b = cout, b + 1
    y = net.op("GlobalAveragePool", [y])
    s = net.op("Shape", [y])
    n = net.op("Unsqueeze", [net.op("Gather", [s, net.const(0, np.int64)], axis=0), net.const([0], np.int64)])
    y = net.op("Reshape", [y, net.op("Concat", [n, net.const([-1], np.int64)], axis=0)])
    y = net.op("Gemm", [y, net.const(net.rng.standard_normal((classes, c)) * 0.1), net.const(np.zeros(classes))],
               transB=1)
    y = net.op("Softmax", [y], axis=1)
    net.convs += 0
    g = helper.make_graph(net.nodes, "scale", [helper.make_tensor_value_info("image", TensorProto.FLOAT,
                                                                           ["N", size, size, 3])],
                          [helper.make_tensor_value_info(y, TensorProto.FLOAT, None)], net.inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m, net.convs


def _reset_peak() -> bool:
    """Reset this process's peak RSS (Linux clear_refs 5); False where that is not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_mib() -> float:
    """Peak RSS in MiB: VmHWM, else getrusage's ru_maxrss (KiB on Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _phase(fn):
    """(fn(), wall seconds, CPU seconds of this process (all threads), peak RSS MiB, whether the
    peak is the phase's own)."""
    own = _reset_peak()
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0, _peak_mib(), own


def bench_onnx(convs: int = 50, size: int = 224, images: int = 32, seed: int = 0, budget: float = 0.5,
               json_out: Path | None = None) -> dict:
    """Seconds and peak RSS of import, integer build, bit-exact inference, a QuantuneV2 plan and
    the Stripes profile of `scale_model` (module docstring), printed per phase; the result dict
    (written to `json_out` as JSON when given) also holds the plan and the profile found."""
    model, n_convs = scale_model(convs, size, seed=seed)
    x = np.random.default_rng(seed + 1).random((images, size, size, 3))
    g, t_import, c_import, m_import, own = _phase(lambda: import_onnx(model))
    ref, t_float, c_float, m_float, _ = _phase(lambda: g.forward(x))
    q, t_build, c_build, m_build, _ = _phase(lambda: build_qgraph(g, x))
    y, t_int, c_int, m_int, _ = _phase(lambda: q.logits(x))
    target = np.argmax(ref.reshape(len(ref), -1), 1)          # the float model's top-1 (= Graph.predict)
    agree = float(np.mean(np.argmax(y.reshape(len(y), -1), 1) == target))
    share = mac_share(g)
    r = dict(convs=n_convs, size=size, images=images, seed=seed, nodes=len(model.graph.node), layers=len(g.nodes),
             weight_layers=len(g.weight_layers), import_s=t_import, float_s=t_float, build_s=t_build,
             integer_s=t_int, top1_agreement=agree, peak_rss_mib={"import": m_import, "float": m_float,
                                                                  "build": m_build, "integer": m_int},
             cpu_s={"import": c_import, "float": c_float, "build": c_build, "integer": c_int},
             peak_rss_per_phase=own, **share)
    print(f"scale model: {n_convs} convs, {r['nodes']} ONNX nodes -> {r['layers']} layers "
          f"({r['weight_layers']} weight layers), {size}x{size}, {images} images")
    print(f"import {t_import:.1f} s (target < 30 s), float inference {t_float:.1f} s, integer build "
          f"(calibration) {t_build:.1f} s, bit-exact integer inference {t_int:.1f} s (target < 60 s); CPU "
          f"{c_import:.1f} / {c_float:.1f} / {c_build:.1f} / {c_int:.1f} s, peak RSS {m_import:.0f} / {m_float:.0f} / "
          f"{m_build:.0f} / {m_int:.0f} MiB")
    print(f"top-1 agreement integer vs float {agree:.3f}; {mac_share_text(share)}", flush=True)
    _, t_areas, _, _, _ = _phase(lambda: prefetch_areas([exact_reference(a, w) for a, w in PRECISIONS]))
    plan, t_plan, c_plan, m_plan, _ = _phase(lambda: precision_plan("quantune", f"scale-{n_convs}c-{size}px", g, x, x,
                                                            target, budget))
    validate_plan(plan)
    check_plan_model(plan, g)
    pm = plan["metrics"]
    widths = [f"{e['a_bits']}x{e['w_bits']}" for e in plan["layers"]]
    r["plan"] = dict(seconds=t_plan, cpu_s=c_plan, peak_rss_mib=m_plan, areas_s=t_areas, budget_fraction=budget,
                     accuracy=pm["accuracy"], cost_fraction=pm["cost_fraction"], accuracy_evals=pm["accuracy_evals"],
                     layers=len(widths), widths={w: widths.count(w) for w in sorted(set(widths))}, plan=plan)
    print(f"QuantuneV2 plan (budget {budget:g} of the 8x8 cost) {t_plan:.1f} s (target < 5 min; CPU {c_plan:.1f} s; "
          f"multiplier areas {t_areas:.1f} s apart), peak RSS {m_plan:.0f} MiB: {len(widths)} layers "
          f"{', '.join(f'{k} x{v}' for k, v in r['plan']['widths'].items())}, cost {pm['cost_fraction']:.3f}, "
          f"top-1 agreement {pm['accuracy']:.3f}", flush=True)
    (prof, msbs), t_prof, c_prof, m_prof, _ = _phase(lambda: stripes_profile(q, x, target))
    r["stripes"] = dict(seconds=t_prof, cpu_s=c_prof, peak_rss_mib=m_prof, layers=len(prof.precisions),
                        precisions=list(prof.precisions), independent=list(prof.independent),
                        msbs=[msbs[n] for n in q.weight_layers], reference=prof.reference, accuracy=prof.accuracy,
                        evaluations=prof.evaluations, raises=len(prof.bumps), drops=len(prof.drops),
                        mean_precision=float(np.mean(prof.precisions)))
    print(f"Stripes profile (tolerance 0) {t_prof:.1f} s (target < 10 min; CPU {c_prof:.1f} s), peak RSS {m_prof:.0f} MiB: "
          f"{len(prof.precisions)} weight layers, {prof.evaluations} evaluations, {len(prof.bumps)} raises, mean "
          f"precision {r['stripes']['mean_precision']:.2f} bits, top-1 agreement {prof.accuracy:.3f} "
          f"(full precision {prof.reference:.3f})")
    print(f"precisions: {' '.join(map(str, prof.precisions))}", flush=True)
    if json_out is not None:
        write_text(Path(json_out), json.dumps(r, indent=1, default=float) + "\n")
        print(f"wrote {json_out}")
    return r
