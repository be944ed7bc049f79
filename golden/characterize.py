"""Exhaustive error characterization of a multiplier given as a truth table.

Input: a table T of shape (2^a_bits, 2^b_bits), T[pa, pb] = product for the operands whose bit
patterns are pa (row, operand a) and pb (column, operand b), read as two's complement when
`signed`. Works for golden tables (`mul_table`), user LUTs and tables measured on RTL.

Metrics over all N = 2^(a_bits+b_bits) pairs, with E = T - exact (the error matrix):
  ep      error probability: fraction of pairs with E != 0
  mae     mean |E|;  mae_pct = 100 * mae / 2^(a_bits+b_bits)   (percent)
  wce     max |E|;   wce_pct = 100 * wce / 2^(a_bits+b_bits)   (percent)
  mred    mean of |E| / |exact| over the pairs with exact != 0  (a fraction, not percent)
  wcre    max of  |E| / |exact| over the same pairs            (a fraction)
  mse     mean E^2
  bias    mean E (signed)
  std     population standard deviation of E (ddof = 0)
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .approx import ApproxMulConfig, exact_table, mul_table, operand_values, table_widths

__all__ = ["MulCharacterization", "characterize_table", "characterize", "table_from_rule"]


@dataclasses.dataclass(frozen=True)
class MulCharacterization:
    """Metrics of one multiplier (definitions in the module docstring) plus its error matrix."""

    a_bits: int
    b_bits: int
    signed: bool
    n_pairs: int
    n_nonzero: int        # pairs with exact product != 0 (the MRED/WCRE population)
    ep: float
    mae: float
    mae_pct: float
    wce: int
    wce_pct: float
    mred: float
    wcre: float
    mse: float
    bias: float
    std: float
    error: np.ndarray = dataclasses.field(repr=False, compare=False)   # (2^a_bits, 2^b_bits) int64

    def to_dict(self) -> dict:
        """JSON-ready metrics (the error matrix is left out)."""
        d = dataclasses.asdict(self)
        d.pop("error")
        return d


def characterize_table(table, signed: bool) -> MulCharacterization:
    """Exhaustive metrics of the multiplier whose truth table is `table` (see module docstring)."""
    t = np.asarray(table)
    na, nb = table_widths(t)
    exact = exact_table(na, nb, signed)
    err = t.astype(np.int64) - exact
    abs_err = np.abs(err)
    nz = exact != 0
    rel = abs_err[nz] / np.abs(exact[nz])
    n = err.size
    scale = float(1 << (na + nb))
    ef = err.astype(np.float64)
    mae = float(abs_err.mean())
    wce = int(abs_err.max())
    return MulCharacterization(
        a_bits=na, b_bits=nb, signed=bool(signed), n_pairs=n, n_nonzero=int(nz.sum()),
        ep=float(np.count_nonzero(err)) / n,
        mae=mae, mae_pct=100.0 * mae / scale,
        wce=wce, wce_pct=100.0 * wce / scale,
        mred=float(rel.mean()) if rel.size else float("nan"),
        wcre=float(rel.max()) if rel.size else float("nan"),
        mse=float(np.mean(ef * ef)), bias=float(ef.mean()), std=float(ef.std()),
        error=err)


def characterize(cfg: ApproxMulConfig) -> MulCharacterization:
    """Exhaustive metrics of a golden approximate multiplier."""
    return characterize_table(mul_table(cfg), cfg.signed)


def table_from_rule(rule, a_bits: int, b_bits: int, signed: bool) -> np.ndarray:
    """Evaluate any elementwise product rule on all operand pairs -> table in pattern order."""
    a = operand_values(a_bits, signed)[:, None]
    b = operand_values(b_bits, signed)[None, :]
    out = np.asarray(rule(a, b), dtype=np.int64)
    return np.array(np.broadcast_to(out, (1 << a_bits, 1 << b_bits)))


