"""Stripes / Dynamic Stripes SIP PE generator (golden contract: `quantpe.golden.stripes`).

`stripes_pe(cfg)` returns a `StripesPE`; `stripes_detector(cfg)` the window detector alone (for
area). Ports of StripesPE (synchronous to `clk`, synchronous active-high `rst`; array ports are
one Verilog vector with lane 0 in the LSBs):

  in_valid  In(1)                 a brick is offered
  in_ready  Out(1)                the PE takes it at this edge (combinational: depends on the
                                  PE state and on out_ready, never on in_valid)
  first     In(1)                 the brick starts a new sum (sampled with the brick)
  last      In(1)                 the brick ends the sum: its result is emitted
  a         In(lanes x a_bits)    activation codes, signed or unsigned per config
  w         In(lanes x w_bits)    weight codes, signed or unsigned per config
  win_msb   In(win_bits)          static mode only: window [win_msb..win_lsb] of the brick,
  win_lsb   In(win_bits)            sampled with it; need win_lsb <= win_msb < a_bits (other
                                    values: unspecified result and cycle count)
  out_valid Out(1)                a result is waiting (registered)
  out_ready In(1)                 the sink takes it at this edge
  out_sum   Out(acc_bits signed)  the result; holds the last result while out_valid = 0
win_bits = max(1, clog2(a_bits)). Timing and handshake: see `quantpe.golden.stripes` (brick
accepted in cycle t -> steps in cycles t+1..t+P, result visible from the cycle after the final
step, back-to-back acceptance in the final step's cycle).

Datapath (serial modes): the brick is held in registers; in step k, group j (static: one group)
selects bit lsb_j + k of each of its activations (a bit-select by the step counter), ANDs it with
the weights, sums them in an adder tree, negates the sum at the window's top bit (signed
activations) and the shifted sum is added into the accumulator (acc is cleared at step 0 of a
first-brick). With trailing detection and several groups each group has its own shift.
Parallel mode: full multipliers and one step per brick, same shell.
"""
from __future__ import annotations

from functools import reduce

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from quantpe.golden.errors import ConfigError
from quantpe.golden.intmath import clog2
from quantpe.golden.stripes import StripesConfig

from .adder_tree import AdderTree
from .baseline import lane_products

__all__ = ["PrecisionDetector", "StripesPE", "stripes_pe", "stripes_detector"]


def _a_shape(cfg):
    return signed(cfg.a_bits) if cfg.a_signed else unsigned(cfg.a_bits)


def _w_shape(cfg):
    return signed(cfg.w_bits) if cfg.w_signed else unsigned(cfg.w_bits)


def _max(m, values, width, name):
    """Unsigned maximum of `values` (balanced comparator tree) as a `width`-bit signal."""
    level = list(values)
    n = 0
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level) - 1, 2):
            x, y = level[i], level[i + 1]
            s = Signal(width, name=f"{name}_max{n}")
            n += 1
            m.d.comb += s.eq(Mux(x > y, x, y))
            nxt.append(s)
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


class PrecisionDetector(wiring.Component):
    """Dynamic Stripes window detector, combinational (golden: `stripes_precision.detect_windows`).

    Ports: a In(lanes x a_bits) -> msb Out(n_groups x win_bits) and, with trailing, lsb
    Out(n_groups x win_bits). Group j = lanes j*group .. j*group+group-1. Per group: OR of the
    magnitudes (signed: a XOR sign-extension) -> leading one h -> msb = h (+1 if signed), 0 if
    the OR is 0; trailing: lowest set bit of the OR of the raw patterns, 0 if that OR is 0.
    """

    def __init__(self, lanes: int, group: int, a_bits: int, a_signed: bool, trailing: bool):
        if group < 1 or lanes % group:
            raise ConfigError(f"stripes detector: group {group} must divide lanes {lanes}")
        self.lanes, self.group, self.a_bits = lanes, group, a_bits
        self.a_signed, self.trailing = a_signed, trailing
        self.n_groups = lanes // group
        self.win_bits = max(1, clog2(a_bits))
        a_shape = signed(a_bits) if a_signed else unsigned(a_bits)
        ports = {"a": In(data.ArrayLayout(a_shape, lanes)),
                 "msb": Out(data.ArrayLayout(unsigned(self.win_bits), self.n_groups))}
        if trailing:
            ports["lsb"] = Out(data.ArrayLayout(unsigned(self.win_bits), self.n_groups))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        A = self.a_bits
        flat = self.a.as_value()
        for j in range(self.n_groups):
            raws = [flat[i * A:(i + 1) * A] for i in range(j * self.group, (j + 1) * self.group)]
            if self.a_signed:
                mags = [r ^ r[A - 1].replicate(A) for r in raws]
            else:
                mags = raws
            or_mag = Signal(A, name=f"or_mag{j}")
            m.d.comb += or_mag.eq(reduce(lambda x, y: x | y, mags))
            msb = self.msb[j]
            off = 1 if self.a_signed else 0
            m.d.comb += msb.eq(0)
            for b in range(A - off):            # highest set bit wins (last assignment)
                with m.If(or_mag[b]):
                    m.d.comb += msb.eq(b + off)
            if self.trailing:
                if self.a_signed:
                    or_raw = Signal(A, name=f"or_raw{j}")
                    m.d.comb += or_raw.eq(reduce(lambda x, y: x | y, raws))
                else:
                    or_raw = or_mag
                lsb = self.lsb[j]
                m.d.comb += lsb.eq(0)
                for b in reversed(range(A)):    # lowest set bit wins
                    with m.If(or_raw[b]):
                        m.d.comb += lsb.eq(b)
        return m


def stripes_detector(cfg: StripesConfig) -> PrecisionDetector:
    """The detector of a dynamic-mode config (all its groups), for standalone synthesis."""
    return PrecisionDetector(cfg.lanes, cfg.group, cfg.a_bits, cfg.a_signed, cfg.trailing)


class StripesPE(wiring.Component):
    """SIP PE (static / dynamic) or its bit-parallel twin (parallel); ports in the module doc."""

    def __init__(self, cfg: StripesConfig):
        self.cfg = cfg
        ports = {
            "in_valid": In(1), "in_ready": Out(1), "first": In(1), "last": In(1),
            "a": In(data.ArrayLayout(_a_shape(cfg), cfg.lanes)),
            "w": In(data.ArrayLayout(_w_shape(cfg), cfg.lanes)),
        }
        if cfg.mode == "static":
            ports["win_msb"] = In(unsigned(cfg.win_bits))
            ports["win_lsb"] = In(unsigned(cfg.win_bits))
        ports.update({"out_valid": Out(1), "out_ready": In(1),
                      "out_sum": Out(signed(cfg.acc_bits))})
        super().__init__(ports)

    # ------------------------------------------------------------------ datapath pieces
    def _windows(self, m):
        """(lsb, span) per group for the offered brick: span = msb - lsb (comb values)."""
        cfg = self.cfg
        wb = cfg.win_bits
        if cfg.mode == "static":
            span = Signal(wb, name="span_in")
            m.d.comb += span.eq(self.win_msb - self.win_lsb)
            return [self.win_lsb], [span]
        m.submodules.detector = det = stripes_detector(cfg)
        m.d.comb += det.a.eq(self.a)
        lsbs, spans = [], []
        for j in range(cfg.n_groups):
            if cfg.trailing:
                span = Signal(wb, name=f"span_in{j}")
                m.d.comb += span.eq(det.msb[j] - det.lsb[j])
                lsbs.append(det.lsb[j])
                spans.append(span)
            else:
                lsbs.append(None)           # constant 0
                spans.append(det.msb[j])
        return lsbs, spans

    def _serial_contrib(self, m, step, a_reg, w_reg, lsb_r, span_r):
        """Signed value added into the accumulator in step `step`."""
        cfg = self.cfg
        A, G, ng, wb = cfg.a_bits, cfg.group, cfg.n_groups, cfg.win_bits
        flat = a_reg.as_value()
        t_bits = cfg.w_bits + (0 if cfg.w_signed else 1)     # signed tree term
        tb = t_bits + clog2(G)                               # group sum
        per_group_shift = ng > 1 and cfg.trailing
        svs, poss = [], []
        for j in range(ng):
            if lsb_r[j] is None:
                pos = step
            else:
                pos = Signal(wb, name=f"pos{j}")
                m.d.comb += pos.eq(lsb_r[j] + step)
            m.submodules[f"tree{j}"] = tree = AdderTree(G, t_bits, tb)
            for n, i in enumerate(range(j * G, (j + 1) * G)):
                bit = flat[i * A:(i + 1) * A].bit_select(pos, 1)
                m.d.comb += tree.terms[n].eq(Mux(bit, w_reg[i], 0))
            sv = Signal(signed(tb + 1), name=f"gsum{j}")
            active = step <= span_r[j]
            if cfg.a_signed:
                top = step == span_r[j]
                m.d.comb += sv.eq(Mux(active, Mux(top, -tree.total, tree.total), 0))
            else:
                m.d.comb += sv.eq(Mux(active, tree.total, 0))
            svs.append(sv)
            poss.append(pos)
        if per_group_shift:
            sh_bits = tb + A
            terms = []
            for j in range(ng):
                t = Signal(signed(sh_bits), name=f"gshift{j}")
                m.d.comb += t.eq((svs[j] << poss[j])[:sh_bits].as_signed())
                terms.append(t)
            m.submodules.group_tree = gt = AdderTree(ng, sh_bits, sh_bits + clog2(ng))
            for j in range(ng):
                m.d.comb += gt.terms[j].eq(terms[j])
            return gt.total
        if ng > 1:
            m.submodules.group_tree = gt = AdderTree(ng, tb + 1, tb + 1 + clog2(ng))
            for j in range(ng):
                m.d.comb += gt.terms[j].eq(svs[j])
            total, t_w = gt.total, tb + 1 + clog2(ng)
        else:
            total, t_w = svs[0], tb + 1
        contrib = Signal(signed(t_w + A - 1), name="contrib")
        m.d.comb += contrib.eq((total << poss[0])[:t_w + A - 1].as_signed())
        return contrib

    def _parallel_contrib(self, m, a_reg, w_reg):
        cfg = self.cfg
        prods = lane_products(m, a_reg, w_reg, cfg.lanes, cfg.product_bits)
        m.submodules.tree = tree = AdderTree(cfg.lanes, cfg.product_bits, cfg.sum_bits)
        for i, p in enumerate(prods):
            m.d.comb += tree.terms[i].eq(p)
        return tree.total

    # ------------------------------------------------------------------ top
    def elaborate(self, platform):
        """Long: the brick registers, the step counter and the accept/commit/output handshake
        (module docstring), one state machine."""
        cfg = self.cfg
        m = Module()
        wb = cfg.win_bits
        serial = cfg.mode != "parallel"

        busy = Signal()
        first_r = Signal()
        last_r = Signal()
        a_reg = Signal(data.ArrayLayout(_a_shape(cfg), cfg.lanes))
        w_reg = Signal(data.ArrayLayout(_w_shape(cfg), cfg.lanes))
        acc = Signal(signed(cfg.acc_bits))
        step = Signal(wb)

        if serial:
            lsb_in, span_in = self._windows(m)
            last_step = Signal(wb)
            lsb_r = [None if x is None else Signal(wb, name=f"lsb_r{j}") for j, x in enumerate(lsb_in)]
            span_r = [Signal(wb, name=f"span_r{j}") for j in range(len(span_in))]
            final = Signal()
            m.d.comb += final.eq(busy & (step == last_step))
            contrib = self._serial_contrib(m, step, a_reg, w_reg, lsb_r, span_r)
            step0 = step == 0
        else:
            final = busy
            contrib = self._parallel_contrib(m, a_reg, w_reg)
            step0 = 1

        commit = Signal()
        accept = Signal()
        m.d.comb += [
            commit.eq(busy & (~(final & last_r) | ~self.out_valid | self.out_ready)),
            self.in_ready.eq(~busy | (final & commit)),
            accept.eq(self.in_valid & self.in_ready),
        ]
        acc_next = Signal(signed(cfg.acc_bits))
        base = Mux(first_r & step0, 0, acc)
        m.d.comb += acc_next.eq((base + contrib)[:cfg.acc_bits].as_signed())

        with m.If(self.out_valid & self.out_ready):
            m.d.sync += self.out_valid.eq(0)
        with m.If(commit):
            m.d.sync += acc.eq(acc_next)
            with m.If(final):
                m.d.sync += busy.eq(0)
                with m.If(last_r):
                    m.d.sync += [self.out_valid.eq(1), self.out_sum.eq(acc_next)]
            if serial:
                with m.Else():
                    m.d.sync += step.eq(step + 1)
        with m.If(accept):
            m.d.sync += [busy.eq(1), step.eq(0), first_r.eq(self.first), last_r.eq(self.last),
                         a_reg.eq(self.a), w_reg.eq(self.w)]
            if serial:
                for r, x in zip(lsb_r, lsb_in):
                    if r is not None:
                        m.d.sync += r.eq(x)
                for r, x in zip(span_r, span_in):
                    m.d.sync += r.eq(x)
                m.d.sync += last_step.eq(_max(m, span_in, wb, "span"))
        return m


def stripes_pe(cfg: StripesConfig) -> StripesPE:
    """The Amaranth component implementing `cfg` (a StripesConfig)."""
    if not isinstance(cfg, StripesConfig):
        raise TypeError(f"stripes_pe needs a StripesConfig, got {type(cfg).__name__}")
    return StripesPE(cfg)
