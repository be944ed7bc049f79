"""Approximate 4:2 compressors for the partial-product reduction tree: bit-exact rules.

The rules use only ^ | & on 0/1 values (NOT as ^ 1), so the RTL builds its gates from the same
functions on Amaranth 1-bit values; tests/test_approx_compress.py checks every design against
truth tables written out independently.

A 4:2 compressor here takes four bits x1..x4 of one column (weight 2^c) and gives a sum bit
(weight 2^c) and a carry bit (weight 2^(c+1)); no carry-in, no carry-out. Exact would be
x1 + x2 + x3 + x4 = sum + 2 * carry, which two bits cannot hold for 4; every design below errs on
some inputs. `x1..x4` are the first four bits the reduction schedule takes from the column, in
its order (`quantpe.golden.reduction`).

Designs (`COMPRESSORS`, the `compressor` field of `ApproxMulConfig`):
- "momeni2": design 2 of A. Momeni, J. Han, P. Montuschi, F. Lombardi, "Design and Analysis of
  Approximate Compressors for Multiplication", IEEE Trans. Computers 64(4), 2015:
      sum   = NOT(x1 XOR x2) OR NOT(x3 XOR x4)
      carry = (x1 OR x2) AND (x3 OR x4)
  Errors on 4 of the 16 inputs, each by 1 (0000 -> 1; 1100, 0011 -> 1; 1111 -> 3); zero inputs
  give 1. Equations as in two public implementations (OpenACM `momeni`; the Chisel `approx`
  library's `Compressor4to2D2`, which agrees on the sum); the paper itself could not be read here.
  The nonzero output for zero inputs agrees with J. Gu, Y. Kim, IEIESPC 11(3), 2022, which
  criticises Momeni's design for exactly that.
- "xor_or": sum = (x1 XOR x2) OR (x3 XOR x4), carry = (x1 AND x2) OR (x3 AND x4). The compressor
  of M. Ha, S. Lee, "Multipliers With Approximate 4-2 Compressors and Error Recovery Modules",
  IEEE Embedded Systems Letters 10(1), 2018 as quoted by issue 14 (the same equations are
  OpenACM's `akbar2`, after O. Akbari et al., IEEE TVLSI 25(4), 2017). Errors on 5 inputs, all
  low: 1010, 1001, 0110, 0101 -> 1 (exact 2), 1111 -> 2 (exact 4). Zero gives zero.
- "fa_or": x3 and x4 merged by one OR gate, then an exact full adder on (x1, x2, x3 OR x4):
      sum   = x1 XOR x2 XOR (x3 OR x4)
      carry = (x1 AND x2) OR ((x1 XOR x2) AND (x3 OR x4))
  Errors only when x3 = x4 = 1 (4 inputs, each 1 low). OpenACM's `ha` compressor (attributed
  there to Ha & Lee 2018).
"""
from __future__ import annotations

import numpy as np

__all__ = ["COMPRESSORS", "compress42"]


def _momeni2(x1, x2, x3, x4):
    s = ((x1 ^ x2) ^ 1) | ((x3 ^ x4) ^ 1)
    c = (x1 | x2) & (x3 | x4)
    return s, c


def _xor_or(x1, x2, x3, x4):
    return (x1 ^ x2) | (x3 ^ x4), (x1 & x2) | (x3 & x4)


def _fa_or(x1, x2, x3, x4):
    return x1 ^ x2 ^ (x3 | x4), (x1 & x2) | ((x1 ^ x2) & (x3 | x4))


COMPRESSORS = {"momeni2": _momeni2, "xor_or": _xor_or, "fa_or": _fa_or}


def compress42(design: str, x1, x2, x3, x4) -> tuple[np.ndarray, np.ndarray]:
    """(sum, carry) of compressor `design` on 0/1 integer arrays (broadcasting, same dtype)."""
    s, c = COMPRESSORS[design](*(np.asarray(x) for x in (x1, x2, x3, x4)))
    return np.asarray(s), np.asarray(c)
