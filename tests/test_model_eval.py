"""Techniques on any model (model_eval): cross-checks against the MLP-only code paths, independent
brick-cycle counts for convs, StruM padding (exact, storage, warning), cached-prefix inference."""
from __future__ import annotations

import numpy as np
import pytest

from quantpe.golden.approx import ApproxMulConfig, approx_mul
from quantpe.golden.cnn import model_data, reference_graph, reference_qgraph
from quantpe.golden.layers import INPUT, Conv2d, Flatten, Linear, ReLU
from quantpe.golden.qgraph import build_qgraph
from quantpe.golden.graph import Graph, Node
from quantpe.golden import model_eval
from quantpe.golden.model_eval import (StrumPaddingWarning, approx_eval_model, stripes_eval_model,
                                       stripes_profile, strum_eval_model, strum_operands)
from quantpe.golden.strum_config import StrumConfig
from quantpe.golden.stripes_eval import CYCLE_COLUMNS, evaluate_stripes
from quantpe.golden.stripes_precision import window_value
from quantpe.golden.intmath import wrap


def test_mlp_stripes_equals_evaluate_stripes():
    """Brick counting without the matmul + cached-prefix profile == the MLP-only evaluate_stripes."""
    xtr, ytr, xte, yte = model_data("mlp")
    r = stripes_eval_model(reference_qgraph("mlp"), xtr, ytr, xte, yte)
    ev = evaluate_stripes()
    assert tuple(r["profile"]["precisions"]) == ev.profile.precisions
    assert r["test_accuracy_profiled"] == ev.test_accuracy_profiled
    for mine, ref in zip(r["layers"], ev.layers):
        assert {k: mine[k] for k in CYCLE_COLUMNS} == {k: ref[k] for k in CYCLE_COLUMNS}


def _py_brick_cycles(cols_rows, cg, taps, lanes):
    """Leading-one Dynamic Stripes cycles of signed codes, plain Python: per brick (one tap, lanes
    consecutive channels), P = 1 + max lane bit length of (a XOR sign), all-zero -> 1."""
    total = []
    for row in cols_rows.tolist():
        per = []
        for t in range(taps):
            chans = row[t * cg:(t + 1) * cg]
            for j in range(0, cg, lanes):
                lane = chans[j:j + lanes]
                bl = max((v if v >= 0 else ~v).bit_length() for v in lane)
                per.append(1 if bl == 0 else bl + 1)
        total.append(per)
    return np.array(total)


@pytest.mark.parametrize("cin,groups,k,stride", [(20, 1, 3, 1), (6, 6, 3, 2), (4, 2, 2, 1)])
def test_conv_brick_cycles_against_plain_python(seed, cin, groups, k, stride, monkeypatch):
    rng = np.random.default_rng(seed)
    conv = Conv2d(rng.standard_normal((6, cin // groups, k, k)), rng.standard_normal(6) * 0.1,
                  stride=stride, padding=1, groups=groups)
    side = conv.out_shape([(cin, 5, 5)])[1]
    fc = Linear(rng.standard_normal((3, 6 * side ** 2)), np.zeros(3))
    g = Graph((cin, 5, 5), (Node("c", conv, (INPUT,)), Node("r", ReLU(), ("c",)),
                            Node("f", Flatten(), ("r",)), Node("fc", fc, ("f",))))
    x = rng.standard_normal((6, cin, 5, 5))              # signed input codes
    y = rng.integers(0, 3, 6)
    q = build_qgraph(g, x)
    r = stripes_eval_model(q, x, y, x, y, lanes=4, group=4)
    r16 = stripes_eval_model(q, x, y, x, y, lanes=4, group=4, lockstep=4, profile=stripes_profile(q, x, y))
    row, row16 = r["layers"][0], r16["layers"][0]
    ql = q.layer("c")
    cols = ql.columns(q.quantize_input(x))               # (N, G, P, K)
    og = 6 // groups
    want = want16 = 0
    for gi in range(groups):
        rows = cols[:, gi].reshape(-1, cols.shape[-1])
        per = _py_brick_cycles(rows, cin // groups, k * k, 4)
        want += og * per.sum()
        for s in range(0, len(per), 4):
            want16 += og * per[s:s + 4].max(axis=0).sum()
    assert row["dyn_lead_lossless"] == want and row16["dyn_lead_lossless"] == want16
    nb = k * k * -(-(cin // groups) // 4)
    assert row["parallel"] == 6 * cols.shape[0] * cols.shape[2] * nb and row["bricks"] == nb
    assert row["serial_full"] == 8 * row["parallel"]
    # rows streamed in chunks (a chunk smaller than a lockstep group, or not dividing the rows)
    monkeypatch.setattr(model_eval, "CYCLE_ROWS", 3)
    assert stripes_eval_model(q, x, y, x, y, lanes=4, group=4)["layers"] == r["layers"]
    assert stripes_eval_model(q, x, y, x, y, lanes=4, group=4, lockstep=4)["layers"] == r16["layers"]


def test_strum_padding_exact_storage_and_warning():
    xtr, ytr, xte, yte = model_data("cnn")
    g = reference_graph("cnn")
    q8 = build_qgraph(g, xtr[:200])
    with pytest.warns(StrumPaddingWarning) as rec:
        r = strum_eval_model(g, q8, xtr[:200], xte[:60], yte[:60], layers=["dw3", "conv2"])
    msgs = sorted(str(w.message) for w in rec)
    assert len(msgs) == 2 and "dw3: dliq StruM padded 9 -> 16 costs 12.78 bits/weight" in msgs[0]
    assert "dw3: mip2q" in msgs[1]
    rows = {(x["layer"], x["variant"]): x for x in r["layers"]}
    dw = rows[("dw3", "dliq")]
    assert dw["pad"] == 7 and dw["padded_k"] == 16 and dw["storage_bits"] == 32 * 115
    assert dw["bits_per_weight"] == pytest.approx(115 / 9) and dw["worse_than_int8"]
    assert not rows[("conv2", "dliq")]["worse_than_int8"] and rows[("conv2", "dliq")]["pad"] == 0
    assert set(r["accuracy"]) == {"float", "int8", "dliq", "mip2q", "int4"}
    # the padded operands a StruM PE streams reproduce the layer's accumulators exactly
    ops = strum_operands(q8, "dw3", xte[:5], StrumConfig())
    act, vals = ops["activations"], ops["values"]
    assert act.shape[-1] == 16 and not act[..., 9:].any() and not vals[:, 9:].any()
    qs = q8.with_weights("dw3", vals[:, :9])
    lay = qs.layer("dw3")
    acc = lay.accumulators(qs.layer_inputs(xte[:5])["dw3"], 32)             # (N, O, H, W)
    n, o = acc.shape[:2]
    for gi in range(32):
        dots = act[gi] @ vals[gi]                                            # rows = N * P windows
        want = wrap(dots.reshape(n, -1) + lay.bias[gi], 32)
        np.testing.assert_array_equal(acc[:, gi].reshape(n, -1), want)


def test_approx_and_prefix_cache(seed):
    xtr, ytr, xte, yte = model_data("cnn")
    q8 = build_qgraph(reference_graph("cnn"), xtr[:200])
    exact = ApproxMulConfig(method="exact", signed=True)
    res = approx_eval_model(q8, xte[:40], yte[:40], configs=(exact, ApproxMulConfig(method="drum", k=3)))
    assert res[0]["accuracy"] == q8.accuracy(xte[:40], yte[:40])
    np.testing.assert_array_equal(q8.with_mul(approx_mul(exact)).logits(xte[:8]), q8.logits(xte[:8]))
    assert not np.array_equal(q8.with_mul(approx_mul(ApproxMulConfig(method="drum", k=3, signed=True)))
                              .logits(xte[:8]), q8.logits(xte[:8]))
    # cached-prefix inference == full inference with the same windows
    rng = np.random.default_rng(seed)
    a0 = q8.quantize_input(xte[:20])
    _, vals = q8.run_codes(a0, capture=True)
    for start in ("conv2", "pw4", "fc"):
        names = q8.weight_layers[q8.weight_layers.index(start):]
        tf = {n: (lambda a, lsb=int(rng.integers(0, 3)): window_value(a, 7, lsb, 8, True)) for n in names}  # noqa: B008 (bound per layer)
        np.testing.assert_array_equal(q8.resume(vals, start, tf), q8.run_codes(a0, transform=tf))


def _tiny_model(seed):
    rng = np.random.default_rng(seed)
    c1 = Conv2d(rng.standard_normal((6, 3, 3, 3)), rng.standard_normal(6) * 0.1, padding=1)
    c2 = Conv2d(rng.standard_normal((6, 3, 3, 3)), rng.standard_normal(6) * 0.1, padding=1, groups=2)
    c3 = Conv2d(rng.standard_normal((6, 6, 1, 1)), rng.standard_normal(6) * 0.1)
    g = Graph((3, 5, 5), (Node("c1", c1, (INPUT,)), Node("r1", ReLU(), ("c1",)), Node("c2", c2, ("r1",)),
                          Node("r2", ReLU(), ("c2",)), Node("c3", c3, ("r2",)), Node("r3", ReLU(), ("c3",)),
                          Node("f", Flatten(), ("r3",)),
                          Node("fc", Linear(rng.standard_normal((4, 150)), np.zeros(4)), ("f",))))
    x = rng.standard_normal((64, 3, 5, 5))
    return g, x, g.predict(x)


@pytest.mark.parametrize("model,entries", [("tiny", (0, 1, 4)),
                                           pytest.param("cnn", (0, 1, 4), marks=pytest.mark.slow)])
def test_cached_profile_equals_plain_profile(model, entries, seed):
    """The LRU cached-prefix profile == profile_precisions over plain full integer inference."""
    from quantpe.golden.stripes_precision import covering_msb, profile_precisions, static_window
    if model == "cnn":
        xtr, ytr, _, _ = model_data("cnn")
        g, x, y = reference_graph("cnn"), xtr[:150], ytr[:150]
    else:
        g, x, y = _tiny_model(seed)
    q = build_qgraph(g, x)
    names = q.weight_layers
    ins = q.layer_inputs(x)
    msbs = [covering_msb(ins[n], 8, True) for n in names]

    def plain(p):
        tf = {n: (lambda a, w=static_window(pl, m, 8): window_value(a, w[0], w[1], 8, True))  # noqa: B008
              for n, pl, m in zip(names, p, msbs)}
        out = q.run_codes(q.quantize_input(x), transform=tf)
        return float(np.mean(np.argmax(out, axis=1) == y))
    for joint in ("ranked", "greedy"):
        ref = profile_precisions(plain, len(names), 8, joint=joint)
        print(model, joint, ref)
        for e in entries:
            got, _ = stripes_profile(q, x, y, cache_entries=e, joint=joint)
            assert (got.precisions, got.independent, got.accuracy, got.evaluations, got.drops) == \
                (ref.precisions, ref.independent, ref.accuracy, ref.evaluations, ref.drops)


def test_deep_benchmark_model_and_command(cli):
    """`bench profile`'s deep model: with zero block weights every block is the identity."""
    from quantpe.commands.bench import deep_digits_cnn
    g0, g3 = reference_graph("cnn"), deep_digits_cnn(3, scale=0.0)
    x = model_data("cnn")[2][:20]
    assert len(g3.weight_layers) == len(g0.weight_layers) + 3
    np.testing.assert_array_equal(g3.forward(x), g0.forward(x))
    code, out, _ = cli(["bench", "profile", "--blocks", "1", "--images", "8", "--joint", "ranked"])
    assert code == 0 and ": 6 weight layers, 8 profiling images" in out
    assert out.splitlines()[-1].startswith("ranked ")
