"""Balanced combinational adder tree."""
from amaranth import Module, Shape, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["AdderTree"]


class AdderTree(wiring.Component):
    """Sum of `n` signed terms, combinational.

    Ports: term_0 .. term_<n-1> (in_bits, signed) -> total (out_bits, signed).
    Pairwise balanced tree; each level is one bit wider than the widest operand, so the sum
    is exact as long as out_bits >= in_bits + clog2(n) (the caller sizes it).
    """

    def __init__(self, n: int, in_bits: int, out_bits: int):
        self.n, self.in_bits, self.out_bits = n, in_bits, out_bits
        # separate scalar ports rather than one array port: event-driven simulators (Icarus)
        # re-evaluate every reader of a packed bus whenever any part of it changes.
        super().__init__({**{f"term_{i}": In(signed(in_bits)) for i in range(n)},
                          "total": Out(signed(out_bits))})

    @property
    def terms(self):
        return [getattr(self, f"term_{i}") for i in range(self.n)]

    def elaborate(self, platform):
        m = Module()
        level = list(self.terms)
        while len(level) > 1:
            nxt = []
            for i in range(0, len(level) - 1, 2):
                x, y = level[i], level[i + 1]
                width = min(max(Shape.cast(x.shape()).width, Shape.cast(y.shape()).width) + 1,
                            self.out_bits)
                nxt.append((x + y).as_signed()[:width].as_signed())
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        m.d.comb += self.total.eq(level[0])
        return m
