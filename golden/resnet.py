"""Reference deep residual CNN on the digits: architecture, training recipe, file.

Input: the digits images (`digits.to_images`, (N, 1, 8, 8) in [0, 1]). Architecture (`ARCH`,
per-sample shapes; BLOCKS residual blocks per stage, CHANNELS channels per stage):

    conv0   Conv2d 1->8, 3x3, pad 1 + ReLU                          (8, 8, 8)
    stage 1, block b = 0..11:                                        (8, 8, 8)
      dw1_b   Conv2d 8->8, 3x3, pad 1, groups 8 (depthwise) + ReLU
      pw1_b   Conv2d 8->8, 1x1
      add1_b  Add(pw1_b, block input) + ReLU (relu1_b)
    pool1   MaxPool 2x2, stride 2                                    (8, 4, 4)
    pw_up   Conv2d 8->16, 1x1 + ReLU                                 (16, 4, 4)
    stage 2, block b = 0..11: the same with 16 channels (dw2_b, pw2_b, add2_b, relu2_b)
    pool2   AvgPool 2x2, stride 2                                    (16, 2, 2)
    flat    Flatten                                                  (64,)
    fc      Linear 64->10 (logits)

51 weight layers (1 + 2 x 12 + 1 + 2 x 12 + 1), 7,882 parameters, 190k MACs per sample.
Test accuracy (360 images; integer: w8 a8 per-channel weights, per-tensor activations,
calibrated on the training split, argmax of the integer logits), checked by tests/test_resnet.py:
    digits ResNet  float 0.9639  int8 0.9528      (12 epochs, 48 s on one core)

Training: `train.train_graph` (mini-batch Adam, float64, single-threaded BLAS) from He-normal
initialisation (fan_in = C_g*KH*KW), zero biases, except that every block's last conv (pw*_b)
starts at RESIDUAL_INIT x He-normal: without batch normalisation the 24 residual sums would
otherwise grow the activations' variance about 2x per block. Fixed seed (numpy default_rng) for
the initialisation and the per-epoch shuffles. `rebuild()` (`quantpe model train --model resnet`)
writes golden/data/digits_resnet.npz byte for byte (`graph_io.save_graph`), which
`load_reference_resnet()` returns.
"""
from __future__ import annotations

import functools
import time
from importlib import resources
from pathlib import Path

import numpy as np

from .digits import N_CLASSES, load_digits_split, to_images
from quantpe.golden.graph import Graph, Node
from quantpe.golden.graph_io import load_graph, save_graph
from quantpe.golden.layers import INPUT, Add, AvgPool, Conv2d, Flatten, Linear, MaxPool, ReLU
from quantpe.golden.qgraph import build_qgraph
from .train import train_digits_model

__all__ = ["ARCH", "RESNET_PATH", "TRAIN_DEFAULTS", "BLOCKS", "CHANNELS", "RESIDUAL_INIT", "digits_resnet",
           "train_digits_resnet", "load_reference_resnet", "rebuild"]

RESNET_PATH = Path(str(resources.files("quantpe.golden") / "data" / "digits_resnet.npz"))
TRAIN_DEFAULTS = dict(epochs=12, batch_size=32, lr=3e-3)
#: residual blocks per stage, channels per stage
BLOCKS = (12, 12)
CHANNELS = (8, 16)
#: scale of the He-normal initialisation of each block's last conv
RESIDUAL_INIT = 0.3
ARCH = "conv0-12x(dw-pw-add)-maxpool-pw_up-12x(dw-pw-add)-avgpool-fc"


def _shapes() -> dict:
    """{conv or fc name: (weight shape, groups)} in graph order."""
    c1, c2 = CHANNELS
    s = {"conv0": ((c1, 1, 3, 3), 1)}
    for stage, c in ((1, c1), (2, c2)):
        if stage == 2:
            s["pw_up"] = ((c2, c1, 1, 1), 1)
        for b in range(BLOCKS[stage - 1]):
            s[f"dw{stage}_{b}"] = ((c, 1, 3, 3), c)
            s[f"pw{stage}_{b}"] = ((c, c, 1, 1), 1)
    s["fc"] = ((N_CLASSES, c2 * 4), None)
    return s


def _is_residual_end(name: str) -> bool:
    return name.startswith("pw") and name != "pw_up"


def digits_resnet(params: dict | None = None, rng: np.random.Generator | None = None) -> Graph:
    """The ResNet graph with `params` ({(node, "weight"|"bias"): array}) or the initialisation of
    the module docstring from rng."""
    shapes = _shapes()
    if params is None:
        rng = rng or np.random.default_rng(0)
        params = {}
        for name, (shape, _) in shapes.items():
            fan_in = int(np.prod(shape[1:]))
            w = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
            params[(name, "weight")] = w * RESIDUAL_INIT if _is_residual_end(name) else w
            params[(name, "bias")] = np.zeros(shape[0])

    def conv(name, **kw):
        return Conv2d(params[(name, "weight")], params[(name, "bias")], groups=shapes[name][1], **kw)
    nodes = [Node("conv0", conv("conv0", padding=1), (INPUT,)), Node("relu0", ReLU(), ("conv0",))]
    prev = "relu0"
    for stage in (1, 2):
        if stage == 2:
            nodes += [Node("pool1", MaxPool((2, 2)), (prev,)), Node("pw_up", conv("pw_up"), ("pool1",)),
                      Node("relu_up", ReLU(), ("pw_up",))]
            prev = "relu_up"
        for b in range(BLOCKS[stage - 1]):
            t = f"{stage}_{b}"
            nodes += [Node(f"dw{t}", conv(f"dw{t}", padding=1), (prev,)), Node(f"relu_dw{t}", ReLU(), (f"dw{t}",)),
                      Node(f"pw{t}", conv(f"pw{t}"), (f"relu_dw{t}",)), Node(f"add{t}", Add(), (f"pw{t}", prev)),
                      Node(f"relu{t}", ReLU(), (f"add{t}",))]
            prev = f"relu{t}"
    nodes += [Node("pool2", AvgPool((2, 2)), (prev,)), Node("flat", Flatten(), ("pool2",)),
              Node("fc", Linear(params[("fc", "weight")], params[("fc", "bias")]), ("flat",))]
    return Graph((1, 8, 8), tuple(nodes))


def train_digits_resnet(seed: int = 0, epochs: int | None = None) -> Graph:
    """The reference recipe: `digits_resnet` initialised from default_rng(seed), TRAIN_DEFAULTS."""
    return train_digits_model(digits_resnet, TRAIN_DEFAULTS, seed, epochs)


@functools.lru_cache(maxsize=1)
def load_reference_resnet() -> Graph:
    """The committed digits ResNet (golden/data/digits_resnet.npz); read once per process."""
    g, _ = load_graph(RESNET_PATH)
    return g


def rebuild(out=RESNET_PATH, seed: int = 0, epochs: int = TRAIN_DEFAULTS["epochs"]) -> str:
    """Retrain and write the ResNet file; returns a summary line (accuracies, time)."""
    t0 = time.perf_counter()
    g = train_digits_resnet(seed=seed, epochs=epochs)
    dt = time.perf_counter() - t0
    meta = dict(TRAIN_DEFAULTS, epochs=epochs, seed=seed, arch=ARCH, optimizer="adam",
                blocks=list(BLOCKS), channels=list(CHANNELS), residual_init=RESIDUAL_INIT,
                split="load_digits, test_size=0.2, random_state=0, stratify=y",
                input_scaling="pixels/16, (1, 8, 8)")
    path = save_graph(g, out, meta)
    d = load_digits_split()
    q = build_qgraph(g, to_images(d.x_train))
    return (f"trained digits ResNet ({len(g.weight_layers)} weight layers), seed {seed}, {epochs} epochs in "
            f"{dt:.1f} s; test accuracy float {g.accuracy(to_images(d.x_test), d.y_test):.4f}, int8 "
            f"{q.accuracy(to_images(d.x_test), d.y_test):.4f}; wrote {path}")
