"""Approximate-multiplier PE generator (golden contract: `quantpe.golden.approx_pe`).

The baseline PE structure (lane multipliers, AdderTree, Accumulator, pipeline 0/1/2) with lane
i's multiplier built by `quantpe.rtl.approx.approx_multiplier(cfg.lane_configs()[i])`.
Ports as the baseline: valid, first, last, a (lanes x a_bits), w (lanes x w_bits), out_valid,
out_sum (acc_bits, signed); latency pipeline + 1.
"""
from amaranth import Module, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from quantpe.golden.approx_pe import ApproxPEConfig
from quantpe.golden.errors import ConfigError

from .accumulator import Accumulator
from .adder_tree import AdderTree
from .approx import approx_multiplier

__all__ = ["ApproxPE", "approx_pe"]


class ApproxPE(wiring.Component):
    """`lanes` approximate multipliers (one kind per lane), an adder tree and a framed accumulator."""

    def __init__(self, cfg: ApproxPEConfig):
        if not isinstance(cfg, ApproxPEConfig):
            raise ConfigError(f"approx_pe needs an ApproxPEConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        shape = signed if cfg.signed else unsigned
        super().__init__({
            "valid": In(1), "first": In(1), "last": In(1),
            "a": In(data.ArrayLayout(shape(cfg.a_bits), cfg.lanes)),
            "w": In(data.ArrayLayout(shape(cfg.w_bits), cfg.lanes)),
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
                r = Signal.like(v, name=f"{name}{i}")
                m.d.sync += r.eq(v)
                regs.append(r)
            return regs

        terms = []
        for i, lane_cfg in enumerate(cfg.lane_configs()):
            mul = approx_multiplier(lane_cfg)
            m.submodules[f"mul{i}"] = mul
            p = Signal(signed(cfg.product_bits), name=f"prod{i}")
            m.d.comb += [mul.a.eq(self.a[i]), mul.b.eq(self.w[i]), p.eq(mul.y)]
            terms.append(p)
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


def approx_pe(cfg: ApproxPEConfig) -> ApproxPE:
    """The Amaranth component of `cfg`."""
    return ApproxPE(cfg)
