"""Energy figures of the built-in liberty (scripts/quantpe_cells.lib): copied from sky130 the way
its areas are (checked by hand against the sky130 text), the power flow runs on it alone, and
on one design it gives the sky130 flow's power within a stated tolerance."""
import re

import pytest

from quantpe.synth.cell_power import PowerLibrary
from quantpe.golden.baseline import BaselineConfig
from quantpe.synth.liberty import DEFAULT_LIBERTY, read_liberty_text
from quantpe.synth.cell_library import ENERGY_SLEW_NS, QUANTPE_CELLS
from quantpe.power.measure import measure_power
from quantpe.synth.liberty import sky130_path
from quantpe.tb.power_traces import real_trace

needs_sky130 = pytest.mark.skipif(not sky130_path().exists(), reason="sky130 liberty not available")
TINY_INT8_PE = BaselineConfig(lanes=2, acc_bits=20)
#: built-in vs sky130 total power on the same design and trace: the built-in library has 15 cells
#: (sky130 some 400), no timing tables (slew fixed at ENERGY_SLEW_NS) and maps to another netlist;
#: measured +1.4 % (8x8 multiplier), +1.7 % (2-lane int8 PE), +2.3 % (16-lane int8 PE), 2000 real cycles
TOLERANCE = 0.10


def _cell_text(text: str, name: str) -> str:
    start = text.index(f'cell ("{name}")') if f'cell ("{name}")' in text else text.index(f"cell ({name})")
    nxt = re.search(r"\n\s*cell \(", text[start + 10:])
    return text[start:start + 10 + nxt.start()] if nxt else text[start:]


def _numbers(s: str) -> list[float]:
    return [float(x) for x in s.replace(",", " ").split()]


@needs_sky130
def test_inverter_energy_is_the_sky130_table_row_at_the_reference_slew():
    """INV's Y arc by hand: the sky130 inv_1 rise_power table, linearly interpolated along its
    slew axis at ENERGY_SLEW_NS, for every load of its load axis (regular expressions on the text)."""
    sky = _cell_text(read_liberty_text(sky130_path()), "sky130_fd_sc_hd__inv_1")
    ours = _cell_text(DEFAULT_LIBERTY.read_text(), "INV")
    out_pin = sky[sky.index('pin ("Y")'):]
    grp = out_pin[out_pin.index("rise_power"):]
    slews = _numbers(re.search(r'index_1\s*\(\s*"([^"]*)"', grp).group(1))
    loads = _numbers(re.search(r'index_2\s*\(\s*"([^"]*)"', grp).group(1))
    rows = re.search(r'values\s*\(([^;]*)\)\s*;', grp, re.S).group(1)
    table = [_numbers(r) for r in re.findall(r'"([^"]*)"', rows)]
    i = max(k for k in range(len(slews) - 1) if slews[k] <= ENERGY_SLEW_NS)
    f = (ENERGY_SLEW_NS - slews[i]) / (slews[i + 1] - slews[i])
    want = [(1 - f) * table[i][j] + f * table[i + 1][j] for j in range(len(loads))]
    mine = ours[ours.index("pin (Y)"):]
    mine = mine[mine.index("rise_power"):]
    assert _numbers(re.search(r'index_1\s*\(\s*"([^"]*)"', mine).group(1)) == loads
    got = _numbers(re.search(r'values\s*\(\s*"([^"]*)"', mine).group(1))
    assert got == pytest.approx(want, rel=1e-5)
    leak = float(re.search(r"cell_leakage_power\s*:\s*([0-9.eE+-]+)", sky).group(1))
    assert float(re.search(r"cell_leakage_power\s*:\s*([0-9.eE+-]+)", ours).group(1)) == leak


def test_every_builtin_cell_has_leakage_and_internal_energy():
    lib = PowerLibrary.read(DEFAULT_LIBERTY)
    assert set(lib.cells) == {s.name for s in QUANTPE_CELLS}
    for name, cell in lib.cells.items():
        assert cell.leakage > 0, name
        assert all(cell.out_arcs.get(o) for o in cell.outputs), name
        assert all(p in cell.pin_cap_rf for p in cell.inputs), name


def test_power_flow_runs_on_the_builtin_liberty_alone(tmp_path, monkeypatch):
    """No sky130 needed: the built-in library has a buffer but no tie cell (constants stay nets)."""
    monkeypatch.setenv("QUANTPE_SKY130_LIB", str(tmp_path / "absent.lib.gz"))
    from quantpe.golden.approx import ApproxMulConfig
    cfg = ApproxMulConfig(method="truncated", t=4, signed=True, a_bits=4, b_bits=4)
    from quantpe.core.kinds import stimulus_for
    r = measure_power(cfg, stimulus_for(cfg, 300, 0)[0], out_dir=tmp_path / "m", liberty=DEFAULT_LIBERTY)
    assert r["liberty"] == str(DEFAULT_LIBERTY) and r["total_mw"] > 0 and r["leakage_mw"] > 0


@needs_sky130
def test_builtin_power_is_within_tolerance_of_sky130_on_a_pe(tmp_path):
    ins = real_trace(TINY_INT8_PE, 600, 0)
    ours = measure_power(TINY_INT8_PE, ins, out_dir=tmp_path / "builtin", liberty=DEFAULT_LIBERTY)
    sky = measure_power(TINY_INT8_PE, ins, out_dir=tmp_path / "sky130")
    print(f"built-in {ours['total_mw']:.4f} mW, sky130 {sky['total_mw']:.4f} mW")
    assert ours["total_mw"] == pytest.approx(sky["total_mw"], rel=TOLERANCE)
    assert ours["cells"] != sky["cells"] or ours["toggles"] != sky["toggles"]     # two different netlists
