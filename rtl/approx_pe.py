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

from .approx import approx_multiplier
from .pipeline import sum_and_accumulate

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
        terms = []
        for i, lane_cfg in enumerate(cfg.lane_configs()):
            mul = approx_multiplier(lane_cfg)
            m.submodules[f"mul{i}"] = mul
            p = Signal(signed(cfg.product_bits), name=f"prod{i}")
            m.d.comb += [mul.a.eq(self.a[i]), mul.b.eq(self.w[i]), p.eq(mul.y)]
            terms.append(p)
        sum_and_accumulate(m, self, terms, term_bits=cfg.product_bits, sum_bits=cfg.sum_bits,
                           acc_bits=cfg.acc_bits, saturate=cfg.saturate, pipeline=cfg.pipeline)
        return m


def approx_pe(cfg: ApproxPEConfig) -> ApproxPE:
    """The Amaranth component of `cfg`."""
    return ApproxPE(cfg)
