"""Baseline dot-product PE generator (golden contract: `quantpe.golden.baseline`)."""
from amaranth import Module, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from quantpe.golden.baseline import BaselineConfig

from .pipeline import sum_and_accumulate

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
        terms = lane_products(m, self.a, self.w, cfg.lanes, cfg.product_bits)
        sum_and_accumulate(m, self, terms, term_bits=cfg.product_bits, sum_bits=cfg.sum_bits,
                           acc_bits=cfg.acc_bits, saturate=cfg.saturate, pipeline=cfg.pipeline)
        return m
