"""Quantization error of StruM (DLIQ, MIP2Q) against plain per-channel INT-hb and INT-lb.

All figures compare a dequantized tensor with the float tensor w (C, N):
  MSE  = mean((w - w_hat)^2)                         (float units of w)
  SQNR = 10 log10(sum w^2 / sum (w - w_hat)^2) dB    (+inf when the error is exactly 0)
INT-b is `quantize(w, b, signed=True, axis=0)` (per output channel, symmetric, +-(2^(b-1)-1)).
"""
from __future__ import annotations

from .qerror import mse_sqnr
from .quantize import quantize
from .strum_codec import block_bits
from .strum_config import StrumConfig
from .strum_encode import as_weight_matrix, encode

__all__ = ["error_figures", "strum_error_table"]


def error_figures(w, w_hat) -> dict:
    """{"mse", "sqnr_db"} of w_hat against w (`quantpe.golden.qerror.mse_sqnr`)."""
    mse, sqnr = mse_sqnr(w, w_hat)
    return {"mse": mse, "sqnr_db": sqnr}


def strum_error_table(w, cfg: StrumConfig | None = None, j: int | None = None) -> dict:
    """Error figures of w under INT-hb, StruM-DLIQ, StruM-MIP2Q and INT-lb (keys "int8",
    "dliq", "mip2q", "int4" for the default hb=8, lb=4), each with "bits_per_weight".

    `cfg` gives B, K, hb, lb and the DLIQ shift mode (its variant, structure and accumulator
    do not matter); `j` is the DLIQ layer shift when cfg.shift == "layer" (None: chosen).
    """
    cfg = cfg or StrumConfig()
    w = as_weight_matrix(w)
    base = cfg.replace(structure="static", acc_bits=62)
    rows = {}
    q = quantize(w, cfg.hb, signed=True, axis=0)
    rows[f"int{cfg.hb}"] = dict(error_figures(w, q.dequantize()), bits_per_weight=float(cfg.hb))
    for variant in ("dliq", "mip2q"):
        vc = base.replace(variant=variant, shift=cfg.shift if variant == "dliq" else "block")
        t = encode(w, vc, j=j if variant == "dliq" else None)
        rows[variant] = dict(error_figures(w, t.dequantize()),
                             bits_per_weight=block_bits(vc) / vc.block)
    q = quantize(w, cfg.lb, signed=True, axis=0)
    rows[f"int{cfg.lb}"] = dict(error_figures(w, q.dequantize()), bits_per_weight=float(cfg.lb))
    return rows
