"""Requantiser column generator (golden contract: `quantpe.golden.requant`)."""
from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from quantpe.golden.requant import RequantConfig

from .lfsr import LFSR

__all__ = ["Requantizer", "round_saturate"]


def round_saturate(m, z, r, k: int, wl: int, name: str):
    """Signed WL-bit value clamp((z + r) >> k): z signed acc_bits, r an unsigned k-bit signal,
    an int constant, or None (truncate); the shift is arithmetic (floor)."""
    if r is None or k == 0:
        s = z
    else:
        s = Signal(signed(len(z) + 1), name=f"{name}_sum")
        m.d.comb += s.eq(z + r)
    y = Signal(signed(len(s) - k), name=f"{name}_shift")
    m.d.comb += y.eq(s >> k)
    if len(y) <= wl:
        return y
    hi, lo = (1 << (wl - 1)) - 1, -(1 << (wl - 1))
    q = Signal(signed(wl), name=f"{name}_sat")
    m.d.comb += q.eq(Mux(y > hi, hi, Mux(y < lo, lo, y)))
    return q


class Requantizer(wiring.Component):
    """N = cfg.columns lanes of round-then-saturate from acc_bits (f_acc fractional bits) to <il,fl>.

    Ports: valid : In(1); acc : In(N x signed acc_bits); out_valid : Out(1); out : Out(N x signed
    WL) registered (latency 1, held while valid = 0). Stochastic mode adds seed_load : In(1),
    seed : In(M x lfsr_bits) and lfsr : Out(M x lfsr_bits), M = 1 (shared) or N (independent).
    """

    def __init__(self, cfg: RequantConfig):
        self.cfg = cfg
        ports = {"valid": In(1), "acc": In(data.ArrayLayout(signed(cfg.acc_bits), cfg.columns))}
        if cfg.stochastic:
            lanes = data.ArrayLayout(unsigned(cfg.lfsr_bits), cfg.n_lfsr)
            ports.update(seed_load=In(1), seed=In(lanes))
        ports.update(out_valid=Out(1), out=Out(data.ArrayLayout(signed(cfg.wl), cfg.columns)))
        if cfg.stochastic:
            ports["lfsr"] = Out(data.ArrayLayout(unsigned(cfg.lfsr_bits), cfg.n_lfsr))
        super().__init__(ports)

    def elaborate(self, platform):
        cfg = self.cfg
        m = Module()
        k = cfg.k
        if cfg.stochastic:
            rand = []
            for j, reset in enumerate(cfg.reset_seeds()):
                g = LFSR(cfg.lfsr_bits, cfg.poly, cfg.lfsr_kind, cfg.lfsr_steps, reset)
                m.submodules[f"lfsr{j}"] = g
                m.d.comb += [g.advance.eq(self.valid), g.load.eq(self.seed_load),
                             g.load_value.eq(self.seed[j]), self.lfsr[j].eq(g.state)]
                rand.append(g.state[:k] if k else None)
        for i in range(cfg.columns):
            if cfg.mode == "stochastic":
                r = rand[0 if cfg.n_lfsr == 1 else i]
            elif cfg.mode == "nearest":
                r = (1 << (k - 1)) - 1 if k else None
            else:
                r = None
            q = round_saturate(m, self.acc[i], r, k, cfg.wl, f"lane{i}")
            with m.If(self.valid):
                m.d.sync += self.out[i].eq(q)
        m.d.sync += self.out_valid.eq(self.valid)
        return m
