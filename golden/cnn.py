"""Reference digits CNN (and the digits MLP as a layer graph): architecture, training recipe, file;
the reference models' registry (`REFERENCE_MODELS`: mlp, cnn and the deep `resnet`).

Input: the digits split (`digits.load_digits_split`) as (N, 1, 8, 8) images in [0, 1]
(`to_images`: the 64 features row-major). Architecture (`ARCH`, per-sample shapes):

    conv1  Conv2d 1->16, 3x3, pad 1        + ReLU   (16, 8, 8)
    conv2  Conv2d 16->32, 3x3, pad 1       + ReLU   (32, 8, 8)
    pool1  MaxPool 2x2, stride 2                    (32, 4, 4)
    dw3    Conv2d 32->32, 3x3, pad 1, groups 32 (depthwise) + ReLU
    pw4    Conv2d 32->32, 1x1
    add4   Add(pw4, pool1)  (residual)     + ReLU   (32, 4, 4)
    pool2  AvgPool 2x2, stride 2                    (32, 2, 2)
    flat   Flatten                                  (128,)
    fc     Linear 128->10 (logits)

Test accuracy (360 images; integer: w8 a8 per-channel weights, per-tensor activations, calibrated
on the training split, argmax of the integer logits), checked by tests/test_cnn.py:
    digits CNN  float 0.9778  int8 0.9778      (8 epochs, 17.8 s on one core)
    digits MLP  float 0.9722  int8 0.9667      (for comparison, `qmodel`)

Training (`train.train_graph`): He-normal initialisation (fan_in = C_g*KH*KW), zero biases, mini-batch
Adam on the mean softmax cross-entropy, fixed seed (numpy default_rng) for the initialisation
and the per-epoch shuffles, float64, single-threaded BLAS. On a given machine the same seed gives
bit-identical weights; `python -m quantpe.golden.cnn` rebuilds golden/data/digits_cnn.npz byte for byte
(`graph_io.save_graph`: fixed zip timestamps), which `load_reference_cnn()` returns.
"""
from __future__ import annotations

import functools
import time
from importlib import resources
from pathlib import Path

import numpy as np

from .digits import N_CLASSES, load_digits_split, to_images
from quantpe.golden.layers import INPUT, Add, AvgPool, Conv2d, Flatten, Linear, MaxPool, ReLU
from quantpe.golden.graph_io import load_graph, save_graph
from quantpe.golden.qgraph import QGraph, build_qgraph
from quantpe.golden.graph import Graph, Node
from .errors import QuantpeError
from .mlp import MLP, load_reference_model
from .resnet import load_reference_resnet
from .train import loss_grad, train_digits_model, train_graph

__all__ = ["ARCH", "CNN_PATH", "TRAIN_DEFAULTS", "to_images", "digits_cnn", "loss_grad", "train_graph",
           "train_digits_cnn", "load_reference_cnn", "mlp_graph", "REFERENCE_MODELS", "reference_graph",
           "reference_qgraph", "model_data", "accuracy_report"]

CNN_PATH = Path(str(resources.files("quantpe.golden") / "data" / "digits_cnn.npz"))
TRAIN_DEFAULTS = dict(epochs=8, batch_size=32, lr=3e-3)
ARCH = "conv1-conv2-maxpool-dw3-pw4-add-avgpool-fc"


def digits_cnn(params: dict | None = None, rng: np.random.Generator | None = None) -> Graph:
    """The CNN graph with `params` ({(node, "weight"|"bias"): array}) or He-normal init from rng."""
    shapes = {"conv1": ((16, 1, 3, 3), 1), "conv2": ((32, 16, 3, 3), 1), "dw3": ((32, 1, 3, 3), 32),
              "pw4": ((32, 32, 1, 1), 1), "fc": ((N_CLASSES, 128), None)}
    if params is None:
        rng = rng or np.random.default_rng(0)
        params = {}
        for name, (shape, _) in shapes.items():
            fan_in = int(np.prod(shape[1:]))
            params[(name, "weight")] = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
            params[(name, "bias")] = np.zeros(shape[0])

    def conv(name, **kw):
        return Conv2d(params[(name, "weight")], params[(name, "bias")], groups=shapes[name][1], **kw)
    nodes = (
        Node("conv1", conv("conv1", padding=1), (INPUT,)), Node("relu1", ReLU(), ("conv1",)),
        Node("conv2", conv("conv2", padding=1), ("relu1",)), Node("relu2", ReLU(), ("conv2",)),
        Node("pool1", MaxPool((2, 2)), ("relu2",)),
        Node("dw3", conv("dw3", padding=1), ("pool1",)), Node("relu3", ReLU(), ("dw3",)),
        Node("pw4", conv("pw4"), ("relu3",)),
        Node("add4", Add(), ("pw4", "pool1")), Node("relu4", ReLU(), ("add4",)),
        Node("pool2", AvgPool((2, 2)), ("relu4",)), Node("flat", Flatten(), ("pool2",)),
        Node("fc", Linear(params[("fc", "weight")], params[("fc", "bias")]), ("flat",)),
    )
    return Graph((1, 8, 8), nodes)


def train_digits_cnn(seed: int = 0, epochs: int | None = None) -> Graph:
    """The reference recipe: `digits_cnn` initialised from default_rng(seed), TRAIN_DEFAULTS."""
    return train_digits_model(digits_cnn, TRAIN_DEFAULTS, seed, epochs)


@functools.lru_cache(maxsize=1)
def load_reference_cnn() -> Graph:
    """The committed digits CNN (golden/data/digits_cnn.npz); read once per process."""
    g, _ = load_graph(CNN_PATH)
    return g


def mlp_graph(model: MLP | None = None) -> Graph:
    """An MLP (default: the reference digits MLP) as a layer graph fc0, relu0, fc1, ...; its
    `build_qgraph` is bit-exact with `qmodel.build_qmodel` (tested)."""
    model = model or load_reference_model()
    nodes, prev = [], INPUT
    for i, (w, b) in enumerate(zip(model.weights, model.biases)):
        nodes.append(Node(f"fc{i}", Linear(w, b), (prev,)))
        prev = f"fc{i}"
        if i < model.n_layers - 1:
            nodes.append(Node(f"relu{i}", ReLU(), (prev,)))
            prev = f"relu{i}"
    return Graph((model.sizes[0],), tuple(nodes))


#: the reference models: the digits MLP, this CNN and the deep digits ResNet (`resnet`)
REFERENCE_MODELS = ("mlp", "cnn", "resnet")
IMAGE_MODELS = ("cnn", "resnet")


def reference_graph(name: str) -> Graph:
    """"mlp", "cnn" or "resnet": the committed reference model as a layer graph."""
    if name == "mlp":
        return mlp_graph()
    if name == "cnn":
        return load_reference_cnn()
    if name == "resnet":
        return load_reference_resnet()
    raise QuantpeError(f"reference model must be one of {', '.join(REFERENCE_MODELS)}, got {name!r}")


def model_data(name: str):
    """(x_train, y_train, x_test, y_test) of the digits split shaped for reference model `name`."""
    d = load_digits_split()
    if name in IMAGE_MODELS:
        return to_images(d.x_train), d.y_train, to_images(d.x_test), d.y_test
    reference_graph(name)
    return d.x_train, d.y_train, d.x_test, d.y_test


@functools.lru_cache(maxsize=16)
def reference_qgraph(name: str, w_bits: int = 8, a_bits: int = 8) -> QGraph:
    """Integer reference model, calibrated on the digits training split."""
    return build_qgraph(reference_graph(name), model_data(name)[0], w_bits=w_bits, a_bits=a_bits)


def accuracy_report(name: str, w_bits: int = 8, a_bits: int = 8) -> dict:
    g = reference_graph(name)
    xtr, ytr, xte, yte = model_data(name)
    q = reference_qgraph(name, w_bits, a_bits)
    return dict(model=name, float_train=g.accuracy(xtr, ytr), float_test=g.accuracy(xte, yte),
                int_train=q.accuracy(xtr, ytr), int_test=q.accuracy(xte, yte), w_bits=w_bits,
                a_bits=a_bits, n_test=len(yte))


def rebuild(out=CNN_PATH, seed: int = 0, epochs: int = TRAIN_DEFAULTS["epochs"]) -> str:
    """Retrain and write the CNN file; returns a summary line (accuracies, time)."""
    t0 = time.perf_counter()
    g = train_digits_cnn(seed=seed, epochs=epochs)
    dt = time.perf_counter() - t0
    meta = dict(TRAIN_DEFAULTS, epochs=epochs, seed=seed, arch=ARCH, optimizer="adam",
                split="load_digits, test_size=0.2, random_state=0, stratify=y",
                input_scaling="pixels/16, (1, 8, 8)")
    path = save_graph(g, out, meta)
    d = load_digits_split()
    q = build_qgraph(g, to_images(d.x_train))
    return (f"trained digits CNN ({ARCH}), seed {seed}, {epochs} epochs in {dt:.1f} s; test accuracy "
            f"float {g.accuracy(to_images(d.x_test), d.y_test):.4f}, int8 "
            f"{q.accuracy(to_images(d.x_test), d.y_test):.4f}; wrote {path}")


