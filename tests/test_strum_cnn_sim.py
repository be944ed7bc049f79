"""StruM PE regression on the digits CNN's real, zero-padded weights and activations.

Every weight layer of the CNN (conv1 and the depthwise dw3 have K = 9: padded to 16 with zero
weights and zero activations) is StruM-encoded by `model_eval.strum_operands`; one frame is one
output channel at one window: its padded blocks in order, framed by first/last, with random
idle cycles. The golden schedule's emitted sums are checked against the layer's own integer
accumulators (QGraph with the decoded StruM weights, bias removed), then the RTL runs on Icarus
against the golden schedule on every cycle.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest

from quantpe.golden.cnn import model_data, reference_qgraph
from quantpe.golden.intmath import wrap
from quantpe.golden.model_eval import strum_operands
from quantpe.golden.strum import StrumConfig, input_ports, ports_from_words, strum_schedule

CONFIGS = {"dliq-static-b16k8": StrumConfig(variant="dliq", structure="static"),
           "mip2q-static-b16k8": StrumConfig(variant="mip2q", structure="static"),
           "dliq-dynamic-b16k8": StrumConfig(variant="dliq", structure="dynamic")}


@functools.cache
def _operands(cfg: StrumConfig):
    q = reference_qgraph("cnn")
    x = model_data("cnn")[2][:6]
    return q, x, {n: strum_operands(q, n, x, cfg) for n in q.weight_layers}


def cnn_stimulus(cfg: StrumConfig, cycles: int, seed: int):
    q, _, ops = _operands(cfg)
    rng = np.random.default_rng(seed)
    names = list(ops)
    B = cfg.block
    rows, frames = [], []
    spare = int(ops[names[0]]["words"][0][0])
    while len(rows) < cycles:
        name = names[int(rng.integers(len(names)))]
        op = ops[name]
        g_, r_, kp = op["activations"].shape
        o = int(rng.integers(op["values"].shape[0]))
        g = o // (op["values"].shape[0] // g_)
        r = int(rng.integers(r_))
        a = op["activations"][g, r]
        words = op["words"][o]
        mode = int(cfg.dynamic and rng.random() < 0.25)
        w8 = np.zeros(kp, np.int64)
        w8[:q.layer(name).weight.codes.shape[1]] = q.layer(name).weight.codes[o]
        for b in range(len(words)):
            if rng.random() < 0.15:
                rows.append((0, 1, 1, np.zeros(B, np.int64), spare, 1, np.zeros(B, np.int64)))
            rows.append((1, int(b == 0), int(b == len(words) - 1), a[b * B:(b + 1) * B], int(words[b]), mode,
                         w8[b * B:(b + 1) * B]))
        frames.append((name, g, r, o, mode, len(rows) - 1))
    rows = rows[:cycles]
    inputs = {k: np.array([r[i] for r in rows], np.int64)
              for i, k in enumerate(("valid", "first", "last", "a"))}
    if cfg.dynamic:
        inputs["mode"] = np.array([r[5] for r in rows], np.int64)
        inputs["w"] = np.array([r[6] for r in rows], np.int64)
    inputs.update(ports_from_words(cfg, [r[4] for r in rows]))
    assert set(inputs) == set(input_ports(cfg))
    return inputs, [f for f in frames if f[5] < cycles]


def _check_golden(cfg, inputs, frames, cycles):
    q, x, ops = _operands(cfg)
    exp = strum_schedule(cfg, inputs)
    accs = {}
    for name, op in ops.items():
        qs = q.with_weights(name, op["values"][:, :q.layer(name).weight.codes.shape[1]])
        lay = qs.layer(name)
        acc = lay.accumulators(qs.layer_inputs(x)[name], 32)
        accs[name] = (acc.reshape(acc.shape[0], acc.shape[1], -1), lay.bias, q.layer(name).bias)
    seen = set()
    for name, g, r, o, mode, t in frames:
        if t + cfg.latency >= cycles:
            continue
        acc, bias_s, bias8 = accs[name]
        p = acc.shape[2]
        n, pos = divmod(r, p)
        if mode == 0 and cfg.dynamic:        # plain INT8 frame of the dynamic PE: INT8 weights
            want = int(wrap(np.dot(q.layer(name).weight.codes[o],
                                   ops[name]["activations"][g, r][:q.layer(name).weight.codes.shape[1]]), 32))
        else:
            want = int(wrap(int(acc[n, o, pos]) - int(bias_s[o]), 32))
        assert exp.out_valid[t + cfg.latency] == 1 and exp.out_sum[t + cfg.latency] == want
        seen.add(name)
    assert seen == set(ops)                     # every layer, padded ones included, was exercised


@pytest.mark.parametrize("name", list(CONFIGS))
def test_strum_golden_on_cnn_padded_operands(name, seed):
    cfg = CONFIGS[name]
    inputs, frames = cnn_stimulus(cfg, 3000, seed)
    assert ops_padded(cfg) == {"conv1": 7, "dw3": 7}
    _check_golden(cfg, inputs, frames, 3000)
    # mutation: activations in another lane order (lanes 0 and 1 swapped) must fail the check
    bad = dict(inputs, a=inputs["a"][:, [1, 0] + list(range(2, cfg.block))])
    with pytest.raises(AssertionError):
        _check_golden(cfg, bad, frames, 3000)


def ops_padded(cfg):
    return {n: op["pad"] for n, op in _operands(cfg)[2].items() if op["pad"]}


@pytest.mark.parametrize("name", ["dliq-static-b16k8",
                                  pytest.param("mip2q-static-b16k8", marks=pytest.mark.slow),
                                  pytest.param("dliq-dynamic-b16k8", marks=pytest.mark.slow)])
def test_strum_rtl_on_cnn_padded_operands(name, seed):
    from quantpe.sim.runner import run
    cfg = CONFIGS[name]
    inputs, frames = cnn_stimulus(cfg, 1500, seed)
    _check_golden(cfg, inputs, frames, 1500)
    r = run(cfg, "icarus", inputs, seed=seed, name=f"digits-cnn-s{seed}")
    assert r.checked == 1500
