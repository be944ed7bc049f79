"""StruM arithmetic units (combinational), one component per kind so area splits per unit.

Widths come from `StrumConfig` (exact integer ranges), so every output holds its exact value.
"""
from amaranth import Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from quantpe.golden.strum_config import J_BITS

__all__ = ["LaneMul", "Mip2qLowUnit", "DliqShift", "DynamicLane"]


class LaneMul(wiring.Component):
    """Full multiplier: p = w * a. w: signed w_bits; a: a_shape; p: signed out_bits.

    The static PE's high multipliers (w = hb-bit high code) and DLIQ low units (w = lb-bit q:
    the shift by j is shared after the low adder tree, (sum_i q_i a_i) << j == sum_i (q_i a_i) << j
    exactly, see DliqShift)."""

    def __init__(self, w_bits: int, a_shape, out_bits: int):
        super().__init__({"w": In(signed(w_bits)), "a": In(a_shape), "p": Out(signed(out_bits))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.p.eq(self.w * self.a)
        return m


class Mip2qLowUnit(wiring.Component):
    """MIP2Q low unit, no multiplier and no negator: code = sign (bit lb-1) | e (bits lb-2..0).

    Product v = 0 for the zero code (sign, e) == (1, 0), else (sign ? -a : a) << e, delivered
    as p + neg with neg = 1 exactly for the negative codes (sign = 1, e != 0) and
    p = ~(a << e) then (ones' complement: a XOR all-ones, shifted in with ones), else
    a << e (a forced to 0 for the zero code). The +1 of the two's complement is left to a free
    carry-in of the adder tree (`AdderTree(carries=...)`), so the unit is XOR gates plus a
    shifter. p: signed out_bits, neg: 1 bit.
    """

    def __init__(self, lb: int, a_shape, out_bits: int):
        self.lb = lb
        super().__init__({"code": In(lb), "a": In(a_shape), "p": Out(signed(out_bits)), "neg": Out(1)})

    def elaborate(self, platform):
        m = Module()
        sign = self.code[self.lb - 1]
        e = self.code[:self.lb - 1]
        neg = Signal()
        zero = Signal()
        m.d.comb += [neg.eq(sign & e.any()), zero.eq(sign & ~e.any())]
        a = self.a
        x = Signal(signed(len(a) + (0 if a.shape().signed else 1)))
        m.d.comb += x.eq(Mux(zero, 0, a) ^ neg.replicate(len(x)).as_signed())
        cur = x                                  # log shifter; stage i shifts by 2^i, filling with neg
        for i in range(len(e)):
            step = 1 << i
            nxt = Signal(signed(len(cur) + step), name=f"shl{i}")
            m.d.comb += nxt.eq(Mux(e[i], Cat(neg.replicate(step), cur).as_signed(), cur))
            cur = nxt
        m.d.comb += [self.p.eq(cur), self.neg.eq(neg)]
        return m


class DliqShift(wiring.Component):
    """Barrel shifter of the DLIQ low sum: y = x << j (x signed in_bits, j 3 bits unsigned)."""

    def __init__(self, in_bits: int, out_bits: int):
        super().__init__({"x": In(signed(in_bits)), "j": In(J_BITS), "y": Out(signed(out_bits))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.y.eq(self.x << self.j)
        return m


class DynamicLane(wiring.Component):
    """One lane of the dynamic PE: operand select, hb x a_bits multiplier, shifter.

    Ports: mode (0 plain, 1 StruM), is_high (the lane's mask bit), w (plain code, signed hb),
    hi (raw hb bits: the lane's high code), lo (raw lb bits: the lane's low code),
    j (3 bits, DLIQ only), a (a_shape) -> p (signed out_bits) = (op * a) << sh with
      mode 0           : op = w,            sh = 0
      mode 1, high     : op = hi (signed),  sh = 0
      mode 1, low DLIQ : op = q (lo signed, sign-extended), sh = j
      mode 1, low MIP2Q: op = 0 for the zero code, else -1 (sign) / +1, sh = e.
    """

    def __init__(self, variant: str, hb: int, lb: int, a_shape, out_bits: int):
        self.variant, self.hb, self.lb = variant, hb, lb
        ports = {"mode": In(1), "is_high": In(1), "w": In(signed(hb)), "hi": In(hb), "lo": In(lb)}
        if variant == "dliq":
            ports["j"] = In(J_BITS)
        ports.update({"a": In(a_shape), "p": Out(signed(out_bits))})
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        sh_bits = J_BITS if self.variant == "dliq" else self.lb - 1
        op = Signal(signed(self.hb))
        sh = Signal(sh_bits)
        with m.If(~self.mode):
            m.d.comb += op.eq(self.w)
        with m.Elif(self.is_high):
            m.d.comb += op.eq(self.hi.as_signed())
        with m.Else():
            if self.variant == "dliq":
                m.d.comb += [op.eq(self.lo.as_signed()), sh.eq(self.j)]
            else:
                sign, e = self.lo[self.lb - 1], self.lo[:self.lb - 1]
                m.d.comb += [op.eq(Mux(sign & (e == 0), 0, Mux(sign, -1, 1))), sh.eq(e)]
        prod = Signal(signed(self.hb + len(self.a) + 1))
        m.d.comb += prod.eq(op * self.a)
        m.d.comb += self.p.eq(prod << sh)
        return m
