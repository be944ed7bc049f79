"""Digits CNN reference model and the generic quantized-graph builder on the reference models.

The integer CNN is checked against `scalar_cnn`, a plain-Python (ints, loops) interpreter of the
integer rules of `layers.py` written here from the quantized parameters the QGraph exposes.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from quantpe.golden.cnn import (CNN_PATH, TRAIN_DEFAULTS, digits_cnn, load_reference_cnn, mlp_graph,
                                model_data, rebuild, reference_qgraph, to_images, train_graph)
from quantpe.golden.digits import load_digits_split
from quantpe.golden.errors import QuantpeError
from quantpe.golden.layers import INPUT, Add, AvgPool, Conv2d, Linear, MaxPool
from quantpe.golden.graph_io import load_graph, save_graph
from quantpe.golden.qmodel import build_qmodel


@pytest.fixture(scope="module")
def cnn():
    return load_reference_cnn()


@pytest.fixture(scope="module")
def q8():
    return reference_qgraph("cnn")


def test_architecture(cnn):
    convs = [nd for nd in cnn.nodes if isinstance(nd.layer, Conv2d)]
    assert len(convs) >= 4
    assert any(nd.layer.groups == nd.layer.in_channels > 1 for nd in convs)          # depthwise
    assert any(isinstance(nd.layer, Add) for nd in cnn.nodes)
    assert any(isinstance(nd.layer, (MaxPool, AvgPool)) for nd in cnn.nodes)
    assert isinstance(cnn.node(cnn.output).layer, Linear)
    for nd in convs:                                      # every conv is followed by a ReLU or the add
        assert cnn.consumers(nd.name)
    assert cnn.input_shape == (1, 8, 8) and cnn.output_shape == (10,)
    _, meta = load_graph(CNN_PATH)
    assert meta["seed"] == 0 and meta["epochs"] == TRAIN_DEFAULTS["epochs"]


def test_accuracy_float_and_int8(cnn, q8):
    xtr, ytr, xte, yte = model_data("cnn")
    f, i = cnn.accuracy(xte, yte), q8.accuracy(xte, yte)
    print(f"digits CNN test accuracy: float {f:.4f}, int8 {i:.4f} (n={len(yte)})")
    assert f >= 0.97 and i >= 0.97
    import quantpe.golden.cnn as cnn_mod
    assert f"digits CNN  float {f:.4f}  int8 {i:.4f}" in cnn_mod.__doc__            # the stated figures
    # calibration: every scale is max |float tensor| / 127 over the training split
    _, floats = cnn.forward(xtr, capture=True)
    assert q8.scales[INPUT] == np.abs(xtr).max() / 127
    assert q8.scales["conv1"] == np.abs(floats["relu1"]).max() / 127          # fused ReLU
    assert q8.scales["pool1"] == q8.scales["conv2"]                            # MaxPool keeps it
    assert q8.scales["add4"] == np.abs(floats["relu4"]).max() / 127


def test_mlp_graph_is_bit_exact_with_qmodel():
    d = load_digits_split()
    q_mlp = build_qmodel()
    q_graph = reference_qgraph("mlp")
    np.testing.assert_array_equal(q_graph.logits(d.x_test), q_mlp.logits(d.x_test))
    caps = q_graph.layer_inputs(d.x_test)
    for name, ref in zip(q_graph.weight_layers, q_mlp.capture(d.x_test)):
        np.testing.assert_array_equal(caps[name], ref)
    from quantpe.golden.mlp import load_reference_model
    np.testing.assert_array_equal(mlp_graph().forward(d.x_test), load_reference_model().logits(d.x_test))


# ------------------------------------------------------------------ plain-Python integer reference

def _wrap(v, bits):
    return ((v + (1 << (bits - 1))) % (1 << bits)) - (1 << (bits - 1))


def _rq(acc, m, s, lo, hi):
    return max(lo, min(hi, (acc * m + (1 << (s - 1))) >> s))


def scalar_cnn(q, a0):
    """One sample's integer logits through the reference CNN, Python ints only."""
    nodes = {nd.name: nd for nd in q.nodes}
    v = {INPUT: a0.tolist()}
    for nd in q.nodes:
        lay = nd.layer
        if isinstance(lay, Conv2d):
            x = v[nd.inputs[0]]
            _C, H, W = len(x), len(x[0]), len(x[0][0])
            wl = nd.weight.codes.tolist()
            kh, kw = lay.kernel
            cg, o_, g = lay.cg, lay.out_channels, lay.groups
            pt, pl = lay.padding[0], lay.padding[1]
            out = []
            for o in range(o_):
                gi = o // (o_ // g)
                plane = []
                for oy in range(H):
                    row = []
                    for ox in range(W):
                        acc = int(nd.bias[o])
                        for ky in range(kh):
                            for kx in range(kw):
                                iy, ix = oy + ky - pt, ox + kx - pl
                                if 0 <= iy < H and 0 <= ix < W:
                                    for c in range(cg):      # r = (ky*KW + kx)*C_g + c
                                        acc += x[gi * cg + c][iy][ix] * wl[o][(ky * kw + kx) * cg + c]
                        row.append(_rq(_wrap(acc, 32), int(nd.mult[o]), int(nd.shift[o]), nd.lo, nd.hi))
                    plane.append(row)
                out.append(plane)
            v[nd.name] = out
        elif isinstance(lay, Linear):
            x = v[nd.inputs[0]]
            wl = nd.weight.codes.tolist()
            v[nd.name] = [_wrap(sum(a * w for a, w in zip(x, wl[o])) + int(nd.bias[o]), 32)
                          for o in range(len(wl))]
        elif nd.kind == "pass":
            v[nd.name] = v[nd.inputs[0]]
        elif nd.kind == "maxpool":
            x = v[nd.inputs[0]]
            v[nd.name] = [[[max(x[c][2 * i + di][2 * j + dj] for di in range(2) for dj in range(2))
                            for j in range(len(x[0][0]) // 2)] for i in range(len(x[0]) // 2)]
                          for c in range(len(x))]
        elif nd.kind == "add":
            a, b = v[nd.inputs[0]], v[nd.inputs[1]]
            (ma, mb), s = nd.mults, nd.shifts[0]
            v[nd.name] = [[[_rq(a[c][i][j] * ma + b[c][i][j] * mb, 1, s, nd.lo, nd.hi)
                            for j in range(len(a[0][0]))] for i in range(len(a[0]))] for c in range(len(a))]
        elif nd.kind == "avgpool":
            x = v[nd.inputs[0]]
            ow = len(x[0][0]) // 2
            v[nd.name] = [[[_rq(sum(x[c][2 * i + di][2 * j + dj] for di in range(2) for dj in range(2)),
                                nd.mults[i * ow + j], nd.shifts[i * ow + j], nd.lo, nd.hi)
                            for j in range(ow)] for i in range(len(x[0]) // 2)] for c in range(len(x))]
        elif nd.kind == "flatten":
            x = v[nd.inputs[0]]
            v[nd.name] = [e for plane in x for row in plane for e in row]
        else:
            raise AssertionError(nd.kind)
    assert nodes[q.output].is_raw
    return v[q.output]


def test_integer_cnn_matches_plain_python(q8, seed):
    d = load_digits_split()
    idx = np.random.default_rng(seed).choice(len(d.y_test), size=2, replace=False)
    x = to_images(d.x_test[idx])
    a0 = q8.quantize_input(x)
    for n in range(2):
        assert scalar_cnn(q8, a0[n]) == q8.run_codes(a0[n:n + 1])[0].tolist()
    # mutation: conv2's requantizer shift one too small must be seen by the same check
    nd = q8.layer("conv2")
    bad = q8._replace_nodes({"conv2": dataclasses.replace(nd, shift=nd.shift - 1)})
    assert any(scalar_cnn(q8, a0[n]) != bad.run_codes(a0[n:n + 1])[0].tolist() for n in range(2))


def test_training_is_deterministic_and_file_is_byte_stable(tmp_path):
    xtr, ytr, _, _ = model_data("cnn")

    def train(seed):
        rng = np.random.default_rng(seed)
        return train_graph(digits_cnn(rng=rng), xtr[:128], ytr[:128], rng, epochs=2)
    a, b, c = train(3), train(3), train(4)
    pa, pb = save_graph(a, tmp_path / "a.npz"), save_graph(b, tmp_path / "b.npz")
    assert pa.read_bytes() == pb.read_bytes()
    assert not np.array_equal(c.node("conv1").layer.weight, a.node("conv1").layer.weight)
    assert not np.array_equal(a.node("conv1").layer.weight, digits_cnn(rng=np.random.default_rng(3)).node(
        "conv1").layer.weight)                                                       # it trained
    g, _ = load_graph(CNN_PATH)
    save_graph(g, tmp_path / "c.npz", load_graph(CNN_PATH)[1])
    assert (tmp_path / "c.npz").read_bytes() == CNN_PATH.read_bytes()


@pytest.mark.slow
def test_committed_cnn_rebuilds_byte_for_byte(tmp_path):
    line = rebuild(tmp_path / "cnn.npz")
    print(line)
    assert (tmp_path / "cnn.npz").read_bytes() == CNN_PATH.read_bytes()


def test_bad_inputs(cnn, q8):
    with pytest.raises(QuantpeError, match=r"shape \(n, 1, 8, 8\)"):
        cnn.forward(np.zeros((2, 64)))
    with pytest.raises(QuantpeError, match="shape"):
        q8.logits(np.zeros((2, 1, 8, 9)))
    with pytest.raises(QuantpeError):
        to_images(np.zeros((2, 63)))
    with pytest.raises(QuantpeError, match="reference model"):
        model_data("vgg")
    assert math.isfinite(digits_cnn().forward(np.zeros((1, 1, 8, 8))).sum())
