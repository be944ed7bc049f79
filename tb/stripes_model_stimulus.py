"""Stripes SIP stimulus from a real model's layers, in brick order (numpy only).

One frame is one output channel o of one weight layer at one window position (row r of the
layer's lowered columns): the layer's bricks of that row (`model_eval.layer_bricks`: 16 input
channels of one kernel tap, channel order of `lowering`, idle lanes 0) and the same bricks of
the lowered weight row o, framed by first/last. Static PEs get the layer's window on every
brick. The source offers with probability `offer`, the sink takes with probability `take`.

`frames` lists (layer, group, row, output, index of the frame's last brick), so a test can check
each emitted sum against the layer's own integer accumulators.
"""
from __future__ import annotations

import numpy as np
from quantpe.golden.errors import QuantpeError
from quantpe.golden.lowering import bricks
from quantpe.golden.model_eval import layer_bricks
from quantpe.golden.stripes import BrickStream, StripesConfig, brick_cycles, stripes_schedule

from .stripes_stimulus import port_inputs

__all__ = ["weight_bricks", "model_brick_stream", "model_stripes_stimulus"]


def weight_bricks(layer, o: int, lanes: int) -> np.ndarray:
    """Bricks (n_bricks, lanes) of the lowered weight row of output channel `o`."""
    row = layer.weight.codes[o][None, :]
    cg, taps = (layer.layer.cg, layer.layer.taps) if layer.is_conv else (row.shape[1], 1)
    return bricks(row, cg, taps, lanes)[0]


def model_brick_stream(cfg: StripesConfig, q, inputs: dict, windows: dict, n_frames: int,
                       rng: np.random.Generator):
    """(BrickStream, frames) of `n_frames` random frames over the weight layers of QGraph `q`.

    inputs: {layer: its input codes} (e.g. `q.layer_inputs(x)`, or window-reduced codes);
    windows: {layer: (msb, lsb)} for a static PE (ignored otherwise)."""
    if (cfg.a_bits, cfg.w_bits, cfg.a_signed, cfg.w_signed) != (q.a_bits, 8, True, True):
        raise QuantpeError("model stimulus needs a signed a_bits x int8 Stripes PE matching the model")
    names = list(q.weight_layers)
    per_layer = {n: layer_bricks(q.layer(n), inputs[n], cfg.lanes) for n in names}
    a, w, first, last, msb, lsb, frames = [], [], [], [], [], [], []
    for k in range(n_frames):
        name = names[k % len(names)] if k < len(names) else names[int(rng.integers(len(names)))]
        lay = q.layer(name)
        b = per_layer[name]                                    # (G, rows, nb, lanes)
        g_, r_ = b.shape[:2]
        o = int(rng.integers(lay.weight.codes.shape[0]))
        g = o // (lay.weight.codes.shape[0] // g_)
        r = int(rng.integers(r_))
        ab, wb = b[g, r], weight_bricks(lay, o, cfg.lanes)
        nb = len(ab)
        a.append(ab)
        w.append(wb)
        first.append(np.eye(1, nb, 0, dtype=np.int64)[0])
        last.append(np.eye(1, nb, nb - 1, dtype=np.int64)[0])
        m, l_ = windows.get(name, (cfg.a_bits - 1, 0))
        msb.append(np.full(nb, m, np.int64))
        lsb.append(np.full(nb, l_, np.int64))
        frames.append((name, g, r, o, sum(len(x) for x in a) - 1))
    kw = dict(msb=np.concatenate(msb), lsb=np.concatenate(lsb)) if cfg.mode == "static" else {}
    stream = BrickStream(np.concatenate(a), np.concatenate(w), np.concatenate(first),
                         np.concatenate(last), **kw)
    return stream, frames


def model_stripes_stimulus(cfg: StripesConfig, q, inputs: dict, windows: dict, n_frames: int,
                           seed: int, offer: float = 0.8, take: float = 0.7):
    """(port inputs for `quantpe.sim.runner.run`, schedule, frames); sized so every frame ends."""
    rng = np.random.default_rng(seed)
    stream, frames = model_brick_stream(cfg, q, inputs, windows, n_frames, rng)
    P = brick_cycles(cfg, stream.a, stream.msb, stream.lsb)
    T = int((P.sum() + len(P)) / min(offer, take)) + 4 * cfg.max_cycles + 50
    valid = (rng.random(T) < offer).astype(np.int64)
    ready = (rng.random(T) < take).astype(np.int64)
    s = stripes_schedule(cfg, stream, valid, ready, fill_rng=rng)
    return port_inputs(cfg, stream, s), s, frames
