"""The unit-delay (glitch-aware) mode of the gate engine: hand netlists whose glitches are counted
by hand, settled values == zero-delay on real designs, and glitch toggles >= zero-delay toggles."""
import json

import numpy as np
import pytest

from quantpe.synth.netlist import GateNetlist
from quantpe.synth.cell_power import PowerLibrary
from quantpe.golden.approx import ApproxMulConfig
from quantpe.golden.baseline import BaselineConfig
from quantpe.golden.errors import QuantpeError
from quantpe.core.kinds import stimulus_for
from quantpe.power.measure import measure_power
from quantpe.sim.gate.engine import GateSim
from quantpe.synth.liberty import sky130_path

pytestmark = pytest.mark.skipif(not sky130_path().exists(), reason="sky130 liberty not available")

P = "sky130_fd_sc_hd__"


def _netlist(tmp_path, cells, inputs, outputs):
    """A Yosys-JSON netlist by hand: cells = [(name, type, {pin: bit})], ports of one bit each."""
    ports = {p: {"direction": "input", "bits": [b]} for p, b in inputs.items()}
    ports.update({p: {"direction": "output", "bits": [b]} for p, b in outputs.items()})
    mod = {"ports": ports, "cells": {n: {"type": t, "connections": {k: [v] for k, v in c.items()}}
                                     for n, t, c in cells}, "netnames": {}}
    path = tmp_path / "hand.json"
    path.write_text(json.dumps({"modules": {"hand": mod}}))
    nl = GateNetlist.from_yosys_json(path, "hand")
    return nl, PowerLibrary.read(sky130_path(), nl.cell_types)


def _run(nl, lib, a):
    sim = GateSim(nl, lib)
    V, _ = sim.run({"a": np.array(a, np.uint8)[:, None]})
    zero = np.count_nonzero(V[:, 1:] != V[:, :-1], axis=1)
    unit, steps = sim.unit_delay_toggles(V)
    return sim, V, zero, unit, steps


def _net(nl, name):
    return nl.names.index(name)


A = [0, 1, 1, 0, 1, 0, 0, 1]        # 5 edges of a: rising three times, falling twice


def test_xor_of_a_signal_and_its_twice_buffered_copy_glitches_on_every_edge(tmp_path):
    """y = a ^ buf(buf(a)) is 0 when settled; in unit delay every edge of a makes y pulse:
    step 1 y = a_new ^ a_old = 1 (b1 moves), step 3 y = 0 again (b2 arrived): 2 toggles per edge."""
    nl, lib = _netlist(tmp_path, [("u1", P + "buf_1", {"A": 2, "X": 3}), ("u2", P + "buf_1", {"A": 3, "X": 4}),
                                  ("u3", P + "xor2_1", {"A": 2, "B": 4, "X": 5})], {"a": 2}, {"y": 5})
    sim, V, zero, unit, steps = _run(nl, lib, A)
    edges = sum(x != y for x, y in zip(A, A[1:]))
    assert edges == 5
    y = _net(nl, "y")
    assert V[y].tolist() == [0] * len(A)
    assert zero[y] == 0 and unit[y] == 2 * edges
    assert zero[_net(nl, "a")] == unit[_net(nl, "a")] == edges
    assert steps == 3                       # b1 at step 1, b2 at step 2, y back at step 3


def test_and_of_a_signal_and_its_inverted_delayed_copy_glitches_on_rising_edges_only(tmp_path):
    """z = a & !a: a rising, !a falls one step later, so z is 1 for one step (2 toggles); a
    falling, z stays 0. Also a chain a -> inv -> inv: no glitch, one toggle per edge each."""
    nl, lib = _netlist(tmp_path, [("i1", P + "inv_1", {"A": 2, "Y": 3}), ("g", P + "and2_1", {"A": 2, "B": 3, "X": 4}),
                                  ("i2", P + "inv_1", {"A": 3, "Y": 5})], {"a": 2}, {"z": 4, "q": 5})
    sim, V, zero, unit, steps = _run(nl, lib, A)
    rising = sum(x == 0 and y == 1 for x, y in zip(A, A[1:]))
    assert rising == 3
    z, q = _net(nl, "z"), _net(nl, "q")
    assert zero[z] == 0 and unit[z] == 2 * rising
    assert zero[q] == unit[q] == 5 and V[q].tolist() == A
    assert steps == 2


def test_unit_delay_bound_is_a_clear_error(tmp_path):
    nl, lib = _netlist(tmp_path, [("u1", P + "buf_1", {"A": 2, "X": 3}), ("u2", P + "buf_1", {"A": 3, "X": 4})],
                       {"a": 2}, {"y": 4})
    sim = GateSim(nl, lib)
    V, _ = sim.run({"a": np.array(A, np.uint8)[:, None]})
    with pytest.raises(QuantpeError, match="did not settle in 1 steps"):
        sim.unit_delay_toggles(V, max_steps=1)
    assert sim.unit_delay_toggles(V, max_steps=2)[1] == 2


@pytest.mark.parametrize("cfg", [BaselineConfig(lanes=2, a_bits=4, w_bits=4, acc_bits=12),
                                 ApproxMulConfig(method="drum", k=4, signed=True)], ids=["tiny-pe", "drum8"])
def test_unit_delay_on_real_designs_settles_to_zero_delay_and_never_toggles_less(tmp_path, cfg, seed):
    """Settled values == zero-delay (checked inside; the golden check runs on them), every net's
    unit-delay count >= its zero-delay count with the same parity, and the result records both."""
    inputs, _ = stimulus_for(cfg, 400, seed)
    keep = {}
    r = measure_power(cfg, inputs, out_dir=tmp_path / "p", delay="unit", keep=keep)
    z, u = keep["zero_toggles"], keep["toggles"]
    assert (u >= z).all() and ((u - z) % 2 == 0).all()
    assert u.sum() > z.sum() > 0                     # these datapaths do glitch
    assert r["zero_delay"]["toggles"] == int(z.sum()) and r["toggles"] == int(u.sum())
    assert r["glitch_toggles_pct"] == pytest.approx(100 * (u.sum() / z.sum() - 1))
    assert r["glitch_power_pct"] > 0 and r["total_mw"] > r["zero_delay"]["total_mw"]
    r0 = measure_power(cfg, inputs, out_dir=tmp_path / "p", name="zero")
    assert r0["toggles"] == int(z.sum()) and r0["total_mw"] == pytest.approx(r["zero_delay"]["total_mw"])


def test_unknown_delay_model_is_one_line(tmp_path):
    cfg = ApproxMulConfig(method="exact", a_bits=4, b_bits=4)
    with pytest.raises(QuantpeError, match="unknown delay model 'elmore'"):
        measure_power(cfg, stimulus_for(cfg, 10, 0)[0], out_dir=tmp_path, delay="elmore")


# ---------------------------------------------------------------- liberty (inertial) delays

def _and_of_inverted_copy(tmp_path):
    nl, lib = _netlist(tmp_path, [("i1", P + "inv_1", {"A": 2, "Y": 3}), ("g", P + "and2_1", {"A": 2, "B": 3, "X": 4})],
                       {"a": 2}, {"z": 4})
    sim = GateSim(nl, lib)
    V, _ = sim.run({"a": np.array(A, np.uint8)[:, None]})
    return nl, sim, V, _net(nl, "n3"), _net(nl, "z")


def test_inertial_delay_filters_a_pulse_shorter_than_the_gate_and_transport_does_not(tmp_path):
    """z = a & !a, inverter delay 1: a rising makes the AND see (1, 1) for 1 step. AND delay 3:
    inertial cancels the pending rise at step 1 (no toggle), transport passes the 1-step pulse
    (rise at 3, fall at 4: 2 toggles per rising edge). AND delay 1 < ... inverter delay 2: the
    2-step pulse is as long as the AND's delay, so it passes inertially too."""
    nl, sim, V, n, z = _and_of_inverted_copy(tmp_path)
    rising = 3
    inert, last = sim.inertial_toggles(V, {n: 1, z: 3})
    trans, last_t = sim.timed_toggles(V, {n: 1, z: 3})
    assert inert[z] == 0 and trans[z] == 2 * rising and last_t == 4 and last == 1
    inert, last = sim.inertial_toggles(V, {n: 2, z: 1})
    assert inert[z] == 2 * rising and last == 3
    assert inert[n] == trans[n] == 5                      # the inverter follows every edge of a


DRUM8 = ApproxMulConfig(method="drum", k=4, signed=True)


@pytest.fixture(scope="module")
def drum8_unit(tmp_path_factory):
    """One unit-delay run of an 8x8 DRUM multiplier (its netlist built once for this module)."""
    out = tmp_path_factory.mktemp("drum8")
    keep = {}
    inputs = stimulus_for(DRUM8, 300, 1)[0]
    measure_power(DRUM8, inputs, out_dir=out, keep=keep, delay="unit")
    return out, inputs, keep


@pytest.mark.parametrize("block", [128, 2048])
def test_inertial_with_unit_delays_is_the_unit_delay_model(drum8_unit, block):
    _, _, keep = drum8_unit
    sim = GateSim(keep["netlist"], PowerLibrary.read(sky130_path(), keep["netlist"].cell_types))
    ones = {c[3]: 1 for c in sim._comb}
    tog, _ = sim.inertial_toggles(keep["values"], ones, block=block)
    assert np.array_equal(tog, keep["toggles"])


def test_cell_delay_of_an_inverter_by_hand(tmp_path):
    """a -> inv_1 -> y (an output port, no load; ideal input slew 0): the delay is the mean of
    sky130 inv_1's cell_rise and cell_fall tables extrapolated bilinearly to (slew 0, load 0)."""
    import re

    from quantpe.power.energy import EnergyModel
    from quantpe.synth.liberty import read_liberty_text
    nl, lib = _netlist(tmp_path, [("i1", P + "inv_1", {"A": 2, "Y": 3})], {"a": 2}, {"y": 3})
    got = EnergyModel(lib, nl).cell_delays()[_net(nl, "y")]
    text = read_liberty_text(sky130_path())
    cell = text[text.index(f'cell ("{P}inv_1")'):]
    cell = cell[:cell.index("cell (", 10)]
    vals = []
    for kind in ("cell_rise", "cell_fall"):
        g = cell[cell.index(kind):]
        x = [float(v) for v in re.search(r'index_1\s*\(\s*"([^"]*)"', g).group(1).split(",")][:2]
        y = [float(v) for v in re.search(r'index_2\s*\(\s*"([^"]*)"', g).group(1).split(",")][:2]
        rows = re.findall(r'"([^"]*)"', re.search(r"values\s*\(([^;]*)\)\s*;", g, re.S).group(1))[:2]
        v = [[float(u) for u in r.split(",")][:2] for r in rows]
        fx, fy = -x[0] / (x[1] - x[0]), -y[0] / (y[1] - y[0])
        vals.append((1 - fx) * (1 - fy) * v[0][0] + fx * (1 - fy) * v[1][0] + (1 - fx) * fy * v[0][1]
                    + fx * fy * v[1][1])
    assert got == pytest.approx(sum(vals) / 2, rel=1e-9)
    assert 0.005 < got < 0.1                              # ns: a few tens of ps


def test_liberty_delays_on_a_real_design(drum8_unit):
    out, inputs, _ = drum8_unit
    keep = {}
    r = measure_power(DRUM8, inputs, out_dir=out, delay="liberty", keep=keep, name="liberty")
    z, u = keep["zero_toggles"], keep["toggles"]
    assert (u >= z).all() and ((u - z) % 2 == 0).all() and u.sum() > z.sum()
    assert r["delay_model"].startswith("liberty delays") and r["glitch_power_pct"] > 0
    assert r["delay_steps"] > r["levels"]                 # 10 ps steps: many per logic level


def test_liberty_delays_need_timing_tables(tmp_path):
    from quantpe.synth.liberty import DEFAULT_LIBERTY
    cfg = ApproxMulConfig(method="exact", a_bits=4, b_bits=4)
    with pytest.raises(QuantpeError, match="no cell_rise/cell_fall tables"):
        measure_power(cfg, stimulus_for(cfg, 20, 0)[0], out_dir=tmp_path, liberty=DEFAULT_LIBERTY, delay="liberty")
