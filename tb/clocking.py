"""Clock and reset shared by the cocotb test modules."""
import time

from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

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


async def run_harness(dut) -> float:
    """Reset the HDL-memory harness and let it run free until `done`; returns wall seconds."""
    await start_and_reset(dut)
    t0 = time.perf_counter()
    await RisingEdge(dut.done)
    return time.perf_counter() - t0
