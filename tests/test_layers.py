"""Layer library: lowering order, float layers (vs scipy / naive loops, gradients), integer graph
(vs plain-Python direct loops written here from the exposed quantized parameters), hooks, files.

`ref_*` functions are independent references: Python ints and loops, no golden helpers.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import scipy.signal

from quantpe.golden.dot import exact_mul
from quantpe.golden.errors import QuantpeError
from quantpe.golden.layers import INPUT, Add, AvgPool, Clip, Concat, Conv2d, Flatten, GlobalAvgPool, Linear, MaxPool, ReLU, ReLU6, fold_batchnorm
from quantpe.golden.graph_io import load_graph, save_graph
from quantpe.golden.qgraph import QWeight, build_qgraph
from quantpe.golden.graph import Graph, Node
from quantpe.golden.lowering import (bricks, exact_conv_sums, grouped_matmul, im2col, int_matmul, lower_weights,
                                     n_bricks, pad_reduction, unlower_weights)


# ------------------------------------------------------------------ independent references

def _wrap(v: int, bits: int) -> int:
    return ((v + (1 << (bits - 1))) % (1 << bits)) - (1 << (bits - 1))


def _rha(v: float) -> int:
    return int(math.floor(abs(v) + 0.5)) * (1 if v >= 0 else -1)


def ref_conv(x, w, b, stride, pad, dil, groups, mul=None):
    """Direct-loop convolution, x (N, C, H, W), w (O, Cg, KH, KW), pad (t, l, b, r); Python
    arithmetic on whatever element type x/w hold (ints -> exact)."""
    n_, c_, h_, w_ = x.shape
    o_, cg, kh, kw = w.shape
    og = o_ // groups
    sh, sw = stride
    dh, dw = dil
    pt, pl, pb, pr = pad
    oh = (h_ + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (w_ + pl + pr - dw * (kw - 1) - 1) // sw + 1
    xs, ws = x.tolist(), w.tolist()
    out = [[[[None] * ow for _ in range(oh)] for _ in range(o_)] for _ in range(n_)]
    for n in range(n_):
        for o in range(o_):
            g = o // og
            for oy in range(oh):
                for ox in range(ow):
                    s = b[o]
                    for c in range(cg):
                        for ky in range(kh):
                            for kx in range(kw):
                                iy, ix = oy * sh + ky * dh - pt, ox * sw + kx * dw - pl
                                if 0 <= iy < h_ and 0 <= ix < w_:
                                    a = xs[n][g * cg + c][iy][ix]
                                    s += mul(a, ws[o][c][ky][kx]) if mul else a * ws[o][c][ky][kx]
                    out[n][o][oy][ox] = s
    return out


def _rand_conv(rng, c, o, k, groups, stride=1, pad=0, dil=1):
    w = rng.standard_normal((o, c // groups, k, k))
    return Conv2d(w, rng.standard_normal(o) * 0.1, stride=stride, padding=pad, dilation=dil, groups=groups)


CONV_CASES = [  # (C, O, K, groups, stride, pad, dilation, H, W)
    (3, 4, 3, 1, 1, 1, 1, 6, 5),
    (4, 6, 3, 2, 2, (1, 0, 2, 1), 1, 7, 6),
    (5, 5, 3, 5, 1, 1, 2, 7, 7),                 # depthwise, dilated
    (6, 6, 2, 3, (2, 1), 0, (1, 2), 6, 8),       # grouped, anisotropic stride / dilation
    (8, 4, 1, 1, 1, 0, 1, 3, 3),                 # pointwise
    (2, 3, 5, 1, 3, 2, 1, 9, 9),
]


# ------------------------------------------------------------------ lowering

def test_im2col_order_matches_documented_formula(seed):
    rng = np.random.default_rng(seed)
    for c, o, k, g, st, pad, dil, h, w in CONV_CASES:
        conv = _rand_conv(rng, c, o, k, g, st, pad, dil)
        x = rng.integers(-50, 50, (2, c, h, w))
        cols = im2col(x, k, k, conv.stride, conv.padding, conv.dilation, g)
        _, oh, ow = conv.out_shape([(c, h, w)])
        cg = c // g
        assert cols.shape == (2, g, oh * ow, k * k * cg)
        (sh, sw), (dh, dw), (pt, pl, _, _) = conv.stride, conv.dilation, conv.padding
        for n in range(2):
            for gi in range(g):
                for oy in range(oh):
                    for ox in range(ow):
                        for ky in range(k):
                            for kx in range(k):
                                for ci in range(cg):
                                    iy, ix = oy * sh + ky * dh - pt, ox * sw + kx * dw - pl
                                    v = x[n, gi * cg + ci, iy, ix] if 0 <= iy < h and 0 <= ix < w else 0
                                    assert cols[n, gi, oy * ow + ox, (ky * k + kx) * cg + ci] == v
        wl = lower_weights(conv.weight)
        for oc in range(o):
            for ky in range(k):
                for kx in range(k):
                    for ci in range(cg):
                        assert wl[oc, (ky * k + kx) * cg + ci] == conv.weight[oc, ci, ky, kx]
        np.testing.assert_array_equal(unlower_weights(wl, cg, k, k), conv.weight)


EXACT_SUM_CASES = CONV_CASES + [  # the fast paths: pointwise, depthwise strided / padded / unpadded
    (16, 24, 1, 1, 1, 0, 1, 5, 4), (6, 6, 3, 6, 2, 1, 1, 9, 8), (4, 4, 3, 4, 1, 0, 1, 5, 5),
    (4, 4, 1, 4, 1, 0, 1, 3, 3), (4, 8, 3, 4, 1, 1, 1, 5, 5),          # depthwise 1x1; depth multiplier 2
    (4, 6, 1, 1, 2, 0, 1, 5, 5), (4, 6, 1, 1, 1, 1, 1, 3, 3)]          # pointwise strided / padded


def test_exact_conv_sums_equal_the_integer_im2col_product(seed):
    """Integer-valued float32 / float64 operands at the extremes of 8 bits: every geometry's sums
    equal the exact int64 im2col product (the direct loop for one case)."""
    rng = np.random.default_rng(seed)
    for c, o, k, g, st, pad, dil, h, w in EXACT_SUM_CASES:
        conv = _rand_conv(rng, c, o, k, g, st, pad, dil)
        x = rng.choice([-128, 127, 0, 1, -1, 55], (2, c, h, w))
        wl = rng.integers(-127, 128, (o, k * k * (c // g)))
        args = (k, k, conv.stride, conv.padding, conv.dilation, g)
        ref = grouped_matmul(im2col(x, *args), wl, int_matmul)
        for ftype in (np.float32, np.float64):
            got = exact_conv_sums(x.astype(ftype), wl.astype(ftype), *args)
            assert got.dtype == ftype
            np.testing.assert_array_equal(got.astype(np.int64), ref, err_msg=str((c, o, k, g, st, pad, dil)))
    c, o, k, g, st, pad, dil, h, w = EXACT_SUM_CASES[7]              # depthwise stride 2 against the loops
    wt = rng.integers(-127, 128, (o, 1, k, k))
    x = rng.integers(-128, 128, (1, c, h, w))
    conv = Conv2d(wt.astype(float), np.zeros(o), stride=st, padding=pad, dilation=dil, groups=g)
    got = exact_conv_sums(x.astype(np.float32), lower_weights(wt).astype(np.float32), k, k, conv.stride,
                          conv.padding, conv.dilation, g)
    want = np.array(ref_conv(x, wt, [0] * o, conv.stride, conv.padding, conv.dilation, g))
    np.testing.assert_array_equal(got.astype(np.int64).reshape(want.shape), want)
    with pytest.raises(QuantpeError, match="do not match"):
        exact_conv_sums(np.zeros((1, 4, 3, 3)), np.zeros((4, 8)), 3, 3, groups=4)


def test_bricks_and_block_padding():
    # 2 taps, 20 channels, 16 lanes: per tap bricks of channels 0..15 and 16..19 + 12 zeros
    cols = np.arange(1, 41).reshape(1, 40)
    b = bricks(cols, cg=20, taps=2, lanes=16)
    assert b.shape == (1, 4, 16) == (1, n_bricks(20, 2, 16), 16)
    assert b[0, 0].tolist() == list(range(1, 17))
    assert b[0, 1].tolist() == [17, 18, 19, 20] + [0] * 12
    assert b[0, 2].tolist() == list(range(21, 37))
    assert b[0, 3].tolist() == [37, 38, 39, 40] + [0] * 12
    m, pad = pad_reduction(np.ones((3, 9)), 16)         # depthwise 3x3: 9 -> 16
    assert pad == 7 and m.shape == (3, 16) and m[:, 9:].sum() == 0
    assert pad_reduction(np.ones((2, 32)), 16)[1] == 0


def test_int_matmul_exact_on_both_paths(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, (7, 33))
    b = rng.integers(-128, 128, (33, 5))
    ref = np.array([[sum(int(a[i, k]) * int(b[k, j]) for k in range(33)) for j in range(5)]
                    for i in range(7)])
    np.testing.assert_array_equal(int_matmul(a, b), ref)                     # float64 BLAS path
    big = a * (1 << 40)                                                       # int64 path (>= 2^53)
    np.testing.assert_array_equal(int_matmul(big, b), ref * (1 << 40))


@pytest.mark.parametrize("a, b", [
    ([[(1 << 26) + 1]], [[(1 << 26) + 1]]),                       # 2^52 + 2^27 + 1: below 2^53
    ([[(1 << 25) + 1, (1 << 25) + 2]], [[(1 << 25) + 1], [(1 << 25) - 1]]),   # K = 2, peak < 2^53
    ([[(1 << 27) + 1]], [[(1 << 26) + 1]]),                       # 2^53 + 2^27 + 2^26 + 1: just above
    ([[(1 << 30) + 1, 2]], [[(1 << 30) + 1], [-2]]),             # (2^30 + 1)^2 - 4, far above
    ([[-(1 << 31) - 1]], [[(1 << 31) - 3]]),                      # negative, far above
])
def test_int_matmul_odd_operands_on_both_sides_of_2_53(a, b):
    """Odd results near and beyond 2^53 (not representable in float64 above it) are exact: Python
    integer sums as the reference."""
    ref = [[sum(x * y for x, y in zip(row, col)) for col in zip(*b)] for row in a]
    got = int_matmul(np.array(a, dtype=np.int64), np.array(b, dtype=np.int64))
    assert got.dtype == np.int64 and got.tolist() == ref
    assert all(v % 2 for r in ref for v in r)                     # odd: a float64 rounding shows


@pytest.mark.parametrize("k", [1040, 1041])     # 127 * 127 * K below / above 2^24: float32 / float64
def test_integer_accumulators_exact_at_the_float32_bound(k, seed):
    rng = np.random.default_rng(seed)
    g = Graph((k,), (Node("fc", Linear(rng.standard_normal((3, k)), rng.standard_normal(3)), (INPUT,)),))
    lay = build_qgraph(g, rng.standard_normal((4, k))).layer("fc")
    w = lay.weight.codes.copy()
    w[0] = 127                                   # the worst case: every product 127 * 127
    lay = dataclasses.replace(lay, weight=dataclasses.replace(lay.weight, codes=w))
    a = rng.integers(-127, 128, (5, k))
    a[0] = 127
    a[1] = 127 - np.arange(k) % 2                # odd sums near the bound (float32 ulp = 2 above 2^24)
    ref = np.array([[sum(int(x) * int(y) for x, y in zip(row, wr)) for wr in w] for row in a]) + lay.bias
    assert 127 * 127 * k < (1 << 24) if k == 1040 else 127 * 127 * k >= (1 << 24)
    np.testing.assert_array_equal(lay.accumulators(a, 32), ref)


# ------------------------------------------------------------------ float layers

def test_float_conv_matches_scipy_and_naive_loop(seed):
    rng = np.random.default_rng(seed)
    conv = _rand_conv(rng, 3, 4, 3, 1, 1, 1, 1)
    x = rng.standard_normal((2, 3, 6, 5))
    y = conv.forward(x)
    for n in range(2):
        for o in range(4):
            ref = conv.bias[o] + sum(scipy.signal.correlate(np.pad(x[n, c], 1), conv.weight[o, c],
                                                            mode="valid") for c in range(3))
            np.testing.assert_allclose(y[n, o], ref, rtol=1e-12, atol=1e-12)
    for c, o, k, g, st, pad, dil, h, w in CONV_CASES:
        conv = _rand_conv(rng, c, o, k, g, st, pad, dil)
        x = rng.standard_normal((2, c, h, w))
        ref = np.array(ref_conv(x, conv.weight, conv.bias.tolist(), conv.stride, conv.padding,
                                conv.dilation, g))
        np.testing.assert_allclose(conv.forward(x), ref, rtol=1e-11, atol=1e-11)


def test_float_pools_against_loops(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, 5, 6))
    mp = MaxPool((2, 3), stride=(2, 2), padding=(1, 1, 1, 1))
    ap = AvgPool((3, 3), stride=2, padding=1)
    api = AvgPool((3, 3), stride=2, padding=1, count_include_pad=True)
    ym, ya, yi = mp.forward(x), ap.forward(x), api.forward(x)
    for n in range(2):
        for c in range(3):
            for oy in range(ym.shape[2]):
                for ox in range(ym.shape[3]):
                    win = [x[n, c, oy * 2 + i - 1, ox * 2 + j - 1] for i in range(2) for j in range(3)
                           if 0 <= oy * 2 + i - 1 < 5 and 0 <= ox * 2 + j - 1 < 6]
                    assert ym[n, c, oy, ox] == max(win)
            for oy in range(ya.shape[2]):
                for ox in range(ya.shape[3]):
                    win = [x[n, c, oy * 2 + i - 1, ox * 2 + j - 1] for i in range(3) for j in range(3)
                           if 0 <= oy * 2 + i - 1 < 5 and 0 <= ox * 2 + j - 1 < 6]
                    assert ya[n, c, oy, ox] == pytest.approx(sum(win) / len(win), abs=1e-12)
                    assert yi[n, c, oy, ox] == pytest.approx(sum(win) / 9, abs=1e-12)
    np.testing.assert_allclose(GlobalAvgPool().forward(x)[:, :, 0, 0], x.mean(axis=(2, 3)))


def _num_grad(f, p, idx, eps=1e-6):
    p[idx] += eps
    fp = f()
    p[idx] -= 2 * eps
    fm = f()
    p[idx] += eps
    return (fp - fm) / (2 * eps)


def test_gradients_match_finite_differences(seed):
    rng = np.random.default_rng(seed)
    conv_a = _rand_conv(rng, 4, 6, 3, 2, 2, (1, 0, 2, 1), 1)
    conv_b = _rand_conv(rng, 6, 6, 3, 6, 1, 2, 2)       # depthwise, dilated
    nodes = (Node("ca", conv_a, (INPUT,)), Node("ra", ReLU6(), ("ca",)),
             Node("cb", conv_b, ("ra",)), Node("ad", Add(), ("cb", "ra")),
             Node("mp", MaxPool((2, 2), stride=1), ("ad",)), Node("ap", AvgPool((2, 2), padding=1), ("ad",)),
             Node("cat", Concat(), ("mp", "ap")), Node("gp", GlobalAvgPool(), ("cat",)),
             Node("fl", Flatten(), ("gp",)),
             Node("fc", Linear(rng.standard_normal((3, 12)), np.zeros(3)), ("fl",)))
    g = Graph((4, 7, 6), nodes)
    x = rng.standard_normal((3, 4, 7, 6))
    gout = rng.standard_normal((3, 3))
    out, caches = g.forward_train(x)
    np.testing.assert_allclose(out, g.forward(x))
    grads = g.backward(caches, gout)
    params = {k: np.array(v) for k, v in g.params().items()}
    for key, p in params.items():
        for flat in rng.choice(p.size, size=min(4, p.size), replace=False):
            idx = np.unravel_index(flat, p.shape)
            num = _num_grad(lambda: float(np.sum(g.with_params(params).forward(x) * gout)), p, idx)
            assert grads[key][idx] == pytest.approx(num, rel=1e-5, abs=1e-7), key


def test_fold_batchnorm(seed):
    rng = np.random.default_rng(seed)
    conv = _rand_conv(rng, 3, 4, 3, 1, 1, 1, 1)
    gamma, beta, mean = rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal(4)
    var = rng.random(4) + 0.1
    x = rng.standard_normal((2, 3, 5, 5))
    y = conv.forward(x)
    c = (slice(None), None, None)
    ref = gamma[c] * (y - mean[c]) / np.sqrt(var[c] + 1e-5) + beta[c]
    np.testing.assert_allclose(fold_batchnorm(conv, gamma, beta, mean, var).forward(x), ref,
                               rtol=1e-10, atol=1e-12)
    with pytest.raises(QuantpeError, match="variance"):
        fold_batchnorm(conv, gamma, beta, mean, -np.ones(4))


# ------------------------------------------------------------------ integer graph

def _one_conv_graph(conv, c, h, w, relu=True):
    nodes = [Node("conv", conv, (INPUT,))]
    if relu:
        nodes.append(Node("relu", ReLU(), ("conv",)))
    nodes.append(Node("fl", Flatten(), (nodes[-1].name,)))
    return Graph((c, h, w), tuple(nodes))


def _odd_rule(a, w):
    """A deliberately inexact product: a*w, plus 1 when both are odd."""
    a = np.asarray(a, dtype=np.int64)
    w = np.asarray(w, dtype=np.int64)
    return a * w + ((a & 1) & (w & 1))


@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_integer_conv_matches_direct_loop(seed, case):
    rng = np.random.default_rng(seed + case)
    c, o, k, g, st, pad, dil, h, w = CONV_CASES[case]
    conv = _rand_conv(rng, c, o, k, g, st, pad, dil)
    graph = _one_conv_graph(conv, c, h, w)
    x = rng.standard_normal((3, c, h, w))
    for acc_bits in (24, 12):                      # 12 bits: the accumulators really wrap
        _check_conv_case(graph, conv, x, c, g, k, acc_bits)


def _check_conv_case(graph, conv, x, c, g, k, acc_bits):
    q = build_qgraph(graph, x, acc_bits=acc_bits)
    ql = q.layer("conv")
    a = q.quantize_input(x)
    wrapped = False
    for rule in (None, _odd_rule):
        qr = q.with_mul(rule) if rule else q
        wq = unlower_weights(ql.weight.codes, c // g, k, k)
        py_rule = (lambda u, v: u * v + ((u & 1) & (v & 1))) if rule else None
        acc = ref_conv(a, wq, ql.bias.tolist(), conv.stride, conv.padding, conv.dilation, g, py_rule)
        got = qr.layer("conv").accumulators(a, acc_bits)
        want = np.array(acc, dtype=object)
        wrapped |= bool(np.any(np.abs(want.astype(np.int64)) >= 1 << (acc_bits - 1)))
        want = np.vectorize(lambda v: _wrap(int(v), acc_bits))(want).astype(np.int64)
        np.testing.assert_array_equal(got, want)
        out = qr.run_codes(a).reshape(want.shape)
        for idx in np.ndindex(want.shape):
            m, s = int(ql.mult[idx[1]]), int(ql.shift[idx[1]])
            y = (int(want[idx]) * m + (1 << (s - 1))) >> s
            assert out[idx] == max(0, min(127, y))
    assert wrapped == (acc_bits == 12)
    # mutation: the inexact rule really changes some accumulator (the check above can fail)
    assert not np.array_equal(q.with_mul(_odd_rule).layer("conv").accumulators(a, acc_bits),
                              ql.accumulators(a, acc_bits))


@pytest.mark.parametrize("order", [(INPUT, "l"), ("l", INPUT)])
def test_add_multipliers_hand_derived(order):
    """Add(x, 5x) calibrated on max|x| = 127: s_x = 1, s_5x = 5, s_out = 6 (8-bit codes), so
    M = 1/6 and 5/6. The larger, 5/6 = 0.8333 * 2^0, gets mult = round(0.8333 * 2^16) = 54613 and
    shift 16; the smaller shares the shift: round_half_away(2^16 / 6 = 10922.67) = 10923."""
    g = Graph((1,), (Node("l", Linear(np.array([[5.0]]), np.zeros(1)), (INPUT,)),
                     Node("ad", Add(), order)))
    x = np.array([[127.0], [-127.0], [50.0], [-3.0], [1.0]])
    q = build_qgraph(g, x)
    assert (q.scales[INPUT], q.scales["l"], q.scales["ad"]) == (1.0, 5.0, 6.0)
    ad = next(n for n in q.nodes if n.name == "ad")
    want = {INPUT: 10923, "l": 54613}
    assert ad.mults == (want[order[0]], want[order[1]]) and ad.shifts == (16,)
    vals = q.capture(x)
    for i in range(len(x)):
        acc = int(vals[order[0]][i, 0]) * want[order[0]] + int(vals[order[1]][i, 0]) * want[order[1]]
        assert vals["ad"][i, 0] == max(-127, min(127, (acc + (1 << 15)) >> 16))


def test_integer_graph_ops_match_scalar_reference(seed):
    """Add (shared shift), Concat, AvgPool, GAP, MaxPool, fused and stand-alone clips."""
    rng = np.random.default_rng(seed)
    c1 = _rand_conv(rng, 2, 3, 3, 1, 1, 1, 1)
    c2 = _rand_conv(rng, 2, 3, 1, 1)
    nodes = (Node("c1", c1, (INPUT,)), Node("r1", ReLU6(), ("c1",)),
             Node("c2", c2, (INPUT,)),
             Node("ad", Add(), ("r1", "c2")), Node("cl", Clip(-0.5, 2.0), ("ad",)),
             Node("mp", MaxPool((2, 2), padding=(1, 1, 0, 0)), ("cl",)),
             Node("ap", AvgPool((2, 2), padding=(1, 1, 0, 0)), ("c2",)),
             Node("cat", Concat(), ("mp", "ap")), Node("gp", GlobalAvgPool(), ("cat",)),
             Node("fl", Flatten(), ("gp",)))
    g = Graph((2, 5, 5), nodes)
    x = rng.standard_normal((4, 2, 5, 5))
    q = build_qgraph(g, x)
    vals = q.capture(x)
    nd = {n.name: n for n in q.nodes}
    S = q.scales
    # fused ReLU6 into c1: clamp [0, round(6/s)] capped at 127; c2 unfused: [-127, 127]
    assert nd["r1"].kind == "pass" and nd["c1"].lo == 0 and nd["c1"].hi == min(127, _rha(6 / S["c1"]))
    assert (nd["c2"].lo, nd["c2"].hi) == (-127, 127)
    np.testing.assert_array_equal(vals["r1"], vals["c1"])
    # Add: one shift, two multipliers, fused Clip(-0.5, 2) clamp
    ma, mb = nd["ad"].mults
    sh = nd["ad"].shifts[0]
    big = max(S["r1"], S["c2"]) / S["ad"]
    assert (1 << 15) <= max(ma, mb) < (1 << 16)
    assert max(ma, mb) / 2 ** sh == pytest.approx(big, rel=2 ** -15)
    assert min(ma, mb) / 2 ** sh == pytest.approx(min(S["r1"], S["c2"]) / S["ad"], abs=2.0 ** -sh)
    lo, hi = max(-127, _rha(-0.5 / S["ad"])), min(127, _rha(2.0 / S["ad"]))
    assert nd["ad"].lo == lo and nd["ad"].hi == hi and nd["cl"].kind == "pass"
    for idx in np.ndindex(vals["ad"].shape):
        v = (int(vals["r1"][idx]) * ma + int(vals["c2"][idx]) * mb + (1 << (sh - 1))) >> sh
        assert vals["ad"][idx] == max(lo, min(hi, v))
    # MaxPool keeps the scale; padding never wins
    assert S["mp"] == S["cl"]
    for n, ch, oy, ox in np.ndindex(vals["mp"].shape):
        win = [int(vals["cl"][n, ch, oy * 2 + i - 1, ox * 2 + j - 1]) for i in range(2) for j in range(2)
               if oy * 2 + i - 1 >= 0 and ox * 2 + j - 1 >= 0]
        assert vals["mp"][n, ch, oy, ox] == max(win)
    # AvgPool (exclude pad): per position divisor, multiplier s_in / (d * s_out)
    ap = nd["ap"]
    for n, ch, oy, ox in np.ndindex(vals["ap"].shape):
        win = [int(vals["c2"][n, ch, oy * 2 + i - 1, ox * 2 + j - 1]) for i in range(2) for j in range(2)
               if oy * 2 + i - 1 >= 0 and ox * 2 + j - 1 >= 0]
        p = oy * vals["ap"].shape[3] + ox
        m, s = ap.mults[p], ap.shifts[p]
        assert m / 2 ** s == pytest.approx(S["c2"] / (len(win) * S["ap"]), rel=2 ** -15)
        assert vals["ap"][n, ch, oy, ox] == max(-127, min(127, (sum(win) * m + (1 << (s - 1))) >> s))
    # Concat: each input requantized alone
    cat = nd["cat"]
    parts = [vals["mp"], vals["ap"]]
    for i, part in enumerate(parts):
        m, s = cat.mults[i], cat.shifts[i]
        sl = vals["cat"][:, 3 * i:3 * i + 3]
        for idx in np.ndindex(part.shape):
            assert sl[idx] == max(-127, min(127, (int(part[idx]) * m + (1 << (s - 1))) >> s))
    # GAP
    m, s = nd["gp"].mults[0], nd["gp"].shifts[0]
    hw = vals["cat"].shape[2] * vals["cat"].shape[3]
    assert m / 2 ** s == pytest.approx(S["cat"] / (hw * S["gp"]), rel=2 ** -15)
    for n, ch in np.ndindex(vals["gp"].shape[:2]):
        tot = int(vals["cat"][n, ch].sum())
        assert vals["gp"][n, ch, 0, 0] == max(-127, min(127, (tot * m + (1 << (s - 1))) >> s))
    # integer output tracks the float output
    f = g.forward(x)
    np.testing.assert_allclose(q.dequantize_output(q.logits(x)), f, atol=0.08 * np.abs(f).max())


def test_standalone_clip_and_raw_output(seed):
    rng = np.random.default_rng(seed)
    c1 = _rand_conv(rng, 2, 3, 3, 1, 1, 1, 1)
    fc = Linear(rng.standard_normal((4, 75)), rng.standard_normal(4))
    g = Graph((2, 5, 5), (Node("c1", c1, (INPUT,)), Node("mp", MaxPool((1, 1)), ("c1",)),
                          Node("r", ReLU(), ("mp",)), Node("fl", Flatten(), ("r",)), Node("fc", fc, ("fl",))))
    x = rng.standard_normal((5, 2, 5, 5))
    q = build_qgraph(g, x)
    v = q.capture(x)
    np.testing.assert_array_equal(v["r"], np.clip(v["mp"], 0, 127))
    assert q.layer("c1").lo == -127 and not q.layer("c1").is_raw          # not fused: MaxPool between
    assert q.layer("fc").is_raw and q.scales["fc"] is None
    fcq = q.layer("fc")
    want = [[_wrap(sum(int(a) * int(w) for a, w in zip(v["fl"][n], fcq.weight.codes[o]))
                   + int(fcq.bias[o]), 32) for o in range(4)] for n in range(5)]
    np.testing.assert_array_equal(v["fc"], want)


def test_hooks_with_weights_and_mul(seed):
    rng = np.random.default_rng(seed)
    c, o, k, g, st, pad, dil, h, w = CONV_CASES[1]
    conv = _rand_conv(rng, c, o, k, g, st, pad, dil)
    graph = _one_conv_graph(conv, c, h, w)
    x = rng.standard_normal((3, c, h, w))
    q = build_qgraph(graph, x)
    ref = q.logits(x)
    codes = q.layer(0).weight.codes
    np.testing.assert_array_equal(q.with_weights(0, codes).logits(x), ref)
    np.testing.assert_array_equal(q.with_weights("conv", unlower_weights(codes, c // g, k, k)).logits(x), ref)
    np.testing.assert_array_equal(q.with_mul(exact_mul).logits(x), ref)
    doubled = q.with_weights(0, codes * 2)
    assert doubled.layer(0).weight_replaced and doubled.layer(0).weight.bits == 9
    assert not np.array_equal(doubled.logits(x), ref)
    same_units = q.with_weights(0, codes * 2, scale=q.layer(0).weight.scale[:, 0] / 2)
    assert np.abs(same_units.logits(x) - ref).max() <= 1
    with pytest.raises(QuantpeError, match="shape"):
        q.with_weights(0, codes[:, :-1])
    with pytest.raises(QuantpeError, match="weight layer"):
        q.with_mul(None, layers=["nope"])
    assert isinstance(q.layer(-1), QWeight)


def test_errors_are_one_line(seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((4, 3, 3, 3))
    w[0, 0, 0, 0] = np.nan
    bad = [lambda: Conv2d(w, np.zeros(4)),
           lambda: Conv2d(np.ones((4, 3, 3, 3)), np.zeros(4), groups=3),
           lambda: Graph((2, 5, 5), (Node("c", Conv2d(np.ones((4, 3, 3, 3)), np.zeros(4)), (INPUT,)),)),
           lambda: Graph((3, 2, 2), (Node("c", Conv2d(np.ones((4, 3, 3, 3)), np.zeros(4)), (INPUT,)),)),
           lambda: Graph((3,), (Node("a", Add(), (INPUT,)),)),
           lambda: Graph((3,), (Node("a", Linear(np.ones((2, 3)), np.zeros(2)), ("x",)),)),
           lambda: _one_conv_graph(_rand_conv(rng, 3, 4, 3, 1), 3, 5, 5).forward(np.ones((2, 3, 4, 5))),
           lambda: _one_conv_graph(_rand_conv(rng, 3, 4, 3, 1), 3, 5, 5).forward(
               np.full((2, 3, 5, 5), np.nan))]
    for f in bad:
        with pytest.raises(QuantpeError) as e:
            f()
        assert "\n" not in str(e.value) and str(e.value)


def test_save_load_round_trip_is_byte_stable(tmp_path, seed):
    rng = np.random.default_rng(seed)
    conv = _rand_conv(rng, 4, 6, 3, 2, 2, (1, 0, 2, 1), 1)
    g = Graph((4, 7, 6), (Node("c", conv, (INPUT,)), Node("r", ReLU6(), ("c",)),
                          Node("p", AvgPool((2, 2), count_include_pad=True, padding=1), ("r",)),
                          Node("m", MaxPool((2, 1), stride=(1, 2)), ("p",)), Node("f", Flatten(), ("m",))))
    p1 = save_graph(g, tmp_path / "a.npz", {"x": 1})
    g2, meta = load_graph(p1)
    assert meta == {"x": 1}
    p2 = save_graph(g2, tmp_path / "b.npz", {"x": 1})
    assert p1.read_bytes() == p2.read_bytes()
    x = rng.standard_normal((2, 4, 7, 6))
    np.testing.assert_array_equal(g.forward(x), g2.forward(x))
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(QuantpeError, match="cannot read"):
        load_graph(tmp_path / "bad.npz")


def test_unsigned_quantize_refuses_negative_values():
    from quantpe.golden.quantize import quantize
    q = quantize(np.array([0.0, 0.5, 1.0]), 8, signed=False)
    assert q.codes.tolist() == [0, 128, 255]                          # 0.5 * 255 = 127.5 -> 128
    with pytest.raises(QuantpeError, match=r"2 negative value\(s\) \(most negative -0.25\)"):
        quantize(np.array([0.5, -0.1, -0.25]), 8, signed=False)
    with pytest.raises(QuantpeError, match="negative"):
        quantize(np.array([-1.0, 1.0]), 4, signed=False, scale=0.1)
    assert quantize(np.array([-1.0, 1.0]), 8, signed=True).codes.tolist() == [-127, 127]
