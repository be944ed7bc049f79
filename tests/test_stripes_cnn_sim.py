"""Stripes / Dynamic Stripes SIP regression on the digits CNN's real bricks.

Every weight layer of the CNN is lowered to bricks (16 input channels of one kernel tap; conv1
and the depthwise dw3 have one channel per group, so 15 idle lanes); one frame is one output
channel at one window. The static PE gets each layer's window one bit below its covering msb
(so truncation is exercised); the dynamic PEs get the raw codes. The golden schedule's emitted
sums are checked against the layer's own integer accumulators (QGraph, bias removed, on the
window-reduced codes), then the RTL runs on Icarus against the golden schedule on every cycle.
"""
from __future__ import annotations

import functools

import pytest

from quantpe.golden.cnn import model_data, reference_qgraph
from quantpe.golden.intmath import wrap
from quantpe.golden.stripes import StripesConfig
from quantpe.golden.stripes_precision import covering_msb, static_window, window_value
from quantpe.tb.stripes_model_stimulus import model_stripes_stimulus

CONFIGS = {"static-i8": StripesConfig(),
           "dynamic-lead-trail-g4": StripesConfig(mode="dynamic", trailing=True, group=4)}
FRAMES = 40


@functools.cache
def _model():
    q = reference_qgraph("cnn")
    x = model_data("cnn")[2][:4]
    raw = q.layer_inputs(x)
    windows = {n: static_window(max(1, covering_msb(a, 8, True)), covering_msb(a, 8, True), 8)
               for n, a in raw.items()}                     # one bit fewer than lossless
    cut = {n: window_value(a, *windows[n], 8, True) for n, a in raw.items()}
    return q, raw, windows, cut


def _stimulus(cfg, seed):
    q, raw, windows, cut = _model()
    codes = cut if cfg.mode == "static" else raw
    return model_stripes_stimulus(cfg, q, codes, windows, FRAMES, seed)


@functools.cache
def _accumulators(static: bool) -> dict:
    """{layer: (N, O, positions) accumulators without bias} of the codes the PE sees."""
    q, raw, _, cut = _model()
    out = {}
    for name, a in (cut if static else raw).items():
        lay = q.layer(name)
        acc = lay.accumulators(a, 32)
        out[name] = wrap(acc.reshape(acc.shape[0], acc.shape[1], -1) - lay.bias[None, :, None], 32)
    return out


def _check_golden(cfg, s, frames):
    q = _model()[0]
    accs = _accumulators(cfg.mode == "static")
    seen = set()
    for name, _g, r, o, last in frames:
        acc = accs[name]
        n, pos = divmod(r, acc.shape[2])
        want = int(acc[n, o, pos])
        assert s.taken[last] >= 0, f"frame of {name} not taken within {len(s)} cycles"
        assert s.result[last] == want and s.out_sum[s.emit[last]] == want
        seen.add(name)
    assert seen == set(q.weight_layers)         # every layer, depthwise and head included


@pytest.mark.parametrize("name", list(CONFIGS))
def test_stripes_golden_on_cnn_bricks(name, seed):
    cfg = CONFIGS[name]
    inputs, s, frames = _stimulus(cfg, seed)
    _check_golden(cfg, s, frames)
    if cfg.mode == "static":                 # the window truncates: some codes really change
        q, raw, _, cut = _model()
        assert any((raw[n] != cut[n]).any() for n in raw)
    # mutation: lanes 0 and 1 of every brick swapped must fail the check
    from quantpe.golden.stripes import BrickStream, stripes_schedule
    kw = dict(msb=inputs["_msb"], lsb=inputs["_lsb"]) if cfg.mode == "static" else {}
    perm = [1, 0] + list(range(2, cfg.lanes))
    bad = stripes_schedule(cfg, BrickStream(inputs["_a"][:, perm], inputs["_w"], inputs["_first"],
                                            inputs["_last"], **kw),
                           inputs["_in_valid"], inputs["_out_ready"])
    with pytest.raises(AssertionError):
        _check_golden(cfg, bad, frames)


@pytest.mark.parametrize("name", ["static-i8", pytest.param("dynamic-lead-trail-g4", marks=pytest.mark.slow)])
def test_stripes_rtl_on_cnn_bricks(name, seed):
    from quantpe.sim.runner import run
    cfg = CONFIGS[name]
    inputs, s, frames = _stimulus(cfg, seed)
    _check_golden(cfg, s, frames)
    r = run(cfg, "icarus", inputs, seed=seed, name=f"digits-cnn-s{seed}")
    # every frame's result was handed over inside the cycles the run compared with golden
    assert max(int(s.taken[f[4]]) for f in frames) < r.checked == len(s)
