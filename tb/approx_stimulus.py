"""Stimulus for a combinational approximate multiplier: every input pair, once."""
from __future__ import annotations

from quantpe.golden.approx import ApproxMulConfig, exhaustive_inputs

__all__ = ["approx_mul_stimulus"]


def approx_mul_stimulus(cfg: ApproxMulConfig, cycles: int, seed: int):
    """(inputs, coverage): all 2^(a_bits+b_bits) pairs in pattern order (`exhaustive_inputs`);
    a multiplier of <= 8x8 bits is always checked exhaustively, so `cycles` and `seed` are unused."""
    inputs = exhaustive_inputs(cfg.a_bits, cfg.b_bits, cfg.signed)
    return inputs, {"input_pairs": len(inputs["a"])}
