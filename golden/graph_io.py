"""A float `Graph` as an .npz file: "graph" (JSON structure), "<node>.<param>" arrays and "meta"
JSON, with fixed zip timestamps and order, so the same graph gives the same bytes
(`quantpe.golden.npz`). `save_graph(graph, path, meta)`, `load_graph(path) -> (graph, meta)`;
a file that is not one is a QuantpeError (one line). Imports: numpy, `quantpe.golden`.
"""
from __future__ import annotations

__all__ = ["save_graph", "load_graph"]

import json
import zipfile
from pathlib import Path

import numpy as np
from quantpe.golden.errors import QuantpeError
from quantpe.golden.graph import Graph, Node
from quantpe.golden.layers import LAYER_TYPES, Clip, Layer
from quantpe.golden.npz import write_npz


def save_graph(graph: Graph, path, meta: dict | None = None) -> Path:
    """Write `graph` as an .npz: "graph" (JSON structure), "<node>.<param>" arrays, "meta" JSON;
    fixed zip timestamps and order, so the same graph gives the same bytes (`golden.npz`)."""
    struct = {"input_shape": list(graph.input_shape), "output": graph.output,
              "nodes": [{"name": nd.name, "op": nd.layer.op, "inputs": list(nd.inputs),
                         "attrs": _jsonable(nd.layer.attrs())} for nd in graph.nodes]}
    arrays = {"graph": np.array(json.dumps(struct, sort_keys=True)),
              "meta": np.array(json.dumps(meta or {}, sort_keys=True))}
    for (name, p), a in graph.params().items():
        arrays[f"{name}.{p}"] = a
    return write_npz(path, arrays)


def _jsonable(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, tuple):
            v = list(v)
        elif isinstance(v, (np.integer,)):
            v = int(v)
        out[k] = v
    return out


def _layer_from(op: str, attrs: dict, arrays: dict) -> Layer:
    cls = LAYER_TYPES.get(op)
    if cls is None:
        raise QuantpeError(f"unknown layer type {op!r}")
    kw = dict(attrs)
    if cls is Clip:
        kw = {k: float(v) for k, v in kw.items()}
    for k in ("stride", "padding", "dilation", "kernel"):
        if isinstance(kw.get(k), list):
            kw[k] = tuple(kw[k])
    return cls(**kw, **arrays)


def load_graph(path) -> tuple[Graph, dict]:
    """Read a file written by `save_graph`: (Graph, meta); QuantpeError if unusable."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            struct = json.loads(str(f["graph"].reshape(-1)[0]))
            meta = json.loads(str(f["meta"].reshape(-1)[0])) if "meta" in f.files else {}
            nodes = []
            for nd in struct["nodes"]:
                cls = LAYER_TYPES.get(nd["op"])
                params = cls.params if cls else ()
                arrays = {p: f[f"{nd['name']}.{p}"] for p in params}
                layer = _layer_from(nd["op"], nd["attrs"], arrays)
                nodes.append(Node(nd["name"], layer, tuple(nd["inputs"])))
    except (OSError, KeyError, ValueError, TypeError, zipfile.BadZipFile) as e:
        raise QuantpeError(f"cannot read a layer graph from {path}: {e}") from None
    return Graph(tuple(struct["input_shape"]), tuple(nodes), struct["output"]), meta
