"""cocotb test for the HDL-memory harness (quantpe.sim.harness): reset, run free, compare.

The simulator replays inputs.npz from a memory and captures every output on every cycle; this
test then compares the whole capture with the golden schedule in one vectorised pass.
"""
import time

import cocotb
from quantpe.tb.clocking import run_harness
from quantpe.tb.job import load_job
from quantpe.tb.memfile import hex_to_streams
from quantpe.tb.scoreboard import expected_outputs


@cocotb.test()
async def harness_matches_golden(dut):
    job = load_job()
    outs = [p for p in job.ports if p.direction == "out"]
    dut._log.info("design %s, %d cycles, seed %d", job.cfg.config_id, job.cycles, job.seed)
    t0 = time.perf_counter()
    sim_s = await run_harness(dut, job.dir / "progress", job.cycles)
    actual = hex_to_streams((job.dir / "capture.hex").read_text(), outs, job.cycles)
    expected = expected_outputs(job.cfg, job.inputs)
    job.check(expected, actual, t0, sim_s)
