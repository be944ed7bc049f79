"""Amaranth-simulator drivers for fast unit checks of one component (the regression of record
is cocotb on the generated Verilog; these check building blocks exhaustively in-process).

`port_value(port, v)`: the integer an input port is driven with; an array value (lanes) is packed
element 0 in the LSBs, each element as its two's-complement bit pattern.
`run_comb(dut, vectors, outs)`: apply each {input: value} vector, read the outputs in the same
instant (combinational logic). `run_clocked(dut, inputs, outs, reset_at)`: drive per-cycle input
streams into a synchronous component (its `sync` domain, reset held during `reset_at`) and read
every output during every cycle, before the clock edge that ends it. Outputs are read as the
port's value (signed ports give negative ints; array ports their raw packed bits).
"""
from __future__ import annotations

import numpy as np
from amaranth import ClockDomain, Module, Value
from amaranth.sim import Simulator
from quantpe.golden.intmath import to_unsigned

__all__ = ["port_value", "run_comb", "run_clocked"]


def port_value(port, value) -> int:
    v = np.asarray(value)
    if v.ndim == 0:
        return int(v)
    bits = len(Value.cast(port)) // v.size
    return sum(int(u) << (i * bits) for i, u in enumerate(to_unsigned(v.reshape(-1), bits)))


def _read(port) -> Value:
    return port if isinstance(port, Value) else Value.cast(port)


def run_comb(dut, vectors: list[dict], outs: list[str], raw: bool = False) -> list[dict]:
    """[{output: value}] for each input vector {input name: value or lane array}; `raw` reads
    every output as its unsigned bit pattern."""
    results = []
    sim = Simulator(dut)

    async def bench(ctx):
        for vec in vectors:
            for name, v in vec.items():
                port = getattr(dut, name)
                ctx.set(Value.cast(port), port_value(port, v))
            results.append({n: ctx.get(_read(getattr(dut, n)).as_unsigned() if raw else _read(getattr(dut, n)))
                            for n in outs})

    sim.add_testbench(bench)
    sim.run()
    return results


def run_clocked(dut, inputs: dict, outs: list[str], reset_at=()) -> dict:
    """{output: (T,) int64 array} seen during each of the T cycles of `inputs` ({name: (T, ...)})."""
    T = len(next(iter(inputs.values())))
    top = Module()
    top.domains.sync = cd = ClockDomain("sync")
    top.submodules.dut = dut
    sim = Simulator(top)
    sim.add_clock(1e-6, domain="sync")
    drive = {n: [port_value(getattr(dut, n), inputs[n][t]) for t in range(T)] for n in inputs}
    got = {n: np.zeros(T, np.int64) for n in outs}
    reset_at = set(reset_at)

    async def bench(ctx):
        for t in range(T):
            ctx.set(cd.rst, int(t in reset_at))
            for n, vals in drive.items():
                ctx.set(Value.cast(getattr(dut, n)), vals[t])
            for n in outs:
                got[n][t] = ctx.get(_read(getattr(dut, n)))
            await ctx.tick("sync")

    sim.add_testbench(bench)
    sim.run()
    return got
