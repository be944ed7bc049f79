"""cocotb test for `quantpe.sim.capture`: reset the HDL-memory harness, let it run free, time it.

No golden model: the capture file is read back by the host process. Writes timing.json
(seconds from reset release to `done`) into $QUANTPE_CAPTURE_DIR.
"""
import json
import os
import time
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge


@cocotb.test()
async def capture_outputs(dut):
    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    t0 = time.perf_counter()
    await RisingEdge(dut.done)
    run_s = time.perf_counter() - t0
    (Path(os.environ["QUANTPE_CAPTURE_DIR"]) / "timing.json").write_text(json.dumps({"run_s": run_s}) + "\n")
