"""The ranges of the command-line numbers, each defined once with its reason, and their parsers.

Every command that takes the same quantity uses the same bound: seeds (`seed_type`), RTL
simulation cycles (`cycles_type`: sim, report, bench sim), gate-level simulation cycles
(`gate_cycles_type`: power, bench power), cost and accuracy budgets (`fraction_type`,
`loss_points_type`), operand widths (`OP_BITS`). Every parser refuses what is not a finite
number in range with one line naming the option; `items_type` refuses a comma list with an
empty item ("8x8,," is not "8x8").
"""
from __future__ import annotations

import argparse
import math

from quantpe.golden.approx import MAX_OP_BITS, MIN_OP_BITS

__all__ = ["MAX_SEED", "MAX_CYCLES", "MAX_GATE_CYCLES", "MAX_POWER_CLOCK_MHZ", "OP_BITS", "MAX_LOSS_POINTS", "MAX_EPOCHS",
           "bounded_int", "bounded_float", "items_type", "seed_type", "cycles_type", "gate_cycles_type",
           "fraction_type", "loss_points_type", "clock_type", "op_bits_type"]

#: numpy's SeedSequence and the simulators take 32-bit seeds
MAX_SEED = (1 << 32) - 1
#: the longest RTL regression: the stimulus, the HDL memories and the capture of 10^7 cycles of
#: a 16-lane PE take a few GB; longer runs are split by the user into several seeds
MAX_CYCLES = 10_000_000
#: the longest gate-level trace: the gate simulator keeps every net's value on every cycle (one
#: byte per net and cycle, ~1 GB for a 16-lane PE's ~10^4 nets at 10^5 cycles)
MAX_GATE_CYCLES = 100_000
#: the liberty's delay tables describe cells that switch in tens of picoseconds at the fastest
MAX_POWER_CLOCK_MHZ = 10_000.0
#: operand widths of the multiplier library (plan --precisions, characterize --a-bits/--b-bits)
OP_BITS = (MIN_OP_BITS, MAX_OP_BITS)
#: an accuracy loss is in points of a percentage
MAX_LOSS_POINTS = 100.0
#: training epochs of the digits models (seconds each); more is a typo, not a recipe
MAX_EPOCHS = 10_000


def bounded_int(name: str, lo: int, hi: int):
    """argparse type: a whole number in lo..hi."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number, got {text[:40]!r}") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{name} must be in {lo}..{hi}, got {text[:40]}")
        return v
    return parse


def bounded_float(name: str, lo: float, hi: float, lo_open: bool = False):
    """argparse type: a finite number in [lo, hi] ((lo, hi] with `lo_open`); nan and inf refused."""
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text[:40]!r}") from None
        if not math.isfinite(v) or v < lo or (lo_open and v == lo) or v > hi:
            raise argparse.ArgumentTypeError(f"{name} must be a finite number in {'(' if lo_open else '['}"
                                             f"{lo:g}, {hi:g}], got {text[:40]}")
        return v
    return parse


def items_type(name: str, item):
    """argparse type: a comma-separated list, every item parsed by `item` (text -> value,
    ArgumentTypeError); an empty list or an empty item is refused."""
    def parse(text: str) -> tuple:
        parts = [t.strip() for t in text.split(",")]
        if not text.strip() or any(not t for t in parts):
            raise argparse.ArgumentTypeError(f"{name} must be a comma-separated list without empty items, "
                                             f"got {text[:40]!r}")
        return tuple(item(t) for t in parts)
    return parse


seed_type = bounded_int("--seed", 0, MAX_SEED)
cycles_type = bounded_int("--cycles", 1, MAX_CYCLES)
gate_cycles_type = bounded_int("--cycles", 2, MAX_GATE_CYCLES)
fraction_type = bounded_float("--budget", 0.0, 1.0, lo_open=True)
loss_points_type = bounded_float("--budget", 0.0, MAX_LOSS_POINTS)
clock_type = bounded_float("--clock-mhz", 0.0, MAX_POWER_CLOCK_MHZ, lo_open=True)


def op_bits_type(name: str):
    return bounded_int(name, *OP_BITS)
