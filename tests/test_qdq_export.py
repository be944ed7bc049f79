"""QDQ export of the project's integer models: onnxruntime runs the exported graph and its output
codes are the golden model's (within one code where the rounding rules differ); the weights and
biases in the file are exactly the golden codes."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import numpy_helper  # noqa: E402

from quantpe.golden.cnn import model_data, reference_graph  # noqa: E402
from quantpe.golden.layers import lower_weights  # noqa: E402
from quantpe.golden.qgraph import build_qgraph  # noqa: E402
from quantpe.golden.onnx_io import import_onnx  # noqa: E402
from quantpe.golden.qdq_export import export_qdq  # noqa: E402

from onnx_patterns import Net  # noqa: E402


def _codes_close(q, path, x, opt: bool):
    so = ort.SessionOptions()
    if not opt:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    y = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"]).run(
        None, {"input": x.astype(np.float32)})[0]
    gold = q.logits(x)
    out = q.layer(q.output) if q.output in q.weight_layers else None
    if out is not None and out.is_raw:                   # raw accumulators: in accumulator units
        acc = y / out.per_channel(out.acc_scale, y)
        assert np.abs(acc - np.rint(acc)).max() < 0.05   # the float sums are integers in those units
        same = np.all(np.rint(acc).astype(np.int64) == gold, axis=1)
        assert np.mean(np.argmax(y, 1) == np.argmax(gold, 1)) >= 0.95
        return float(np.mean(same))                      # samples whose every logit is the golden one
    diff = np.abs(np.rint(y / q.scales[q.output]).astype(np.int64) - gold)
    assert diff.max() <= 1
    return float(np.mean(diff == 0))


def test_reference_cnn_qdq_export_runs_in_onnxruntime(tmp_path):
    g = reference_graph("cnn")
    xtr, _, xte, _ = model_data("cnn")
    q = build_qgraph(g, xtr[:256])
    p = export_qdq(q, tmp_path / "cnn_qdq.onnx")
    m = onnx.load(str(p))
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    for name in q.weight_layers:
        lay = q.layer(name)
        w = inits[f"{name}.wq"]
        np.testing.assert_array_equal(lower_weights(w) if w.ndim == 4 else w, lay.weight.codes)
        np.testing.assert_array_equal(inits[f"{name}.bq"], lay.bias)
    # a one-code rounding difference in an early layer changes every later code of that sample
    assert _codes_close(q, p, xte[:64], opt=False) >= 0.75
    assert _codes_close(q, p, xte[:64], opt=True) >= 0.75


def test_float_layers_and_activation_matmul_export(tmp_path, seed):
    """An imported model with float regions (Softmax, Transpose, HardSigmoid) and attention
    MatMuls: exported with its float subgraphs inlined; the output codes agree."""
    rng = np.random.default_rng(seed)
    n = Net((5, 8), rng)
    h = n.op("Relu", [n.op("MatMul", [n.x, n.w(8, 8)])])
    s = n.op("MatMul", [h, n.op("Transpose", [h], perm=[0, 2, 1])])
    p = n.op("Softmax", [s], axis=-1)
    y = n.op("MatMul", [n.op("MatMul", [p, h]), n.w(8, 4)])
    y = n.op("Mul", [y, n.op("HardSigmoid", [y])])
    g = import_onnx(n.model(y))
    x = rng.standard_normal((16, 5, 8))
    q = build_qgraph(g, x)
    path = export_qdq(q, tmp_path / "m.onnx")
    assert _codes_close(q, path, x, opt=False) >= 0.9


def test_model_import_writes_qdq(tmp_path, capsys):
    from quantpe.cli import main
    from quantpe.golden.onnx_io import export_onnx
    _, _, xte, _ = model_data("mlp")
    p = export_onnx(reference_graph("mlp"), tmp_path / "mlp.onnx")
    np.save(tmp_path / "x.npy", xte[:50])
    assert main(["model", "import", str(p), "--inputs", str(tmp_path / "x.npy"), "-o", str(tmp_path / "o"),
                 "--qdq", str(tmp_path / "q.onnx")]) == 0
    assert "(QDQ)" in capsys.readouterr().out
    sess = ort.InferenceSession(str(tmp_path / "q.onnx"), providers=["CPUExecutionProvider"])
    assert sess.run(None, {"input": xte[:5].astype(np.float32)})[0].shape == (5, 10)
