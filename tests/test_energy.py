"""The energy model (quantpe.power.energy): table lookup, the OpenSTA 2.0.17 replay against `sta`, and
the constant-input hand check (only the flip-flops' clock energy)."""
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from quantpe.power.energy import EnergyModel
from quantpe.synth.netlist import GateNetlist
from quantpe.synth.cell_power import PowerLibrary, Table, liberty_without_wire_load
from quantpe.golden.approx import ApproxMulConfig
from quantpe.golden.baseline import BaselineConfig
from quantpe.synth.liberty import read_liberty_text
from quantpe.synth.netlist import build_gate_netlist
from quantpe.synth.liberty import sky130_path
from quantpe.rtl.generate import generate

pytestmark = pytest.mark.skipif(not sky130_path().exists(), reason="sky130 liberty not available")

MUL8 = ApproxMulConfig(method="truncated", t=4, signed=True)     # has tie cells; shared with test_power
TINY_PE = BaselineConfig(lanes=2, a_bits=4, w_bits=4, acc_bits=12)


class _Builds(dict):
    """name -> (build, GateNetlist, PowerLibrary), each gate netlist built on first use."""

    def __init__(self, root):
        super().__init__()
        self.root = root

    def __missing__(self, name):
        cfg = {"mul8": MUL8, "pe": TINY_PE}[name]
        d = self.root / cfg.config_id
        m = generate(cfg, d / "rtl")
        b = build_gate_netlist(d / "rtl" / m["verilog"], m["top"], d / "gate")
        nl = GateNetlist.from_yosys_json(b["netlist_json"], m["top"])
        self[name] = (b, nl, PowerLibrary.read(sky130_path(), nl.cell_types))
        return self[name]


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """Gate netlists (built once per session, on first use) of the 8x8 multiplier and a tiny PE."""
    return _Builds(tmp_path_factory.getbasetemp() / "power-builds")   # shared with test_power (build cache)


def test_table_lookup_interpolates_and_extrapolates():
    t = Table(("input_transition_time", "total_output_net_capacitance"), ((0.0, 1.0), (0.0, 2.0)),
              np.array([[1.0, 3.0], [5.0, 11.0]]))
    assert t.lookup(slew=0.0, load=0.0) == 1.0
    assert t.lookup(slew=0.5, load=1.0) == pytest.approx(0.25 * (1 + 3 + 5 + 11))
    # beyond the axes: the edge segment continued (OpenSTA's rule)
    assert t.lookup(slew=2.0, load=0.0) == pytest.approx(9.0)
    assert t.lookup(slew=-1.0, load=0.0) == pytest.approx(-3.0)


def _sta_power(netlist_v, top, lib_path, clocked: bool, activity=0.1, duty=0.5, period_ns=10.0):
    tcl = netlist_v.parent / "power.tcl"
    clock = f"create_clock -name clk -period {period_ns} [get_ports clk]\n" if clocked else ""
    tcl.write_text(f"""read_liberty {lib_path}
read_verilog {netlist_v}
link_design {top}
{clock}set_operating_conditions tt_025C_1v80
set_power_activity -global -activity {activity} -duty {duty}
report_power -digits 8
""")
    out = subprocess.run(["sta", "-no_init", "-exit", str(tcl)], capture_output=True, text=True, timeout=300)
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("Total"))
    internal, switching, leakage, total = (float(x) for x in line.split()[1:5])
    return {"internal": internal, "switching": switching, "leakage": leakage, "total": total}


@pytest.mark.parametrize("name", ["mul8", "pe"])
def test_opensta_2019_replay_matches_sta(built, name, tmp_path):
    if shutil.which("sta") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("sta (Debian package opensta) is required in CI")
        pytest.skip("sta not installed (apt-get install opensta)")
    b, nl, lib = built[name]
    nowl = liberty_without_wire_load(sky130_path(), tmp_path / "nowl.lib")
    clocked = "clk" in nl.ports
    sta = _sta_power(b["netlist_v"], b["top"], nowl, clocked)
    ours = EnergyModel(lib, nl).opensta_2019(0.1, 0.5, period_s=10e-9)
    for key in ("internal", "switching", "leakage", "total"):
        assert ours[key] == pytest.approx(sta[key], rel=1e-4, abs=0), key
    assert sta["internal"] > 0 and sta["switching"] > 0


def _leakage_by_hand(lib_text: str, types) -> float:
    """Sum of cell_leakage_power over the netlist's cell types (one entry per instance), times the
    library's leakage_power_unit, read with regular expressions from the liberty text (W)."""
    m = re.search(r'leakage_power_unit\s*:\s*"?\s*([0-9.]+)\s*([munpf]?)W', lib_text)
    unit = float(m.group(1)) * {"": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15}[m.group(2)]
    per_type = {}
    for t in set(types):
        start = lib_text.index(f'cell ("{t}")')
        body = lib_text[start:lib_text.find("cell (", start + 10)]
        per_type[t] = float(re.search(r"\bcell_leakage_power\s*:\s*([0-9.eE+-]+)", body).group(1))
    return unit * sum(per_type[t] for t in types)


def test_leakage_is_the_liberty_cells_leakage(built, tmp_path):
    """Leakage power = sum over the netlist's cells of the liberty's cell_leakage_power in its
    leakage_power_unit (nW for sky130), independent of the window; and OpenSTA reports the same."""
    b, nl, lib = built["mul8"]
    want = _leakage_by_hand(read_liberty_text(sky130_path()), [t for _, t, _ in nl.cells])
    assert 1e-11 < want < 1e-7                                   # ~0.001-0.01 nW per sky130 cell
    m = EnergyModel(lib, nl)
    for periods, period_s in ((10, 1e-8), (1000, 2e-9)):
        res = m.energy(np.zeros(nl.n_nets), periods, period_s)
        assert res.leakage_w == pytest.approx(want, rel=1e-9, abs=0)
        assert res.as_dict()["leakage_mw"] == pytest.approx(1e3 * want, rel=1e-9, abs=0)
        # nothing toggles and the multiplier has no clock: a cycle costs only its leakage
        assert res.dynamic_j == 0 and res.as_dict()["energy_per_cycle_pj"] == pytest.approx(1e12 * want * period_s, rel=1e-9, abs=0)
    assert m.opensta_2019(0.1)["leakage"] == pytest.approx(want, rel=1e-9, abs=0)
    if shutil.which("sta") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("sta (Debian package opensta) is required in CI")
        pytest.skip("sta not installed (apt-get install opensta): the liberty sum was checked")
    nowl = liberty_without_wire_load(sky130_path(), tmp_path / "nowl.lib")
    assert _sta_power(b["netlist_v"], b["top"], nowl, "clk" in nl.ports)["leakage"] == pytest.approx(want, rel=1e-4, abs=0)


def _dfxtp_clk_energy_by_hand(lib_text: str, cell: str):
    """(rise, fall) internal energy of `cell`'s CLK pin at slew 0 and its capacitance, read with
    regular expressions straight from the liberty text (independent of quantpe.power.energy)."""
    start = lib_text.index(f'cell ("{cell}")')
    body = lib_text[start:lib_text.index("cell (", start + 10)]
    pin = body[body.index('pin ("CLK")'):]
    pin = pin[:pin.index('pin ("D")')] if 'pin ("D")' in pin else pin
    cap = float(re.search(r"\bcapacitance\s*:\s*([0-9.eE+-]+)", pin).group(1))
    rise_cap = float(re.search(r"rise_capacitance\s*:\s*([0-9.eE+-]+)", pin).group(1))
    fall_cap = float(re.search(r"fall_capacitance\s*:\s*([0-9.eE+-]+)", pin).group(1))
    energies = []
    for kind in ("rise_power", "fall_power"):
        grp = pin[pin.index(kind):]
        idx = [float(x) for x in re.search(r'index_1\s*\(\s*"([^"]*)"', grp).group(1).split(",")]
        val = [float(x) for x in re.search(r'values\s*\(\s*"([^"]*)"', grp).group(1).split(",")]
        # linear extrapolation to slew 0 through the first two points
        energies.append(val[0] - idx[0] * (val[1] - val[0]) / (idx[1] - idx[0]))
    return energies, cap, max(rise_cap, fall_cap)


def test_constant_inputs_cost_only_the_flops_clock_energy(built):
    """Constant inputs: nothing toggles but the clock, so the energy per cycle is, per flop, the
    CLK pin's rise + fall internal energy (at the ideal clock's slew 0) plus C_CLK * V^2."""
    b, nl, lib = built["pe"]
    clk = nl.ports["clk"][1][0]
    loads = [(t, p) for _, t, conns in nl.cells for p, n in conns.items() if n == clk]
    assert loads and all(p == "CLK" and t == "sky130_fd_sc_hd__dfxtp_1" for t, p in loads)
    n_ff = len(loads)
    (e_rise, e_fall), _, c_clk = _dfxtp_clk_energy_by_hand(read_liberty_text(sky130_path()),
                                                           "sky130_fd_sc_hd__dfxtp_1")
    v = 1.8
    per_cycle_j = n_ff * ((e_rise + e_fall) * 1e-12 + c_clk * 1e-12 * v * v)
    N = 1000
    res = EnergyModel(lib, nl).energy(np.zeros(nl.n_nets), N, 10e-9)
    assert res.dynamic_j / N == pytest.approx(per_cycle_j, rel=1e-9, abs=0)    # J: no absolute slack
    # 4.68 uW per flop at 100 MHz for sky130 dfxtp_1 (0.0179 + 0.0228 pJ + 1.877 fF * 1.8^2 V^2)
    assert 3e-6 < per_cycle_j / n_ff / 10e-9 < 7e-6


def test_switching_is_toggles_times_load(built):
    b, nl, lib = built["mul8"]
    m = EnergyModel(lib, nl)
    net = next(n for n in range(2, nl.n_nets) if m.load[n] > 0 and n in m.driver)
    # the load by hand: the max of the summed rise/fall capacitances of the pins on the net
    pins = [(t, p) for _, t, conns in nl.cells for p, x in conns.items() if x == net
            and lib.cells[t].directions[p] == "input"]
    c = max(sum(lib.cells[t].pin_cap_rf[p][k] for t, p in pins) for k in (0, 1))
    tc = np.zeros(nl.n_nets)
    tc[net] = 7
    res = m.energy(tc, 10, 1e-8)
    assert res.switching_j == pytest.approx(7 * c * 1e-12 * 1.8 ** 2 / 2, rel=1e-12, abs=0)
    assert res.internal_j > 0
