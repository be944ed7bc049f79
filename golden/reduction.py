"""The partial-product reduction schedule (Dadda tree) and its bit-level evaluator.

`dadda_schedule(heights, compressor, approx_cols)` is the one description of the reduction tree
that rtl/approx.py builds and golden evaluates. Input bits are numbered column by column in the
order given (column 0 first); every operation creates two new bits, numbered on from there.

Stages: Dadda targets ..., 9, 6, 4, 3, 2 (d_{k+1} = floor(3 d_k / 2), those below the tallest
column). In a stage every column c, bottom up, is cut down to the target d counting the carries
already arriving from column c - 1: while (bits left in c) + (new bits in c) > d and at least two
bits are left, with excess e = left + new - d:
  - c < approx_cols and >= 4 bits left: one approximate 4:2 compressor `compressor` on the
    first four bits left (sum to c, carry to c + 1; `quantpe.golden.compressors`), even when
    e < 3 (it cuts the column by 3, below the target: at 8x8 this gave smaller areas at equal
    MRED than using it only for e >= 3, and it is the only way the cell appears in arrays of
    5 bits or fewer);
  - else e == 1 or exactly two bits left: a half adder on the first two;
  - else a full adder on the first three.
The outputs join the column after the untouched bits (untouched first). A column profile that
a stage cannot cut down gets extra stages at target 2. The final columns (at most two bits each)
go to one exact carry-propagate adder: `Schedule.columns`.

With `approx_cols` = 0 every operation is exact, so `evaluate` is the plain sum of the inputs.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .compressors import COMPRESSORS
from .errors import ConfigError

__all__ = ["Op", "Schedule", "dadda_schedule", "evaluate"]



@dataclasses.dataclass(frozen=True)
class Op:
    """One cell: kind "fa", "ha" or a compressor name; `ins` bit ids of column `col`;
    `sum` (column col) and `carry` (column col + 1) the ids of its two output bits."""
    kind: str
    stage: int
    col: int
    ins: tuple
    sum: int
    carry: int


@dataclasses.dataclass(frozen=True)
class Schedule:
    """The cells in build order and the final columns (tuples of <= 2 bit ids, no empty
    columns at the top). `n_inputs` input bits, ids 0 .. n_inputs - 1."""
    n_inputs: int
    ops: tuple
    columns: tuple


def dadda_schedule(heights, compressor: str = "", approx_cols: int = 0) -> Schedule:
    """The reduction of columns of `heights[c]` bits of weight 2^c (see the module docstring)."""
    heights = [int(h) for h in heights]
    if any(h < 0 for h in heights):
        raise ConfigError(f"reduction: column heights must be >= 0, got {heights}")
    if approx_cols and compressor not in COMPRESSORS:
        raise ConfigError(f"reduction: compressor must be one of {', '.join(COMPRESSORS)}, got {compressor!r}")
    nid = 0
    cols = []
    for h in heights:
        cols.append(list(range(nid, nid + h)))
        nid += h
    n_inputs = nid
    cols.append([])
    ops = []
    tallest = max((len(c) for c in cols), default=0)
    seq = [2]
    while seq[-1] < tallest:
        seq.append(seq[-1] * 3 // 2)
    targets = [h for h in reversed(seq) if h < tallest]
    stage = 0
    while targets:
        d = targets.pop(0)
        new = [[] for _ in cols] + [[]]
        for c in range(len(cols)):
            old = cols[c]
            while len(old) + len(new[c]) > d and len(old) >= 2:
                excess = len(old) + len(new[c]) - d
                if c < approx_cols and len(old) >= 4:
                    kind, take = compressor, 4
                elif excess == 1 or len(old) == 2:
                    kind, take = "ha", 2
                else:
                    kind, take = "fa", 3
                ins = tuple(old[:take])
                del old[:take]
                ops.append(Op(kind, stage, c, ins, nid, nid + 1))
                new[c].append(nid)
                new[c + 1].append(nid + 1)
                nid += 2
            new[c] = old + new[c]
        cols = new
        stage += 1
        if not targets and any(len(c) > 2 for c in cols):
            targets.append(2)
    while cols and not cols[-1]:
        cols.pop()
    return Schedule(n_inputs, tuple(ops), tuple(tuple(c) for c in cols))


def evaluate(sched: Schedule, inputs) -> np.ndarray:
    """Sum (int64) of the final columns after every cell of `sched` on 0/1 arrays: `inputs` is a
    sequence of n_inputs arrays (broadcasting) or one uint8 array whose last axis is the bit id."""
    bits = [np.asarray(x, dtype=np.uint8) for x in (inputs if not isinstance(inputs, np.ndarray)
                                                       else np.moveaxis(inputs, -1, 0))]
    if len(bits) != sched.n_inputs:
        raise ConfigError(f"reduction: {len(bits)} input bits for a schedule of {sched.n_inputs}")
    shape = np.broadcast_shapes(*(b.shape for b in bits)) if bits else ()
    for op in sched.ops:
        x = [bits[i] for i in op.ins]
        if op.kind == "fa":
            s, c = x[0] ^ x[1] ^ x[2], (x[0] & x[1]) | (x[2] & (x[0] ^ x[1]))
        elif op.kind == "ha":
            s, c = x[0] ^ x[1], x[0] & x[1]
        else:
            s, c = COMPRESSORS[op.kind](*x)
        bits.append(np.asarray(s, dtype=np.uint8))
        bits.append(np.asarray(c, dtype=np.uint8))
    total = np.zeros(shape, dtype=np.int64)
    for col, ids in enumerate(sched.columns):
        for i in ids:
            total = total + (bits[i].astype(np.int64) << col)
    return total
