"""StruM PE stimulus from the digits reference model (numpy only).

Real weights: each layer's float weights StruM-encoded with the config under test (per-channel
scale, blocks of B along the reduction axis), packed into block words by the one codec. Real
activations: the integer input codes of the same layer captured on the test split. One frame is
one output neuron of one sample: its K/B blocks in order, framed by first/last, with random idle
cycles in between. Dynamic PEs also get plain-INT8 frames (mode 0) carrying the layer's int8
weight codes.

Besides the port streams, `frames` lists (layer, sample, neuron, mode, emitting input cycle) so
a test can check the emitted sums against the encoder's own integer weights.
"""
from __future__ import annotations

import functools

import numpy as np
from quantpe.golden.digits import load_digits_split
from quantpe.golden.qmodel import build_qmodel
from quantpe.golden.strum import StrumConfig, encode, input_ports, ports_from_words

__all__ = ["strum_model_stimulus"]


@functools.cache
def _model():
    qm = build_qmodel()
    return qm, qm.capture(load_digits_split().x_test)


@functools.cache
def _encoded(cfg: StrumConfig):
    qm, _ = _model()
    return [encode(layer.float_weight, cfg) for layer in qm.layers]


def strum_model_stimulus(cfg: StrumConfig, cycles: int, seed: int):
    """(inputs, frames) of about `cycles` cycles of real-model dot products."""
    rng = np.random.default_rng(seed)
    qm, traces = _model()
    tensors = _encoded(cfg)
    B = cfg.block
    lo_a, hi_a = cfg.a_range()
    rows, frames = [], []            # row: (valid, first, last, a (B,), word, mode, w (B,))
    spare = int(tensors[0].words()[0][0])
    while len(rows) < cycles:
        layer = int(rng.integers(len(tensors)))
        t, trace = tensors[layer], traces[layer]
        n, o = int(rng.integers(trace.shape[0])), int(rng.integers(t.values().shape[0]))
        a = trace[n]
        words = t.words()[o]
        mode = int(cfg.dynamic and rng.random() < 0.25)
        w8 = qm.layers[layer].weight.codes[o]
        nb = len(words)
        for b in range(nb):
            if rng.random() < 0.15:
                rows.append((0, 1, 1, rng.integers(lo_a, hi_a + 1, B), spare, 1, np.zeros(B, np.int64)))
            rows.append((1, int(b == 0), int(b == nb - 1), a[b * B:(b + 1) * B], int(words[b]), mode,
                         w8[b * B:(b + 1) * B]))
        frames.append((layer, n, o, mode, len(rows) - 1))
    rows = rows[:cycles]
    frames = [f for f in frames if f[4] < cycles]
    inputs = {"valid": np.array([r[0] for r in rows], np.int64),
              "first": np.array([r[1] for r in rows], np.int64),
              "last": np.array([r[2] for r in rows], np.int64),
              "a": np.array([r[3] for r in rows], np.int64)}
    if cfg.dynamic:
        inputs["mode"] = np.array([r[5] for r in rows], np.int64)
        inputs["w"] = np.array([r[6] for r in rows], np.int64)
    inputs.update(ports_from_words(cfg, [r[4] for r in rows]))
    assert set(inputs) == set(input_ports(cfg))
    return inputs, frames
