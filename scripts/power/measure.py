"""Power and energy of a design from simulated gate-level toggles: `measure_power(cfg, inputs)`.

1. RTL: the design's Verilog (`quantpe.rtl.generate`).
2. Gate netlist, one Yosys run with the STA/simulation-ready recipe (`quantpe.synth.netlist`).
3. Zero-delay gate simulation (`quantpe.sim.gate.engine.GateSim`): every net's value in every
   cycle. Timing contract = the HDL-memory harness (`quantpe.sim.harness`): RESET_CYCLES reset
   cycles (rst = 1, inputs = stim[0], flops start at 0), then cycle t shows stim[t] on the
   inputs; outputs are sampled in every cycle.
4. CHECK: every output port in every cycle equals the golden model
   (`quantpe.core.kinds.expected_outputs`, what the RTL regression checks); a mismatch raises
   SimulationFailed naming the first cycle.
5. Toggles per net over the N = T - 1 cycle boundaries of the stimulus (the clock: 2 N): the
   zero-delay changes, or with `delay="unit"` / `"liberty"` every transition of a timed
   re-simulation of each boundary from the settled values (unit delays, or liberty cell delays
   in DELAY_STEP_NS steps, inertial), checked to settle to the zero-delay values. Then
   `quantpe.power.energy.EnergyModel`: switching, internal, leakage (W at the stated clock),
   energy per cycle and per MAC (lanes x valid cycles) or per multiplication (combinational
   multipliers). Results are cached per netlist, stimulus, clock and delay model
   (RESULT_VERSION). Imports: layers 0-4.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
from quantpe.core.build import design_dir
from quantpe.core.kinds import expected_outputs
from quantpe.golden.atomic import write_text
from quantpe.golden.errors import QuantpeError
from quantpe.golden.intmath import wrap
from quantpe.power.energy import EnergyModel
from quantpe.rtl.generate import ensure_generated, generate
from quantpe.rtl.ports import Port
from quantpe.sim.gate.engine import GateSim, port_bits
from quantpe.sim.runner import SimulationFailed
from quantpe.synth.cell_power import PowerLibrary
from quantpe.synth.liberty import sky130_path
from quantpe.synth.netlist import GateNetlist, build_gate_netlist

__all__ = ["measure_power", "RESET_CYCLES", "DELAY_MODELS", "DELAY_STEP_NS", "RESULT_VERSION"]

#: the sky130 liberty: $QUANTPE_SKY130_LIB, else the shared folder's ($QUANTPE_SHARED, else ../shared
#: seen from the working directory, as `quantpe.report.run.default_real_liberty`); may be absent
SKY130_LIBERTY = Path(os.environ.get("QUANTPE_SKY130_LIB")
                      or Path(os.environ.get("QUANTPE_SHARED", Path.cwd().parent / "shared"))
                      / "pdk/sky130hd/sky130_fd_sc_hd__tt_025C_1v80.lib.gz")
RESET_CYCLES = 2
#: delay models of `measure_power` -> the name recorded in its result
DELAY_MODELS = {"zero": "zero-delay", "unit": "unit-delay (glitches counted)",
                "liberty": "liberty delays, inertial, 10 ps steps (glitches counted)"}
#: time step (ns) of the liberty-delay mode: every cell delay is rounded to a multiple (>= 1 step)
DELAY_STEP_NS = 0.01


# ----------------------------------------------------------------------------------------------
# The zero-delay gate engine
# ----------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------
# The flow
# ----------------------------------------------------------------------------------------------


#: bump when the figures of measure_power change for the same netlist and stimulus
RESULT_VERSION = 2


def _liberty_delays(model: EnergyModel, gsim: GateSim, liberty: Path) -> dict[int, int]:
    """Cell output net -> delay in DELAY_STEP_NS steps (>= 1), from the liberty's timing tables."""
    ns = {net: d * model.lib.time_unit / 1e-9 for net, d in model.cell_delays().items()}
    missing = [c for c in gsim._comb if c[2] and c[3] not in ns]
    if missing:
        raise QuantpeError(f"--delay liberty: liberty {Path(liberty).name} has no cell_rise/cell_fall tables for "
                           f"{missing[0][0]} (and {len(missing) - 1} other cells): use --delay zero or unit")
    return {net: max(1, round(d / DELAY_STEP_NS)) for net, d in ns.items()}


def _result_key(built: dict, inputs: dict, clock_mhz: float, delay: str, stimulus: str) -> str:
    h = hashlib.sha256(f"{RESULT_VERSION}\0{built['stamp']}\0{clock_mhz!r}\0{delay}\0{stimulus}".encode())
    for k in sorted(inputs):
        v = np.ascontiguousarray(np.asarray(inputs[k], dtype=np.int64))
        h.update(f"\0{k}{v.shape}".encode())
        h.update(v.tobytes())
    return h.hexdigest()


def _cached_result(path: Path, key: str) -> dict | None:
    """The stored result at `path` if its cache_key is `key`, marked result_cached; else None."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(old, dict) or old.get("cache_key") != key:
        return None
    return {**old, "result_cached": True}


def _macs_per_cycle(cfg, inputs: dict) -> tuple[str, float]:
    """(unit, operations over the stimulus): inputs["_ops"] MACs when the trace gives them (the
    bit-serial Stripes PE), else MACs of valid cycles for PEs, one product per cycle otherwise."""
    if "_ops" in inputs:
        return "MAC", float(inputs["_ops"])
    T = len(next(iter(inputs.values())))
    lanes = getattr(cfg, "lanes", None) or getattr(cfg, "block", None)
    if "valid" in inputs and lanes:
        return "MAC", float(np.count_nonzero(inputs["valid"])) * lanes
    return "multiplication", float(T)


_LOADED: dict = {}


def _load_netlist(netlist_json: Path, top: str, liberty: Path):
    """(GateNetlist, PowerLibrary, EnergyModel, GateSim) of a built netlist; the last one loaded
    is kept for the next call on the same file (a design measured on many stimuli in a row).
    None of the four is changed by a measurement."""
    st = netlist_json.stat()
    key = (str(netlist_json.resolve()), st.st_mtime_ns, st.st_size, top, str(liberty.resolve()))
    if key not in _LOADED:
        nl = GateNetlist.from_yosys_json(netlist_json, top)
        lib = PowerLibrary.read(liberty, nl.cell_types)    # the mapped copy only drops unused cells
        _LOADED.clear()
        _LOADED[key] = (nl, lib, EnergyModel(lib, nl), GateSim(nl, lib))
    return _LOADED[key]


def measure_power(cfg, inputs: dict, *, out_dir: Path, liberty: Path | None = None,
                  clock_mhz: float = 100.0, stimulus: str = "given", name: str = "power",
                  keep: dict | None = None, delay: str = "zero", cache: bool = False) -> dict:
    """Power of `cfg` on the per-cycle input streams `inputs` (module docstring); returns a dict
    (powers in mW at `clock_mhz`, energy per cycle and per operation in pJ, timings in s) and
    writes it to out_dir/<name>.json. The gate netlist in out_dir/gate is reused by later calls
    with other stimuli (many stimulus streams per build). `keep` (a dict) receives the netlist,
    the per-net values of the stimulus cycles, the build paths, the ports and the energy model.
    `delay`: "zero" (default), "unit" (toggles from `GateSim.unit_delay_toggles`) or "liberty"
    (`GateSim.inertial_toggles` with every cell's delay from the liberty's cell_rise / cell_fall
    tables, `EnergyModel.cell_delays`, rounded to DELAY_STEP_NS steps, inertial delays): glitches
    counted, settled values checked equal to the zero-delay ones, which the golden check ran on;
    the result then also holds the zero-delay figures under "zero_delay" and the differences
    in % ("glitch_toggles_pct", "glitch_power_pct").
    `cache=True`: the RTL comes from the flow's cache (quantpe.sim.runner.ensure_generated), and
    an earlier out_dir/<name>.json with the same `cache_key` (sha256 of the netlist build key, the
    stimulus arrays, clock, delay model and stimulus label) is returned without simulating
    (its "result_cached" is True); `keep` is not filled then.
    Long: the five steps of the module docstring in order, with the cache around them."""
    liberty = sky130_path() if liberty is None else liberty
    if clock_mhz <= 0:
        raise QuantpeError(f"clock must be > 0 MHz, got {clock_mhz}")
    if delay not in DELAY_MODELS:
        raise QuantpeError(f"unknown delay model {delay!r} ({' | '.join(DELAY_MODELS)})")
    times = {}
    t0 = time.monotonic()
    out_dir = Path(out_dir).resolve()
    if cache:
        manifest = ensure_generated(cfg)
        rtl_dir = design_dir(cfg)
    else:
        rtl_dir = out_dir / "rtl"
        manifest = generate(cfg, rtl_dir)
    times["generate_s"] = time.monotonic() - t0
    gate_dir = out_dir / "gate"
    built = build_gate_netlist(rtl_dir / manifest["verilog"], manifest["top"], gate_dir, liberty)
    times["synth_s"] = built["build_s"]
    key = _result_key(built, inputs, clock_mhz, delay, stimulus)
    if cache:
        hit = _cached_result(out_dir / f"{name}.json", key)
        if hit is not None:
            return {**hit, "synth_cached": built["cached"]}      # this call's netlist build
    t1 = time.monotonic()
    nl, lib, model, gsim = _load_netlist(Path(built["netlist_json"]), manifest["top"], Path(liberty))
    times["load_s"] = time.monotonic() - t1
    ports = [Port(**p) for p in manifest["ports"]]
    T = len(inputs[next(p.name for p in ports if p.direction == "in")])
    if T < 2:
        raise QuantpeError("power needs a stimulus of at least 2 cycles")
    R = RESET_CYCLES
    bits = {}
    for p in ports:
        if p.direction == "in":
            b = port_bits(inputs[p.name], p.count, p.elem_bits, T)
            bits[p.name] = np.concatenate([np.repeat(b[:1], R, axis=0), b])
    if "rst" in nl.ports:
        bits["rst"] = np.concatenate([np.ones((R, 1), np.uint8), np.zeros((T, 1), np.uint8)])
    t2 = time.monotonic()
    V, sweeps = gsim.run(bits)
    times["gate_sim_s"] = time.monotonic() - t2
    # check every output on every cycle against the golden model
    t3 = time.monotonic()
    expected = expected_outputs(cfg, inputs)
    W = V[:, R:]
    for p in ports:
        if p.direction != "out":
            continue
        nets = nl.ports[p.name][1]
        raw = W[nets].T.astype(np.int64).reshape(T, p.count, p.elem_bits)
        u = (raw << np.arange(p.elem_bits, dtype=np.int64)).sum(axis=2)
        got = wrap(u, p.elem_bits, p.signed).reshape(np.asarray(expected[p.name]).shape)
        bad = np.flatnonzero((got != np.asarray(expected[p.name])).reshape(T, -1).any(axis=1))
        if bad.size:
            t = int(bad[0])
            raise SimulationFailed(f"{cfg.config_id}: gate netlist output {p.name} differs from golden in "
                                   f"{bad.size} cycles, first cycle {t}: got {got[t]}, expected "
                                   f"{np.asarray(expected[p.name])[t]} (netlist: {built['netlist_v']})")
    times["check_s"] = time.monotonic() - t3
    t4 = time.monotonic()
    toggles = np.count_nonzero(W[:, 1:] != W[:, :-1], axis=1)
    zero_toggles = toggles
    if delay != "zero":
        t5 = time.monotonic()
        if delay == "unit":
            toggles, steps = gsim.unit_delay_toggles(W)
        else:
            toggles, steps = gsim.inertial_toggles(W, _liberty_delays(model, gsim, liberty))
        times["delay_sim_s"] = time.monotonic() - t5
    if keep is not None:
        keep.update(netlist=nl, values=W, toggles=toggles, zero_toggles=zero_toggles, built=built,
                    ports=ports, model=model)
    period = 1e-6 / clock_mhz
    unit, ops = _macs_per_cycle(cfg, inputs)
    ops_window = ops * (T - 1) / T

    def figures(tc):
        res = model.energy(tc, T - 1, period)
        total_j = res.dynamic_j + res.leakage_w * res.time_s
        return res, {**res.as_dict(), "energy_per_op_pj": 1e12 * total_j / ops_window if ops_window else None,
                     "toggles": int(tc.sum())}
    res, d = figures(toggles)
    times["energy_s"] = time.monotonic() - t4 - times.get("delay_sim_s", 0.0)
    out = {"design": cfg.config_id, "kind": cfg.kind, "stimulus": stimulus, "cycles": T,
           "cells": len(nl.cells), "flip_flops": len(gsim.flops), "levels": gsim.levels, "sweeps": sweeps,
           "liberty": str(Path(liberty)), "voltage_v": lib.voltage, "wire_load": "none",
           "delay_model": DELAY_MODELS[delay], **d, "op_unit": unit, "ops": ops,
           "times_s": {k: round(v, 3) for k, v in times.items()},
           "by_cell_type_uw": {k: [1e6 * v[0] / res.time_s, 1e6 * v[1] / res.time_s]
                               for k, v in sorted(res.by_cell_type.items())}}
    if delay != "zero":
        _, z = figures(zero_toggles)
        out["delay_steps"] = steps
        out["zero_delay"] = {k: z[k] for k in ("switching_mw", "internal_mw", "leakage_mw", "dynamic_mw",
                                               "total_mw", "energy_per_cycle_pj", "energy_per_op_pj",
                                               "toggles")}
        out["glitch_toggles_pct"] = 100.0 * (out["toggles"] / z["toggles"] - 1) if z["toggles"] else None
        out["glitch_power_pct"] = 100.0 * (out["total_mw"] / z["total_mw"] - 1) if z["total_mw"] else None
    out["times_s"]["total_s"] = round(time.monotonic() - t0, 3)
    out["synth_cached"] = built["cached"]
    out["result_cached"] = False
    out["cache_key"] = key
    write_text(out_dir / f"{name}.json", json.dumps(out, indent=1, default=float) + "\n")
    return out


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------


