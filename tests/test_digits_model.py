"""Digits reference model: data split, float MLP, bit-exact integer inference and its hooks.

The integer model is checked against `scalar_reference`, written here plainly with Python ints
(no numpy arithmetic, no golden helpers), from the quantized parameters the model exposes.
Random sample choices use SEED (printed; override with QUANTPE_SEED=...).
"""
from __future__ import annotations

import math
import os

import numpy as np
import pytest

from quantpe.golden.digits import load_digits_split
from quantpe.golden.dot import exact_mul
from quantpe.golden.errors import ConfigError, QuantpeError
from quantpe.golden.mlp import (LAYER_SIZES, MLP, load_mlp, load_reference_model, save_mlp,
                                train_digits_mlp)
from quantpe.golden.qmodel import (build_qmodel, fixed_point_multiplier, requantize,
                                   tensor_error)

SEED = int(os.environ.get("QUANTPE_SEED", "20240611"))
print(f"test_digits_model: SEED={SEED} (rerun with QUANTPE_SEED={SEED})")


@pytest.fixture(scope="module")
def data():
    return load_digits_split()


@pytest.fixture(scope="module")
def ref():
    return load_reference_model()


@pytest.fixture(scope="module")
def q8(ref):
    return build_qmodel(ref)


# ------------------------------------------------------------------ scalar reference

def _round_half_away(v: float) -> int:
    return int(math.floor(abs(v) + 0.5)) * (1 if v >= 0 else -1)


def _wrap(v: int, bits: int) -> int:
    return ((v + (1 << (bits - 1))) % (1 << bits)) - (1 << (bits - 1))


def scalar_reference(q, x_row, rules=None):
    """Plain-Python integer inference of one sample: (logits list, input codes per layer).

    rules: optional per-layer Python product functions (a, w) -> int (None: a * w).
    """
    rules = rules or [None] * len(q.layers)
    first = q.layers[0]
    hi0 = (1 << (first.in_bits - 1)) - 1
    a = [max(-hi0, min(hi0, _round_half_away(float(v) / first.in_scale))) for v in x_row]
    captured = []
    for layer, rule in zip(q.layers, rules):
        captured.append(list(a))
        codes = layer.weight.codes.tolist()
        bias = layer.bias.tolist()
        out = []
        for o in range(len(codes)):
            acc = 0
            for k in range(len(a)):
                acc += rule(a[k], codes[o][k]) if rule else a[k] * codes[o][k]
            acc = _wrap(acc + bias[o], q.acc_bits)
            if layer.is_last:
                out.append(acc)
            else:
                mult, shift = int(layer.mult[o]), int(layer.shift[o])
                y = (acc * mult + (1 << (shift - 1))) >> shift     # Python >> floors
                out.append(max(0, min((1 << (layer.out_bits - 1)) - 1, y)))
        a = out
    return a, captured


def _sample_indices(n, k, salt=0):
    rng = np.random.default_rng(SEED + salt)
    return rng.choice(n, size=k, replace=False)


# ------------------------------------------------------------------ data and float model

def test_split_is_fixed_and_scaled(data):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    ds = load_digits()
    xtr, xte, ytr, yte = train_test_split(ds.data, ds.target, test_size=0.2, random_state=0,
                                          stratify=ds.target)
    assert data.x_train.shape == (1437, 64) and data.x_test.shape == (360, 64)
    np.testing.assert_array_equal(data.x_train * 16, xtr)
    np.testing.assert_array_equal(data.x_test * 16, xte)
    np.testing.assert_array_equal(data.y_train, ytr)
    np.testing.assert_array_equal(data.y_test, yte)
    assert data.x_train.min() == 0.0 and data.x_train.max() == 1.0
    assert np.bincount(data.y_test).min() >= 35             # stratified: ~36 per class
    assert not data.x_train.flags.writeable


def test_reference_model_shape(ref):
    assert ref.sizes == LAYER_SIZES == (64, 64, 32, 10)
    for w in ref.weights:
        assert w.shape[1] % 16 == 0                          # StruM blocks of 16


def test_float_accuracy(ref, data):
    acc = ref.accuracy(data.x_test, data.y_test)
    print(f"float test accuracy {acc:.4f}")
    assert acc >= 0.95


def test_int8_accuracy_close_to_float(ref, q8, data):
    fa = ref.accuracy(data.x_test, data.y_test)
    ia = q8.accuracy(data.x_test, data.y_test)
    print(f"float {fa:.4f}  int8 {ia:.4f}")
    assert q8.w_bits == (8, 8, 8) and q8.a_bits == (8, 8, 8)
    assert abs(fa - ia) <= 0.015


def test_training_is_deterministic():
    a = train_digits_mlp(seed=3, epochs=2)
    b = train_digits_mlp(seed=3, epochs=2)
    c = train_digits_mlp(seed=4, epochs=2)
    for wa, wb in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(a.weights[0], c.weights[0])


def test_committed_weights_are_reproduced(ref):
    """The training recipe rebuilds the committed weights: bit for bit on the machine class they
    were made on; on processors whose numpy SIMD kernels round differently (AVX-512 here) to
    within 1e-9, and the int8 model built from them (codes, biases, requantizers) is identical."""
    fresh = train_digits_mlp(seed=0)
    for wa, wb in zip(fresh.weights + fresh.biases, ref.weights + ref.biases):
        np.testing.assert_allclose(wa, wb, rtol=0, atol=1e-9)
    for la, lb in zip(build_qmodel(fresh).layers, build_qmodel(ref).layers):
        np.testing.assert_array_equal(la.weight.codes, lb.weight.codes)
        np.testing.assert_array_equal(la.bias, lb.bias)
        for name in ("mult", "shift"):
            x, y = getattr(la, name), getattr(lb, name)
            assert (x is None and y is None) or np.array_equal(x, y), name


def test_save_load_roundtrip_is_byte_stable(ref, tmp_path):
    p1 = save_mlp(ref, tmp_path / "a.npz", {"x": 1})
    p2 = save_mlp(ref, tmp_path / "b.npz", {"x": 1})
    assert p1.read_bytes() == p2.read_bytes()
    back, meta = load_mlp(p1)
    assert meta == {"x": 1}
    for wa, wb in zip(back.weights + back.biases, ref.weights + ref.biases):
        np.testing.assert_array_equal(wa, wb)


# ------------------------------------------------------------------ quantized parameters

def test_quantized_parameters_follow_the_contract(ref, q8, data):
    for i, layer in enumerate(q8.layers):
        W, B = ref.weights[i], ref.biases[i]
        s_w = layer.weight.scale[:, 0]
        np.testing.assert_allclose(s_w, np.abs(W).max(axis=1) / 127, rtol=1e-15)
        assert layer.weight.codes.min() >= -127 and layer.weight.codes.max() <= 127
        assert np.abs(layer.weight.codes).max(axis=1).min() == 127     # peak maps to 127
        for o in range(W.shape[0]):
            assert layer.bias[o] == _round_half_away(B[o] / (layer.in_scale * s_w[o]))
            for k in range(0, W.shape[1], 7):
                assert layer.weight.codes[o, k] == _round_half_away(W[o, k] / s_w[o])
        if not layer.is_last:
            for o in range(W.shape[0]):
                m = layer.in_scale * s_w[o] / layer.out_scale
                mult, shift = int(layer.mult[o]), int(layer.shift[o])
                assert 1 << 15 <= mult < 1 << 16 and 1 <= shift <= 62
                assert abs(mult - m * 2.0 ** shift) <= 0.5
    floats = ref.layer_inputs(data.x_train)
    for layer, f in zip(q8.layers, floats):
        assert layer.in_scale == pytest.approx(np.abs(f).max() / 127, rel=1e-15)


def test_fixed_point_multiplier_corners():
    assert fixed_point_multiplier(0.75) == (49152, 16)
    assert fixed_point_multiplier(1.0) == (32768, 15)
    assert fixed_point_multiplier(1 - 2.0 ** -20) == (32768, 15)     # rounds up to 2^16: renormalised
    assert fixed_point_multiplier(2.0 ** -30) == (32768, 45)
    assert fixed_point_multiplier(0.75, mult_bits=4) == (12, 4)
    assert fixed_point_multiplier(1e-40) == (0, 62)                 # dead channel: always 0
    for bad in (0.0, -1.0, float("nan"), float("inf"), 2.0 ** 20):
        with pytest.raises(QuantpeError):
            fixed_point_multiplier(bad)


def test_requantize_rounds_half_up_and_clamps():
    acc = np.array([-3, -2, -1, 0, 1, 2, 3])
    # M = 1/2: exact values -1.5, -1, -0.5, 0, 0.5, 1, 1.5; half up -> -1, -1, 0, 0, 1, 1, 2
    np.testing.assert_array_equal(requantize(acc, 1, 1, 8, relu=False), [-1, -1, 0, 0, 1, 1, 2])
    np.testing.assert_array_equal(requantize(acc, 1, 1, 8, relu=True), [0, 0, 0, 0, 1, 1, 2])
    # M = 3/4: 2 -> 1.5 -> 2, -2 -> -1.5 -> -1, 10 -> 7.5 -> 8
    np.testing.assert_array_equal(requantize([2, -2, 10], 3, 2, 8, relu=False), [2, -1, 8])
    # saturation at qmax of the output width, per-channel broadcasting
    np.testing.assert_array_equal(requantize([[1000, 1000]], [1, 1], [1, 3], 8), [[127, 125]])
    np.testing.assert_array_equal(requantize([1000, -1000], 1, 1, 4), [7, 0])
    big = (1 << 31) - 1
    np.testing.assert_array_equal(requantize([big, -big - 1], (1 << 16) - 1, 62, 8, relu=False),
                                  [0, 0])


# ------------------------------------------------------------------ bit-exact inference

@pytest.mark.parametrize("kw", [dict(), dict(w_bits=4, a_bits=6), dict(w_bits=(8, 3, 5), a_bits=(8, 4, 7)),
                                dict(acc_bits=16)], ids=["int8", "w4a6", "mixed", "acc16"])
def test_integer_inference_matches_scalar_reference(ref, data, kw):
    q = build_qmodel(ref, **kw)
    idx = _sample_indices(len(data.x_test), 5)
    x = np.concatenate([data.x_test[idx], np.zeros((1, 64)), np.ones((1, 64))])   # + corners
    logits, caps = q.run_codes(q.quantize_input(x), capture=True)
    for n in range(len(x)):
        want_logits, want_caps = scalar_reference(q, x[n])
        assert logits[n].tolist() == want_logits, f"sample {n} (SEED={SEED})"
        for c, w in zip(caps, want_caps):
            assert c[n].tolist() == w
    if kw.get("acc_bits") == 16:       # the 16-bit case must really exercise the wrap
        accs = [np.abs(c @ l.weight.codes.T).max() for c, l in zip(caps, q.layers)]
        assert max(accs) >= 1 << 15


def test_predict_ties_go_to_lowest_index(ref, data):
    flat = MLP(ref.weights[:-1] + (np.zeros((10, 32)),), ref.biases[:-1] + (np.zeros(10),))
    q = build_qmodel(flat)
    x = data.x_test[:20]
    assert np.all(q.logits(x) == 0)
    np.testing.assert_array_equal(q.predict(x), np.zeros(20))
    np.testing.assert_array_equal(flat.predict(x), np.zeros(20))


# ------------------------------------------------------------------ hooks

def test_exact_mul_rule_equals_default(q8, data):
    x = data.x_test
    base = q8.logits(x)
    np.testing.assert_array_equal(q8.with_mul(exact_mul).logits(x), base)
    np.testing.assert_array_equal(build_qmodel(mul=exact_mul).logits(x), base)
    for i in range(3):
        np.testing.assert_array_equal(q8.with_mul(exact_mul, layers=i).logits(x), base)
    assert q8.with_mul(exact_mul).with_mul(None).layers[0].mul is None


def test_custom_rule_is_used_only_where_set(q8, data):
    calls = []

    def plus_one(a, w):
        calls.append((np.shape(a), np.shape(w)))
        return exact_mul(a, w) + 1

    x = data.x_test[:50]
    base_logits, base_caps = q8.run_codes(q8.quantize_input(x), capture=True)
    q = q8.with_mul(plus_one, layers=[2])
    logits, caps = q.run_codes(q.quantize_input(x), capture=True)
    for c, b in zip(caps, base_caps):
        np.testing.assert_array_equal(c, b)                    # layers 0, 1 untouched
    np.testing.assert_array_equal(logits, base_logits + 32)     # +1 per product, K = 32
    assert calls and all(len(sa) == 3 and len(sw) == 3 for sa, sw in calls)
    # a data-dependent rule in layer 0 against the scalar reference using the same rule
    idx = _sample_indices(len(data.x_test), 2, salt=1)
    q0 = q8.with_mul(lambda a, w: (exact_mul(a, w) >> 6) << 6, layers=0)   # truncated product
    got = q0.logits(data.x_test[idx])
    rules = [lambda a, w: ((a * w) >> 6) << 6, None, None]
    for n, i in enumerate(idx):
        assert got[n].tolist() == scalar_reference(q0, data.x_test[i], rules)[0]
    assert not np.array_equal(got, q8.logits(data.x_test[idx]))


def test_capture_shapes_and_ranges(q8, data):
    x = data.x_test[:17]
    caps = q8.capture(x)
    assert [c.shape for c in caps] == [(17, 64), (17, 64), (17, 32)]
    for c in caps:
        assert c.dtype == np.int64 and c.min() >= 0 and c.max() <= 127
    np.testing.assert_array_equal(caps[0], q8.quantize_input(x))
    assert max(c.max() for c in q8.capture(data.x_train)) == 127
    q4 = build_qmodel(a_bits=4)
    for c in q4.capture(x):
        assert c.min() >= 0 and c.max() <= 7


def test_replace_weights_unclipped(q8, data):
    x = data.x_test[:4]
    same = q8.with_weights(1, q8.layers[1].weight.codes)
    np.testing.assert_array_equal(same.logits(x), q8.logits(x))
    big = q8.layers[1].weight.codes * 4                        # up to +-508: beyond int8
    q = q8.with_weights(1, big)
    np.testing.assert_array_equal(q.layers[1].weight.codes, big)
    assert q.layers[1].weight.bits == 10 and q.layers[1].weight_replaced
    np.testing.assert_array_equal(q.layers[1].bias, q8.layers[1].bias)
    np.testing.assert_array_equal(q.layers[1].mult, q8.layers[1].mult)
    for n in range(len(x)):
        assert q.logits(x[n:n + 1])[0].tolist() == scalar_reference(q, x[n])[0]
    assert q8.layers[1].weight.codes.max() <= 127              # original untouched


def test_replace_weights_with_new_scale(ref, q8):
    l1 = q8.layers[1]
    s_new = l1.weight.scale[:, 0] / 4
    q = q8.with_weights(1, l1.weight.codes * 4, scale=s_new)
    np.testing.assert_allclose(q.layers[1].weight.dequantize(), l1.weight.dequantize(), rtol=1e-15)
    for o in range(l1.out_features):
        assert q.layers[1].bias[o] == _round_half_away(ref.biases[1][o] / (l1.in_scale * s_new[o]))
    assert np.all(q.layers[1].shift == l1.shift + 2)           # M is 4x smaller


def test_weight_errors(ref, q8):
    errs = q8.weight_errors()
    for i, e in enumerate(errs):
        d = ref.weights[i] - q8.layers[i].weight.codes * q8.layers[i].weight.scale
        assert e.mse == pytest.approx(np.mean(d ** 2), rel=1e-12)
        assert e.sqnr_db == pytest.approx(10 * np.log10(np.sum(ref.weights[i] ** 2) / np.sum(d ** 2)))
        assert e.sqnr_db > 35                                  # ~6 dB/bit at 8 bits
    sqnr = [build_qmodel(w_bits=b).weight_errors()[0].sqnr_db for b in range(8, 1, -1)]
    assert all(a > b for a, b in zip(sqnr, sqnr[1:]))          # fewer bits, more noise
    assert tensor_error([1.0, 2.0], [1.0, 2.0]).sqnr_db == math.inf
    acts = q8.activation_errors(ref, np.asarray(load_digits_split().x_test[:50]))
    assert len(acts) == 3 and all(a.sqnr_db > 20 for a in acts)


# ------------------------------------------------------------------ bad input

def test_bad_input_raises(ref, q8, data, tmp_path):
    w_nan = ref.weights[0].copy()
    w_nan[3, 5] = np.nan
    with pytest.raises(QuantpeError):
        MLP((w_nan,) + ref.weights[1:], ref.biases)
    with pytest.raises(QuantpeError):
        MLP(ref.weights, ref.biases[:-1])
    with pytest.raises(QuantpeError):
        MLP((ref.weights[0][:60],) + ref.weights[1:], (ref.biases[0][:60],) + ref.biases[1:])
    with pytest.raises(QuantpeError):
        MLP((ref.weights[1],) + ref.weights[1:], (ref.biases[0][:3],) + ref.biases[1:])
    with pytest.raises(QuantpeError):
        q8.logits(data.x_test[:, :63])
    with pytest.raises(QuantpeError):
        q8.logits(data.x_test[0])                              # 1-D: need (n, 64)
    x_nan = data.x_test[:2].copy()
    x_nan[0, 0] = np.nan
    with pytest.raises(QuantpeError):
        q8.logits(x_nan)
    with pytest.raises(QuantpeError):
        ref.logits(x_nan)
    with pytest.raises(QuantpeError):
        q8.run_codes(np.full((1, 64), 128))
    with pytest.raises(QuantpeError):
        q8.run_codes(np.zeros((1, 64)))                        # float codes
    for bad in (dict(w_bits=1), dict(w_bits=17), dict(a_bits=(8, 8)), dict(acc_bits=47),
                dict(w_bits=True)):
        with pytest.raises(ConfigError):
            build_qmodel(ref, **bad)
    with pytest.raises(QuantpeError):
        build_qmodel(ref, calib_x=np.ones((3, 10)))
    with pytest.raises(QuantpeError):
        q8.with_weights(0, np.zeros((64, 32), dtype=np.int64))
    with pytest.raises(QuantpeError):
        q8.with_weights(0, q8.layers[0].weight.codes + 0.5)
    w_bad = q8.layers[0].weight.codes.astype(float)
    w_bad[0, 0] = np.nan
    with pytest.raises(QuantpeError):
        q8.with_weights(0, w_bad)
    with pytest.raises(QuantpeError):
        q8.with_weights(0, q8.layers[0].weight.codes, scale=np.ones(3))
    with pytest.raises(QuantpeError):
        q8.with_weights(0, q8.layers[0].weight.codes, scale=np.zeros(64))
    with pytest.raises(QuantpeError):
        q8.with_weights(3, q8.layers[0].weight.codes)
    with pytest.raises(QuantpeError):
        q8.with_mul("exact")
    with pytest.raises(QuantpeError):
        load_mlp(tmp_path / "missing.npz")
