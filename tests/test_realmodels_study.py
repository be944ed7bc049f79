"""The real-model study's parts on small stand-ins: labels per position (`top1_score`), the real
inputs (photographs, rendered text, each model's preprocessing) and `real_model_figures` on a
tiny pretrained-model entry, every figure recomputed here from its definition."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from quantpe.explore import model_fetch, real_inputs, real_models  # noqa: E402
from quantpe.golden.approx import approx_mul, sign_magnitude_mul  # noqa: E402
from quantpe.golden.errors import QuantpeError  # noqa: E402
from quantpe.golden.graph import top1_score  # noqa: E402
from quantpe.golden.model_eval import DEFAULT_APPROX  # noqa: E402
from quantpe.golden.onnx_io import import_onnx  # noqa: E402
from quantpe.golden.qgraph import build_qgraph  # noqa: E402

from onnx_patterns import Net  # noqa: E402


def test_top1_score_per_sample_and_per_position():
    out = np.array([[[0, 5, 1], [9, 0, 0]], [[1, 0, 0], [0, 0, 2]]])      # (N=2, T=2, C=3)
    assert top1_score(out, np.array([[1, 0], [0, 1]])) == 0.75           # 3 of 4 positions
    assert top1_score(out, np.array([3, 0])) == 0.5                      # flattened argmax: 3 and 5
    with pytest.raises(QuantpeError, match="do not fit"):
        top1_score(out, np.zeros((2, 4), int))


def _entry(**kw):
    base = dict(name="tiny", package="p", version="1", wheel_sha256="0" * 64, member="m.onnx", sha256="0" * 64,
                shape=(3, 16, 24), kind="tiny", licence="MIT")
    base.update(kw)
    return model_fetch.WheelModel(**base)


def test_inputs_are_deterministic_and_preprocessed_as_the_model_says():
    m = _entry(bgr=True, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    x = real_inputs.model_inputs(m, 5, seed=3)
    assert x.shape == (5, 3, 16, 24) and x.dtype == np.float32
    np.testing.assert_array_equal(x, real_inputs.model_inputs(m, 5, seed=3))
    raw = real_inputs.photo_crops(5, (16, 24), seed=3)                   # (n, h, w, RGB) uint8
    for c, rgb in enumerate((2, 1, 0)):           # BGR: channel 0 is blue; mean/std per input channel
        want = (raw[..., rgb] / 255.0 - m.mean[c]) / m.std[c]
        np.testing.assert_allclose(x[:, c], want, rtol=1e-6, atol=1e-6)
    assert not np.array_equal(raw[0], raw[2])
    plain = real_inputs.model_inputs(_entry(mean=None, std=None), 2, seed=3)
    np.testing.assert_array_equal(plain[:, 0], real_inputs.photo_crops(2, (16, 24), seed=3)[..., 0])
    with pytest.raises(QuantpeError, match="no input source"):
        real_inputs.model_inputs(_entry(source="video"), 1)


def test_text_lines_odd_ones_upside_down():
    img = real_inputs.text_lines(6, (32, 160), seed=1)
    assert img.dtype == np.uint8 and img.shape == (6, 32, 160)
    for i, im in enumerate(img):
        ink = im < im.max() - 60                                          # the dark glyphs
        cols = np.nonzero(ink.any(axis=0))[0]
        assert cols.size, f"line {i} has no text"
        # text starts near the left edge; rotated by 180 degrees it ends near the right one
        assert (cols.min() < 160 // 8) if i % 2 == 0 else (cols.max() > 160 - 160 // 8)
    pages = real_inputs.text_pages(4, (64, 64), seed=2)
    assert pages.shape == (4, 64, 64)
    with pytest.raises(QuantpeError, match="square"):
        real_inputs.text_pages(1, (64, 32))


def _tiny_model(rng):
    n = Net((3, 16, 24), rng)
    a = n.op("Relu", [n.conv(n.x, 3, 8, pads=[1, 1, 1, 1])])
    b = n.op("Relu", [n.conv(a, 8, 8, strides=[2, 2], pads=[1, 1, 1, 1])])
    p = n.op("Flatten", [n.op("GlobalAveragePool", [b])], axis=1)
    return n.model(n.op("Gemm", [p, n.w(4, 8), n.w(4, scale=0.1)], transB=1))


def test_real_model_figures_on_a_tiny_entry(tmp_path, monkeypatch, seed):
    rng = np.random.default_rng(seed)
    m = _tiny_model(rng)
    monkeypatch.setenv("QUANTPE_MODEL_CACHE", str(tmp_path))
    onnx.save(m, str(tmp_path / "tiny.onnx"))
    monkeypatch.setattr(model_fetch, "MODELS", {"tiny": _entry()})
    with pytest.raises(QuantpeError, match="unknown model"):
        real_models.real_model_figures("nope")
    r = real_models.real_model_figures("tiny", n=12, seed=seed)
    g = import_onnx(tmp_path / "tiny.onnx", input_shape=(3, 16, 24))
    x = real_inputs.model_inputs(model_fetch.MODELS["tiny"], 12, seed)
    y = g.predict(x)
    q8 = build_qgraph(g, x)
    assert r["pe_share"] == 1.0 and r["weight_layers"] == 3 and r["samples"] == 12
    assert r["int8"]["agreement"] == top1_score(q8.logits(x), y)
    assert r["strum"]["dliq"]["agreement"] is not None
    a = r["approx"]
    by_name = {c.short_name(): c for c in DEFAULT_APPROX}
    q = q8
    for layer, name in a["picks"].items():                # each pick alone, full inference
        c = by_name[name]
        rule = approx_mul(c) if c.signed else sign_magnitude_mul(c)
        assert real_models.within_one_point(q8.with_mul(rule, [layer]).accuracy(x, y), a["int8_agreement"])
        q = q.with_mul(rule, [layer])
    assert a["agreement_all_picks"] == q.accuracy(x, y)
    assert 0 <= a["area_macs_saving"] < 1 and a["approximate_layers"] == len(a["picks"])
    st = r["stripes"]
    assert len(st["profile"]) == 3 and st["conv_layers"] == 2 and all(1 <= p <= 8 for p in st["profile"])
    assert st["independent"]["dstripes_over_stripes"] >= 1.0
    assert [qt["budget_fraction"] for qt in r["quantune"]] == list(real_models.QUANTUNE_BUDGETS)
    for qt in r["quantune"]:
        assert qt["cost_fraction"] <= qt["budget_fraction"] + 1e-9 and sum(qt["plan_counts"].values()) == 3
        bits = [tuple(map(int, o.split("x"))) for o in qt["plan"]]          # (a_bits, w_bits) per layer
        qp = build_qgraph(g, x, w_bits=[w for _, w in bits], a_bits=[a for a, _ in bits])
        assert qt["agreement"] == qp.accuracy(x, y)
    from quantpe.report.realmodels import realmodels_markdown
    row = next(line for line in realmodels_markdown([r]) if line.startswith("| tiny |"))
    assert f"{a['approximate_layers']} of 3 layers" in row and f"{100 * r['int8']['agreement']:.1f}%" in row


def test_a_detector_gets_sqnr_figures_only(tmp_path, monkeypatch, seed):
    rng = np.random.default_rng(seed)
    n = Net((3, 16, 24), rng)
    m = n.model(n.op("Sigmoid", [n.conv(n.op("Relu", [n.conv(n.x, 3, 4, pads=[1, 1, 1, 1])]), 4, 2, k=1)]))
    monkeypatch.setenv("QUANTPE_MODEL_CACHE", str(tmp_path))
    onnx.save(m, str(tmp_path / "det.onnx"))
    monkeypatch.setattr(model_fetch, "MODELS", {"det": dataclasses.replace(_entry(), name="det", metric="sqnr")})
    r = real_models.real_model_figures("det", n=4, seed=seed)
    assert r["int8"]["agreement"] is None and r["int8"]["output_sqnr_db"] > 15
    assert set(r["strum"]["output_sqnr_db"]) == {"int8", "dliq", "mip2q", "int4"}
    assert "approx" not in r and "stripes" not in r and "quantune" not in r
