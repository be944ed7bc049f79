"""QONNX `Quant` (Brevitas, FINN, hls4ml): arbitrary-width fake quantization, from its spec.

Quant(x, scale, zeropt, bitwidth; signed=1, narrow=0, rounding_mode="ROUND"):
  q = clip(round(x / scale + zeropt), qmin, qmax), y = (q - zeropt) * scale, with
  signed: qmin = -2^(b-1) (+1 when narrow), qmax = 2^(b-1) - 1;
  unsigned: qmin = 0, qmax = 2^b - 1 (-1 when narrow);
  round: ROUND = half to even (numpy.round), ROUND_TO_ZERO, CEIL, FLOOR.
scale and zeropt broadcast against x (per tensor or per channel). `quant` evaluates it (constant
folding of quantized weights); `quant_range` gives [qmin, qmax]. Domains: `QONNX_DOMAINS`.
"""
from __future__ import annotations

import numpy as np

from .errors import QuantpeError

__all__ = ["QONNX_DOMAINS", "quant_range", "quant", "quant_attrs"]

QONNX_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas")
_ROUND = {"ROUND": np.round, "ROUND_TO_ZERO": np.trunc, "CEIL": np.ceil, "FLOOR": np.floor}


def quant_range(bits: int, signed: bool, narrow: bool) -> tuple[int, int]:
    """[qmin, qmax] of a `bits`-bit Quant (module docstring)."""
    if bits < 1 or bits != int(bits):
        raise QuantpeError(f"QONNX Quant needs a positive integer bit width, got {bits}")
    bits = int(bits)
    if signed:
        return -(1 << (bits - 1)) + int(narrow), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1 - int(narrow)


def quant_attrs(attrs: dict) -> tuple[bool, bool, str]:
    """(signed, narrow, rounding_mode) of a Quant node's attributes (defaults of the spec)."""
    mode = attrs.get("rounding_mode", "ROUND")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode not in _ROUND:
        raise QuantpeError(f"QONNX Quant rounding_mode {mode!r} is not one of {', '.join(_ROUND)}")
    return bool(attrs.get("signed", 1)), bool(attrs.get("narrow", 0)), mode


def quant(x, scale, zeropt, bits, signed: bool = True, narrow: bool = False, mode: str = "ROUND"):
    """The Quant output (float, x's dtype) for numpy inputs."""
    x = np.asarray(x)
    b = np.asarray(bits).reshape(-1)
    if b.size != 1:
        raise QuantpeError("QONNX Quant needs one bit width")
    lo, hi = quant_range(float(b[0]), signed, narrow)
    q = np.clip(_ROUND[mode](x / scale + zeropt), lo, hi)
    return ((q - zeropt) * scale).astype(x.dtype)
