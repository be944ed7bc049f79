"""Quantization error of a tensor against its float original: the one MSE/SQNR rule.

  MSE  = mean((x - x_hat)^2)                           (float units of x)
  SQNR = 10 log10(sum x^2 / sum (x - x_hat)^2) dB      (+inf when the error is exactly 0,
                                                        -inf when x is all zero but x_hat is not)
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["mse_sqnr"]


def mse_sqnr(x, x_hat) -> tuple[float, float]:
    """(MSE, SQNR in dB) of `x_hat` against `x` (same shape, float)."""
    x = np.asarray(x, dtype=np.float64)
    err = x - np.asarray(x_hat, dtype=np.float64)
    noise = float(np.sum(err * err))
    signal = float(np.sum(x * x))
    if noise == 0:
        sqnr = math.inf
    else:
        sqnr = 10 * math.log10(signal / noise) if signal > 0 else -math.inf
    return float(np.mean(err * err)), sqnr
