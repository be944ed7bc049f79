"""cocotb test for `quantpe.sim.capture`: reset the HDL-memory harness, let it run free, time it.

No golden model: the capture file is read back by the host process. Writes timing.json
(seconds from reset release to `done`) into $QUANTPE_CAPTURE_DIR.
"""
import json
import os
from pathlib import Path

import cocotb
from quantpe.tb.clocking import run_harness


@cocotb.test()
async def capture_outputs(dut):
    run_s = await run_harness(dut)
    (Path(os.environ["QUANTPE_CAPTURE_DIR"]) / "timing.json").write_text(json.dumps({"run_s": run_s}) + "\n")
