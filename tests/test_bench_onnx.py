"""`quantpe bench onnx` on a tiny configuration: the reported plan and Stripes profile are real
(re-derived here from the model, not from the bench's own code paths), and the narrowed,
frontier-only captures of `stripes_profile` give the profile of plain full inference."""

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from quantpe.commands.bench_onnx import scale_model  # noqa: E402
from quantpe.golden.model_eval import _narrow, stripes_profile  # noqa: E402
from quantpe.golden.onnx_io import import_onnx  # noqa: E402
from quantpe.golden.qgraph import build_qgraph  # noqa: E402
from quantpe.golden.stripes_precision import (  # noqa: E402
    covering_msb,
    profile_precisions,
    static_window,
    window_value,
)


def _windowed_agreement(q, x, target, precisions, msbs):
    """Top-1 agreement with `target` of plain full integer inference under static windows."""
    tf = {n: (lambda a, w=static_window(p, m, q.a_bits): window_value(a, w[0], w[1], q.a_bits, True))  # noqa: B008
          for n, p, m in zip(q.weight_layers, precisions, msbs) if p < q.a_bits}
    out = q.run_codes(q.quantize_input(x), transform=tf)
    return float(np.mean(np.argmax(out.reshape(len(out), -1), axis=1) == target))


def test_narrow_is_lossless_and_narrowest():
    for lo, hi, dtype in ((-128, 127, np.int8), (-129, 0, np.int16), (0, 128, np.int16),
                          (-32768, 32767, np.int16), (0, 1 << 15, np.int32), (-(1 << 31) - 1, 0, np.int64)):
        v = np.array([lo, 0, hi], np.int64)
        got = _narrow(v)
        assert got.dtype == dtype and np.array_equal(got.astype(np.int64), v)
    f = np.array([0.5])
    assert _narrow(f) is f


def test_profile_of_scale_model_equals_plain_profile(seed):
    """Residual Adds, float regions and a raw Gemm output: the cached profile (any cache size)
    == profile_precisions over plain full integer inference."""
    model, _ = scale_model(7, 16, seed=seed % 1000)
    g = import_onnx(model)
    x = np.random.default_rng(seed).random((12, 16, 16, 3))
    target = g.predict(x)
    q = build_qgraph(g, x)
    ins = q.layer_inputs(x)
    msbs = [covering_msb(ins[n], q.a_bits, True) for n in q.weight_layers]
    ref = profile_precisions(lambda p: _windowed_agreement(q, x, target, p, msbs), len(msbs), q.a_bits)
    for entries in (0, 1, 4):
        got, got_msbs = stripes_profile(q, x, target, cache_entries=entries)
        assert [got_msbs[n] for n in q.weight_layers] == msbs
        assert (got.precisions, got.independent, got.accuracy, got.evaluations, got.bumps, got.drops) == \
            (ref.precisions, ref.independent, ref.accuracy, ref.evaluations, ref.bumps, ref.drops)
