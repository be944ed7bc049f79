"""The shared back end of the dot-product PEs: pipeline registers, adder tree, accumulator.

Pipeline convention (golden: latency = pipeline + 1): pipeline >= 2 registers the products,
pipeline >= 1 registers the adder-tree sum; the Accumulator adds its own output register.
"""
from amaranth import Signal

from .accumulator import Accumulator
from .adder_tree import AdderTree

__all__ = ["register_stage", "accumulate_and_emit", "sum_and_accumulate"]


def register_stage(m, values, name):
    """One `sync` register per value (named name0, name1, ...); returns the registered copies."""
    regs = []
    for i, v in enumerate(values):
        r = Signal.like(v, name=f"{name}{i}")
        m.d.sync += r.eq(v)
        regs.append(r)
    return regs


def accumulate_and_emit(m, pe, acc, total, ctrl, pipeline):
    """[pipeline >= 1: register `total` and ctrl] -> Accumulator `acc` -> pe.out_valid/out_sum.

    ctrl = [valid, first, last] aligned with `total`.
    """
    if pipeline >= 1:
        (total,) = register_stage(m, [total], "sum_q")
        ctrl = register_stage(m, ctrl, "ctrl_s")
    m.d.comb += [acc.valid.eq(ctrl[0]), acc.first.eq(ctrl[1]), acc.last.eq(ctrl[2]),
                 acc.value.eq(total),
                 pe.out_valid.eq(acc.out_valid), pe.out_sum.eq(acc.out_sum)]


def sum_and_accumulate(m, pe, terms, *, term_bits, sum_bits, acc_bits, saturate, pipeline):
    """Products `terms` of the input cycle framed by pe.valid/first/last -> pe outputs."""
    ctrl = [pe.valid, pe.first, pe.last]
    if pipeline >= 2:
        terms = register_stage(m, terms, "prod_q")
        ctrl = register_stage(m, ctrl, "ctrl_p")
    m.submodules.tree = tree = AdderTree(len(terms), term_bits, sum_bits)
    for port, t in zip(tree.terms, terms):
        m.d.comb += port.eq(t)
    m.submodules.acc = acc = Accumulator(sum_bits, acc_bits, saturate)
    accumulate_and_emit(m, pe, acc, tree.total, ctrl, pipeline)
