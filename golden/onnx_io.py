"""ONNX import (a user's float model -> `layers.Graph`) and export (the project's graphs -> ONNX).

Import (`import_onnx`): one graph input (N, ...) with static per-sample dims (the batch dim may
be symbolic), one output. Supported operators and how they map:
  Conv (auto_pad NOTSET/VALID) -> Conv2d; BatchNormalization directly after a Conv whose only
  consumer it is -> folded into that Conv; Gemm (transA=0) and MatMul with a constant right
  operand -> Linear (alpha, beta, transB applied; an Add of a constant bias directly after a
  MatMul/Conv that it alone consumes is folded into the bias); Relu, Clip -> Clip; MaxPool /
  AveragePool (dilations 1, ceil_mode 0) -> MaxPool / AvgPool; GlobalAveragePool; Add of two
  tensors; Concat on the channel axis; Flatten(axis=1); Reshape to (N, -1) -> Flatten; Identity,
  Dropout -> pass-through. Weights are read as float64. Anything else is refused *before* any
  conversion with one QuantpeError line naming every unsupported operator (and its nodes);
  NaN/inf weights, a wrong input shape, and inconsistent shapes are one line each.
Export (`export_onnx`): every layer of `layers.LAYER_TYPES` to the operators above (opset 17),
initializers in float64 (default: the round trip is exact) or float32 (e.g. for onnxruntime).
Tensor names are the node names, so export -> import gives back the same graph.
`load_samples` reads user input samples (.npy) for a graph (calibration / evaluation).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from .errors import QuantpeError
from .layers import (INPUT, Add, AvgPool, Clip, Concat, Conv2d, Flatten, GlobalAvgPool, Graph, Linear,
                     MaxPool, Node, fold_batchnorm)

__all__ = ["import_onnx", "export_onnx", "load_samples", "SUPPORTED_OPS", "OPSET"]

OPSET = 17
SUPPORTED_OPS = ("Conv", "BatchNormalization", "Gemm", "MatMul", "Relu", "Clip", "MaxPool",
                 "AveragePool", "GlobalAveragePool", "Add", "Concat", "Flatten", "Reshape",
                 "Identity", "Dropout", "Constant")


def _onnx():
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:                                      # pragma: no cover
        raise QuantpeError("ONNX support needs the `onnx` package (pip install onnx)") from None
    return onnx, numpy_helper


# =============================================================================== import

def _attrs(node) -> dict:
    onnx, _ = _onnx()
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _load_model(src):
    onnx, _ = _onnx()
    if isinstance(src, onnx.ModelProto):
        return src
    path = Path(src)
    try:
        return onnx.load(str(path))
    except FileNotFoundError:
        raise QuantpeError(f"ONNX model {path} does not exist") from None
    except Exception as e:                                   # protobuf decode errors vary by version
        first = str(e).splitlines()[0] if str(e) else ""
        raise QuantpeError(f"cannot read ONNX model {path}: {type(e).__name__}: {first}") from None


def _check_supported(nodes) -> None:
    bad = Counter()
    names = {}
    for nd in nodes:
        if nd.op_type not in SUPPORTED_OPS or (nd.domain not in ("", "ai.onnx")):
            key = nd.op_type if nd.domain in ("", "ai.onnx") else f"{nd.domain}.{nd.op_type}"
            bad[key] += 1
            names.setdefault(key, nd.name or (nd.output[0] if nd.output else "?"))
    if bad:
        parts = [f"{op} ({n} node{'s' if n > 1 else ''}, e.g. {names[op]!r})"
                 for op, n in sorted(bad.items())]
        raise QuantpeError(f"unsupported ONNX operators: {', '.join(parts)}; "
                           f"supported: {', '.join(SUPPORTED_OPS)}")


def _input_shape(model, inits, override) -> tuple[str, tuple]:
    ins = [i for i in model.graph.input if i.name not in inits]
    if len(ins) != 1:
        raise QuantpeError(f"the ONNX model must have exactly one data input, got {len(ins)}: "
                           f"{', '.join(i.name for i in ins)}")
    vi = ins[0]
    dims = vi.type.tensor_type.shape.dim
    if override is not None:
        override = tuple(int(v) for v in override)
    if len(dims) < 2 and not (override is not None and len(dims) == 0):
        raise QuantpeError(f"ONNX input {vi.name!r} must be (N, ...) with a batch axis, has {len(dims)} dims")
    if not dims:
        return vi.name, override
    if override is not None and len(override) != len(dims) - 1:
        raise QuantpeError(f"input samples have per-sample shape {override}, the ONNX input {vi.name!r} "
                           f"has {len(dims) - 1} per-sample dims")
    shape = []
    for i, d in enumerate(dims[1:]):
        if d.HasField("dim_value") and d.dim_value >= 1:
            if override is not None and override[i] != d.dim_value:
                need = ", ".join(str(x.dim_value) if x.HasField("dim_value") else (x.dim_param or "?")
                                 for x in dims[1:])
                raise QuantpeError(f"input samples have per-sample shape {override}, the ONNX input "
                                   f"{vi.name!r} needs ({need})")
            shape.append(int(d.dim_value))
        elif override is not None:
            shape.append(override[i])
        else:
            raise QuantpeError(f"ONNX input {vi.name!r} has a symbolic or unknown per-sample dim "
                               f"({d.dim_param or '?'}); give the input shape (e.g. from the samples)")
    return vi.name, tuple(shape)


class _Builder:
    """Converts ONNX nodes one by one into layer-graph nodes (aliases for pass-through ops)."""

    def __init__(self, inits: dict, input_name: str):
        self.inits = inits
        self.alias = {input_name: INPUT}
        self.nodes: list[Node] = []
        self.layers: dict[str, object] = {}
        self.uses = Counter()
        self.onnx_uses = Counter()            # ONNX consumers of every tensor name
        self.produced: dict[str, str] = {}    # node name -> the ONNX tensor it produces

    def src(self, name: str) -> str:
        if name in self.inits:
            raise QuantpeError(f"tensor {name!r} is a constant where an activation is expected")
        if name not in self.alias:
            raise QuantpeError(f"tensor {name!r} is used before it is produced (graph not in order?)")
        return self.alias[name]

    def const(self, nd, i: int, what: str, required: bool = True):
        if i >= len(nd.input) or not nd.input[i]:
            if required:
                raise QuantpeError(f"node {nd.name or nd.output[0]!r} ({nd.op_type}): missing {what}")
            return None
        name = nd.input[i]
        if name not in self.inits:
            raise QuantpeError(f"node {nd.name or nd.output[0]!r} ({nd.op_type}): {what} {name!r} must be a "
                               "constant (initializer)")
        return self.inits[name]

    def add(self, out: str, layer, inputs):
        name = out if out not in (INPUT,) and out not in self.layers else f"{out}_"
        self.nodes.append(Node(name, layer, tuple(inputs)))
        self.layers[name] = layer
        self.alias[out] = name
        self.produced[name] = out
        for i in inputs:
            self.uses[i] += 1

    def replace_layer(self, name: str, layer):
        self.nodes = [Node(n.name, layer, n.inputs) if n.name == name else n for n in self.nodes]
        self.layers[name] = layer

    def sole_producer(self, tensor: str, cls):
        """The node producing `tensor` if it is a `cls` layer whose output nothing else consumes."""
        name = self.alias.get(tensor)
        lay = self.layers.get(name)
        if isinstance(lay, cls) and self.uses[name] == 0 and self.onnx_uses[tensor] == 1 \
                and self.produced.get(name) == tensor:
            return name, lay
        return None, None


def _pool_geometry(a: dict, where: str):
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID", "NOTSET", "VALID"):
        raise QuantpeError(f"{where}: auto_pad {a['auto_pad']!r} is not supported (give explicit pads)")
    if a.get("ceil_mode", 0):
        raise QuantpeError(f"{where}: ceil_mode=1 is not supported")
    if any(d != 1 for d in a.get("dilations", [1, 1])):
        raise QuantpeError(f"{where}: pooling dilations are not supported")
    k = tuple(a["kernel_shape"])
    if len(k) != 2:
        raise QuantpeError(f"{where}: only 2-D pooling is supported, got kernel {k}")
    pads = tuple(a.get("pads", [0, 0, 0, 0]))
    return k, tuple(a.get("strides", [1, 1])), pads


def _convert(b: _Builder, nd) -> None:
    op, where = nd.op_type, f"node {nd.name or nd.output[0]!r} ({nd.op_type})"
    a = _attrs(nd)
    out = nd.output[0]
    if op == "Constant":
        _, nh = _onnx()
        if "value" not in a:
            raise QuantpeError(f"{where}: only tensor-valued Constant nodes are supported")
        b.inits[out] = nh.to_array(a["value"]).astype(np.float64)
        return
    if op in ("Identity", "Dropout"):
        b.alias[out] = b.src(nd.input[0])
        return
    if op == "Conv":
        w = b.const(nd, 1, "weight")
        if w.ndim != 4:
            raise QuantpeError(f"{where}: only 2-D convolutions are supported, weight has shape {w.shape}")
        bias = b.const(nd, 2, "bias", required=False)
        if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID", "NOTSET", "VALID"):
            raise QuantpeError(f"{where}: auto_pad {a['auto_pad']!r} is not supported (give explicit pads)")
        conv = Conv2d(w, np.zeros(w.shape[0]) if bias is None else bias.reshape(-1),
                      stride=tuple(a.get("strides", [1, 1])), padding=tuple(a.get("pads", [0, 0, 0, 0])),
                      dilation=tuple(a.get("dilations", [1, 1])), groups=int(a.get("group", 1)))
        b.add(out, conv, [b.src(nd.input[0])])
    elif op == "BatchNormalization":
        name, conv = b.sole_producer(nd.input[0], Conv2d)
        if conv is None:
            raise QuantpeError(f"{where}: BatchNormalization is supported only directly after a Conv "
                               "that feeds nothing else (it is folded into the Conv)")
        if a.get("training_mode", 0):
            raise QuantpeError(f"{where}: training-mode BatchNormalization is not supported")
        g, be, mu, var = (b.const(nd, i, w_) for i, w_ in enumerate(("scale", "bias", "mean", "var"), 1))
        b.replace_layer(name, fold_batchnorm(conv, g, be, mu, var, float(a.get("epsilon", 1e-5))))
        b.alias[out] = name
    elif op in ("Gemm", "MatMul"):
        w = b.const(nd, 1, "weight")
        if w.ndim != 2:
            raise QuantpeError(f"{where}: the weight must be a matrix, got shape {w.shape}")
        if op == "Gemm":
            if a.get("transA", 0):
                raise QuantpeError(f"{where}: transA=1 is not supported")
            alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
            w = alpha * (w if a.get("transB", 0) else w.T)
            c = b.const(nd, 2, "bias", required=False)
            bias = np.zeros(w.shape[0]) if c is None else beta * np.broadcast_to(c.reshape(-1), (w.shape[0],))
        else:
            w, bias = w.T, np.zeros(w.shape[1])
        b.add(out, Linear(w, bias), [b.src(nd.input[0])])
    elif op == "Relu":
        b.add(out, Clip(0.0, np.inf), [b.src(nd.input[0])])
    elif op == "Clip":
        lo, hi = a.get("min", -np.inf), a.get("max", np.inf)
        c1, c2 = b.const(nd, 1, "min", False), b.const(nd, 2, "max", False)
        lo = float(c1.reshape(-1)[0]) if c1 is not None else lo
        hi = float(c2.reshape(-1)[0]) if c2 is not None else hi
        b.add(out, Clip(lo, hi), [b.src(nd.input[0])])
    elif op == "MaxPool":
        if len(nd.output) > 1 and nd.output[1]:
            raise QuantpeError(f"{where}: the Indices output is not supported")
        k, s, p = _pool_geometry(a, where)
        b.add(out, MaxPool(k, s, p), [b.src(nd.input[0])])
    elif op == "AveragePool":
        k, s, p = _pool_geometry(a, where)
        pool = AvgPool(k, s, p, count_include_pad=bool(a.get("count_include_pad", 0)))
        b.add(out, pool, [b.src(nd.input[0])])
    elif op == "GlobalAveragePool":
        b.add(out, GlobalAvgPool(), [b.src(nd.input[0])])
    elif op == "Add":
        consts = [i for i in nd.input if i in b.inits]
        if not consts:
            b.add(out, Add(), [b.src(i) for i in nd.input])
            return
        if len(consts) != 1 or len(nd.input) != 2:
            raise QuantpeError(f"{where}: adding two constants is not supported")
        x_in = nd.input[0] if nd.input[1] in b.inits else nd.input[1]
        c = b.inits[consts[0]]
        name, lay = b.sole_producer(x_in, (Linear, Conv2d))
        if lay is None or c.size != lay.out_channels:
            raise QuantpeError(f"{where}: a constant Add is supported only as the bias of the MatMul/Conv "
                               "right before it")
        b.replace_layer(name, lay.replace_params(bias=lay.bias + c.reshape(-1)))
        b.alias[out] = name
    elif op == "Concat":
        axis = int(a.get("axis", 1))
        if axis != 1:
            raise QuantpeError(f"{where}: only channel concatenation (axis=1) is supported, got axis={axis}")
        b.add(out, Concat(), [b.src(i) for i in nd.input])
    elif op == "Flatten":
        if int(a.get("axis", 1)) != 1:
            raise QuantpeError(f"{where}: only Flatten(axis=1) is supported")
        b.add(out, Flatten(), [b.src(nd.input[0])])
    elif op == "Reshape":
        shape = [int(v) for v in b.const(nd, 1, "shape").reshape(-1)]
        if len(shape) != 2 or shape[0] not in (0, -1, 1) or shape[1] == 0:
            raise QuantpeError(f"{where}: only a Reshape to (N, -1) (a flatten) is supported, got {shape}")
        b.add(out, Flatten(), [b.src(nd.input[0])])


def import_onnx(src, input_shape=None) -> Graph:
    """A float ONNX model (path or ModelProto) as a layer graph (module docstring).
    input_shape: per-sample input shape (e.g. of the user's samples): fills symbolic dims and
    must agree with the static ones (QuantpeError otherwise)."""
    _, nh = _onnx()
    model = _load_model(src)
    g = model.graph
    _check_supported(g.node)
    inits = {}
    for t in g.initializer:
        try:
            inits[t.name] = nh.to_array(t).astype(np.float64)
        except Exception as e:                              # external data, odd dtypes
            raise QuantpeError(f"cannot read ONNX initializer {t.name!r}: {e}") from None
    in_name, shape = _input_shape(model, inits, input_shape)
    if len(g.output) != 1:
        raise QuantpeError(f"the ONNX model must have exactly one output, got {len(g.output)}")
    b = _Builder(inits, in_name)
    b.onnx_uses = Counter(i for nd in g.node for i in nd.input)
    b.onnx_uses.update(o.name for o in g.output)
    for nd in g.node:
        try:
            _convert(b, nd)
        except QuantpeError as e:
            msg = str(e)
            if not msg.startswith("node "):
                msg = f"node {nd.name or nd.output[0]!r} ({nd.op_type}): {msg}"
            raise QuantpeError(msg) from None
    out = g.output[0].name
    if out not in b.alias:
        raise QuantpeError(f"ONNX output {out!r} is not produced by any supported node")
    if b.alias[out] == INPUT:
        raise QuantpeError("the ONNX model computes nothing (its output is its input)")
    keep = _live(b.nodes, b.alias[out])
    nodes = [n for n in b.nodes if n.name in keep]
    return Graph(shape, tuple(nodes), b.alias[out])


def _live(nodes, output: str) -> set:
    """Names of the nodes the output depends on (dead branches are dropped)."""
    by = {n.name: n for n in nodes}
    live, todo = set(), [output]
    while todo:
        n = todo.pop()
        if n in live or n not in by:
            continue
        live.add(n)
        todo.extend(by[n].inputs)
    return live


def load_samples(path, graph: Graph) -> np.ndarray:
    """Input samples for `graph` from a .npy file: float64 (N,) + graph.input_shape."""
    path = Path(path)
    try:
        x = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise QuantpeError(f"input samples {path} do not exist") from None
    except (OSError, ValueError) as e:
        raise QuantpeError(f"cannot read input samples {path} (need a .npy array): {e}") from None
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "iuf":
        raise QuantpeError(f"input samples {path} must be a numeric .npy array")
    x = graph.check_input(x, f"input samples {path.name}")
    if len(x) == 0:
        raise QuantpeError(f"input samples {path} hold no sample")
    return x


# =============================================================================== export

def export_onnx(graph: Graph, path, dtype: str = "float64", producer: str = "quantpe") -> Path:
    """Write `graph` as an ONNX model (opset 17), atomically; dtype "float64" or "float32"."""
    onnx, nh = _onnx()
    from onnx import TensorProto, helper
    if dtype not in ("float64", "float32"):
        raise QuantpeError(f"dtype must be float64 or float32, got {dtype!r}")
    elem = TensorProto.DOUBLE if dtype == "float64" else TensorProto.FLOAT
    npdt = np.float64 if dtype == "float64" else np.float32
    inits, nodes = [], []

    def init(name, arr):
        inits.append(nh.from_array(np.asarray(arr, dtype=npdt), name))
        return name

    def t(name):
        return "input" if name == INPUT else name

    for nd in graph.nodes:
        lay, ins, out = nd.layer, [t(i) for i in nd.inputs], nd.name
        if isinstance(lay, Conv2d):
            wb = [init(f"{out}.weight", lay.weight), init(f"{out}.bias", lay.bias)]
            nodes.append(helper.make_node("Conv", ins + wb, [out], name=out, kernel_shape=list(lay.kernel),
                                          strides=list(lay.stride), pads=list(lay.padding),
                                          dilations=list(lay.dilation), group=lay.groups))
        elif isinstance(lay, Linear):
            wb = [init(f"{out}.weight", lay.weight), init(f"{out}.bias", lay.bias)]
            nodes.append(helper.make_node("Gemm", ins + wb, [out], name=out, transB=1))
        elif isinstance(lay, Clip):
            if lay.lo == 0.0 and lay.hi == np.inf:
                nodes.append(helper.make_node("Relu", ins, [out], name=out))
            else:
                lo = init(f"{out}.min", lay.lo) if np.isfinite(lay.lo) else ""
                hi = init(f"{out}.max", lay.hi) if np.isfinite(lay.hi) else ""
                nodes.append(helper.make_node("Clip", ins + [lo, hi], [out], name=out))
        elif isinstance(lay, MaxPool):
            nodes.append(helper.make_node("MaxPool", ins, [out], name=out, kernel_shape=list(lay.kernel),
                                          strides=list(lay.stride), pads=list(lay.padding)))
        elif isinstance(lay, AvgPool):
            nodes.append(helper.make_node("AveragePool", ins, [out], name=out, kernel_shape=list(lay.kernel),
                                          strides=list(lay.stride), pads=list(lay.padding),
                                          count_include_pad=int(lay.count_include_pad)))
        elif isinstance(lay, GlobalAvgPool):
            nodes.append(helper.make_node("GlobalAveragePool", ins, [out], name=out))
        elif isinstance(lay, Add):
            nodes.append(helper.make_node("Add", ins, [out], name=out))
        elif isinstance(lay, Concat):
            nodes.append(helper.make_node("Concat", ins, [out], name=out, axis=1))
        elif isinstance(lay, Flatten):
            nodes.append(helper.make_node("Flatten", ins, [out], name=out, axis=1))
        else:                                                # pragma: no cover - closed set
            raise QuantpeError(f"node {out}: no ONNX export for {lay.op}")
    x = helper.make_tensor_value_info("input", elem, ["N", *graph.input_shape])
    y = helper.make_tensor_value_info(graph.output, elem, ["N", *graph.output_shape])
    model = helper.make_model(helper.make_graph(nodes, "quantpe", [x], [y], inits),
                              opset_imports=[helper.make_opsetid("", OPSET)], producer_name=producer)
    model.ir_version = 8
    onnx.checker.check_model(model)
    from quantpe.atomic import write_bytes
    return write_bytes(Path(path), model.SerializeToString())
