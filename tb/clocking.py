"""Clock and reset shared by the cocotb test modules."""
import time

from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, First, RisingEdge, Timer

__all__ = ["CLOCK_PERIOD_NS", "start_and_reset", "run_harness"]

CLOCK_PERIOD_NS = 10


async def start_and_reset(dut, cycles: int = 2):
    """Start the clock on dut.clk and hold dut.rst high for `cycles` rising edges.

    Returns just after the last reset edge: the next cycle is cycle 0 of the stimulus.
    """
    Clock(dut.clk, CLOCK_PERIOD_NS, unit="ns").start()
    dut.rst.value = 1
    await ClockCycles(dut.clk, cycles)
    dut.rst.value = 0


async def run_harness(dut, progress=None, cycles: int = 0) -> float:
    """Reset the HDL-memory harness and let it run free until `done`; returns wall seconds.

    With `progress` (a path) and `cycles`, the simulated cycle count is written there about 50
    times during the run (one timer callback each, never one per cycle), for the caller's
    progress bar."""
    await start_and_reset(dut)
    t0 = time.perf_counter()
    if progress is None or cycles < 1:
        await RisingEdge(dut.done)
        return time.perf_counter() - t0
    step = max(1, cycles // 50)
    done_edge, at = RisingEdge(dut.done), 0
    while True:
        fired = await First(done_edge, Timer(step * CLOCK_PERIOD_NS, unit="ns"))
        if fired is done_edge:
            break
        at = min(cycles, at + step)
        progress.write_text(f"{at}\n")
    return time.perf_counter() - t0
