"""Shape inference and constant folding of an ONNX graph for one per-sample input shape.

`fold(model, input_name, sample_shape)` evaluates the graph's static part twice, with the batch
fixed to 2 and to 3 (onnx shape inference with data propagation, then every node whose inputs are
all known - initializers, Constant nodes, Shape/Size of a tensor whose static shape is inferred -
is evaluated with onnx's reference evaluator (onnxruntime for operator versions it lacks; QONNX
`Quant` of constant weights with `qonnx.quant`); repeated until nothing new folds). A tensor whose
two values agree (shape and bytes) is a *static constant*. A tensor that differs only in
being the batch size (a shape vector [2, ...] vs [3, ...]: `torch`'s x.view(x.size(0), -1)) is
kept as the shape vector with 0 at its batch entry, which Reshape (allowzero=0) reads as "copy
the batch dim" (`Folded.reshape_shapes`). A tensor is *batch-major* when its inferred shapes
are (2, ...) and (3, ...) with the same per-sample dims: `Folded.shapes` holds those per-sample
dims. Nodes whose every output is a static constant are dropped (`Folded.nodes` keeps the rest,
in the original order); random and subgraph-carrying nodes are never evaluated.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import QuantpeError
from .qonnx import QONNX_DOMAINS, quant, quant_attrs

__all__ = ["Folded", "fold", "BATCHES"]

BATCHES = (2, 3)
_NEVER = {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial",
          "Bernoulli", "If", "Loop", "Scan", "SequenceMap"}
_MAX_FOLD = 1 << 24          # elements: larger tensors are left to run time


@dataclass
class Folded:
    """The folding result. consts: static constants {name: array (ONNX dtype)}; shapes:
    {name: per-sample shape} of batch-major tensors; dtypes: {name: ONNX elem type};
    reshape_shapes: {name: shape vector with 0 for the batch} of batch-dependent shape vectors;
    nodes: the nodes still to run."""

    consts: dict
    shapes: dict
    dtypes: dict
    reshape_shapes: dict = field(default_factory=dict)
    nodes: list = field(default_factory=list)


def _onnx():
    import onnx  # optional heavy dependency
    from onnx import numpy_helper, shape_inference
    from onnx.reference import ReferenceEvaluator
    return onnx, numpy_helper, shape_inference, ReferenceEvaluator


def _static_shape(vi):
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return None
    dims = []
    for d in t.shape.dim:
        if not d.HasField("dim_value"):
            return None
        dims.append(int(d.dim_value))
    return tuple(dims)


def _pass(model, input_name, batch, sample_shape, known: dict):
    """One batch size: {tensor: value} of every foldable tensor, {tensor: static shape},
    {tensor: elem type}.
    Long: one rewrite per folded pattern, in one walk of the graph."""
    onnx, nh, si, Ref = _onnx()
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    for vi in g.input:
        if vi.name == input_name:
            dims = vi.type.tensor_type.shape.dim
            del dims[:]
            for v in (batch,) + tuple(sample_shape):
                dims.add().dim_value = int(v)
    del g.value_info[:]
    for o in g.output:
        o.type.tensor_type.ClearField("shape")
    values = dict(known)
    for nd in g.node:                      # shape inference sees QONNX Quant on activations as Identity
        if nd.domain in QONNX_DOMAINS and nd.op_type == "Quant" and nd.input[0] not in values:
            ident = onnx.helper.make_node("Identity", [nd.input[0]], [nd.output[0]], name=nd.name)
            nd.CopyFrom(ident)
    opset = {o.domain: o.version for o in m.opset_import}
    for _ in range(8):
        try:
            inferred = si.infer_shapes(m, data_prop=True)
        except Exception:                                    # inference is best effort
            inferred = m
        shapes, types = {}, {}
        for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
            types[vi.name] = vi.type.tensor_type.elem_type
            s = _static_shape(vi)
            if s is not None:
                shapes[vi.name] = s
        for t in g.initializer:
            shapes[t.name] = tuple(t.dims)
            types[t.name] = t.data_type
        new = False
        for nd in g.node:
            if all(o in values for o in nd.output if o) or nd.op_type in _NEVER:
                continue
            ins = [i for i in nd.input if i]
            if nd.domain in QONNX_DOMAINS and nd.op_type == "Quant" and all(i in values for i in ins):
                a = {x.name: onnx.helper.get_attribute_value(x) for x in nd.attribute}
                values[nd.output[0]] = quant(*(values[i] for i in ins), *quant_attrs(a))
                new = True
                continue
            if nd.domain not in ("", "ai.onnx"):
                continue
            if nd.op_type in ("Shape", "Size") and ins and ins[0] in shapes:
                s = np.array(shapes[ins[0]], np.int64)
                if nd.op_type == "Size":
                    values[nd.output[0]] = np.array(int(np.prod(s)), np.int64)
                else:
                    a = {x.name: onnx.helper.get_attribute_value(x) for x in nd.attribute}
                    values[nd.output[0]] = s[a.get("start", 0): a.get("end", len(s))]
                new = True
                continue
            if not ins and nd.op_type != "Constant" and nd.op_type != "ConstantOfShape":
                continue
            if not all(i in values for i in ins):
                continue
            try:
                outs = _evaluate(nd, [values[i] for i in ins], opset.get("", 17), Ref)
            except Exception:                                 # left to run time
                continue
            for o, v in zip(nd.output, outs):
                if o and v is not None and np.asarray(v).size <= _MAX_FOLD:
                    values[o] = np.asarray(v)
                    new = True
        if not new:
            break
        _freeze(m, values, nh)
    return values, shapes, types


def _evaluate(nd, inputs, opset, Ref):
    """Outputs of one node on numpy inputs: onnx's reference evaluator, else onnxruntime (for
    operator versions the reference evaluator lacks)."""
    onnx = _onnx()[0]
    h = onnx.helper
    names = [f"i{k}" for k in range(len(inputs))]
    it = iter(names)
    node = onnx.NodeProto()
    node.CopyFrom(nd)
    del node.input[:]
    node.input.extend([next(it) if i else "" for i in nd.input])
    outs = [o for o in nd.output]
    del node.output[:]
    node.output.extend([f"o{k}" if o else "" for k, o in enumerate(outs)])
    vis = [h.make_tensor_value_info(n, h.np_dtype_to_tensor_dtype(np.asarray(v).dtype), np.shape(v))
           for n, v in zip(names, inputs)]
    g = h.make_graph([node], "fold", vis, [h.make_empty_tensor_value_info(f"o{k}")
                                           for k, o in enumerate(outs) if o])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)])
    feeds = dict(zip(names, (np.asarray(v) for v in inputs)))
    try:
        res = Ref(m).run(None, feeds)
    except Exception:
        import onnxruntime as ort  # optional heavy dependency
        m.ir_version = 8
        res = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    it = iter(res)
    return [next(it) if o else None for o in outs]


def _freeze(m, values: dict, nh) -> None:
    """Replace the nodes whose outputs are all known by initializers (shape inference sees them)."""
    g = m.graph
    have = {t.name for t in g.initializer}
    keep = []
    for nd in g.node:
        if nd.output and all((not o) or o in values for o in nd.output):
            for o in nd.output:
                if o and o not in have:
                    g.initializer.append(nh.from_array(np.asarray(values[o]), o))
                    have.add(o)
        else:
            keep.append(nd)
    del g.node[:]
    g.node.extend(keep)


def fold(model, input_name: str, sample_shape: tuple) -> Folded:
    """Fold `model` for per-sample input shape `sample_shape` (module docstring)."""
    onnx, nh, _, _ = _onnx()
    known = {}
    for t in model.graph.initializer:
        try:
            known[t.name] = nh.to_array(t)
        except Exception as e:                               # external data, odd dtypes
            raise QuantpeError(f"cannot read ONNX initializer {t.name!r}: {e}") from None
    runs = [_pass(model, input_name, b, sample_shape, known) for b in BATCHES]
    (v2, s2, t2), (v3, s3, _) = runs
    consts, batch_vec = {}, {}
    for k, a in v2.items():
        b = v3.get(k)
        if b is None:
            continue
        if a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True):
            consts[k] = a
        elif a.ndim == 1 and a.shape == b.shape and a.dtype.kind == "i" and len(a) >= 1 \
                and a[0] == BATCHES[0] and b[0] == BATCHES[1] and np.array_equal(a[1:], b[1:]):
            v = a.copy()
            v[0] = 0
            batch_vec[k] = v
    shapes = {}
    for k, a in s2.items():
        b = s3.get(k)
        if b is not None and len(a) >= 1 and a[0] == BATCHES[0] and b[0] == BATCHES[1] and a[1:] == b[1:]:
            shapes[k] = tuple(a[1:])
    nodes = [nd for nd in model.graph.node
             if not (nd.output and all((not o) or o in consts for o in nd.output))]
    reshape = {}
    for nd in nodes:
        if nd.op_type == "Reshape" and len(nd.input) > 1 and nd.input[1] in batch_vec:
            a = {x.name: onnx.helper.get_attribute_value(x) for x in nd.attribute}
            if not a.get("allowzero", 0):
                reshape[nd.input[1]] = batch_vec[nd.input[1]]
    return Folded(consts=consts, shapes=shapes, dtypes=t2, reshape_shapes=reshape, nodes=nodes)
