"""cocotb test for the HDL-memory harness (quantpe.sim.harness): reset, run free, compare.

The simulator replays inputs.npz from a memory and captures every output on every cycle; this
test then compares the whole capture with the golden schedule in one vectorised pass.
"""
import time

import cocotb

from quantpe.sim.memfile import hex_to_streams
from quantpe.tb.clocking import run_harness
from quantpe.tb.job import load_job
from quantpe.tb.scoreboard import Mismatch, compare, expected_outputs


@cocotb.test()
async def harness_matches_golden(dut):
    job = load_job()
    outs = [p for p in job.ports if p.direction == "out"]
    dut._log.info("design %s, %d cycles, seed %d", job.cfg.config_id, job.cycles, job.seed)
    t0 = time.perf_counter()
    sim_s = await run_harness(dut)
    actual = hex_to_streams((job.dir / "capture.hex").read_text(), outs, job.cycles)
    expected = expected_outputs(job.cfg, job.inputs)
    try:
        checked = compare(expected, actual)
    except Mismatch as e:
        job.write_result(ok=False, cycle=e.cycle, count=e.count, details=e.details, sim_s=sim_s)
        raise
    # the rate of record counts the whole check: free-running simulation, capture read-back and
    # the vectorised comparison
    job.write_result(ok=True, checked=checked, sim_s=time.perf_counter() - t0, run_s=sim_s)
