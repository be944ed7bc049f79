"""Layer graphs (`Graph`): a single-input, single-output DAG of `Node`s in topological order,
float inference with gradients. The graph input is named "input" and holds a batch
(N,) + input_shape (float64). Imports: numpy, `quantpe.golden.layers`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from quantpe.golden.errors import QuantpeError
from quantpe.golden.layers import CHUNK, INPUT, Conv2d, Layer, Linear

__all__ = ["Node", "Graph", "top1_score"]


def top1_score(out, y) -> float:
    """Top-1 accuracy of outputs `out` (N, ...) against labels `y`: y (N,) - the argmax of each
    sample's flattened output (ties: lowest index); y (N, T) - a sequence model, one label per
    position: the argmax over the last axis of out reshaped (N, T, -1), averaged over N * T."""
    out, y = np.asarray(out), np.asarray(y)
    if y.ndim == 1:
        return float(np.mean(np.argmax(out.reshape(len(out), -1), axis=1) == y))
    if y.ndim != 2 or y.shape[0] != len(out) or out[0].size % y.shape[1]:
        raise QuantpeError(f"labels of shape {y.shape} do not fit outputs of shape {out.shape}")
    return float(np.mean(np.argmax(out.reshape(len(out), y.shape[1], -1), axis=2) == y))


@dataclass(frozen=True, eq=False)
class Node:
    name: str
    layer: Layer
    inputs: tuple


@dataclass(frozen=True, eq=False)
class Graph:
    """A layer DAG: nodes in topological order, input "input" of per-sample `input_shape`,
    output node `output` (default: the last node). Shapes are checked at construction."""

    input_shape: tuple
    nodes: tuple
    output: str | None = None
    shapes: dict = field(init=False, repr=False)

    def __post_init__(self):
        shape = tuple(int(v) for v in self.input_shape)
        if not shape or min(shape) < 1:
            raise QuantpeError(f"input shape must be positive sizes, got {self.input_shape!r}")
        object.__setattr__(self, "input_shape", shape)
        nodes = tuple(Node(n.name, n.layer, tuple(n.inputs)) for n in self.nodes)
        if not nodes:
            raise QuantpeError("a graph needs at least one node")
        shapes = {INPUT: shape}
        for nd in nodes:
            if not isinstance(nd.name, str) or not nd.name or nd.name in shapes:
                raise QuantpeError(f"node name {nd.name!r} is empty or used twice")
            if not isinstance(nd.layer, Layer):
                raise QuantpeError(f"node {nd.name}: {nd.layer!r} is not a layer")
            if nd.layer.arity and len(nd.inputs) != nd.layer.arity or not nd.inputs:
                raise QuantpeError(f"node {nd.name}: {nd.layer.op} takes {nd.layer.arity or '>= 1'} "
                                   f"inputs, got {len(nd.inputs)}")
            for i in nd.inputs:
                if i not in shapes:
                    raise QuantpeError(f"node {nd.name}: input {i!r} is not an earlier node")
            try:
                shapes[nd.name] = tuple(nd.layer.out_shape([shapes[i] for i in nd.inputs]))
            except QuantpeError as e:
                raise QuantpeError(f"node {nd.name}: {e}") from None
        out = nodes[-1].name if self.output is None else self.output
        if out not in shapes or out == INPUT:
            raise QuantpeError(f"graph output {out!r} is not a node")
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "output", out)
        object.__setattr__(self, "shapes", shapes)

    # -- structure
    def node(self, name: str) -> Node:
        for nd in self.nodes:
            if nd.name == name:
                return nd
        raise QuantpeError(f"no node named {name!r}")

    def consumers(self, name: str) -> list:
        return [nd.name for nd in self.nodes if name in nd.inputs]

    @property
    def weight_layers(self) -> tuple:
        """Names of the Conv2d / Linear nodes, in graph order."""
        return tuple(nd.name for nd in self.nodes if isinstance(nd.layer, (Conv2d, Linear)))

    @property
    def output_shape(self) -> tuple:
        return self.shapes[self.output]

    def params(self) -> dict:
        """{(node name, param name): array} of every float parameter."""
        return {(nd.name, p): getattr(nd.layer, p) for nd in self.nodes for p in nd.layer.params}

    def with_params(self, params: dict) -> Graph:
        """Copy with parameters replaced ({(node, param): array}, missing keys unchanged)."""
        nodes = []
        for nd in self.nodes:
            new = {p: params[(nd.name, p)] for p in nd.layer.params if (nd.name, p) in params}
            nodes.append(Node(nd.name, nd.layer.replace_params(**new) if new else nd.layer, nd.inputs))
        return Graph(self.input_shape, tuple(nodes), self.output)

    # -- float inference
    def check_input(self, x, what: str = "input") -> np.ndarray:
        """`x` as float64 (N,) + input_shape; QuantpeError on a wrong shape or NaN/inf."""
        try:
            x = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise QuantpeError(f"{what} is not a numeric array: {e}") from None
        if x.ndim < 1 or tuple(x.shape[1:]) != self.input_shape:
            raise QuantpeError(f"{what} must have shape (n, {', '.join(map(str, self.input_shape))}), "
                               f"got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise QuantpeError(f"{what} contains NaN or infinite values")
        return x

    def forward(self, x, capture: bool = False):
        """Float output (N,) + output_shape; capture=True returns (output, {name: tensor})."""
        vals = {INPUT: self.check_input(x)}
        for nd in self.nodes:
            vals[nd.name] = nd.layer.forward(*(vals[i] for i in nd.inputs))
        return (vals[self.output], vals) if capture else vals[self.output]

    def predict(self, x) -> np.ndarray:
        """argmax of the flattened output per sample (ties: lowest index), in chunks."""
        x = self.check_input(x)
        out = np.concatenate([self.forward(x[s:s + CHUNK]) for s in range(0, len(x), CHUNK)]) \
            if len(x) > CHUNK else self.forward(x)
        return np.argmax(out.reshape(len(out), -1), axis=1)

    def accuracy(self, x, y) -> float:
        """`top1_score` of the float outputs (labels (N,) or, per position, (N, T))."""
        if np.ndim(y) == 1:
            return float(np.mean(self.predict(x) == np.asarray(y)))
        x = self.check_input(x)
        return top1_score(np.concatenate([self.forward(x[s:s + CHUNK]) for s in range(0, len(x), CHUNK)]), y)

    # -- gradients (training)
    def forward_train(self, x):
        vals, caches = {INPUT: self.check_input(x)}, {}
        for nd in self.nodes:
            vals[nd.name], caches[nd.name] = nd.layer.forward_train(*(vals[i] for i in nd.inputs))
        return vals[self.output], caches

    def backward(self, caches: dict, grad_out) -> dict:
        """{(node, param): gradient} from d loss / d output and the caches of forward_train."""
        grads = {self.output: grad_out}
        pgrads = {}
        for nd in reversed(self.nodes):
            g = grads.pop(nd.name, None)
            if g is None:
                continue
            gin, gp = nd.layer.backward(caches[nd.name], g)
            for p, v in gp.items():
                pgrads[(nd.name, p)] = v
            for i, gi in zip(nd.inputs, gin):
                if i != INPUT:
                    grads[i] = grads[i] + gi if i in grads else gi
        return pgrads
