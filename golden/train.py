"""Numpy training of a float `Graph` classifier: the softmax cross-entropy and mini-batch Adam.

`loss_grad(logits, y)`: mean softmax cross-entropy of (N, classes) logits against integer labels
and its gradient. `train_graph`: mini-batch Adam on it, batches in a fresh permutation per
epoch drawn from the caller's rng, float64, single-threaded BLAS (the float sums then do not
depend on the machine's thread count): the same seed gives bit-identical weights on a given
machine. Used by the reference models (`cnn`, `resnet`) and FAMES's gradients.
Imports: numpy, threadpoolctl, `quantpe.golden`.
"""
from __future__ import annotations

import numpy as np

from .digits import load_digits_split, to_images
from .errors import QuantpeError
from quantpe.golden.graph import Graph

__all__ = ["loss_grad", "train_graph", "train_digits_model"]


def loss_grad(logits, y):
    """(mean softmax cross-entropy, its gradient dL/dlogits) of (N, classes) logits, labels y."""
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    n = len(y)
    loss = -np.mean(logp[np.arange(n), y])
    g = np.exp(logp)
    g[np.arange(n), y] -= 1.0
    return float(loss), g / n


def train_graph(graph: Graph, x, y, rng: np.random.Generator, epochs: int, batch_size: int = 32,
                lr: float = 3e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> Graph:
    """Mini-batch Adam on the softmax cross-entropy of graph's (N, classes) output.

    BLAS runs single-threaded here (threadpoolctl, a scikit-learn dependency): the float sums
    then do not depend on the machine's thread count, and on 2 shared cores it is faster."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):
        return _train(graph, x, y, rng, epochs, batch_size, lr, beta1, beta2, eps)


def _train(graph, x, y, rng, epochs, batch_size, lr, beta1, beta2, eps) -> Graph:
    x = graph.check_input(x, "training input")
    y = np.asarray(y, dtype=np.int64)
    if y.shape != (len(x),):
        raise QuantpeError(f"labels must be (n,) integers, got shape {y.shape}")
    if epochs < 0 or batch_size < 1:
        raise QuantpeError(f"need epochs >= 0 and batch_size >= 1, got {epochs}, {batch_size}")
    params = {k: np.array(v) for k, v in graph.params().items()}
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v2 = {k: np.zeros_like(v) for k, v in params.items()}
    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            g = graph.with_params(params)
            out, caches = g.forward_train(x[idx])
            _, gout = loss_grad(out, y[idx])
            grads = g.backward(caches, gout)
            step += 1
            c1, c2 = 1.0 - beta1 ** step, 1.0 - beta2 ** step
            for k, p in params.items():
                gk = grads[k]
                m[k] *= beta1
                m[k] += (1.0 - beta1) * gk
                v2[k] *= beta2
                v2[k] += (1.0 - beta2) * gk * gk
                p -= lr * (m[k] / c1) / (np.sqrt(v2[k] / c2) + eps)
    return graph.with_params(params)


def train_digits_model(build, defaults: dict, seed: int = 0, epochs: int | None = None) -> Graph:
    """A reference recipe: `build(rng=rng)` initialised from rng = default_rng(seed), then
    `train_graph` on the digits training split with `defaults` (epochs replaced when given),
    continuing the same rng for the shuffles."""
    data = load_digits_split()
    kw = dict(defaults)
    if epochs is not None:
        kw["epochs"] = epochs
    rng = np.random.default_rng(seed)
    return train_graph(build(rng=rng), to_images(data.x_train), data.y_train, rng, **kw)
