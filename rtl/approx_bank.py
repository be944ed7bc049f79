"""A bank of approximate multipliers on shared operands, for checking many variants in one build.

Ports (combinational, no clock, latency 0):
  a  In(a_bits), b In(b_bits)    signed or unsigned (every variant has the same widths and signedness)
  y  Out(ArrayLayout(y_bits, N)) element i = variant i's product, sign- or zero-extended to y_bits
                                 = the widest variant's product width
Each variant is the unchanged `ApproxMultiplier` of its config, as a submodule `mul<i>`.
"""
from __future__ import annotations

from amaranth import Module, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from quantpe.golden.approx import ApproxMulConfig
from quantpe.golden.errors import ConfigError

from .approx import approx_multiplier

__all__ = ["MultiplierBank"]


class MultiplierBank(wiring.Component):
    """Variants `cfgs` (same a_bits, b_bits, signed) side by side on the same a and b."""

    def __init__(self, cfgs):
        cfgs = list(cfgs)
        if not cfgs or not all(isinstance(c, ApproxMulConfig) for c in cfgs):
            raise ConfigError("MultiplierBank needs one or more ApproxMulConfig")
        widths = {(c.a_bits, c.b_bits, c.signed) for c in cfgs}
        if len(widths) != 1:
            raise ConfigError(f"MultiplierBank: every variant needs the same widths and signedness, got {sorted(widths)}")
        self.cfgs = cfgs
        na, nb, s = widths.pop()
        shape = signed if s else unsigned
        self.y_bits = max(c.y_bits for c in cfgs)
        super().__init__({"a": In(shape(na)), "b": In(shape(nb)),
                          "y": Out(data.ArrayLayout(shape(self.y_bits), len(cfgs)))})

    def elaborate(self, platform):
        m = Module()
        for i, cfg in enumerate(self.cfgs):
            mul = m.submodules[f"mul{i}"] = approx_multiplier(cfg)
            m.d.comb += [mul.a.eq(self.a), mul.b.eq(self.b), self.y[i].eq(mul.y)]
        return m
