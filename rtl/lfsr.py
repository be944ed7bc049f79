"""LFSR generator (golden contract: `quantpe.golden.lfsr`, same polynomial encoding and step)."""
from functools import reduce
from operator import xor

from amaranth import Cat, Const, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from quantpe.golden.lfsr import taps_of

__all__ = ["lfsr_next", "LFSR"]


def lfsr_next(m, state: Value, width: int, poly: int, kind: str, steps: int = 1) -> Value:
    """Combinational state after `steps` steps (fibonacci: shift towards the MSB, parity of the
    taps enters at bit 0; galois: shift towards the LSB, bit 0 toggles the taps). Each step is
    a named comb signal, so unrolled steps do not duplicate expressions."""
    taps = [i for i in range(width) if taps_of(poly) >> i & 1]
    for n in range(steps):
        bits = [state[i] for i in range(width)]
        if kind == "fibonacci":
            bits = [reduce(xor, [bits[i] for i in taps])] + bits[:-1]
        else:
            out, shifted = bits[0], bits[1:] + [Const(0, 1)]
            bits = [b ^ out if i in taps else b for i, b in enumerate(shifted)]
        state = Signal(width, name=f"step{n + 1}")
        m.d.comb += state.eq(Cat(*bits))
    return state


class LFSR(wiring.Component):
    """`width`-bit LFSR register, reset value `reset`.

    Ports: advance, load : In(1); load_value : In(width); state : Out(width) (the register).
    Each clock: load -> state <= load_value (0 becomes 1: the all-zero state locks up);
    else advance -> state <= `steps` steps of state; else hold. Synchronous reset -> `reset`.
    """

    def __init__(self, width: int, poly: int, kind: str, steps: int, reset: int):
        self.width, self.poly, self.kind, self.steps, self.reset = width, poly, kind, steps, reset
        super().__init__({"advance": In(1), "load": In(1), "load_value": In(width),
                          "state": Out(width, init=reset)})

    def elaborate(self, platform):
        m = Module()
        with m.If(self.load):
            m.d.sync += self.state.eq(self.load_value | (self.load_value == 0))
        with m.Elif(self.advance):
            m.d.sync += self.state.eq(lfsr_next(m, self.state, self.width, self.poly, self.kind, self.steps))
        return m
