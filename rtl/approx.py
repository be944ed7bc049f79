"""Approximate multiplier generators (Amaranth 0.5), one structural generator per kind.

Component ports (combinational, no clock, latency 0):
  a  In(a_bits)   signed or unsigned per cfg.signed
  b  In(b_bits)
  y  Out(cfg.y_bits), same signedness: y = approx_mul(cfg)(a, b) bit for bit
     (the contract and every kind's bit-level definition live in `quantpe.golden.approx`).

Structure, so that synthesis sees the saving where the approximation lives:
- exact / truncated / broken_array / perforated: one AND gate per *kept* partial-product bit
  (`pp_keep_mask`), dropped bits do not exist; the kept bits (plus the compensation constant's
  one-bits) are reduced by a Dadda tree of explicit full/half adders and one carry-propagate
  adder (`+`) over the two remaining rows. The exact kind uses the same array with every bit kept,
  so area deltas between kinds measure only the approximation.
- drum: per operand a priority encoder for the shift (leading one at p >= k gives s = p-k+1),
  a barrel shifter selecting the k-bit segment, LSB forced to 1 when s > 0, an exact k x k
  array multiplier (same Dadda builder) and a left barrel shifter by s_a + s_b.
- ssm: per operand one k-bit 2:1 mux (segment x[k-1:0] or x[n-1:n-k] with LSB forced to 1,
  chosen by OR(x[n-1:k])), a k x k array with columns < t absent (same builder) and a
  four-way constant-shift mux on the two select bits (shift 0, n_a-k, n_b-k or both).
- mitchell: leading-one detectors, left-aligning barrel shifters for the fractions, one F+1-bit
  adder, the antilog mux and a barrel shifter; zero operands force y = 0.
Barrel shifters are explicit log-depth 2:1 mux stages (no variable `<<`/`>>` operator).
- lut: a Switch on a's pattern with a nested Switch on b's pattern (cases grouped by value, the
  most frequent value as default); Yosys turns it into logic.
- or_cols = c (array kinds): in each column < c one OR gate over the column's bits replaces the
  adders; that bit passes to the output and the Dadda tree only sees columns >= c.
- compressor, approx_cols (array kinds): the Dadda tree is the cell list of
  `quantpe.golden.reduction.dadda_schedule`; its approximate 4:2 cells (columns < approx_cols) are
  the gates of the rules of `quantpe.golden.compressors` applied to the 1-bit signals.
- signed, signed_form "baugh_wooley" (array kinds): AND gates, a NAND gate for each bit where
  exactly one of the row/column is the sign bit (`bw_invert_mask`), the one-bits of
  `array_constant` (K + C) as constant inputs, the same Dadda tree; y = the low P bits, signed.
- signed, signed_form "booth" (array kinds): per row a Booth encoder (one, two, neg: the gates
  of golden `booth_digit`), per kept bit the selector of `booth_pp_bit` (the row's top bit
  inverted), the rows' neg bits and the one-bits of `array_constant`, in the column order of
  `array_columns`, the same OR columns and Dadda tree; y = the low P bits, signed.
- signed, signed_form "sign_magnitude" (all kinds but lut): wrapper: |a|, |b| by conditional negation (the
  most negative value maps to 2^(n-1), exact in n bits), the unsigned core of the same widths,
  y = -core when sign(a) xor sign(b).
"""
from __future__ import annotations

from collections import Counter

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from quantpe.golden.approx import (
    ApproxMulConfig,
    array_columns,
    array_constant,
    booth_digit,
    booth_pp_bit,
    booth_rows,
    bw_invert_mask,
    is_baugh_wooley,
    is_booth,
    mitchell_frac_bits,
    mul_table,
    pp_columns,
    pp_keep_mask,
    ssm_compensation,
    ssm_keep_mask,
)
from quantpe.golden.compressors import COMPRESSORS
from quantpe.golden.errors import ConfigError
from quantpe.golden.reduction import dadda_schedule

__all__ = ["ApproxMultiplier", "approx_multiplier", "PlainMultiplier"]


class ApproxMultiplier(wiring.Component):
    """Combinational approximate multiplier `cfg` with ports a, b, y (see module docstring)."""

    def __init__(self, cfg: ApproxMulConfig):
        if not isinstance(cfg, ApproxMulConfig):
            raise ConfigError(f"approx_multiplier needs an ApproxMulConfig, got {type(cfg).__name__}")
        self.cfg = cfg
        shape = signed if cfg.signed else unsigned
        super().__init__({
            "a": In(shape(cfg.a_bits)),
            "b": In(shape(cfg.b_bits)),
            "y": Out(shape(cfg.y_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        if cfg.method == "lut":
            _lut(m, cfg, self.a, self.b, self.y)
            return m
        if not cfg.signed:
            m.d.comb += self.y.eq(_unsigned_core(m, cfg, self.a, self.b, cfg.y_bits))
            return m
        if is_baugh_wooley(cfg):
            P = cfg.a_bits + cfg.b_bits
            s = _pp_array(m, self.a.as_unsigned(), self.b.as_unsigned(), pp_keep_mask(cfg).tolist(),
                          array_constant(cfg), "bw", invert=bw_invert_mask(cfg).tolist(), or_cols=cfg.or_cols,
                          compressor=cfg.compressor, approx_cols=cfg.approx_cols)
            m.d.comb += self.y.eq(s[:P].as_signed())
            return m
        if is_booth(cfg):
            s = _booth_array(m, cfg, self.a.as_unsigned(), self.b.as_unsigned())
            m.d.comb += self.y.eq(s[:cfg.a_bits + cfg.b_bits].as_signed())
            return m
        neg = Signal(name="neg")
        mag_a = Signal(cfg.a_bits, name="mag_a")
        mag_b = Signal(cfg.b_bits, name="mag_b")
        m.d.comb += [
            neg.eq(self.a[-1] ^ self.b[-1]),
            # -x is (n+1)-bit signed; its low n bits are |x| read unsigned, also for -2^(n-1).
            mag_a.eq(Mux(self.a[-1], -self.a, self.a)),
            mag_b.eq(Mux(self.b[-1], -self.b, self.b)),
        ]
        core = Signal(cfg.y_bits, name="core")   # unsigned magnitude, <= 2^(y_bits-1)
        m.d.comb += core.eq(_unsigned_core(m, cfg, mag_a, mag_b, cfg.y_bits))
        m.d.comb += self.y.eq(Mux(neg, -core, core))
        return m


def approx_multiplier(cfg: ApproxMulConfig) -> ApproxMultiplier:
    """The generator entry point: a fresh component for `cfg`."""
    if not isinstance(cfg, ApproxMulConfig):
        raise ConfigError(f"approx_multiplier needs an ApproxMulConfig, got {type(cfg).__name__}")
    return ApproxMultiplier(cfg)


# ------------------------------------------------------------------------------ building blocks
class _Namer:
    def __init__(self):
        self.n = Counter()

    def __call__(self, prefix: str) -> str:
        i = self.n[prefix]
        self.n[prefix] += 1
        return f"{prefix}{i}"


def _compress(m: Module, columns: list[list], prefix: str, compressor: str = "", approx_cols: int = 0):
    """Sum of bits: columns[c] is a list of 1-bit values of weight 2^c. The cells of
    `quantpe.golden.reduction.dadda_schedule` (explicit full/half adders, approximate 4:2
    compressors in columns < approx_cols) down to two rows, then one carry-propagate adder. Returns
    a Value of width len(columns) + 1 (enough for any exact sum; callers truncate to their width)."""
    width = len(columns)
    sched = dadda_schedule([len(c) for c in columns], compressor, approx_cols)
    bits = [b for c in columns for b in c]
    name = _Namer()
    for op in sched.ops:
        tag = {"fa": "fa", "ha": "ha"}.get(op.kind, "c42")
        s, c = Signal(name=name(f"{prefix}_{tag}_s")), Signal(name=name(f"{prefix}_{tag}_c"))
        x = [bits[i] for i in op.ins]
        if op.kind == "fa":
            m.d.comb += [s.eq(x[0] ^ x[1] ^ x[2]), c.eq((x[0] & x[1]) | (x[2] & (x[0] ^ x[1])))]
        elif op.kind == "ha":
            m.d.comb += [s.eq(x[0] ^ x[1]), c.eq(x[0] & x[1])]
        else:
            x_sum, x_carry = COMPRESSORS[op.kind](*x)      # the golden rule, on 1-bit values
            m.d.comb += [s.eq(x_sum), c.eq(x_carry)]
        bits += [s, c]
    cols = [[bits[i] for i in ids] for ids in sched.columns]
    # Columns below the first two-bit column pass through; one CPA adds the rest.
    first2 = next((c for c, bits in enumerate(cols) if len(bits) == 2), len(cols))
    low = [bits[0] if bits else Const(0, 1) for bits in cols[:first2]]
    if first2 < len(cols):
        n = len(cols) - first2
        row0 = Signal(n, name=f"{prefix}_row0")
        row1 = Signal(n, name=f"{prefix}_row1")
        m.d.comb += [
            row0.eq(Cat(*[bits[0] if len(bits) > 0 else Const(0, 1) for bits in cols[first2:]])),
            row1.eq(Cat(*[bits[1] if len(bits) > 1 else Const(0, 1) for bits in cols[first2:]])),
        ]
        high = Signal(n + 1, name=f"{prefix}_cpa")
        m.d.comb += high.eq(row0 + row1)
        return Cat(*low, high)
    if not low:
        return Const(0, width + 1)
    return Cat(*low)


def _pp_array(m: Module, a, b, keep, const: int, prefix: str, invert=None, or_cols: int = 0,
              compressor: str = "", approx_cols: int = 0):
    """sum over kept (i, j) of (a[j] & b[i]) << (i + j) (NAND where invert[i][j]), plus `const`:
    AND/NAND gates in the column order of `pp_columns` + the reduction tree; columns < or_cols are
    one OR of their bits (no carry); approximate 4:2 compressors in columns < approx_cols."""
    pp = {}
    for i, row in enumerate(keep):        # gates in row order, then placed by `pp_columns`
        for j, kept in enumerate(row):
            if kept:
                pp[i, j] = Signal(name=f"{prefix}_pp{i}_{j}")
                inv = invert is not None and invert[i][j]
                m.d.comb += pp[i, j].eq(~(a[j] & b[i]) if inv else (a[j] & b[i]))
    cols = [[Const(1, 1) if e[0] == "one" else pp[e[1], e[2]] for e in entries]
            for entries in pp_columns(keep, const, invert)]
    return _reduce_columns(m, cols, prefix, or_cols, compressor, approx_cols)


def _reduce_columns(m: Module, cols: list[list], prefix: str, or_cols: int, compressor: str, approx_cols: int):
    """Columns < or_cols to one OR bit each, then the reduction tree (`_compress`)."""
    for c in range(min(or_cols, len(cols))):
        if len(cols[c]) > 1:
            o = Signal(name=f"{prefix}_or{c}")
            m.d.comb += o.eq(Cat(*cols[c]).any())
            cols[c] = [o]
    return _compress(m, cols, prefix, compressor, approx_cols)


def _booth_array(m: Module, cfg: ApproxMulConfig, a, b):
    """The radix-4 Booth array of `cfg` (golden `array_columns`): one encoder (one, two, neg) per
    row from `booth_digit`, one selector gate per kept bit from `booth_pp_bit` (top bit of a row
    inverted), the neg bits and the constant's one-bits, reduced like the other arrays."""
    na, nb = cfg.a_bits, cfg.b_bits

    def b_ext(k):                      # sign-extended b, b_{-1} = 0
        return Const(0, 1) if k < 0 else b[min(k, nb - 1)]
    enc = []
    for i in range(booth_rows(nb)):
        sig = [Signal(name=f"be{i}_{n}") for n in ("one", "two", "neg")]
        m.d.comb += [s_.eq(v) for s_, v in zip(sig, booth_digit(b_ext(2 * i + 1), b_ext(2 * i), b_ext(2 * i - 1)))]
        enc.append(sig)
    cols = []
    for entries in array_columns(cfg):
        col = []
        for e in entries:
            if e[0] == "one":
                col.append(Const(1, 1))
            elif e[0] == "neg":
                col.append(enc[e[1]][2])
            else:
                i, j, inv = e[1], e[2], e[3]
                one, two, neg = enc[i]
                bit = Signal(name=f"bpp{i}_{j}")
                v = booth_pp_bit(one, two, neg, a[min(j, na - 1)], a[j - 1] if j else Const(0, 1))
                m.d.comb += bit.eq(~v if inv else v)
                col.append(bit)
        cols.append(col)
    return _reduce_columns(m, cols, "booth", cfg.or_cols, cfg.compressor, cfg.approx_cols)


def _shift_from_leading_one(m: Module, x, lo: int, name: str):
    """Priority encoder: p - lo + 1 where p >= lo is the leading one of x, else 0."""
    n = len(x)
    s = Signal(range(max(n - lo + 1, 1) + 1), name=name)
    for p in range(lo, n):          # ascending: the highest set bit wins
        with m.If(x[p]):
            m.d.comb += s.eq(p - lo + 1)
    return s


def _barrel(m: Module, x, amount, width: int, left: bool, name: str):
    """x shifted left (or right) by the unsigned value `amount`: one 2:1 mux stage per bit of
    amount (stage i shifts by 2^i). Result `width` bits (high bits dropped)."""
    cur = x
    for i in range(len(amount)):
        nxt = Signal(width, name=f"{name}_st{i}")
        moved = (cur << (1 << i)) if left else (cur >> (1 << i))
        m.d.comb += nxt.eq(Mux(amount[i], moved, cur))
        cur = nxt
    if len(amount) == 0:
        cur = Signal(width, name=f"{name}_st")
        m.d.comb += cur.eq(x)
    return cur


def _drum_operand(m: Module, x, k: int, name: str):
    """(segment with forced LSB, shift s): x ~ seg << s; seg = x and s = 0 if len(x) <= k."""
    if len(x) <= k:
        return x, Const(0, 1)
    s = _shift_from_leading_one(m, x, k, f"{name}_shift")
    raw = Signal(k, name=f"{name}_seg_raw")
    seg = Signal(k, name=f"{name}_seg")
    m.d.comb += [raw.eq(_barrel(m, x, s, len(x), False, f"{name}_shr")),
                 seg.eq(Cat(raw[0] | s.any(), raw[1:]))]
    return seg, s


def _ssm_operand(m: Module, x, k: int, name: str):
    """(segment, big): segment = x[k-1:0] if x < 2^k else {x[n-1:n-k+1], 1}; (x, 0) if n <= k."""
    n = len(x)
    if n <= k:
        return x, Const(0, 1)
    big = Signal(name=f"{name}_big")
    seg = Signal(k, name=f"{name}_seg")
    m.d.comb += [big.eq(x[k:].any()),
                 seg.eq(Mux(big, Cat(Const(1, 1), x[n - k + 1:]), x[:k]))]
    return seg, big


def _unsigned_core(m: Module, cfg: ApproxMulConfig, a, b, width: int):
    """The unsigned core U(a, b) of the golden model as a Value (a: a_bits, b: b_bits unsigned)."""
    meth = cfg.method
    if meth in ("exact", "truncated", "broken_array", "perforated"):
        keep = pp_keep_mask(cfg).tolist()
        return _pp_array(m, a, b, keep, array_constant(cfg), "pp", or_cols=cfg.or_cols,
                         compressor=cfg.compressor, approx_cols=cfg.approx_cols)
    if meth == "drum":
        seg_a, s_a = _drum_operand(m, a, cfg.k, "a")
        seg_b, s_b = _drum_operand(m, b, cfg.k, "b")
        keep = [[True] * len(seg_a) for _ in range(len(seg_b))]
        prod = Signal(len(seg_a) + len(seg_b), name="seg_prod")
        m.d.comb += prod.eq(_pp_array(m, seg_a, seg_b, keep, 0, "kk"))
        shift = Signal(range(len(a) + len(b) + 1), name="shift")
        m.d.comb += shift.eq(s_a + s_b)
        return _barrel(m, prod, shift, width, True, "shl")
    if meth == "ssm":
        seg_a, big_a = _ssm_operand(m, a, cfg.k, "a")
        seg_b, big_b = _ssm_operand(m, b, cfg.k, "b")
        prod = Signal(len(seg_a) + len(seg_b) + 1, name="seg_prod")
        m.d.comb += prod.eq(_pp_array(m, seg_a, seg_b, ssm_keep_mask(cfg).tolist(),
                                      ssm_compensation(cfg), "kk"))
        da, db = len(a) - len(seg_a), len(b) - len(seg_b)
        res = Signal(width, name="shl")
        with m.Switch(Cat(big_a, big_b)):
            for case, sh in ((0, 0), (1, da), (2, db), (3, da + db)):
                with m.Case(case):
                    m.d.comb += res.eq(prod << sh)
        return res
    if meth == "mitchell":
        F = mitchell_frac_bits(cfg)
        k1 = _shift_from_leading_one(m, a, 1, "k1")     # = leading-one index (0 for a <= 1)
        k2 = _shift_from_leading_one(m, b, 1, "k2")
        frac_a = Signal(F, name="frac_a")
        frac_b = Signal(F, name="frac_b")
        # Left-align: leading one to bit F, keep the F bits below it (exact, no truncation).
        m.d.comb += [frac_a.eq(_barrel(m, Cat(Const(0, F), a), k1, F + len(a), False, "align_a")),
                     frac_b.eq(_barrel(m, Cat(Const(0, F), b), k2, F + len(b), False, "align_b"))]
        S = Signal(F + 1, name="frac_sum")
        m.d.comb += S.eq(frac_a + frac_b)
        P = Signal(F + 2, name="mantissa")   # 2^F + S if S < 2^F else 2 * S
        m.d.comb += P.eq(Mux(S[F], Cat(Const(0, 1), S), Cat(S[:F], Const(1, 1))))
        e = Signal(range(len(a) + len(b) - 1), name="exponent")
        m.d.comb += e.eq(k1 + k2)
        res = Signal(width, name="antilog")
        # drop the F fraction bits (always zero for integer operands, see the golden docstring)
        m.d.comb += res.eq(_barrel(m, P, e, width + F, True, "antilog")[F:])
        zero = Signal(name="zero")
        m.d.comb += zero.eq(~a.any() | ~b.any())
        return Mux(zero, 0, res)
    raise ConfigError(f"approx_multiplier: no unsigned core for method {meth!r}")


def _lut(m: Module, cfg: ApproxMulConfig, a, b, y):
    """Truth table as nested case statements on the operands' bit patterns."""
    table = mul_table(cfg)
    with m.Switch(a.as_unsigned()):
        for pa in range(1 << cfg.a_bits):
            row = [int(v) for v in table[pa]]
            counts = Counter(row)
            default = max(counts, key=lambda v: (counts[v], -abs(v)))
            with m.Case(pa):
                if len(counts) == 1:
                    m.d.comb += y.eq(default)
                    continue
                with m.Switch(b.as_unsigned()):
                    for value in sorted(counts):
                        if value == default:
                            continue
                        with m.Case(*[pb for pb, v in enumerate(row) if v == value]):
                            m.d.comb += y.eq(value)
                    with m.Default():
                        m.d.comb += y.eq(default)


class PlainMultiplier(wiring.Component):
    """Reference only: y = a * b written as one `*` (Yosys maps its `$mul` cell itself).

    Ports as `ApproxMultiplier` of the exact kind: a In(a_bits), b In(b_bits), y Out(a_bits + b_bits),
    all signed or all unsigned. Used to find the smallest exact multiplier the flow produces."""

    def __init__(self, a_bits: int, b_bits: int, is_signed: bool):
        shape = signed if is_signed else unsigned
        super().__init__({"a": In(shape(a_bits)), "b": In(shape(b_bits)), "y": Out(shape(a_bits + b_bits))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.y.eq(self.a * self.b)
        return m
