"""Approximate-multiplier PE generator (golden contract: `quantpe.golden.approx_pe`).

The baseline PE structure (lane multipliers, AdderTree, Accumulator, pipeline 0/1/2) with lane
i's multiplier built by `quantpe.rtl.approx.approx_multiplier(cfg.lane_configs()[i])`; an exact
lane is built in the cheapest exact form (`exact_lane_form`), so the PE with every lane exact is
no larger than the baseline PE of the same widths.
Ports as the baseline: valid, first, last, a (lanes x a_bits), w (lanes x w_bits), out_valid,
out_sum (acc_bits, signed); latency pipeline + 1.
"""
from amaranth import Module, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from quantpe.golden.approx_pe import ApproxPEConfig
from quantpe.golden.errors import ConfigError

from .approx import PlainMultiplier, approx_multiplier
from .pipeline import sum_and_accumulate

__all__ = ["ApproxPE", "approx_pe", "exact_lane_form", "lane_multiplier"]


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
            mul = lane_multiplier(lane_cfg)
            m.submodules[f"mul{i}"] = mul
            p = Signal(signed(cfg.product_bits), name=f"prod{i}")
            m.d.comb += [mul.a.eq(self.a[i]), mul.b.eq(self.w[i]), p.eq(mul.y)]
            terms.append(p)
        sum_and_accumulate(m, self, terms, term_bits=cfg.product_bits, sum_bits=cfg.sum_bits,
                           acc_bits=cfg.acc_bits, saturate=cfg.saturate, pipeline=cfg.pipeline)
        return m


def exact_lane_form(a_bits: int, b_bits: int, is_signed: bool) -> str:
    """How an exact lane is built: the cheapest exact form measured in the PE (built-in liberty,
    all lanes exact, 16 lanes 8x8 and 4 lanes 8x4 / 4x4, against the baseline PE's `a * w`):
    signed, a_bits + b_bits >= 12 -> "booth" (8x8: 39,910 µm², Baugh-Wooley 42,578, baseline
    53,796; 8x4: 8,418, Baugh-Wooley 8,786, baseline 9,424); signed narrower -> "baugh_wooley"
    (4x4: 6,202, Booth 6,417, baseline 7,111); unsigned 8x8 -> "array" (42,396 vs 43,073); unsigned
    narrower -> "mul", the same `*` as the baseline (8x4: 8,138 vs 8,189; 4x4: 5,718 vs 5,783; the
    array is 4% / 2% larger)."""
    if is_signed:
        return "booth" if a_bits + b_bits >= 12 else "baugh_wooley"
    return "array" if a_bits + b_bits >= 16 else "mul"


def lane_multiplier(lane_cfg):
    """The component of one lane: `approx_multiplier(lane_cfg)`, except that an exact lane is built
    in `exact_lane_form` (every form is the exact product, so the golden contract is unchanged)."""
    if lane_cfg.method == "exact":
        form = exact_lane_form(lane_cfg.a_bits, lane_cfg.b_bits, lane_cfg.signed)
        if form == "mul":
            return PlainMultiplier(lane_cfg.a_bits, lane_cfg.b_bits, lane_cfg.signed)
        if form in ("baugh_wooley", "booth"):
            return approx_multiplier(lane_cfg.replace(signed_form=form))
    return approx_multiplier(lane_cfg)


def approx_pe(cfg: ApproxPEConfig) -> ApproxPE:
    """The Amaranth component of `cfg`."""
    return ApproxPE(cfg)
