"""Float reference MLP for the digits data set: model, numpy training, weight file.

Model: 64 -> 64 -> 32 -> 10, ReLU after every hidden layer, the last layer gives logits.
Weights are stored per layer as (out, in) float64 matrices, so one output channel is one row
and the reduction axis is the last axis (StruM cuts rows into blocks of 16); biases are (out,).
Reduction lengths 64, 64, 32 are multiples of 16.

Training (`train_digits_mlp`): He-normal initialisation, mini-batch Adam on the mean softmax
cross-entropy plus L2 weight decay on the weight matrices, fixed seed (numpy default_rng) for the
initialisation and the per-epoch shuffles. Float64 throughout; on a given machine the same seed
gives bit-identical weights. `python -m quantpe.golden.mlp` rebuilds `golden/data/digits_mlp.npz`
(written with fixed zip timestamps so the same weights give the same bytes); the committed file
is what `load_reference_model()` returns.
"""
from __future__ import annotations

import functools
import json
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from .digits import N_CLASSES, N_FEATURES, load_digits_split
from .errors import QuantpeError
from .npz import write_npz

__all__ = ["MLP", "LAYER_SIZES", "REFERENCE_PATH", "TRAIN_DEFAULTS", "check_batch",
           "loss_and_grads", "train_mlp", "train_digits_mlp", "save_mlp", "load_mlp",
           "load_reference_model"]

LAYER_SIZES = (N_FEATURES, 64, 32, N_CLASSES)
REFERENCE_PATH = Path(str(resources.files("quantpe.golden") / "data" / "digits_mlp.npz"))
TRAIN_DEFAULTS = dict(epochs=60, batch_size=32, lr=2e-3, weight_decay=0.0)


def check_batch(x, n_features: int, what: str = "input") -> np.ndarray:
    """`x` as a float64 (n, n_features) array; QuantpeError on a wrong shape or NaN/inf."""
    try:
        x = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise QuantpeError(f"{what} is not a numeric array: {e}") from None
    if x.ndim != 2 or x.shape[1] != n_features:
        raise QuantpeError(f"{what} must have shape (n, {n_features}), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise QuantpeError(f"{what} contains NaN or infinite values")
    return x


def _frozen(a) -> np.ndarray:
    a = np.array(a, dtype=np.float64)       # copy
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class MLP:
    """Fully connected ReLU network; weights[i] is (out_i, in_i), biases[i] is (out_i,)."""

    weights: tuple
    biases: tuple

    def __post_init__(self):
        ws, bs = tuple(self.weights), tuple(self.biases)
        if len(ws) == 0 or len(ws) != len(bs):
            raise QuantpeError(f"MLP needs as many biases as weight matrices (>= 1), "
                               f"got {len(ws)} and {len(bs)}")
        fw, fb = [], []
        for i, (w, b) in enumerate(zip(ws, bs)):
            try:
                w, b = _frozen(w), _frozen(b)
            except (TypeError, ValueError) as e:
                raise QuantpeError(f"layer {i}: weights are not numeric: {e}") from None
            if w.ndim != 2 or b.shape != (w.shape[0],):
                raise QuantpeError(f"layer {i}: need weight (out, in) and bias (out,), "
                                   f"got {w.shape} and {b.shape}")
            if i > 0 and w.shape[1] != fw[-1].shape[0]:
                raise QuantpeError(f"layer {i}: takes {w.shape[1]} inputs but layer {i - 1} "
                                   f"gives {fw[-1].shape[0]}")
            if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
                raise QuantpeError(f"layer {i}: weights or bias contain NaN or infinite values")
            fw.append(w)
            fb.append(b)
        object.__setattr__(self, "weights", tuple(fw))
        object.__setattr__(self, "biases", tuple(fb))

    @property
    def sizes(self) -> tuple:
        """(inputs, hidden..., outputs)."""
        return (self.weights[0].shape[1],) + tuple(w.shape[0] for w in self.weights)

    @property
    def n_layers(self) -> int:
        return len(self.weights)

    def layer_inputs(self, x) -> list:
        """Float input of every layer for batch `x`: [x, relu(h1), relu(h2), ...]."""
        a = check_batch(x, self.sizes[0])
        out = [a]
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            a = np.maximum(a @ w.T + b, 0.0)
            out.append(a)
        return out

    def logits(self, x) -> np.ndarray:
        a = self.layer_inputs(x)[-1]
        return a @ self.weights[-1].T + self.biases[-1]

    def predict(self, x) -> np.ndarray:
        """Class of each sample: argmax of the logits (ties: lowest index)."""
        return np.argmax(self.logits(x), axis=1)

    def accuracy(self, x, y) -> float:
        return float(np.mean(self.predict(x) == np.asarray(y)))


def loss_and_grads(model: MLP, x, y, weight_decay: float = 0.0):
    """Mean softmax cross-entropy (+ weight_decay/2 * sum ||W||^2) and its gradients.

    Returns (loss, grad_weights list, grad_biases list), gradients shaped like the parameters.
    """
    acts = model.layer_inputs(x)
    y = np.asarray(y, dtype=np.int64)
    n = len(y)
    z = acts[-1] @ model.weights[-1].T + model.biases[-1]
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    loss = -np.mean(logp[np.arange(n), y])
    loss += 0.5 * weight_decay * sum(float(np.sum(w * w)) for w in model.weights)
    delta = np.exp(logp)
    delta[np.arange(n), y] -= 1.0
    delta /= n                                   # d loss / d logits
    gw = [None] * model.n_layers
    gb = [None] * model.n_layers
    for i in range(model.n_layers - 1, -1, -1):
        gw[i] = delta.T @ acts[i] + weight_decay * model.weights[i]
        gb[i] = delta.sum(axis=0)
        if i > 0:
            delta = (delta @ model.weights[i]) * (acts[i] > 0)
    return float(loss), gw, gb


def train_mlp(x, y, sizes, seed: int = 0, epochs: int = 60, batch_size: int = 32,
              lr: float = 2e-3, weight_decay: float = 0.0, beta1: float = 0.9,
              beta2: float = 0.999, eps: float = 1e-8) -> MLP:
    """Train an MLP of `sizes` with mini-batch Adam; deterministic for a given seed."""
    x = check_batch(x, sizes[0], "training input")
    y = np.asarray(y, dtype=np.int64)
    if y.shape != (len(x),) or y.min() < 0 or y.max() >= sizes[-1]:
        raise QuantpeError(f"labels must be (n,) integers in 0..{sizes[-1] - 1}")
    if epochs < 0 or batch_size < 1:
        raise QuantpeError(f"need epochs >= 0 and batch_size >= 1, got {epochs}, {batch_size}")
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append(rng.standard_normal((fan_out, fan_in)) * np.sqrt(2.0 / fan_in))
        params.append(np.zeros(fan_out))
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            model = MLP(params[0::2], params[1::2])
            _, gw, gb = loss_and_grads(model, x[idx], y[idx], weight_decay)
            grads = [g for pair in zip(gw, gb) for g in pair]
            step += 1
            c1, c2 = 1.0 - beta1 ** step, 1.0 - beta2 ** step
            for p, g, mi, vi in zip(params, grads, m, v):
                mi *= beta1
                mi += (1.0 - beta1) * g
                vi *= beta2
                vi += (1.0 - beta2) * g * g
                p -= lr * (mi / c1) / (np.sqrt(vi / c2) + eps)
    return MLP(params[0::2], params[1::2])


def train_digits_mlp(seed: int = 0, epochs: int | None = None) -> MLP:
    """The reference model's recipe: LAYER_SIZES on the digits training split, TRAIN_DEFAULTS."""
    data = load_digits_split()
    kw = dict(TRAIN_DEFAULTS)
    if epochs is not None:
        kw["epochs"] = epochs
    return train_mlp(data.x_train, data.y_train, LAYER_SIZES, seed=seed, **kw)


def save_mlp(model: MLP, path, meta: dict | None = None) -> Path:
    """Write `model` as an .npz (w0, b0, w1, b1, ..., meta JSON) with fixed zip timestamps."""
    arrays = {}
    for i, (w, b) in enumerate(zip(model.weights, model.biases)):
        arrays[f"w{i}"] = w
        arrays[f"b{i}"] = b
    arrays["meta"] = np.array(json.dumps(meta or {}, sort_keys=True))
    return write_npz(path, arrays)


def load_mlp(path) -> tuple:
    """Read a file written by `save_mlp`: returns (MLP, meta dict); QuantpeError if unusable."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            n = sum(1 for k in f.files if k.startswith("w"))
            ws = [f[f"w{i}"] for i in range(n)]
            bs = [f[f"b{i}"] for i in range(n)]
            meta = json.loads(str(f["meta"].reshape(-1)[0])) if "meta" in f.files else {}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as e:
        raise QuantpeError(f"cannot read MLP weights from {path}: {e}") from None
    return MLP(ws, bs), meta


@functools.lru_cache(maxsize=1)
def load_reference_model() -> MLP:
    """The committed digits MLP (golden/data/digits_mlp.npz); read once per process."""
    model, _ = load_mlp(REFERENCE_PATH)
    if model.sizes != LAYER_SIZES:
        raise QuantpeError(f"{REFERENCE_PATH} has layer sizes {model.sizes}, expected {LAYER_SIZES}")
    return model
