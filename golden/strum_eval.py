"""StruM on the digits MLP: test accuracy and per-layer weight SQNR (golden integer inference).

`strum_model_accuracy` quantizes the reference MLP (`qmodel.build_qmodel`, INT8 weights and
activations, 32-bit accumulators) and replaces the integer weight matrix of the chosen layers
(`QModel.with_weights`, same units s_w, so bias and requantizers are unchanged) by the decoded
StruM values (q * 2^j, +-2^e, never clipped). The StruM scale is the INT8 per-channel scale by
construction (both come from `quantize(w, 8, axis=0)`); this is checked. INT4 is
`build_qmodel(w_bits=4)` on the same layers (activations stay INT8). Accuracy is on the fixed
360-image test split; every number is computed with the bit-exact integer golden arithmetic.

`python -m quantpe.golden.strum_eval [--block 16] [--k 8] [--lb 4] [--shift block|layer]
[--select prefix|group] [--groups G]`
prints the table.
"""
from __future__ import annotations

import numpy as np

from .digits import load_digits_split
from .errors import QuantpeError
from .mlp import MLP, load_reference_model
from .qmodel import build_qmodel
from .strum_codec import block_bits
from .strum_config import StrumConfig
from .strum_encode import encode, encode_int
from .strum_error import error_figures

__all__ = ["strum_model_accuracy"]


def _layer_indices(layers, n: int) -> list:
    if layers is None:
        return list(range(n))
    idx = [layers] if isinstance(layers, (int, np.integer)) else list(layers)
    for i in idx:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not -n <= i < n:
            raise QuantpeError(f"layer index must be in 0..{n - 1}, got {i!r}")
    return sorted({int(i) % n for i in idx})


def strum_model_accuracy(cfg: StrumConfig | None = None, model: MLP | None = None,
                         layers=None, source: str = "float") -> dict:
    """Test accuracy of float / INT8 / StruM-DLIQ / StruM-MIP2Q / INT4 and per-layer weight SQNR.

    cfg: block, k, lb and the DLIQ shift mode (hb must be 8: the model's INT8 weights).
    layers: indices of the layers that get StruM / INT4 weights (None: all).
    source: "float" encodes the float weights (low codes fitted to w / s), "int8" encodes the
    INT8 codes (low codes fitted to the integer codes).
    Returns {"accuracy": {name: fraction}, "layers": [{"layer", "shape", "sqnr_db": {name: dB},
    "mse": {...}}], "bits_per_weight": {...}, "n_test", "config", "source", "strum_layers"}.
    """
    cfg = cfg or StrumConfig()
    if cfg.hb != 8:
        raise QuantpeError(f"the digits model has INT8 weights: StruM needs hb=8, got {cfg.hb}")
    if source not in ("float", "int8"):
        raise QuantpeError(f"source must be 'float' or 'int8', got {source!r}")
    model = model or load_reference_model()
    data = load_digits_split()
    q8 = build_qmodel(model, w_bits=8, a_bits=8)
    n = len(q8.layers)
    chosen = _layer_indices(layers, n)
    q4 = build_qmodel(model, w_bits=[4 if i in chosen else 8 for i in range(n)], a_bits=8)
    variants = {}
    for v in ("dliq", "mip2q"):
        variants[v] = cfg.replace(variant=v, shift=cfg.shift if v == "dliq" else "block",
                                  structure="static", acc_bits=62)
    qs = {"int8": q8, "int4": q4}
    per_layer = [{"layer": i, "shape": list(l.weight.codes.shape), "sqnr_db": {}, "mse": {}}
                 for i, l in enumerate(q8.layers)]
    for name, vc in variants.items():
        qm = q8
        for i in chosen:
            layer = q8.layers[i]
            w = layer.float_weight
            if source == "float":
                t = encode(w, vc)
                if not np.array_equal(t.scale, np.broadcast_to(layer.weight.scale, t.scale.shape)):
                    raise QuantpeError(f"layer {i}: StruM and INT8 scales differ")
            else:
                t = encode_int(layer.weight.codes, vc)
            qm = qm.with_weights(i, t.values())
            fig = error_figures(w, t.values() * layer.weight.scale)
            per_layer[i]["sqnr_db"][name], per_layer[i]["mse"][name] = fig["sqnr_db"], fig["mse"]
        qs[name] = qm
    for name, qm in (("int8", q8), ("int4", q4)):
        for i in chosen:
            layer = qm.layers[i]
            fig = error_figures(layer.float_weight, layer.weight.dequantize())
            per_layer[i]["sqnr_db"][name], per_layer[i]["mse"][name] = fig["sqnr_db"], fig["mse"]
    acc = {"float": model.accuracy(data.x_test, data.y_test)}
    for name in ("int8", "dliq", "mip2q", "int4"):
        acc[name] = qs[name].accuracy(data.x_test, data.y_test)
    bpw = {"int8": 8.0, "int4": 4.0}
    bpw.update({name: block_bits(vc) / vc.block for name, vc in variants.items()})
    return {"accuracy": acc, "layers": [per_layer[i] for i in chosen], "bits_per_weight": bpw,
            "n_test": int(len(data.y_test)), "config": variants["dliq"].to_dict(),
            "source": source, "strum_layers": chosen}
