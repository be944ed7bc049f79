"""`quantpe bench onnx` on a tiny configuration: the reported plan and Stripes profile are real
(re-derived here from the model, not from the bench's own code paths); on its model, the narrowed,
frontier-only captures of `stripes_profile` give the profile of plain full inference and the
integer convs (`exact_conv_sums`) the plain int64 product."""
import json

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from quantpe.commands.bench_onnx import scale_model  # noqa: E402
from quantpe.golden.intmath import wrap  # noqa: E402
from quantpe.golden.lowering import grouped_matmul, int_matmul  # noqa: E402
from quantpe.golden.model_eval import _narrow, stripes_profile  # noqa: E402
from quantpe.golden.onnx_io import import_onnx  # noqa: E402
from quantpe.golden.plan import apply_plan, check_plan_model, validate_plan  # noqa: E402
from quantpe.golden.qgraph import build_qgraph  # noqa: E402
from quantpe.golden.stripes_precision import (  # noqa: E402
    covering_msb,
    profile_precisions,
    static_window,
    window_value,
)


def _windowed_agreement(q, x, target, precisions, msbs):
    """Top-1 agreement with `target` of plain full integer inference under static windows."""
    tf = {n: (lambda a, w=static_window(p, m, q.a_bits): window_value(a, w[0], w[1], q.a_bits, True))  # noqa: B008
          for n, p, m in zip(q.weight_layers, precisions, msbs) if p < q.a_bits}
    out = q.run_codes(q.quantize_input(x), transform=tf)
    return float(np.mean(np.argmax(out.reshape(len(out), -1), axis=1) == target))


def test_narrow_is_lossless_and_narrowest():
    for lo, hi, dtype in ((-128, 127, np.int8), (-129, 0, np.int16), (0, 128, np.int16),
                          (-32768, 32767, np.int16), (0, 1 << 15, np.int32), (-(1 << 31) - 1, 0, np.int64)):
        v = np.array([lo, 0, hi], np.int64)
        got = _narrow(v)
        assert got.dtype == dtype and np.array_equal(got.astype(np.int64), v)
    f = np.array([0.5])
    assert _narrow(f) is f


def test_scale_model_accumulators_equal_the_plain_int64_product(seed):
    """Every conv of a scale model (3x3 stem, pointwise, depthwise stride 1 and 2 with padding):
    the integer accumulators == the wrapped int64 im2col product plus bias."""
    model, _ = scale_model(7, 16, seed=seed % 1000)
    g = import_onnx(model)
    x = np.random.default_rng(seed).random((3, 16, 16, 3))
    q = build_qgraph(g, x)
    vals = q.capture(x)
    kinds = set()
    for n in q.weight_layers:
        lay = q.layer(n)
        a = lay.input_codes(vals[lay.inputs[0]])
        ref = wrap(grouped_matmul(lay.columns(a), lay.weight.codes, int_matmul) + lay.bias[None, :, None], q.acc_bits)
        got = lay.accumulators(a, q.acc_bits)
        np.testing.assert_array_equal(got.reshape(ref.shape), ref, err_msg=n)
        kinds.add((lay.groups > 1, lay.layer.stride if lay.is_conv else None))
    assert {(True, (1, 1)), (True, (2, 2)), (False, (1, 1))} <= kinds


def test_profile_of_scale_model_equals_plain_profile(seed):
    """Residual Adds, float regions and a raw Gemm output: the cached profile (any cache size)
    == profile_precisions over plain full integer inference."""
    model, _ = scale_model(7, 16, seed=seed % 1000)
    g = import_onnx(model)
    x = np.random.default_rng(seed).random((12, 16, 16, 3))
    target = g.predict(x)
    q = build_qgraph(g, x)
    ins = q.layer_inputs(x)
    msbs = [covering_msb(ins[n], q.a_bits, True) for n in q.weight_layers]
    ref = profile_precisions(lambda p: _windowed_agreement(q, x, target, p, msbs), len(msbs), q.a_bits)
    for entries in (0, 1, 4):
        got, got_msbs = stripes_profile(q, x, target, cache_entries=entries)
        assert [got_msbs[n] for n in q.weight_layers] == msbs
        assert (got.precisions, got.independent, got.accuracy, got.evaluations, got.bumps, got.drops) == \
            (ref.precisions, ref.independent, ref.accuracy, ref.evaluations, ref.bumps, ref.drops)


def test_bench_onnx_reports_a_real_plan_and_profile(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("QUANTPE_BUILD", str(tmp_path / "build"))
    out_json = tmp_path / "bench.json"
    code, out, err = cli(["bench", "onnx", "--convs", "3", "--size", "16", "--images", "4",
                          "--budget", "0.6", "--json", out_json])
    assert code == 0, err
    r = json.loads(out_json.read_text())
    model, convs = scale_model(3, 16)
    g = import_onnx(model)
    x = np.random.default_rng(1).random((4, 16, 16, 3))
    target = g.predict(x)
    q = build_qgraph(g, x)
    names = q.weight_layers
    assert (r["convs"], r["weight_layers"], r["images"]) == (convs, len(names), 4)
    assert r["top1_agreement"] == q.accuracy(x, target)
    for key in ("import", "float", "build", "integer"):
        assert r["peak_rss_mib"][key] > 0
    # the plan: valid for this model, its accuracy and cost are what applying it gives
    p = r["plan"]
    plan = p["plan"]
    validate_plan(plan, g)
    check_plan_model(plan, g)
    assert p["layers"] == len(plan["layers"]) == len(names) and sum(p["widths"].values()) == len(names)
    assert apply_plan(g, plan, x).accuracy(x, target) == p["accuracy"]
    assert p["budget_fraction"] == 0.6 and p["cost_fraction"] <= 0.6
    assert p["seconds"] > 0 and p["cpu_s"] > 0 and p["peak_rss_mib"] > 0
    # the profile: one precision per weight layer that reproduces the stated agreement, at least
    # the full-precision one (tolerance 0); each independent minimum is one bit above a failure
    s = r["stripes"]
    msbs = [covering_msb(v, q.a_bits, True) for v in q.layer_inputs(x).values()]
    assert s["msbs"] == msbs and s["layers"] == len(names)
    assert all(1 <= v <= q.a_bits for v in s["precisions"])
    assert s["reference"] == r["top1_agreement"]
    assert _windowed_agreement(q, x, target, s["precisions"], msbs) == s["accuracy"] >= s["reference"]
    for i, v in enumerate(s["independent"]):
        lower = [q.a_bits] * len(names)
        if v > 1:
            lower[i] = v - 1
            assert _windowed_agreement(q, x, target, lower, msbs) < s["reference"]
        lower[i] = v
        assert _windowed_agreement(q, x, target, lower, msbs) >= s["reference"]
    assert s["mean_precision"] == pytest.approx(np.mean(s["precisions"]))
    assert f"{len(names)} weight layers" in out and "QuantuneV2 plan" in out


@pytest.mark.parametrize("args,msg", [(["--budget", "0"], "--budget"), (["--budget", "nan"], "--budget"),
                                      (["--json", "{tmp}/f.txt/x.json"], "not a directory")])
def test_bench_onnx_bad_input(capsys, tmp_path, args, msg):
    """One line, exit 2 (the parser's refusals exit from argparse, the rest through main)."""
    from quantpe.cli import main
    (tmp_path / "f.txt").write_text("")
    try:
        code = main(["bench", "onnx", "--convs", "3", "--size", "16", "--images", "2",
                     *[a.format(tmp=tmp_path) for a in args]])
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("quantpe: error:") and msg in err[0], err
