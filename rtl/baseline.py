"""Baseline dot-product PE generator (golden contract: `quantpe.golden.baseline`)."""
from amaranth import Module, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from quantpe.golden.baseline import BaselineConfig

from .accumulator import Accumulator
from .adder_tree import AdderTree

__all__ = ["BaselinePE", "lane_products"]


def lane_products(m, a, w, lanes, width):
    """Exact products a[i] * w[i] as `width`-bit signed signals (the multiplier array)."""
    prods = []
    for i in range(lanes):
        p = Signal(signed(width), name=f"prod{i}")
        m.d.comb += p.eq(a[i] * w[i])
        prods.append(p)
    return prods


class BaselinePE(wiring.Component):
    """`lanes` multipliers, an adder tree and a framed accumulator.

    Ports (all synchronous to `clk`, synchronous active-high `rst`):
      valid, first, last : In(1)
      a : In(lanes x a_bits), signed or unsigned per config, lane 0 in the LSBs
      w : In(lanes x w_bits), signed or unsigned per config, lane 0 in the LSBs
      out_valid : Out(1)           one cycle per `last`, `latency` = pipeline + 1 cycles later
      out_sum   : Out(acc_bits)    signed; holds the latest emitted sum
    Pipeline: 0 = combinational products and tree into the accumulator; 1 = register after the
    adder tree; 2 = registers after the multipliers and after the adder tree.
    """

    def __init__(self, cfg: BaselineConfig):
        self.cfg = cfg
        a_shape = signed(cfg.a_bits) if cfg.a_signed else unsigned(cfg.a_bits)
        w_shape = signed(cfg.w_bits) if cfg.w_signed else unsigned(cfg.w_bits)
        super().__init__({
            "valid": In(1), "first": In(1), "last": In(1),
            "a": In(data.ArrayLayout(a_shape, cfg.lanes)),
            "w": In(data.ArrayLayout(w_shape, cfg.lanes)),
            "out_valid": Out(1),
            "out_sum": Out(signed(cfg.acc_bits)),
        })

    def elaborate(self, platform):
        cfg = self.cfg
        m = Module()
        ctrl = [self.valid, self.first, self.last]

        def stage(values, name):
            regs = []
            for i, v in enumerate(values):
                r = Signal.like(v, name=f"{name}{i}", reset_less=False)
                m.d.sync += r.eq(v)
                regs.append(r)
            return regs

        terms = lane_products(m, self.a, self.w, cfg.lanes, cfg.product_bits)
        if cfg.pipeline >= 2:
            terms = stage(terms, "prod_q")
            ctrl = stage(ctrl, "ctrl_p")
        m.submodules.tree = tree = AdderTree(cfg.lanes, cfg.product_bits, cfg.sum_bits)
        for i, t in enumerate(terms):
            m.d.comb += tree.terms[i].eq(t)
        total = tree.total
        if cfg.pipeline >= 1:
            (total,) = stage([total], "sum_q")
            ctrl = stage(ctrl, "ctrl_s")
        m.submodules.acc = acc = Accumulator(cfg.sum_bits, cfg.acc_bits, cfg.saturate)
        m.d.comb += [acc.valid.eq(ctrl[0]), acc.first.eq(ctrl[1]), acc.last.eq(ctrl[2]),
                     acc.value.eq(total),
                     self.out_valid.eq(acc.out_valid), self.out_sum.eq(acc.out_sum)]
        return m
