"""Weight-stationary R x C PE array generator (golden contract: `quantpe.golden.array`).

Ports: valid, flip, w_load In(1); a In(R*L x a_bits signed); the weight ports of
`golden.array.weight_ports` (per column, element 0 of column 0 in the LSBs);
out_valid Out(1); out_sum Out(C x out_bits signed).

Structure (named submodules, for a per-part area breakdown):
  pe_<r>_<c>  ArrayPE: the lane dot unit (`dot`: IntLaneDot or StrumLaneDot) fed from the
              held `active` weight register, the `shadow` register of the weight shift chain
              (the double buffer's back half), and the registers to the right neighbour
              (a, valid, flip) and to the PE below (the partial sum).
Row r's inputs pass r skew registers (a held while valid = 0, valid, flip) before PE(r, 0);
column c's sums pass C-1-c de-skew registers (enabled by the valid of the bottom row at the
same distance), so out_sum and out_valid leave R + C - 1 cycles after the window entered.
Registers that carry operands load only when their valid is 1, so idle cycles do not toggle
the datapath.
"""
from amaranth import Cat, Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from quantpe.golden.array import ArrayConfig, weight_ports
from quantpe.golden.strum_config import StrumConfig

from .adder_tree import AdderTree
from .strum import strum_parts

__all__ = ["IntLaneDot", "StrumLaneDot", "ArrayPE", "WSArray", "ws_array", "weight_word_bits"]


def weight_word_bits(cfg: ArrayConfig) -> int:
    """Bits of one PE's weight word (the concatenated weight fields of one column)."""
    return sum(bits * count for _, bits, count, _ in weight_ports(cfg))


class _LaneDot(wiring.Component):
    """Ports of a PE's combinational block sum: a (lanes x a_bits signed), w (the raw weight
    word), dot (signed psum_bits(0))."""

    def __init__(self, cfg: ArrayConfig):
        self.cfg = cfg
        super().__init__({"a": In(data.ArrayLayout(signed(cfg.a_bits), cfg.lanes)),
                          "w": In(weight_word_bits(cfg)),
                          "dot": Out(signed(cfg.psum_bits(0)))})


class IntLaneDot(_LaneDot):
    """dot = sum_l a[l] * w[l] exactly, combinational; w = the raw word, lane 0 in the LSBs."""

    def elaborate(self, platform):
        cfg = self.cfg
        m = Module()
        pbits = cfg.a_bits + cfg.w_bits
        tree = m.submodules.tree = AdderTree(cfg.lanes, pbits, cfg.psum_bits(0))
        for lane in range(cfg.lanes):
            p = Signal(signed(pbits), name=f"prod{lane}")
            w = self.w[lane * cfg.w_bits:(lane + 1) * cfg.w_bits].as_signed()
            m.d.comb += [p.eq(self.a[lane] * w), tree.terms[lane].eq(p)]
        m.d.comb += self.dot.eq(tree.total)
        return m


class StrumLaneDot(_LaneDot):
    """The static StruM block sum of `rtl.strum.StrumStaticPE` without its accumulator:
    dot = sum_l a[l] * v[l], v decoded from the raw block word `w` (mask | hi | lo | j)."""

    def elaborate(self, platform):
        lane: StrumConfig = self.cfg.lane_cfg
        B, K = lane.block, lane.k
        parts = {name: f for name, f, _ in strum_parts(lane)}
        m = Module()

        def add(name, index=None):
            sub = parts[name]()
            m.submodules[name if index is None else f"{name}{index}"] = sub
            return sub

        pos = 0
        fields = {}
        for name, bits, count, _ in weight_ports(self.cfg):
            fields[name] = [self.w[pos + i * bits:pos + (i + 1) * bits] for i in range(count)]
            pos += bits * count
        sel = add("select")
        m.d.comb += [sel.mask.eq(fields["w_mask"][0]), sel.lanes.as_value().eq(self.a.as_value())]
        hp, lp, negs = [], [], []
        for i in range(K):
            u = add("hmul", i)
            m.d.comb += [u.w.eq(fields["w_hi"][i].as_signed()), u.a.eq(sel.high[i].as_signed())]
            hp.append(u.p)
        for i in range(B - K):
            u = add("lmul", i)
            code = fields["w_lo"][i]
            if lane.variant == "dliq":
                m.d.comb += u.w.eq(code.as_signed())
            else:
                m.d.comb += u.code.eq(code)
                negs.append(u.neg)
            m.d.comb += u.a.eq(sel.low[i].as_signed())
            lp.append(u.p)
        ht, lt = add("high_tree"), add("low_tree")
        m.d.comb += [port.eq(p) for port, p in zip(ht.terms, hp)]
        m.d.comb += [port.eq(p) for port, p in zip(lt.terms, lp)]
        m.d.comb += [port.eq(n) for port, n in zip(lt.carries, negs)]
        low = lt.total
        if lane.variant == "dliq":
            sh = add("shift")
            m.d.comb += [sh.x.eq(low), sh.j.eq(fields["w_j"][0])]
            low = sh.y
        cb = add("combine")
        m.d.comb += [cb.terms[0].eq(ht.total), cb.terms[1].eq(low)]
        if lane.variant == "mip2q":
            m.d.comb += cb.carries[0].eq(negs[-1])
        m.d.comb += self.dot.eq(cb.total)
        return m


def lane_dot(cfg: ArrayConfig) -> wiring.Component:
    return IntLaneDot(cfg) if cfg.pe == "int" else StrumLaneDot(cfg)


class ArrayPE(wiring.Component):
    """PE(row, c): psum_out <= psum_in + dot(a, active) on valid; a_out <= a on valid;
    valid_out <= valid; flip_out <= flip; shadow <= w_in on w_load; active <= shadow on flip.
    Row 0 has no psum_in (its psum_out is the dot alone). All outputs are registers."""

    def __init__(self, cfg: ArrayConfig, row: int):
        self.cfg, self.row = cfg, row
        a_layout = data.ArrayLayout(signed(cfg.a_bits), cfg.lanes)
        wb = weight_word_bits(cfg)
        ports = {"a": In(a_layout), "valid": In(1), "flip": In(1), "w_load": In(1), "w_in": In(wb)}
        if row > 0:
            ports["psum_in"] = In(signed(cfg.psum_bits(row - 1)))
        ports.update({"a_out": Out(a_layout), "valid_out": Out(1), "flip_out": Out(1),
                      "w_out": Out(wb), "psum_out": Out(signed(cfg.psum_bits(row)))})
        super().__init__(ports)

    def elaborate(self, platform):
        cfg = self.cfg
        m = Module()
        active = Signal(weight_word_bits(self.cfg))
        dot = m.submodules.dot = lane_dot(cfg)
        m.d.comb += [dot.a.eq(self.a), dot.w.eq(active)]
        total = dot.dot if self.row == 0 else self.psum_in + dot.dot
        with m.If(self.w_load):
            m.d.sync += self.w_out.eq(self.w_in)
        with m.If(self.flip):
            m.d.sync += active.eq(self.w_out)
        with m.If(self.valid):
            m.d.sync += [self.psum_out.eq(total), self.a_out.eq(self.a)]
        m.d.sync += [self.valid_out.eq(self.valid), self.flip_out.eq(self.flip)]
        return m


class WSArray(wiring.Component):
    """The R x C weight-stationary array of `cfg` (module docstring)."""

    def __init__(self, cfg: ArrayConfig):
        self.cfg = cfg
        R, C, L = cfg.rows, cfg.cols, cfg.lanes
        ports = {"valid": In(1), "flip": In(1),
                 "a": In(data.ArrayLayout(signed(cfg.a_bits), R * L)), "w_load": In(1)}
        for name, bits, count, sgn in weight_ports(cfg):
            ports[name] = In(data.ArrayLayout(signed(bits) if sgn else bits, C * count))
        ports.update({"out_valid": Out(1), "out_sum": Out(data.ArrayLayout(signed(cfg.out_bits), C))})
        super().__init__(ports)

    def elaborate(self, platform):
        cfg = self.cfg
        R, C, L = cfg.rows, cfg.cols, cfg.lanes
        m = Module()
        a_layout = data.ArrayLayout(signed(cfg.a_bits), L)
        pe = [[None] * C for _ in range(R)]
        for r in range(R):
            for c in range(C):
                pe[r][c] = m.submodules[f"pe_{r}_{c}"] = ArrayPE(cfg, r)
        # row inputs: r skew registers
        for r in range(R):
            a = Signal(a_layout, name=f"a_row{r}")
            m.d.comb += a.as_value().eq(self.a.as_value()[r * L * cfg.a_bits:(r + 1) * L * cfg.a_bits])
            valid, flip = self.valid, self.flip
            for s in range(r):
                a_q = Signal(a_layout, name=f"skew{r}_{s}_a")
                v_q, f_q = Signal(name=f"skew{r}_{s}_valid"), Signal(name=f"skew{r}_{s}_flip")
                with m.If(valid):
                    m.d.sync += a_q.eq(a)
                m.d.sync += [v_q.eq(valid), f_q.eq(flip)]
                a, valid, flip = a_q, v_q, f_q
            m.d.comb += [pe[r][0].a.eq(a), pe[r][0].valid.eq(valid), pe[r][0].flip.eq(flip)]
            for c in range(1, C):
                left = pe[r][c - 1]
                m.d.comb += [pe[r][c].a.eq(left.a_out), pe[r][c].valid.eq(left.valid_out),
                             pe[r][c].flip.eq(left.flip_out)]
        # weight shift chains down the columns, partial sums down the columns
        for c in range(C):
            word = Cat(*(getattr(self, name).as_value()[c * bits * count:(c + 1) * bits * count]
                         for name, bits, count, _ in weight_ports(cfg)))
            for r in range(R):
                m.d.comb += [pe[r][c].w_load.eq(self.w_load),
                             pe[r][c].w_in.eq(word if r == 0 else pe[r - 1][c].w_out)]
                if r > 0:
                    m.d.comb += pe[r][c].psum_in.eq(pe[r - 1][c].psum_out)
        # de-skew: column c waits C-1-c cycles; stage s loads when the bottom row's valid at
        # column c+s says its input holds a sum
        for c in range(C):
            s_val = pe[R - 1][c].psum_out
            for s in range(C - 1 - c):
                q = Signal(signed(cfg.out_bits), name=f"deskew{c}_{s}")
                with m.If(pe[R - 1][c + s].valid_out):
                    m.d.sync += q.eq(s_val)
                s_val = q
            m.d.comb += self.out_sum[c].eq(s_val)
        m.d.comb += self.out_valid.eq(pe[R - 1][C - 1].valid_out)
        return m


def ws_array(cfg: ArrayConfig) -> wiring.Component:
    return WSArray(cfg)
