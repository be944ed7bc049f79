"""cocotb test that drives the DUT ports from Python every cycle (driver + monitor).

Output ports must be scalars (every PE here has scalar outputs).

scoreboard "record": sample every output every cycle, compare all cycles at the end;
scoreboard "per-cycle": compare each cycle with the golden value as soon as it is sampled.
Both check exactly the same thing as the HDL-memory harness; they exist as a cross-check of the
harness and for the scoreboard benchmark.
"""
import time

import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge
from quantpe.golden.intmath import to_unsigned, wrap
from quantpe.tb.clocking import start_and_reset
from quantpe.tb.job import load_job
from quantpe.tb.memfile import streams_to_ints
from quantpe.tb.scoreboard import Mismatch, expected_outputs


def _as_int(value):
    """Unsigned integer value of a sampled port, None when it holds X/Z bits."""
    try:
        return int(value)
    except ValueError:
        return None


@cocotb.test()
async def direct_matches_golden(dut):
    job = load_job()
    T = job.cycles
    inputs = job.inputs
    ins = [p for p in job.ports if p.direction == "in"]
    outs = [p for p in job.ports if p.direction == "out"]
    drive = [(getattr(dut, p.name), streams_to_ints(inputs, p, T)) for p in ins]
    watch = [(p.name, getattr(dut, p.name)) for p in outs]
    expected = expected_outputs(job.cfg, inputs)
    bits = {p.name: p.bits for p in outs}
    packed_exp = {n: to_unsigned(np.asarray(v).reshape(T), bits[n]).tolist() for n, v in expected.items()}
    per_cycle = job.scoreboard == "per-cycle"
    dut._log.info("design %s, %d cycles, seed %d, scoreboard %s", job.cfg.config_id, T, job.seed,
                  job.scoreboard)
    for h, _ in drive:
        h.value = 0
    await start_and_reset(dut)
    rec = {n: [0] * T for n, _ in watch}
    t0 = time.perf_counter()
    edge, settle = RisingEdge(dut.clk), ReadOnly()
    for t in range(T):
        for h, vals in drive:
            h.value = vals[t]
        await settle
        for n, h in watch:
            rec[n][t] = v = _as_int(h.value)
            if per_cycle and v != packed_exp[n][t]:   # None (X/Z) never equals a value
                e = Mismatch(t, f"{n}: rtl {v} golden {packed_exp[n][t]}", 1)
                job.write_result(ok=False, cycle=t, count=1, details=e.details)
                raise e
        await edge
    sim_s = time.perf_counter() - t0
    actual = {}
    for p in outs:
        unknown = [t for t, v in enumerate(rec[p.name]) if v is None]
        if unknown:
            e = Mismatch(unknown[0], f"{p.name} holds X/Z bits", len(unknown))
            job.write_result(ok=False, cycle=e.cycle, count=e.count, details=e.details, sim_s=sim_s)
            raise e
        actual[p.name] = wrap(np.array(rec[p.name], dtype=np.int64), p.bits, p.signed)
    job.check(expected, actual, t0, sim_s)
