"""Stripes on the digits model (golden/stripes_eval.py): precision rule, profile, cycle totals."""
import numpy as np
import pytest

from quantpe.golden.digits import load_digits_split
from quantpe.golden.errors import QuantpeError
from quantpe.golden.qmodel import build_qmodel
from quantpe.golden.stripes import StripesConfig, brick_cycles
from quantpe.golden.stripes_eval import (accuracy_with_precisions, evaluate_stripes, layer_windows,
                                         precision_histogram, run_windowed)
from quantpe.golden.stripes_precision import covering_msb, window_value


def scalar_window(a: int, msb: int, lsb: int, a_bits: int) -> int:
    """Straightforward reference: take bits msb..lsb of the a_bits-bit two's complement pattern,
    bit msb weighs -2^msb, the others +2^i; bits outside the window contribute nothing."""
    pattern = a % (1 << a_bits)
    v = 0
    for i in range(lsb, msb + 1):
        if (pattern >> i) & 1:
            v += -(1 << i) if i == msb else (1 << i)
    return v


@pytest.fixture(scope="module")
def q8():
    return build_qmodel(a_bits=8)


@pytest.fixture(scope="module")
def data():
    return load_digits_split()


def test_scalar_reference_matches_window_value_exhaustive():
    a = np.arange(-128, 128)
    for msb in range(8):
        for lsb in range(msb + 1):
            got = window_value(a, msb, lsb, 8, True)
            want = [scalar_window(int(x), msb, lsb, 8) for x in a]
            assert got.tolist() == want, (msb, lsb)


def test_reduced_model_uses_window_rule(q8, data):
    """run_windowed feeds each layer exactly scalar_window(codes) and the model's own layer math."""
    rng = np.random.default_rng(5)
    x = data.x_test[:40]
    msbs = [7, 6, 7]                      # 6 < covering msb: bits above the window are ignored too
    prec = [int(rng.integers(1, 9)) for _ in range(3)]
    windows = layer_windows(q8, prec, msbs)
    logits, seen = run_windowed(q8, x, windows)
    a = q8.quantize_input(x)
    for layer, (msb, lsb), (codes, vals) in zip(q8.layers, windows, seen):
        assert np.array_equal(codes, a)
        ref = np.array([[scalar_window(int(v), msb, lsb, 8) for v in row] for row in a])
        assert np.array_equal(vals, ref)
        acc = layer.accumulators(ref, q8.acc_bits)
        a = acc if layer.is_last else layer.outputs(acc)
    assert np.array_equal(logits, a)


def test_full_precision_is_the_plain_model(q8, data):
    msbs = [covering_msb(c, 8, True) for c in q8.capture(data.x_train)]
    assert accuracy_with_precisions(q8, (8, 8, 8), data.x_test, data.y_test, msbs) == \
        q8.accuracy(data.x_test, data.y_test)
    # 1-bit windows at msb 7 keep only the (always 0) sign bit of ReLU codes: all inputs become 0
    logits, seen = run_windowed(q8, data.x_test[:10], layer_windows(q8, (1, 1, 1), [7, 7, 7]))
    assert all(not v.any() for _, v in seen)


def test_bad_precision_vectors(q8):
    with pytest.raises(QuantpeError):
        layer_windows(q8, (8, 8), [7, 7, 7])
    with pytest.raises(QuantpeError):
        layer_windows(q8, (0, 8, 8), [7, 7, 7])
    with pytest.raises(QuantpeError):
        layer_windows(q8, (9, 8, 8), [7, 7, 7])


@pytest.mark.parametrize("a_bits", [8, 16])
def test_profile_meets_tolerance(a_bits, data):
    ev = evaluate_stripes(a_bits)
    q = build_qmodel(a_bits=a_bits)
    ref = q.accuracy(data.x_train, data.y_train)           # independent of the profiler
    p = ev.profile
    assert p.reference == ref and p.threshold == ref - ev.tolerance
    msbs = [covering_msb(c, a_bits, True) for c in q.capture(data.x_train)]
    assert list(ev.msbs) == msbs
    got = accuracy_with_precisions(q, p.precisions, data.x_train, data.y_train, msbs)
    assert got == p.accuracy and got >= ref - ev.tolerance
    assert all(1 <= x <= a_bits for x in p.precisions)
    # the per-layer phase is minimal: one bit fewer (other layers full) fails the threshold
    for i, pi in enumerate(p.independent):
        if pi > 1:
            trial = [a_bits] * 3
            trial[i] = pi - 1
            assert accuracy_with_precisions(q, trial, data.x_train, data.y_train, msbs) < ref - ev.tolerance
    assert ev.test_accuracy_profiled == accuracy_with_precisions(q, p.precisions, data.x_test, data.y_test, msbs)


def _bricks(t, lanes):
    n, k = t.shape
    nb = -(-k // lanes)
    xp = np.zeros((n, nb * lanes), np.int64)
    xp[:, :k] = t
    return xp.reshape(-1, lanes)


@pytest.mark.parametrize("a_bits,lanes", [(8, 16), (16, 16), (8, 4)])
def test_cycle_totals_match_brick_cycles(a_bits, lanes, data):
    ev = evaluate_stripes(a_bits, lanes=lanes, group=lanes)
    q = build_qmodel(a_bits=a_bits)
    full = q.capture(data.x_test)
    _, seen = run_windowed(q, data.x_test, ev.windows)
    base = dict(lanes=lanes, a_bits=a_bits, w_bits=8)
    cfgs = {"static": StripesConfig(**base), "parallel": StripesConfig(mode="parallel", **base),
            "lead": StripesConfig(mode="dynamic", **base),
            "trail": StripesConfig(mode="dynamic", trailing=True, **base)}
    n_groups = 0
    for i, (layer, lc) in enumerate(zip(q.layers, ev.layers)):
        M = layer.out_features
        msb, lsb = ev.windows[i]
        p = msb - lsb + 1
        fields = _bricks(seen[i][1] >> lsb, lanes)
        raw = _bricks(full[i], lanes)
        n_groups += len(fields)
        assert lc["precision"] == p
        assert lc["parallel"] == M * int(brick_cycles(cfgs["parallel"], raw).sum()) == M * len(raw)
        assert lc["serial_full"] == M * len(raw) * a_bits
        assert lc["stripes"] == M * int(brick_cycles(cfgs["static"], fields, p - 1, 0).sum())
        assert lc["stripes"] == M * int(brick_cycles(cfgs["static"], raw, msb, lsb).sum())
        assert lc["dyn_lead"] == M * int(brick_cycles(cfgs["lead"], fields).sum())
        assert lc["dyn_trail"] == M * int(brick_cycles(cfgs["trail"], fields).sum())
        assert lc["dyn_lead_lossless"] == M * int(brick_cycles(cfgs["lead"], raw).sum())
        assert lc["dyn_trail_lossless"] == M * int(brick_cycles(cfgs["trail"], raw).sum())
        # profiled fields are what the static window computes, shifted down by lsb
        assert np.array_equal(fields << lsb, _bricks(window_value(seen[i][0], msb, lsb,
                                                                  a_bits, True), lanes))
    for k, v in ev.totals.items():
        assert v == sum(lc[k] for lc in ev.layers)
    assert sum(ev.hist_lead) == sum(ev.hist_trail) == n_groups
    assert ev.hist_lead[0] == ev.hist_trail[0] == 0


def test_histogram_small_case():
    cfg = StripesConfig(lanes=4, a_bits=8, mode="dynamic", group=2)
    t = np.array([[0, 0, 1, 0, 3, 0, 64, 4]])        # two bricks, four groups
    # signed precisions: {0,0} -> 1, {1,0} -> 2, {3,0} -> 3, {64,4} -> 8
    assert precision_histogram(cfg, [t], False).tolist() == [0, 1, 1, 1, 0, 0, 0, 0, 1]
    # trailing: {64, 4} -> window [7..2] -> 6
    assert precision_histogram(cfg, [t], True).tolist() == [0, 1, 1, 1, 0, 0, 1, 0, 0]
