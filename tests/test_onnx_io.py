"""ONNX import/export: exact round trip of both reference models, onnxruntime check of float
outputs, BatchNorm / MatMul+Add / Clip / Reshape import, operators in float, and one-line errors
(every converter pattern: test_onnx_float.py)."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from quantpe.golden.cnn import model_data, reference_graph  # noqa: E402
from quantpe.golden.errors import QuantpeError  # noqa: E402
from quantpe.golden.layers import Conv2d, Linear  # noqa: E402
from quantpe.golden.qgraph import build_qgraph  # noqa: E402
from quantpe.golden.onnx_io import export_onnx, import_onnx, load_samples  # noqa: E402


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_round_trip_is_exact(tmp_path, name):
    g = reference_graph(name)
    xtr, _, xte, _ = model_data(name)
    g2 = import_onnx(export_onnx(g, tmp_path / f"{name}.onnx"))
    assert [(n.name, n.layer.op, n.inputs) for n in g2.nodes] == \
        [(n.name, n.layer.op, n.inputs) for n in g.nodes]
    for (k, a), (k2, b) in zip(g.params().items(), g2.params().items()):
        assert k == k2 and np.array_equal(a, b)
    np.testing.assert_array_equal(g2.forward(xte), g.forward(xte))
    q, q2 = build_qgraph(g, xtr[:400]), build_qgraph(g2, xtr[:400])
    np.testing.assert_array_equal(q2.logits(xte), q.logits(xte))


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_float_outputs_match_onnxruntime(tmp_path, name):
    ort = pytest.importorskip("onnxruntime")
    g = reference_graph(name)
    _, _, xte, _ = model_data(name)
    p = export_onnx(g, tmp_path / "m32.onnx", dtype="float32")
    sess = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
    y = sess.run(None, {"input": xte[:100].astype(np.float32)})[0]
    ours = import_onnx(p).forward(xte[:100].astype(np.float32))
    np.testing.assert_allclose(y, ours, rtol=1e-4, atol=1e-4 * np.abs(ours).max())


def _model(nodes, inits, in_shape=("N", 2, 5, 5), out_shape=None, opset=17):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))
    y = helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, out_shape)
    tensors = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()]
    m = helper.make_model(helper.make_graph(nodes, "t", [x], [y], tensors),
                          opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _bn_model(rng):
    inits = {"w": rng.standard_normal((3, 2, 3, 3)), "b": rng.standard_normal(3),
             "g": rng.standard_normal(3), "be": rng.standard_normal(3), "mu": rng.standard_normal(3),
             "var": rng.random(3) + 0.5, "lo": np.array(0.0), "hi": np.array(1.5),
             "shape": np.array([0, -1]), "fw": rng.standard_normal((27, 4)), "fb": rng.standard_normal(4)}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("BatchNormalization", ["c", "g", "be", "mu", "var"], ["bn"], epsilon=1e-3),
             helper.make_node("Clip", ["bn", "lo", "hi"], ["cl"]),
             helper.make_node("Identity", ["cl"], ["id"]),
             helper.make_node("Reshape", ["id", "shape"], ["fl"]),
             helper.make_node("MatMul", ["fl", "fw"], ["mm"]),
             helper.make_node("Add", ["mm", "fb"], ["out"])]
    return _model(nodes, inits, out_shape=["N", 4]), inits


def test_batchnorm_matmul_add_clip_reshape_import(tmp_path, seed):
    rng = np.random.default_rng(seed)
    m, inits = _bn_model(rng)
    # the Reshape shape must stay int64
    m.graph.initializer[[i.name for i in m.graph.initializer].index("shape")].CopyFrom(
        numpy_helper.from_array(np.array([0, -1], np.int64), "shape"))
    onnx.checker.check_model(m)
    g = import_onnx(m)
    assert [n.layer.op for n in g.nodes] == ["Conv2d", "Clip", "Flatten", "Linear"]    # BN, bias folded
    x = rng.standard_normal((4, 2, 5, 5))
    f32 = {k: v.astype(np.float32).astype(np.float64) for k, v in inits.items()}
    conv = Conv2d(f32["w"], f32["b"], stride=2, padding=1).forward(x)
    k = f32["g"] / np.sqrt(f32["var"] + 1e-3)
    bn = (conv - f32["mu"][None, :, None, None]) * k[None, :, None, None] + f32["be"][None, :, None, None]
    ref = Linear(f32["fw"].T, f32["fb"]).forward(np.clip(bn, 0, 1.5).reshape(4, -1))
    np.testing.assert_allclose(g.forward(x), ref, rtol=1e-8, atol=1e-8)          # BN folding rounds
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"x": x.astype(np.float32)})[0],
                               g.forward(x.astype(np.float32)), rtol=1e-4, atol=1e-4)


GEMM_VARIANTS = [dict(), dict(alpha=0.5), dict(beta=0.5), dict(alpha=-1.5, beta=2.0, transB=1),
                 dict(transB=1), dict(beta=0.0), dict(alpha=2.0, bias=None), dict(beta=-0.75, bias=(1, 4)),
                 dict(beta=3.0, bias=(1,)), dict(transA=1)]


@pytest.mark.parametrize("v", GEMM_VARIANTS, ids=lambda v: "-".join(f"{k}={x}" for k, x in v.items()) or "plain")
def test_gemm_attributes_against_onnxruntime(v, seed):
    """Y = alpha * A' B' + beta * C (A' = A^T when transA, B' = B^T when transB, C broadcast) as
    onnxruntime computes it, on a Gemm built with onnx.helper. transA = 1 (the batch axis would be
    transposed away) is refused with one line, or, when supported, matches onnxruntime too."""
    ort = pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(seed)
    v = dict(v)
    bias = v.pop("bias", (4,))
    w = rng.standard_normal((4, 3) if v.get("transB") else (3, 4))
    inits = {"w": w} if bias is None else {"w": w, "c": rng.standard_normal(bias)}
    nodes = [helper.make_node("Gemm", ["x", "w"] + ([] if bias is None else ["c"]), ["y"], **v)]
    m = _model(nodes, inits, in_shape=("N", 3), out_shape=["N", 4])
    x = rng.standard_normal((5, 3)).astype(np.float32)
    if v.get("transA"):
        try:
            g = import_onnx(m)
        except QuantpeError as e:             # named as transA, or as the batch axis it moves
            assert ("transA" in str(e) or "batch first" in str(e)) and "\n" not in str(e)
            return
    else:
        g = import_onnx(m)
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    want = sess.run(None, {"x": x})[0]
    np.testing.assert_allclose(g.forward(x.astype(np.float64)), want, rtol=1e-5, atol=1e-5)


def _one_line(f, match):
    with pytest.raises(QuantpeError, match=match) as e:
        f()
    assert "\n" not in str(e.value)
    return str(e.value)


def test_operators_without_integer_layer_run_in_float(seed):
    """LeakyRelu, Sigmoid, Softmax have no integer layer: they run in float (one float region
    after the conv), and the float path matches onnxruntime."""
    ort = pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(seed)
    inits = {"w": rng.standard_normal((3, 2, 3, 3))}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("LeakyRelu", ["c"], ["l"], name="leaky"),
             helper.make_node("Sigmoid", ["l"], ["s1"]), helper.make_node("Sigmoid", ["s1"], ["s2"]),
             helper.make_node("Softmax", ["s2"], ["out"])]
    m = _model(nodes, inits)
    g = import_onnx(m)
    assert [n.layer.op for n in g.nodes] == ["Conv2d", "FloatOp"]
    assert sorted(g.nodes[1].layer.ops) == ["LeakyRelu", "Sigmoid", "Sigmoid", "Softmax"]
    x = rng.standard_normal((3, 2, 5, 5)).astype(np.float32)
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(g.forward(x), sess.run(None, {"x": x})[0], rtol=1e-4, atol=1e-5)


def test_bad_models_and_inputs_one_line(tmp_path, seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((3, 2, 3, 3))
    relu = helper.make_node("Relu", ["c"], ["out"])
    # NaN weights
    wn = w.copy()
    wn[1, 0, 2, 2] = np.nan
    _one_line(lambda: import_onnx(_model([helper.make_node("Conv", ["x", "w"], ["c"]), relu], {"w": wn})),
              "NaN")
    # declared input shape inconsistent with the weights (3 channels, conv wants 2)
    _one_line(lambda: import_onnx(_model([helper.make_node("Conv", ["x", "w"], ["c"]), relu], {"w": w},
                                         in_shape=("N", 3, 5, 5))), "expects 2 input channels")
    # symbolic per-sample dim: an error, unless the samples' shape fills it (and agrees elsewhere)
    sym = _model([helper.make_node("Conv", ["x", "w"], ["c"]), relu], {"w": w}, in_shape=("N", 2, "H", 5))
    _one_line(lambda: import_onnx(sym), "symbolic")
    assert import_onnx(sym, input_shape=(2, 6, 5)).input_shape == (2, 6, 5)
    _one_line(lambda: import_onnx(sym, input_shape=(3, 6, 5)), r"needs \(2, H, 5\)")
    # an unreadable file, a missing file
    (tmp_path / "junk.onnx").write_bytes(b"\x00\x01junk")
    _one_line(lambda: import_onnx(tmp_path / "junk.onnx"), "cannot read ONNX model")
    _one_line(lambda: import_onnx(tmp_path / "none.onnx"), "does not exist")
    # BatchNorm not after a Conv: in float
    bn = import_onnx(_model([helper.make_node("Relu", ["x"], ["r"]),
                             helper.make_node("BatchNormalization", ["r", "g", "g", "g", "g"], ["out"])],
                            {"g": np.ones(2)}))
    assert [n.layer.op for n in bn.nodes] == ["Clip", "FloatOp"]
    # several data inputs, a non-float input
    two = _model([helper.make_node("Add", ["x", "x2"], ["out"])], {})
    two.graph.input.append(helper.make_tensor_value_info("x2", TensorProto.FLOAT, ["N", 2, 5, 5]))
    _one_line(lambda: import_onnx(two), "exactly one data input")
    ints = _model([helper.make_node("Relu", ["x"], ["out"])], {})
    ints.graph.input[0].type.tensor_type.elem_type = TensorProto.INT64
    _one_line(lambda: import_onnx(ints), "not a float tensor")
    # wrong input sample shape
    g = import_onnx(_model([helper.make_node("Conv", ["x", "w"], ["c"]), relu], {"w": w}))
    np.save(tmp_path / "x.npy", np.zeros((4, 2, 5, 4)))
    _one_line(lambda: load_samples(tmp_path / "x.npy", g), r"must have shape \(n, 2, 5, 5\)")
    np.save(tmp_path / "ok.npy", np.zeros((4, 2, 5, 5), np.float32))
    assert load_samples(tmp_path / "ok.npy", g).shape == (4, 2, 5, 5)
    np.save(tmp_path / "nan.npy", np.full((1, 2, 5, 5), np.nan))
    _one_line(lambda: load_samples(tmp_path / "nan.npy", g), "NaN")
