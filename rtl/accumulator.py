"""Framed accumulator with a registered output: the common back end of every dot-product PE."""
from amaranth import Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from quantpe.golden.errors import ConfigError
from quantpe.golden.intmath import int_range

__all__ = ["Accumulator"]


class Accumulator(wiring.Component):
    """Signed acc_bits accumulator framed by first/last (golden: `quantpe.golden.dot.accumulate`).

    Ports: valid, first, last (1 bit), value (in_bits, signed) -> out_valid, out_sum (acc_bits).
    On a clock edge with valid: acc <= value if first else acc + value, wrapped modulo
    2^acc_bits (or saturated to the signed range); with last also set, out_sum <= that new acc
    and out_valid <= 1 for one cycle. Latency from the value to out_sum: 1 cycle. Synchronous
    reset clears acc, out_sum and out_valid.
    """

    def __init__(self, in_bits: int, acc_bits: int, saturate: bool = False):
        if not in_bits <= acc_bits:
            raise ConfigError(f"accumulator: in_bits {in_bits} > acc_bits {acc_bits}")
        self.in_bits, self.acc_bits, self.saturate = in_bits, acc_bits, saturate
        super().__init__({
            "valid": In(1), "first": In(1), "last": In(1),
            "value": In(signed(in_bits)),
            "out_valid": Out(1), "out_sum": Out(signed(acc_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        n = self.acc_bits
        acc = Signal(signed(n))
        base = Mux(self.first, 0, acc)
        total = Signal(signed(n + 1))
        m.d.comb += total.eq(base + self.value)
        nxt = Signal(signed(n))
        if self.saturate:
            lo, hi = int_range(n, True)
            with m.If(total > hi):
                m.d.comb += nxt.eq(Const(hi, signed(n)))
            with m.Elif(total < lo):
                m.d.comb += nxt.eq(Const(lo, signed(n)))
            with m.Else():
                m.d.comb += nxt.eq(total[:n].as_signed())
        else:
            m.d.comb += nxt.eq(total[:n].as_signed())
        m.d.sync += self.out_valid.eq(0)
        with m.If(self.valid):
            m.d.sync += acc.eq(nxt)
            with m.If(self.last):
                m.d.sync += [self.out_sum.eq(nxt), self.out_valid.eq(1)]
        return m
