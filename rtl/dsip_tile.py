"""Dynamic Stripes tile generator (golden contract: `quantpe.golden.dsip_tile`).

Ports: valid, first, last In(1); a In(W*L x a_bits signed); w In(F*L x w_bits signed);
ready Out(1); out_valid Out(1); out_sum Out(W*F x acc_bits signed).

Structure (named submodules, for a per-part area breakdown):
  det_<w> (detect = "window") or det_<w>_<f> ("sip")  PrecisionDetector on window w's input codes
  pmax      the lockstep maximum of the detected precisions
  sip_<w>_<f>  `rtl.sip_tile.Sip`, fed bit k of window w's latched codes
  the serialiser: the latched codes of each window (W*L*a_bits), the latched weights of each
  filter (F*L*w_bits, one register shared by the W SIPs of the filter: no shadow, the ports
  hold the next brick until it is taken), and the control (busy, k, fp, first, last).
"""
from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for
from quantpe.golden.dsip_tile import DSipTileConfig

from .sip_tile import Sip

__all__ = ["PrecisionDetector", "PrecisionMax", "DSipTile", "dsip_tile"]


class PrecisionDetector(wiring.Component):
    """p = bit_length(OR_i (a_i XOR sign-extension of a_i)) + 1, in 1..a_bits, combinational;
    a: L codes of a_bits signed; p: bits_for(a_bits) unsigned."""

    def __init__(self, lanes: int, a_bits: int):
        self.lanes, self.a_bits = lanes, a_bits
        super().__init__({"a": In(data.ArrayLayout(signed(a_bits), lanes)), "p": Out(bits_for(a_bits))})

    def elaborate(self, platform):
        m = Module()
        n = self.a_bits
        ored = Signal(n - 1)                      # the magnitudes' bit a_bits-1 is always 0
        mags = [(self.a[i] ^ self.a[i][n - 1].replicate(n))[:n - 1] for i in range(self.lanes)]
        acc = mags[0]
        for v in mags[1:]:
            acc = acc | v
        m.d.comb += [ored.eq(acc), self.p.eq(1)]
        for i in range(n - 1):                    # leading one: the last true assignment wins
            with m.If(ored[i]):
                m.d.comb += self.p.eq(i + 2)
        return m


class PrecisionMax(wiring.Component):
    """p = max of the n inputs ps[i] (bits_for(a_bits) unsigned each), combinational."""

    def __init__(self, n: int, a_bits: int):
        self.n, self.width = n, bits_for(a_bits)
        super().__init__({"ps": In(data.ArrayLayout(self.width, n)), "p": Out(self.width)})

    def elaborate(self, platform):
        m = Module()
        level = [self.ps[i] for i in range(self.n)]
        while len(level) > 1:
            nxt = []
            for j in range(0, len(level) - 1, 2):
                s = Signal(self.width, name=f"max{len(level)}_{j}")
                m.d.comb += s.eq(Mux(level[j] > level[j + 1], level[j], level[j + 1]))
                nxt.append(s)
            level = nxt + level[len(level) - len(level) % 2:]
        m.d.comb += self.p.eq(level[0])
        return m


class DSipTile(wiring.Component):
    def __init__(self, cfg: DSipTileConfig):
        self.cfg = cfg
        W, F, L = cfg.windows, cfg.filters, cfg.lanes
        super().__init__({"valid": In(1), "first": In(1), "last": In(1),
                          "a": In(data.ArrayLayout(signed(cfg.a_bits), W * L)),
                          "w": In(data.ArrayLayout(signed(cfg.w_bits), F * L)),
                          "ready": Out(1), "out_valid": Out(1),
                          "out_sum": Out(data.ArrayLayout(signed(cfg.acc_bits), W * F))})

    def elaborate(self, platform):
        cfg = self.cfg
        W, F, L, A = cfg.windows, cfg.filters, cfg.lanes, cfg.a_bits
        m = Module()
        pmax = m.submodules.pmax = PrecisionMax(cfg.detectors, A)
        per = F if cfg.detect == "sip" else 1
        for w in range(W):
            for f in range(per):
                det = m.submodules[f"det_{w}_{f}" if cfg.detect == "sip" else f"det_{w}"] = PrecisionDetector(L, A)
                m.d.comb += [det.a.as_value().eq(self.a.as_value()[w * L * A:(w + 1) * L * A]),
                             pmax.ps[w * per + f].eq(det.p)]
        busy, fp, first, last = Signal(), Signal(), Signal(), Signal()
        k = Signal(range(A))
        codes = [Signal(L * A, name=f"codes{w}") for w in range(W)]
        wts = [Signal(data.ArrayLayout(signed(cfg.w_bits), L), name=f"weights{f}") for f in range(F)]
        take = Signal()
        m.d.comb += [self.ready.eq(~busy | (k == 0)), take.eq(self.valid & self.ready)]
        with m.If(busy):
            with m.If(k == 0):
                m.d.sync += busy.eq(0)
            with m.Else():
                m.d.sync += [k.eq(k - 1), fp.eq(0)]
        with m.If(take):
            m.d.sync += [busy.eq(1), fp.eq(1), k.eq(pmax.p - 1), first.eq(self.first), last.eq(self.last)]
            m.d.sync += [codes[w].eq(self.a.as_value()[w * L * A:(w + 1) * L * A]) for w in range(W)]
            m.d.sync += [wts[f].as_value().eq(self.w.as_value()[f * L * cfg.w_bits:(f + 1) * L * cfg.w_bits])
                         for f in range(F)]
        for w in range(W):
            bits = Signal(L, name=f"plane{w}")
            m.d.comb += [bits[i].eq(codes[w].bit_select(i * A + k, 1)) for i in range(L)]
            for f in range(F):
                sip = m.submodules[f"sip_{w}_{f}"] = Sip(cfg)
                m.d.comb += [sip.valid.eq(busy), sip.bfirst.eq(fp), sip.neg.eq(fp), sip.bend.eq(k == 0),
                             sip.first.eq(first), sip.last.eq(last), sip.bits.eq(bits), sip.w.eq(wts[f]),
                             self.out_sum[w * F + f].eq(sip.out_sum)]
        m.d.sync += self.out_valid.eq(busy & (k == 0) & last)
        return m


def dsip_tile(cfg: DSipTileConfig) -> wiring.Component:
    return DSipTile(cfg)
