"""Balanced combinational adder tree."""
from amaranth import Module, Shape, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["AdderTree"]


class AdderTree(wiring.Component):
    """Sum of `n` signed terms (plus up to n-1 one-bit carries), combinational.

    Ports: term_0 .. term_<n-1> (in_bits, signed), carry_0 .. carry_<carries-1> (1 bit,
    unsigned) -> total (out_bits, signed) = sum of the terms + sum of the carries.
    Pairwise balanced tree; each level is one bit wider than the widest operand, so the sum
    is exact as long as out_bits holds it (the caller sizes it). Carry i is the carry-in of the
    i-th pairwise adder (first level first): a free input of an adder, not an extra term.
    """

    @staticmethod
    def check_carries(n: int, carries: int) -> None:
        """ValueError unless 0 <= carries <= n - 1 (one carry-in per pairwise adder at most)."""
        if not 0 <= carries <= n - 1:
            raise ValueError(f"AdderTree: {n} terms have {n - 1} adders, so 0..{n - 1} carries, got {carries}")

    def __init__(self, n: int, in_bits: int, out_bits: int, carries: int = 0):
        self.check_carries(n, carries)
        self.n, self.in_bits, self.out_bits, self.n_carries = n, in_bits, out_bits, carries
        # separate scalar ports rather than one array port: event-driven simulators (Icarus)
        # re-evaluate every reader of a packed bus whenever any part of it changes.
        super().__init__({**{f"term_{i}": In(signed(in_bits)) for i in range(n)},
                          **{f"carry_{i}": In(1) for i in range(carries)},
                          "total": Out(signed(out_bits))})

    @property
    def terms(self):
        return [getattr(self, f"term_{i}") for i in range(self.n)]

    @property
    def carries(self):
        return [getattr(self, f"carry_{i}") for i in range(self.n_carries)]

    def elaborate(self, platform):
        m = Module()
        level = list(self.terms)
        carries = list(self.carries)
        while len(level) > 1:
            nxt = []
            for i in range(0, len(level) - 1, 2):
                x, y = level[i], level[i + 1]
                width = min(max(Shape.cast(x.shape()).width, Shape.cast(y.shape()).width) + 1,
                            self.out_bits)
                total = x + y + carries.pop(0) if carries else x + y
                nxt.append(total.as_signed()[:width].as_signed())
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        m.d.comb += self.total.eq(level[0])
        return m
