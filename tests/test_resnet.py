"""The deep digits ResNet reference model: architecture, initialisation, accuracy, file.

The committed weights are checked by recomputing their float and INT8 accuracy (and the module
docstring's figures); the byte-for-byte rebuild (about 50 s of training) runs with --slow.
"""
from __future__ import annotations

import numpy as np
import pytest

import quantpe.golden.resnet as resnet_mod
from quantpe.golden.cnn import REFERENCE_MODELS, model_data, reference_graph, reference_qgraph
from quantpe.golden.graph_io import load_graph, save_graph
from quantpe.golden.layers import INPUT, Add, Conv2d, Linear
from quantpe.golden.resnet import (BLOCKS, CHANNELS, RESIDUAL_INIT, RESNET_PATH, TRAIN_DEFAULTS, digits_resnet,
                                   load_reference_resnet, rebuild)
from quantpe.golden.train import train_graph


@pytest.fixture(scope="module")
def net():
    return load_reference_resnet()


def test_registered_like_the_cnn(net):
    assert "resnet" in REFERENCE_MODELS and reference_graph("resnet") is net
    xtr, ytr, xte, yte = model_data("resnet")
    assert xtr.shape == (1437, 1, 8, 8) and xte.shape == (360, 1, 8, 8)
    np.testing.assert_array_equal(xte, model_data("cnn")[2])


def test_architecture(net):
    assert len(net.weight_layers) >= 50
    adds = [nd for nd in net.nodes if isinstance(nd.layer, Add)]
    assert len(adds) == sum(BLOCKS)
    for nd in adds:                                 # identity shortcut: the block input is a ReLU output
        branch, skip = nd.inputs
        assert isinstance(net.node(branch).layer, Conv2d) and skip != INPUT
        assert net.node(skip).layer.op == "Clip"
    convs = [nd for nd in net.nodes if isinstance(nd.layer, Conv2d)]
    assert sum(nd.layer.groups == nd.layer.in_channels > 1 for nd in convs) == sum(BLOCKS)   # depthwise
    assert {nd.layer.out_channels for nd in convs} == set(CHANNELS)
    assert isinstance(net.node(net.output).layer, Linear)
    assert net.input_shape == (1, 8, 8) and net.output_shape == (10,)
    _, meta = load_graph(RESNET_PATH)
    assert meta["seed"] == 0 and meta["epochs"] == TRAIN_DEFAULTS["epochs"]
    assert meta["residual_init"] == RESIDUAL_INIT and RESNET_PATH.stat().st_size < 100_000


def test_initialisation_scales_each_blocks_last_conv(seed):
    """He-normal (std sqrt(2 / fan_in)) everywhere but each block's second conv: RESIDUAL_INIT x."""
    g = digits_resnet(rng=np.random.default_rng(seed))
    adds = {nd.inputs[0] for nd in g.nodes if isinstance(nd.layer, Add)}
    z = {True: [], False: []}
    for name in g.weight_layers:
        w = g.node(name).layer.weight
        fan_in = w[0].size
        z[name in adds].append(w.ravel() / np.sqrt(2.0 / fan_in))
        assert not np.any(g.node(name).layer.bias)
    assert abs(np.std(np.concatenate(z[True])) - RESIDUAL_INIT) < 0.03
    assert abs(np.std(np.concatenate(z[False])) - 1.0) < 0.1
    logits = g.forward(model_data("resnet")[0][:64])        # 24 residual sums stay in range
    assert np.all(np.isfinite(logits)) and np.abs(logits).max() < 1e3


def test_accuracy_float_and_int8(net):
    _, _, xte, yte = model_data("resnet")
    f, i = net.accuracy(xte, yte), reference_qgraph("resnet").accuracy(xte, yte)
    print(f"digits ResNet test accuracy: float {f:.4f}, int8 {i:.4f} (n={len(yte)})")
    assert f >= 0.95 and i >= f - 0.015
    assert f"digits ResNet  float {f:.4f}  int8 {i:.4f}" in resnet_mod.__doc__      # the stated figures


def test_training_is_deterministic_and_file_is_byte_stable(tmp_path):
    xtr, ytr, _, _ = model_data("resnet")

    def train(s):
        rng = np.random.default_rng(s)
        return train_graph(digits_resnet(rng=rng), xtr[:64], ytr[:64], rng, epochs=1)
    a, b = train(5), train(5)
    assert save_graph(a, tmp_path / "a.npz").read_bytes() == save_graph(b, tmp_path / "b.npz").read_bytes()
    init = digits_resnet(rng=np.random.default_rng(5))
    assert not np.array_equal(a.node("pw2_11").layer.weight, init.node("pw2_11").layer.weight)   # it trained
    g, meta = load_graph(RESNET_PATH)
    assert save_graph(g, tmp_path / "c.npz", meta).read_bytes() == RESNET_PATH.read_bytes()


@pytest.mark.slow
def test_committed_resnet_rebuilds_byte_for_byte(tmp_path):
    line = rebuild(tmp_path / "resnet.npz")
    print(line)
    assert (tmp_path / "resnet.npz").read_bytes() == RESNET_PATH.read_bytes()
