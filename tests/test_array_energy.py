"""Array energy on a mapped layer trace: the trace follows the mapping, and the gate netlist of
the array matches the golden model on every cycle of it (measure_power checks every output)."""
import numpy as np
import pytest

from quantpe.explore.array_energy import _is_flop, layer_trace
from quantpe.golden.array import ArrayConfig
from quantpe.power.measure import measure_power

SMALL = ArrayConfig()            # 2 x 2 PEs of 4 INT8 lanes


def test_trace_loads_each_weight_row_once_per_pass():
    m, inputs = layer_trace(SMALL, "fc", 1)
    assert inputs["w_load"].sum() == m.weight_loads == m.passes * SMALL.rows
    assert inputs["flip"].sum() == m.passes
    assert inputs["valid"].sum() == m.passes * m.gemm.windows
    assert inputs["_ops"] == 128 * 10
    idle = np.flatnonzero(inputs["valid"][1:] == 0) + 1
    assert np.array_equal(inputs["a"][idle], inputs["a"][idle - 1])     # operands held


def test_flop_cells_are_told_apart():
    assert _is_flop("sky130_fd_sc_hd__dfxtp_1") and _is_flop("sky130_fd_sc_hd__edfxtp_1")
    assert not _is_flop("sky130_fd_sc_hd__nand2_1") and not _is_flop("(input ports)")
    assert not _is_flop("sky130_fd_sc_hd__mux2_1")


@pytest.mark.slow
def test_gate_netlist_matches_golden_on_a_layer(build):
    _, inputs = layer_trace(SMALL, "fc", 1)
    r = measure_power(SMALL, inputs, out_dir=build / "energy")
    assert r["op_unit"] == "MAC" and r["ops"] == 1280 and r["energy_per_op_pj"] > 0
