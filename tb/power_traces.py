"""Real-model stimulus for power measurements: what a PE sees running the digits MLP.

`real_trace(cfg, cycles, seed) -> {input port: per-cycle array}`:
- baseline (and any `lanes`-wide dot-product PE with the baseline ports): output-stationary
  dataflow, one PE computing the whole int8 inference: test samples in order (starting at
  sample `seed % N`), for each sample layers 0, 1, 2, for each output neuron o its K / lanes
  blocks in order: a = the layer's captured input codes a[n, block], w = the int8 weight codes
  w[o, block], first on block 0, last on the final block, valid every cycle (K not a multiple of
  lanes: the last block is zero-padded). Codes are the model's 8-bit codes (a in 0..127, w in
  -127..127), so a_bits/w_bits must be 8 and signed.
- strum: quantpe.tb.strum_model_stimulus (StruM-encoded real weights, real activation codes).
- stripes: the same bricks (16 activations, 16 weights, first/last) in the same order, offered
  back to back (in_valid = 1, out_ready = 1) and scheduled by the golden model (bit-serial: a
  brick takes P cycles); static mode uses one window per layer, [covering msb of the layer's
  codes over the test split .. 0]. The key "_ops" holds the MACs of the bricks finished within
  the trace (lanes per brick), used for energy per MAC.
- approxmul: the same (a, w) operand pairs in the same order, one product per cycle (w as |w|
  for an unsigned multiplier; a is never negative).
- approxpe: the baseline trace (same blocks, same order, lanes = cfg.lanes), the layer's
  operand pairs in dataflow order through the PE's approximate lane multipliers (w as |w| for
  an unsigned PE); a_bits = w_bits = 8.
Other kinds raise ConfigError (use the random stimulus).

`model="cnn"` (baseline, approxpe, approxmul, stripes): the digits CNN instead of the MLP; `model`
= an .onnx or .npz model file with `inputs` = its samples (.npy, as `quantpe model eval` takes
them): that model, INT8 (`build_qgraph`, calibrated on all the samples), traced on its first 8
samples the way the CNN is. Their blocks are the layers' bricks (`model_eval.layer_bricks`, the lowering's channel order, idle lanes
0) with the lowered weight rows cut the same way; every weight layer gets a share of the cycles
proportional to the cycles a `lanes`-wide PE spends on it per image (outputs x windows x bricks),
and within a layer the frames run in output-stationary order (test
image from `seed % 8` on, output channel, window position), layer after layer.
A model name that is neither a reference model nor an existing file is a ConfigError.

`strum_and_baseline_traces(strum_cfg, cycles, seed)`: the StruM trace and the baseline-PE trace
of the SAME frames (same layer, sample, neuron, block order, idle cycles and activations; the
baseline gets the layer's int8 weight codes where StruM gets its encoded block words), cut after
the last complete frame: the "same data" for a StruM vs INT8-baseline power comparison.
"""
from __future__ import annotations

import functools

import numpy as np
from quantpe.golden.cnn import model_data, reference_qgraph
from quantpe.golden.digits import load_digits_split
from quantpe.golden.errors import ConfigError
from quantpe.golden.graph_io import load_graph
from quantpe.golden.model_eval import layer_bricks
from quantpe.golden.onnx_io import import_onnx, load_samples
from quantpe.golden.qgraph import build_qgraph
from quantpe.golden.qmodel import build_qmodel
from quantpe.golden.stripes import BrickStream, brick_cycles, stripes_schedule
from quantpe.golden.stripes_precision import covering_msb
from quantpe.tb.stripes_model_stimulus import weight_bricks
from quantpe.tb.stripes_stimulus import port_inputs
from quantpe.tb.strum_model_stimulus import strum_model_stimulus

__all__ = ["real_trace", "model_pairs", "strum_and_baseline_traces", "MODELS"]


@functools.cache
def _model():
    qm = build_qmodel()
    return qm, qm.capture(load_digits_split().x_test)


MODELS = ("mlp", "cnn")


def _check_model(model: str, inputs) -> None:
    if model in MODELS:
        if inputs is not None:
            raise ConfigError(f"the {model} trace uses the digits split, not the samples {inputs}")
        return
    if not str(model).endswith((".onnx", ".npz")):
        raise ConfigError(f"real traces come from {', '.join(MODELS)} or an .onnx / .npz model file, got {model!r}")
    if inputs is None:
        raise ConfigError(f"model file {model} needs its samples (X.npy) for a real trace")


@functools.cache
def _graph_model(model: str = "cnn", inputs: str | None = None):
    """(INT8 QGraph, {weight layer: its input codes on the traced samples}) of the digits CNN or
    of a model file (module docstring)."""
    if model == "cnn":
        q, x = reference_qgraph("cnn"), model_data("cnn")[2][:8]
    else:
        try:
            shape = tuple(np.load(inputs, mmap_mode="r", allow_pickle=False).shape[1:])
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot read samples {inputs}: {e}") from None
        graph = import_onnx(model, input_shape=shape) if str(model).endswith(".onnx") else load_graph(model)[0]
        xs = load_samples(inputs, graph)
        q, x = build_qgraph(graph, xs), xs[:8]
    return q, q.layer_inputs(x)


def _msbs(model: str, inputs=None) -> np.ndarray:
    """Per-layer covering msb (signed 8-bit codes) of the traced layers' inputs."""
    traces = _model()[1] if model == "mlp" else list(_graph_model(model, inputs)[1].values())
    return np.array([covering_msb(t, 8, True) for t in traces])


def _cnn_blocks(lanes: int, cycles: int, seed: int, model: str = "cnn", inputs=None):
    q, ins = _graph_model(model, inputs)
    bricks = [layer_bricks(q.layer(n), ins[n], lanes) for n in q.weight_layers]
    n_img = len(next(iter(ins.values())))
    work = [q.layer(n).weight.codes.shape[0] * b.shape[1] // n_img * b.shape[2]
            for n, b in zip(q.weight_layers, bricks)]                 # cycles per image
    out = [[] for _ in range(5)]
    if set(np.atleast_1d(q.w_bits)) != {8} or set(np.atleast_1d(q.a_bits)) != {8}:
        raise ConfigError("real traces need an INT8 model (8-bit codes)")
    target = max(1, cycles - sum(b.shape[2] for b in bricks))     # a layer overshoots by < 1 frame
    for li, (name, b) in enumerate(zip(q.weight_layers, bricks)):
        share = max(b.shape[2], target * work[li] // sum(work))
        codes = q.layer(name).weight.codes
        og = codes.shape[0] // b.shape[0]
        pos = b.shape[1] // n_img
        done, img = 0, seed % n_img
        while done < share:
            for o in range(codes.shape[0]):
                wb = weight_bricks(q.layer(name), o, lanes)
                for r in range(img * pos, (img + 1) * pos):
                    ab = b[o // og, r]
                    nb = len(ab)
                    for lst, v in zip(out, (ab, wb, np.eye(1, nb, 0, dtype=np.int64)[0],
                                            np.eye(1, nb, nb - 1, dtype=np.int64)[0], np.full(nb, li))):
                        lst.append(v)
                    done += nb
                    if done >= share:
                        break
                if done >= share:
                    break
            img = (img + 1) % n_img
    total = sum(len(x) for x in out[2])
    if total < cycles:                        # short by the rounding: repeat from the start
        out = [x * -(-cycles // total) for x in out]
    return [np.concatenate(x)[:cycles] for x in out]


def _blocks(lanes: int, cycles: int, seed: int, model: str = "mlp", inputs=None):
    """(a, w, first, last, layer) arrays of `cycles` cycles in the dataflow order of the module doc."""
    _check_model(model, inputs)
    if model != "mlp":
        return _cnn_blocks(lanes, cycles, seed, model, inputs)
    qm, traces = _model()
    N = traces[0].shape[0]
    a_rows, w_rows, first, last, layers = [], [], [], [], []
    n = seed % N
    total = 0
    while total < cycles:
        for layer, trace in zip(qm.layers, traces):
            w = layer.weight.codes
            O, K = w.shape
            nb = -(-K // lanes)
            pad = nb * lanes - K
            a = np.pad(trace[n], (0, pad)).reshape(nb, lanes)
            wp = np.pad(w, ((0, 0), (0, pad))).reshape(O, nb, lanes)
            a_rows.append(np.tile(a, (O, 1)))
            w_rows.append(wp.reshape(O * nb, lanes))
            f = np.zeros((O, nb), np.int64)
            f[:, 0] = 1
            e = np.zeros((O, nb), np.int64)
            e[:, -1] = 1
            first.append(f.reshape(-1))
            last.append(e.reshape(-1))
            layers.append(np.full(O * nb, layer.index if hasattr(layer, "index") else len(layers)))
            total += O * nb
        n = (n + 1) % N
    return [np.concatenate(x)[:cycles] for x in (a_rows, w_rows, first, last, layers)]


def model_pairs(count: int, seed: int, model: str = "mlp", inputs=None) -> tuple[np.ndarray, np.ndarray]:
    """`count` (activation code, weight code) operand pairs in dataflow order (8-bit codes)."""
    a, w, _, _, _ = _blocks(16, -(-count // 16), seed, model, inputs)
    return a.reshape(-1)[:count], w.reshape(-1)[:count]


def real_trace(cfg, cycles: int, seed: int = 0, model: str = "mlp", inputs=None) -> dict:
    """The design's input ports per cycle on the real trace of `model` (module docstring)."""
    if cycles < 1:
        raise ConfigError(f"cycles must be >= 1, got {cycles}")
    _check_model(model, inputs)
    kind = cfg.kind
    if kind == "strum" and model != "mlp":
        raise ConfigError("StruM power traces come from the digits MLP (its CNN operands are in "
                          "tests/test_strum_cnn_sim.py)")
    if kind == "strum":
        return strum_model_stimulus(cfg, cycles, seed)[0]
    if kind == "approxmul":
        if cfg.a_bits != 8 or cfg.b_bits != 8:
            raise ConfigError("real traces need an 8x8 multiplier (the model's codes are 8-bit)")
        a, w = model_pairs(cycles, seed, model, inputs)
        return {"a": a, "b": w if cfg.signed else np.abs(w)}
    if kind == "baseline":
        if (cfg.a_bits, cfg.w_bits, cfg.a_signed, cfg.w_signed) != (8, 8, True, True):
            raise ConfigError("real traces need a signed int8 x int8 baseline PE (the model's codes)")
        a, w, first, last, _ = _blocks(cfg.lanes, cycles, seed, model, inputs)
        return {"valid": np.ones(cycles, np.int64), "first": first, "last": last, "a": a, "w": w}
    if kind == "approxpe":
        if (cfg.a_bits, cfg.w_bits) != (8, 8):
            raise ConfigError("real traces need an 8-bit x 8-bit approxpe PE (the model's codes are 8-bit)")
        a, w, first, last, _ = _blocks(cfg.lanes, cycles, seed, model, inputs)
        return {"valid": np.ones(cycles, np.int64), "first": first, "last": last, "a": a,
                "w": w if cfg.signed else np.abs(w)}
    if kind == "stripes":
        return _stripes_trace(cfg, cycles, seed, model, inputs)
    raise ConfigError(f"no real-trace builder for {kind} (use the random stimulus)")


def _stripes_trace(cfg, cycles: int, seed: int, model: str = "mlp", inputs=None) -> dict:
    if (cfg.a_bits, cfg.w_bits, cfg.a_signed, cfg.w_signed) != (8, 8, True, True):
        raise ConfigError("real traces need a signed int8 x int8 Stripes PE (the model's codes)")
    a, w, first, last, layer = _blocks(cfg.lanes, cycles, seed, model, inputs)
    kw = {}
    if cfg.mode == "static":
        kw = dict(msb=_msbs(model, inputs)[layer], lsb=np.zeros(len(layer), np.int64))
    P = brick_cycles(cfg, a, kw.get("msb"), kw.get("lsb"))
    n = int(np.searchsorted(np.cumsum(P), cycles - 8, side="right"))
    n = max(n, 1)
    bricks = BrickStream(a[:n], w[:n], first[:n], last[:n],
                         **{k: v[:n] for k, v in kw.items()})
    ones = np.ones(cycles, np.int64)
    s = stripes_schedule(cfg, bricks, ones, ones)
    inputs = port_inputs(cfg, bricks, s)
    done = int(np.count_nonzero((s.finish >= 0) & (s.finish < cycles)))
    inputs["_ops"] = np.array(done * cfg.lanes)
    return inputs


def strum_and_baseline_traces(cfg, cycles: int, seed: int = 0) -> tuple[dict, dict]:
    """(StruM inputs, baseline inputs with lanes = cfg.block) over the same frames (module doc)."""
    qm, _ = _model()
    ins, frames = strum_model_stimulus(cfg, cycles, seed)
    B = cfg.block
    if not frames:
        raise ConfigError(f"{cycles} cycles hold no complete StruM frame")
    end = frames[-1][4] + 1
    valid = np.asarray(ins["valid"])[:end]
    w = np.zeros((end, B), np.int64)
    for layer, _n, o, _mode, emit in frames:
        codes = qm.layers[layer].weight.codes[o]
        nb = len(codes) // B
        t, b = emit, nb - 1
        while b >= 0:
            if valid[t]:
                w[t] = codes[b * B:(b + 1) * B]
                b -= 1
            t -= 1
    strum = {k: np.asarray(v)[:end] for k, v in ins.items()}
    base = {"valid": valid, "first": strum["first"], "last": strum["last"], "a": strum["a"], "w": w}
    return strum, base
