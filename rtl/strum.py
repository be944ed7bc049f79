"""StruM PE generators (golden contract and port semantics: `quantpe.golden.strum`).

Ports (all synchronous to `clk`, synchronous active-high `rst`; array ports flatten element 0
into the LSBs):
  valid, first, last : In(1)
  a    : In(B x a_bits), signed or unsigned per config
  mode : In(1)              dynamic only: 0 = plain INT-hb block on `w`, 1 = StruM block
  w    : In(B x hb) signed  dynamic only: plain codes, used when mode = 0
  mask : In(B)              bit l = 1: lane l is high (exactly K ones)
  hi   : In(K x hb) signed  high codes in lane order
  lo   : In(B-K x lb)       low codes in lane order (DLIQ: signed q; MIP2Q: unsigned sign|e)
  j    : In(3)              DLIQ only: shift of the block (or of the layer)
  out_valid : Out(1)        one cycle per `last`, latency = pipeline + 1 cycles later
  out_sum   : Out(acc_bits) signed; holds the latest emitted sum
mask|hi|lo|j is the block word of `quantpe.golden.strum_codec` (same order, LSB first).

Static PE (named submodules, for a per-submodule area breakdown):
  select     StrumSelect (select="prefix": block-wide prefix-count network; select="group":
             one small network per group of B/G lanes): routes the B
             activations to the K high / B-K low units
  hmul<i>    K LaneMul (hb x a_bits multipliers)
  lmul<i>    B-K LaneMul (lb x a_bits, DLIQ) | Mip2qLowUnit (XOR + shifter: no multiplier, no
             negator; its "+1" bit `neg` rides on a free carry-in of the low tree / combine adders)
  high_tree, low_tree   AdderTree of the high / low products (MIP2Q: low_tree takes B-K-1 of the
             neg bits as carries, `combine` the last one)
  shift      DliqShift: one barrel shifter by j on the low sum (DLIQ only; exact, since j is
             common to the block)
  combine    AdderTree(2): high sum + (shifted) low sum
  acc        Accumulator
Dynamic PE: scatter (StrumScatter, per group for select="group": codes -> lanes), lane<l> (B DynamicLane: mux, hb x a_bits
multiplier, shifter), tree (AdderTree), acc.
`strum_parts(cfg)` lists these parts with their counts (for a per-part area breakdown).
Pipeline: 0 = combinational into the accumulator; 1 = register after the adder tree(s) (after
`combine`); 2 = also a register after the multipliers / units (with j, the MIP2Q neg bits and
the control bits).
"""
from amaranth import Module, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from quantpe.golden.strum_codec import block_layout
from quantpe.golden.strum_config import J_BITS, StrumConfig, signed_width

from .accumulator import Accumulator
from .adder_tree import AdderTree
from .pipeline import accumulate_and_emit, register_stage
from .strum_select import StrumScatter, StrumSelect
from .strum_units import DliqShift, DynamicLane, LaneMul, Mip2qLowUnit

__all__ = ["StrumStaticPE", "StrumDynamicPE", "strum_pe", "strum_signature", "strum_parts"]


def _groups(cfg: StrumConfig) -> int:
    """Groups of the selection network: 1 for the block-wide (prefix) network."""
    return cfg.groups if cfg.select == "group" else 1


def _a_shape(cfg: StrumConfig):
    return signed(cfg.a_bits) if cfg.a_signed else unsigned(cfg.a_bits)


def strum_signature(cfg: StrumConfig) -> dict:
    """Port members of the PE for `cfg` (order = golden `input_ports`, then outputs)."""
    B = cfg.block
    ports = {"valid": In(1), "first": In(1), "last": In(1),
             "a": In(data.ArrayLayout(_a_shape(cfg), B))}
    if cfg.dynamic:
        ports["mode"] = In(1)
        ports["w"] = In(data.ArrayLayout(signed(cfg.hb), B))
    for f in block_layout(cfg):            # the block word's fields, one port each (mask: B bits)
        if f.name == "j":
            continue
        elem = signed(f.bits) if f.signed else unsigned(f.bits)
        ports[f.name] = In(f.count) if f.bits == 1 else In(data.ArrayLayout(elem, f.count))
    if cfg.has_j:                          # per block (in the word) or per layer
        ports["j"] = In(J_BITS)
    ports["out_valid"] = Out(1)
    ports["out_sum"] = Out(signed(cfg.acc_bits))
    return ports


def strum_parts(cfg: StrumConfig) -> list:
    """Submodules of the PE as (name prefix, factory, count): the PE instantiates exactly these
    (hmul0..hmul{K-1} etc.), so synthesising each factory's component once and scaling by the
    count gives a per-part area breakdown (pipeline registers are the remainder)."""
    B, K = cfg.block, cfg.k
    a_shape = _a_shape(cfg)
    acc = ("acc", lambda: Accumulator(cfg.sum_bits, cfg.acc_bits, cfg.saturate), 1)
    if cfg.dynamic:
        return [("scatter", lambda: StrumScatter(B, K, cfg.hb, cfg.lb, _groups(cfg)), 1),
                ("lane", lambda: DynamicLane(cfg.variant, cfg.hb, cfg.lb, a_shape,
                                             cfg.lane_product_bits), B),
                ("tree", lambda: AdderTree(B, cfg.lane_product_bits, cfg.sum_bits), 1), acc]
    hi_sum_bits = cfg.hi_sum_bits
    parts = [("select", lambda: StrumSelect(B, K, cfg.a_bits, _groups(cfg)), 1),
             ("hmul", lambda: LaneMul(cfg.hb, a_shape, cfg.hi_product_bits), K)]
    if cfg.variant == "dliq":
        parts.append(("lmul", lambda: LaneMul(cfg.lb, a_shape, cfg.low_product_bits), B - K))
    else:
        parts.append(("lmul", lambda: Mip2qLowUnit(cfg.lb, a_shape, cfg.low_product_bits), B - K))
    lr = cfg.low_sum_range()
    if cfg.variant == "mip2q":
        # the low tree's total is the low sum minus the last unit's neg bit (added in `combine`)
        carries, tree_bits = B - K - 1, signed_width(lr[0] - 1, lr[1])
        low_bits = tree_bits                                   # into `combine`
    else:
        carries, tree_bits = 0, cfg.low_sum_bits
        low_bits = cfg.shifted_low_sum_bits                    # after the shift by j
    parts += [("high_tree", lambda: AdderTree(K, cfg.hi_product_bits, hi_sum_bits), 1),
              ("low_tree", lambda: AdderTree(B - K, cfg.low_product_bits, tree_bits, carries), 1)]
    if cfg.variant == "dliq":
        parts.append(("shift", lambda: DliqShift(cfg.low_sum_bits, low_bits), 1))
    parts += [("combine", lambda: AdderTree(2, max(hi_sum_bits, low_bits), cfg.sum_bits,
                                            int(cfg.variant == "mip2q")), 1), acc]
    return parts


class _StrumPE(wiring.Component):
    def __init__(self, cfg: StrumConfig):
        self.cfg = cfg
        super().__init__(strum_signature(cfg))

    def _add(self, m, parts, name, index=None):
        """Instantiate part `name` (numbered submodule when the part has a count)."""
        factory = parts[name]
        sub = factory()
        m.submodules[name if index is None else f"{name}{index}"] = sub
        return sub

    _stage = staticmethod(register_stage)

    def _back_end(self, m, parts, total, ctrl):
        """Optional register after the sums, then the accumulator."""
        accumulate_and_emit(m, self, self._add(m, parts, "acc"), total, ctrl, self.cfg.pipeline)


class StrumStaticPE(_StrumPE):
    """K full multipliers + B-K low units behind a mask-driven activation selector."""

    def elaborate(self, platform):
        cfg = self.cfg
        B, K = cfg.block, cfg.k
        parts = {name: f for name, f, _ in strum_parts(cfg)}
        m = Module()
        sel = self._add(m, parts, "select")
        m.d.comb += [sel.mask.eq(self.mask), sel.lanes.as_value().eq(self.a.as_value())]

        def act(raw):
            return raw.as_signed() if cfg.a_signed else raw

        hp, lp, negs = [], [], []
        for i in range(K):
            u = self._add(m, parts, "hmul", i)
            m.d.comb += [u.w.eq(self.hi[i]), u.a.eq(act(sel.high[i]))]
            hp.append(u.p)
        for i in range(B - K):
            u = self._add(m, parts, "lmul", i)
            m.d.comb += [(u.w if cfg.variant == "dliq" else u.code).eq(self.lo[i]),
                         u.a.eq(act(sel.low[i]))]
            lp.append(u.p)
            if cfg.variant == "mip2q":
                negs.append(u.neg)
        ctrl = [self.valid, self.first, self.last]
        j = self.j if cfg.has_j else None
        if cfg.pipeline >= 2:
            hp = self._stage(m, hp, "hprod_q")
            lp = self._stage(m, lp, "lprod_q")
            negs = self._stage(m, negs, "lneg_q")
            ctrl = self._stage(m, ctrl, "ctrl_p")
            if j is not None:
                (j,) = self._stage(m, [j], "j_q")
        ht = self._add(m, parts, "high_tree")
        lt = self._add(m, parts, "low_tree")
        for i, p in enumerate(hp):
            m.d.comb += ht.terms[i].eq(p)
        for i, p in enumerate(lp):
            m.d.comb += lt.terms[i].eq(p)
        for port, neg in zip(lt.carries, negs):
            m.d.comb += port.eq(neg)
        low = lt.total
        if cfg.variant == "dliq":
            sh = self._add(m, parts, "shift")
            m.d.comb += [sh.x.eq(low), sh.j.eq(j)]
            low = sh.y
        cb = self._add(m, parts, "combine")
        m.d.comb += [cb.terms[0].eq(ht.total), cb.terms[1].eq(low)]
        if cfg.variant == "mip2q":
            m.d.comb += cb.carries[0].eq(negs[-1])
        self._back_end(m, parts, cb.total, ctrl)
        return m


class StrumDynamicPE(_StrumPE):
    """B full lanes; mode 0 = plain INT-hb, mode 1 = StruM (low lanes: lb-bit operand + shift)."""

    def elaborate(self, platform):
        cfg = self.cfg
        B = cfg.block
        parts = {name: f for name, f, _ in strum_parts(cfg)}
        m = Module()
        sc = self._add(m, parts, "scatter")
        m.d.comb += [sc.mask.eq(self.mask), sc.hi.as_value().eq(self.hi.as_value()),
                     sc.lo.as_value().eq(self.lo.as_value())]
        lp = []
        for lane in range(B):
            u = self._add(m, parts, "lane", lane)
            m.d.comb += [u.mode.eq(self.mode), u.is_high.eq(self.mask[lane]), u.w.eq(self.w[lane]),
                         u.hi.eq(sc.lane_hi[lane]), u.lo.eq(sc.lane_lo[lane]), u.a.eq(self.a[lane])]
            if cfg.has_j:
                m.d.comb += u.j.eq(self.j)
            lp.append(u.p)
        ctrl = [self.valid, self.first, self.last]
        if cfg.pipeline >= 2:
            lp = self._stage(m, lp, "prod_q")
            ctrl = self._stage(m, ctrl, "ctrl_p")
        tree = self._add(m, parts, "tree")
        for i, p in enumerate(lp):
            m.d.comb += tree.terms[i].eq(p)
        self._back_end(m, parts, tree.total, ctrl)
        return m


def strum_pe(cfg: StrumConfig) -> wiring.Component:
    """The StruM PE component for `cfg` (static or dynamic)."""
    return StrumDynamicPE(cfg) if cfg.dynamic else StrumStaticPE(cfg)
