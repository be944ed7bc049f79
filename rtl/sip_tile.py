"""Stripes tile generator: W windows x F filters of SIPs (golden contract: `quantpe.golden.sip_tile`).

Ports: valid, bfirst, bend, neg, first, last, w_load, flip In(1); abit In(W x L bits);
w In(F*L x w_bits signed); out_valid Out(1); out_sum Out(W*F x acc_bits signed).

Structure (named submodules, for a per-part area breakdown):
  sip_<w>_<f>  Sip: L AND gates (bit x weight), the adder tree, the sign-plane negation, the
               brick register (shift-by-one accumulate) and the output accumulator
  weights of filter f: a shadow register (loaded on w_load) and the active register (copied on
  flip), shared by the W SIPs of the filter; the activation bits of window w are broadcast to
  its F SIPs. out_valid is one register shared by the tile.
"""
from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from quantpe.golden.sip_tile import SipTileConfig

from .adder_tree import AdderTree

__all__ = ["Sip", "SipTile", "sip_tile"]


class Sip(wiring.Component):
    """One SIP: s = sum_i bits[i] ? w[i] : 0; brick <= (bfirst ? 0 : 2 brick) + (neg ? -s : s)
    on valid; on valid & bend: acc <= (first ? 0 : acc) + brick_next (wrapping), and with last
    out_sum <= that acc. brick: brick_bits, acc/out_sum: acc_bits signed."""

    def __init__(self, cfg: SipTileConfig):
        self.cfg = cfg
        super().__init__({"valid": In(1), "bfirst": In(1), "bend": In(1), "neg": In(1), "first": In(1),
                          "last": In(1), "bits": In(cfg.lanes),
                          "w": In(data.ArrayLayout(signed(cfg.w_bits), cfg.lanes)),
                          "out_sum": Out(signed(cfg.acc_bits))})

    def elaborate(self, platform):
        cfg = self.cfg
        m = Module()
        tree = m.submodules.tree = AdderTree(cfg.lanes, cfg.w_bits, cfg.plane_bits)
        for i in range(cfg.lanes):
            m.d.comb += tree.terms[i].eq(Mux(self.bits[i], self.w[i], 0))
        term = Signal(signed(cfg.plane_bits + 1))
        m.d.comb += term.eq(Mux(self.neg, -tree.total, tree.total))
        brick = Signal(signed(cfg.brick_bits))
        brick_next = Signal(signed(cfg.brick_bits))
        m.d.comb += brick_next.eq(Mux(self.bfirst, 0, brick << 1) + term)
        acc = Signal(signed(cfg.acc_bits))
        acc_next = Signal(signed(cfg.acc_bits))
        m.d.comb += acc_next.eq(Mux(self.first, 0, acc) + brick_next)
        with m.If(self.valid):
            m.d.sync += brick.eq(brick_next)
            with m.If(self.bend):
                m.d.sync += acc.eq(acc_next)
                with m.If(self.last):
                    m.d.sync += self.out_sum.eq(acc_next)
        return m


class SipTile(wiring.Component):
    def __init__(self, cfg: SipTileConfig):
        self.cfg = cfg
        W, F, L = cfg.windows, cfg.filters, cfg.lanes
        super().__init__({**{n: In(1) for n in ("valid", "bfirst", "bend", "neg", "first", "last")},
                          "abit": In(data.ArrayLayout(L, W)), "w_load": In(1), "flip": In(1),
                          "w": In(data.ArrayLayout(signed(cfg.w_bits), F * L)),
                          "out_valid": Out(1),
                          "out_sum": Out(data.ArrayLayout(signed(cfg.acc_bits), W * F))})

    def elaborate(self, platform):
        cfg = self.cfg
        W, F, L = cfg.windows, cfg.filters, cfg.lanes
        m = Module()
        layout = data.ArrayLayout(signed(cfg.w_bits), L)
        active = []
        for f in range(F):
            shadow = Signal(layout, name=f"shadow{f}")
            act = Signal(layout, name=f"active{f}")
            with m.If(self.w_load):
                m.d.sync += shadow.as_value().eq(self.w.as_value()[f * L * cfg.w_bits:(f + 1) * L * cfg.w_bits])
            with m.If(self.flip):
                m.d.sync += act.eq(shadow)
            active.append(act)
        for w in range(W):
            for f in range(F):
                sip = m.submodules[f"sip_{w}_{f}"] = Sip(cfg)
                m.d.comb += [getattr(sip, n).eq(getattr(self, n))
                             for n in ("valid", "bfirst", "bend", "neg", "first", "last")]
                m.d.comb += [sip.bits.eq(self.abit[w]), sip.w.eq(active[f]),
                             self.out_sum[w * F + f].eq(sip.out_sum)]
        m.d.sync += self.out_valid.eq(self.valid & self.bend & self.last)
        return m


def sip_tile(cfg: SipTileConfig) -> wiring.Component:
    return SipTile(cfg)
