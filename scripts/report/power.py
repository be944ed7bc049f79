"""The energy section of the report: reports/energy/ (`power_report(out_dir) -> markdown lines`).

Every figure is measured by quantpe.power.measure (gate netlist mapped to sky130_fd_sc_hd tt_025C_1v80,
zero-delay gate simulation checked equal to the golden model on every cycle, per-net toggles,
the liberty's energy tables; wire load none) at 100 MHz:
- PE table: the 16-lane int8 baseline PE and StruM static/dynamic (DLIQ, MIP2Q) on the digits
  model's real traces; the baseline and the Stripes PEs also on the digits CNN's bricks (the
  rows with stimulus CNN_LABEL). Each StruM design is compared with the baseline PE on the SAME frames
  (quantpe.tb.power_traces.strum_and_baseline_traces): mW, pJ per cycle, pJ per MAC, delta %.
  The baseline also on its own dataflow-order real trace and on random stimulus.
- Glitch table: the real-trace PE rows again with unit and with liberty-derived (inertial)
  delays (measure_power(delay="unit" | "liberty")), power and toggles against zero-delay.
- Multiplier table (`multiplier_energy`): energy per multiplication of the 8x8 approximate
  multipliers of the approx sweep (quantpe.report.approx.sweep_variants), signed and unsigned:
  by default the ones the approxmul section kept (out_dir/approx/variants.csv), every one with
  `multipliers="all"` (or QUANTPE_ENERGY_MULTIPLIERS=all for `quantpe report --only energy`), on
  uniform random operands and on the model's real operand pairs, delta vs the exact unit.
Files (written atomically): energy.md, energy.json, multipliers.csv (when swept).

`energy_table(designs, reference, liberty)`: the default-run energy table (quantpe report puts it
next to the area table, reports/energy.csv): every design of the default set, zero-delay,
TABLE_CYCLES cycles, on the same data as the reference PE wherever one exists: the int8 baseline
variants and Stripes on the real trace (the reference on the same trace), each StruM design on
its frames (the reference on the same frames, `strum_and_baseline_traces`); designs the model's
8-bit codes do not fit get their random stimulus and no delta. One parallel job per design
(quantpe.core.jobs.parallel_map), results cached (measure_power(cache=True)) under
<build>/power/<config-id>/.
"""
from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from quantpe.core.build import build_root
from quantpe.core.jobs import parallel_map
from quantpe.core.kinds import stimulus_for
from quantpe.core.settings import settings
from quantpe.core.tables import csv_text, pct_change
from quantpe.explore.approx_sweep import sweep_variants
from quantpe.golden.atomic import write_text
from quantpe.golden.baseline import BaselineConfig
from quantpe.golden.errors import ConfigError, QuantpeError
from quantpe.golden.qmodel import build_qmodel
from quantpe.golden.stripes import StripesConfig
from quantpe.golden.strum import StrumConfig
from quantpe.power.measure import measure_power
from quantpe.synth.cell_power import PowerLibrary
from quantpe.synth.liberty import sky130_liberty, sky130_path
from quantpe.tb.power_traces import real_trace, strum_and_baseline_traces

#: the stimulus label of the rows on the digits CNN's trace (`real_trace(..., model="cnn")`)
CNN_LABEL = "real (CNN bricks)"

__all__ = ["power_report", "energy_figures", "write_energy_data", "energy_markdown", "EnergyFigures", "STRUM_DESIGNS", "STRIPES_DESIGNS", "CYCLES", "macs_per_inference",
           "energy_table", "TABLE_CYCLES", "multiplier_variants", "multiplier_energy"]

TABLE_CYCLES = 2000
GLITCH_CYCLES = 2000

CYCLES = 10000
STRUM_DESIGNS = (("strum-dliq-static", StrumConfig(variant="dliq", structure="static")),
                 ("strum-mip2q-static", StrumConfig(variant="mip2q", structure="static")),
                 ("strum-dliq-dynamic", StrumConfig(variant="dliq", structure="dynamic")),
                 ("strum-mip2q-dynamic", StrumConfig(variant="mip2q", structure="dynamic")))
STRIPES_DESIGNS = (("stripes-static", StripesConfig()),
                   ("stripes-dynamic-lead", StripesConfig(mode="dynamic")),
                   ("stripes-dynamic-lead-trail", StripesConfig(mode="dynamic", trailing=True)),
                   ("stripes-parallel", StripesConfig(mode="parallel")))
_KEEP = ("design", "stimulus", "cycles", "cells", "flip_flops", "sweeps", "switching_mw", "internal_mw",
         "leakage_mw", "total_mw", "energy_per_cycle_pj", "op_unit", "ops", "energy_per_op_pj", "toggles",
         "times_s")


def _row(name: str, r: dict) -> dict:
    out = {"name": name, **{k: r[k] for k in _KEEP}}
    return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in out.items()}


def macs_per_inference() -> int:
    """Multiply-accumulates of one digits-MLP inference (sum of K * O over the layers)."""
    return int(sum(layer.in_features * layer.out_features for layer in build_qmodel().layers))


@dataclass
class EnergyFigures:
    """Everything the energy section reports, as data: the PE rows, the glitch rows, the
    multiplier rows and their run summary (`mul_info`), the run lengths, the MACs of one
    digits-MLP inference and the section's wall time."""
    pe_rows: list
    glitch_rows: list
    mul_rows: list
    mul_info: dict | None
    cycles: int
    mul_cycles: int
    glitch_cycles: int
    mpi: int
    seconds: float = 0.0


def _pe_rows(work: Path, cycles: int, seed: int, kw: dict) -> tuple[list, list]:
    """The PE table's rows, and the glitch runs to make of them: (row name, cfg, trace of n
    cycles, stimulus label, folder) each."""
    base_cfg = BaselineConfig()
    base_dir = work / base_cfg.config_id
    pe_rows, unit_runs = [], []
    r_real = measure_power(base_cfg, real_trace(base_cfg, cycles, seed), out_dir=base_dir, stimulus="real",
                           name="real", **kw)
    unit_runs.append(("baseline-l16-int8", base_cfg, lambda n: real_trace(base_cfg, n, seed), "real", base_dir))
    pe_rows.append({**_row("baseline-l16-int8", r_real), "vs": None, "delta_pct": None})
    r_rand = measure_power(base_cfg, stimulus_for(base_cfg, cycles, seed + 1)[0], out_dir=base_dir,
                           stimulus="random", name="random", **kw)
    pe_rows.append({**_row("baseline-l16-int8", r_rand), "vs": None, "delta_pct": None})
    for name, cfg in STRUM_DESIGNS:
        s_in, b_in = strum_and_baseline_traces(cfg, cycles, seed)
        rb = measure_power(base_cfg, b_in, out_dir=base_dir, stimulus=f"real, frames of {name}",
                           name=f"same-as-{name}", **kw)
        rs = measure_power(cfg, s_in, out_dir=work / cfg.config_id, stimulus="real (StruM frames)",
                           name="real", **kw)
        unit_runs.append((name, cfg, lambda n, cfg=cfg: strum_and_baseline_traces(cfg, n, seed)[0],
                          "real (StruM frames)", work / cfg.config_id))
        pe_rows.append({**_row("baseline-l16-int8", rb), "vs": None, "delta_pct": None})
        pe_rows.append({**_row(name, rs), "vs": "baseline-l16-int8 on the same frames",
                        "delta_pct": pct_change(rs["total_mw"], rb["total_mw"]),
                        "delta_per_mac_pct": pct_change(rs["energy_per_op_pj"], rb["energy_per_op_pj"])})
    for model, label, run in (("mlp", "real", "real"), ("cnn", CNN_LABEL, "real-cnn")):
        if model == "mlp":
            r_base = r_real
        else:                          # the baseline on the CNN's bricks first: the Stripes rows' reference
            r_base = measure_power(base_cfg, real_trace(base_cfg, cycles, seed, model), out_dir=base_dir,
                                   stimulus=label, name=run, **kw)
            pe_rows.append({**_row("baseline-l16-int8", r_base), "vs": None, "delta_pct": None})
        for name, cfg in STRIPES_DESIGNS:
            rs = measure_power(cfg, real_trace(cfg, cycles, seed, model), out_dir=work / cfg.config_id,
                               stimulus=label, name=run, **kw)
            if model == "mlp":             # the glitch runs: the MLP's traces
                unit_runs.append((name, cfg, lambda n, cfg=cfg: real_trace(cfg, n, seed), label, work / cfg.config_id))
            pe_rows.append({**_row(name, rs), "vs": f"baseline-l16-int8 {label}",
                            "delta_pct": pct_change(rs["total_mw"], r_base["total_mw"]),
                            "delta_per_mac_pct": pct_change(rs["energy_per_op_pj"], r_base["energy_per_op_pj"])})
    return pe_rows, unit_runs


def _glitch_rows(unit_runs: list, glitch_cycles: int, kw: dict) -> list:
    """Each glitch run with unit and with liberty delays, against zero-delay on the same cycles;
    QuantpeError if the two runs saw different zero-delay toggles."""
    glitch_rows = []
    for name, cfg, trace, label, folder in unit_runs:
        ins = trace(glitch_cycles)
        row = {"name": name, "stimulus": label}
        for mode in ("unit", "liberty"):
            rd = measure_power(cfg, ins, out_dir=folder, stimulus=label, name=f"glitch-{mode}-delay", delay=mode, **kw)
            z = rd["zero_delay"]
            if "zero_delay_toggles" in row and z["toggles"] != row["zero_delay_toggles"]:
                raise QuantpeError(f"{name}: the unit- and liberty-delay runs saw different zero-delay toggles")
            row.update({"cycles": rd["cycles"], "zero_delay_mw": z["total_mw"], "zero_delay_toggles": z["toggles"],
                        "levels": rd["levels"], f"{mode}_delay_mw": rd["total_mw"],
                        f"{mode}_power_pct": rd["glitch_power_pct"], f"{mode}_delay_toggles": rd["toggles"],
                        f"{mode}_toggles_pct": rd["glitch_toggles_pct"], f"{mode}_steps": rd["delay_steps"],
                        f"{mode}_sim_s": rd["times_s"].get("delay_sim_s")})
        glitch_rows.append(row)
    return glitch_rows


def energy_figures(out_dir: Path, *, cycles: int = CYCLES, multipliers: bool | str = "kept",
                   mul_cycles: int = 10000, seed: int = 0, work: Path | None = None,
                   liberty: Path | None = None, glitches: bool = True,
                   glitch_cycles: int = GLITCH_CYCLES) -> EnergyFigures:
    """Measure the section's figures. `out_dir`: the report folder (the approxmul section's kept
    variants are read there). `multipliers`: "kept" (or True; the 8x8 variants the approxmul
    section kept, see `multiplier_energy`), "all" (every 8x8 variant of the sweep) or "none"
    (False). `work`: the measurement folders [<build>/power]; every run is cached there
    (measure_power(cache=True)). `liberty`: the sky130 liberty
    [`quantpe.synth.liberty.sky130_liberty`]; missing: QuantpeError. `glitches`: also the unit-
    and liberty-delay (glitch-aware) runs of the real-trace PE rows on their first
    `glitch_cycles` cycles (the same traces built that long), reported against the zero-delay
    figures of the same cycles."""
    import os

    t0 = time.monotonic()
    liberty = Path(liberty or sky130_liberty() or sky130_path())
    if not liberty.is_file():
        raise QuantpeError(f"the energy section needs the sky130_fd_sc_hd liberty, not found: {liberty}")
    if os.environ.get("QUANTPE_ENERGY_MULTIPLIERS", "") == "all" and multipliers in (True, "kept"):
        multipliers = "all"
    work = Path(work) if work is not None else build_root() / "power"
    kw = {"liberty": liberty, "cache": True}
    pe_rows, unit_runs = _pe_rows(work, cycles, seed, kw)
    glitch_rows = _glitch_rows(unit_runs, glitch_cycles, kw) if glitches else []
    mpi = macs_per_inference()
    for r in pe_rows:                 # nJ per digits-MLP inference: the MLP's rows only
        r["energy_per_inference_nj"] = (1e-3 * r["energy_per_op_pj"] * mpi
                                        if r["energy_per_op_pj"] and r["stimulus"] != CNN_LABEL else None)
    mul_rows, mul_info = [], None
    if multipliers not in (False, None, "none"):
        mul_rows, mul_info = multiplier_energy(out_dir, "all" if multipliers == "all" else "kept",
                                               mul_cycles, seed, liberty)
    return EnergyFigures(pe_rows, glitch_rows, mul_rows, mul_info, cycles, mul_cycles, glitch_cycles, mpi,
                         time.monotonic() - t0)


def write_energy_data(fig: EnergyFigures, out: Path) -> None:
    """energy.json, and multipliers.csv when the multipliers were measured."""
    write_text(out / "energy.json", json.dumps({"pe": fig.pe_rows, "glitches": fig.glitch_rows,
                                                 "multipliers": fig.mul_rows}, indent=1, default=float) + "\n")
    if fig.mul_rows:
        write_text(out / "multipliers.csv", csv_text([{k: v for k, v in r.items() if k not in ("cached", "seconds", "built")}
                                                      for r in fig.mul_rows]))


def power_report(out_dir: Path, **options) -> list[str]:
    """Measure (`energy_figures(out_dir, **options)`), write out_dir/energy/*, return the
    markdown section."""
    fig = energy_figures(out_dir, **options)
    out = Path(out_dir) / "energy"
    out.mkdir(parents=True, exist_ok=True)
    lines = energy_markdown(fig)
    write_text(out / "energy.md", "\n".join(lines) + "\n")
    write_energy_data(fig, out)
    return lines


def _f(v, d=3, signed=False):
    if v is None:
        return "n/a"
    return f"{v:+.{d}f}" if signed else f"{v:.{d}f}"


def _pe_markdown(fig: EnergyFigures) -> list[str]:
    lines = ["## Energy (gate-level toggles, sky130_fd_sc_hd tt 1.8 V, 100 MHz)", "",
             f"Zero-delay gate simulation of the mapped netlist (checked equal to the golden model on "
             f"every cycle), per-net toggles, the liberty's internal-energy tables, C V^2/2 switching on "
             f"pin loads (no wire load), cell_leakage_power. {fig.cycles} cycles per PE run. Model: "
             f"quantpe.power.energy (validated against OpenSTA 2.0.17 within 1e-4 in its own formula).", "",
             f"Δ columns: StruM vs the baseline row just above it (same frames), Stripes vs the baseline "
             f"row of the same trace (same bricks, same order: the MLP's real trace, or the CNN's bricks). "
             f"nJ/inference = pJ/MAC x {fig.mpi} MACs of one digits-MLP inference (MLP rows).", "",
             "| design | stimulus | total mW | switching mW | internal mW | pJ/cycle | pJ/MAC | "
             "nJ/inference | Δ power % | Δ pJ/MAC % | cells | s |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in fig.pe_rows:
        lines.append(f"| {r['name']} | {r['stimulus']} | {_f(r['total_mw'])} | {_f(r['switching_mw'])} | "
                     f"{_f(r['internal_mw'])} | {_f(r['energy_per_cycle_pj'], 2)} | "
                     f"{_f(r['energy_per_op_pj'])} | {_f(r.get('energy_per_inference_nj'), 2)} | "
                     f"{_f(r.get('delta_pct'), 1, True)} | {_f(r.get('delta_per_mac_pct'), 1, True)} | "
                     f"{r['cells']} | {r['times_s']['total_s']:.0f} |")
    return lines


def _strum_note(pe_rows: list) -> list[str]:
    pairs = [(pe_rows[i - 1], r) for i, r in enumerate(pe_rows)
             if r.get("delta_pct") is not None and r["name"].startswith("strum")]
    if not pairs:
        return []
    deltas = [r["delta_pct"] for _, r in pairs]
    tog = [100.0 * (r["toggles"] / b["toggles"] - 1) for b, r in pairs]
    return ["", "StruM vs the INT8 baseline PE on the same real frames (same layers, samples, "
            f"neurons, idle cycles and activations): {min(deltas):+.1f} .. {max(deltas):+.1f} % PE "
            f"power; the paper claims -31 .. -34 %. Net toggles differ by {min(tog):+.1f} .. "
            f"{max(tog):+.1f} %, "
            "and the combinational logic dominates both designs' power, so the comparison is "
            "decided by how much the StruM datapath (block decode, lane selection, shifted low "
            "lanes, and for dynamic PEs the INT8 fallback) switches compared with 16 full int8 "
            "multipliers on the same operands. "
            + ("This flow does not reproduce the paper's saving; " if min(deltas) > -31 else
               "This flow reaches the paper's range; ")
            + "the paper's figure comes from its own RTL, synthesis and activity estimation, which "
            "this report does not replicate."]


def _stripes_notes(pe_rows: list) -> list[str]:
    lines = []
    for label, trace in (("real", "the digits MLP's"), (CNN_LABEL, "the digits CNN's")):
        st = {r["name"]: r for r in pe_rows if r["name"].startswith("stripes") and r["stimulus"] == label}
        if "stripes-parallel" not in st:
            continue
        par = st["stripes-parallel"]["energy_per_op_pj"]
        base = next(r for r in pe_rows if r["stimulus"] == label)["energy_per_op_pj"]
        cpb = ", ".join(f"{n} {r['cycles'] * 16 / r['ops']:.2f}" for n, r in st.items() if r["ops"])
        parts = [f"{n}: {par / r['energy_per_op_pj']:.2f}x the bit-parallel SIP's and "
                 f"{base / r['energy_per_op_pj']:.2f}x the baseline PE's energy efficiency (MACs per pJ)"
                 for n, r in st.items() if n != "stripes-parallel"]
        lines += ["", f"Stripes on the same bricks of {trace} trace (the paper: Stripes 57 % more energy-efficient "
                  "than the bit-parallel baseline, i.e. 1.57x): " + "; ".join(parts) + ". Cycles per brick on "
                  f"this trace: {cpb}" + (" (8 = every bit of a signed int8 code: the digits MLP's codes "
                                          "reach 127, so the sign-including window has 8 bits)" if label == "real"
                                          else " (a MAC is one lane of a brick, idle lanes included: conv1 and the "
                                          "depthwise dw3 fill 1 lane of 16)")
                  + "; bit-serial processing saves energy only where activations need fewer bits."]
    return lines


def _glitch_markdown(fig: EnergyFigures) -> list[str]:
    if not fig.glitch_rows:
        return []
    lines = ["", "### Glitches: unit and liberty delays against zero-delay (`quantpe power --delay unit|liberty`)",
             "",
             f"The same netlists and real traces ({fig.glitch_cycles} cycles), every transition counted until "
             "each cycle settles (settled "
             "values equal to the zero-delay ones, which match the golden model). Unit: every cell output one "
             "step after its inputs (an upper-bound style estimate, every path skew becomes a glitch). Liberty: "
             "each cell's delay from its sky130 cell_rise/cell_fall tables at its slews and load, 10 ps steps, "
             "inertial (a pulse shorter than a cell's delay does not pass it); no wire delays.", "",
             "| design | stimulus | zero-delay mW | unit mW | Δ % | Δ toggles % | liberty mW | Δ % | "
             "Δ toggles % | levels | liberty steps (10 ps) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for g in fig.glitch_rows:
        lines.append(f"| {g['name']} | {g['stimulus']} | {_f(g['zero_delay_mw'])} | {_f(g['unit_delay_mw'])} | "
                     f"{_f(g['unit_power_pct'], 1, True)} | {_f(g['unit_toggles_pct'], 1, True)} | "
                     f"{_f(g['liberty_delay_mw'])} | {_f(g['liberty_power_pct'], 1, True)} | "
                     f"{_f(g['liberty_toggles_pct'], 1, True)} | {g['levels']} | {g['liberty_steps']} |")
    return lines


def _multiplier_markdown(fig: EnergyFigures) -> list[str]:
    if not fig.mul_rows:
        return []
    i = fig.mul_info
    lines = ["", f"### Energy per multiplication, 8x8 approximate multipliers, signed and unsigned "
             f"({fig.mul_cycles} products each; random = uniform operands, the same for every variant of "
             "one signedness; real = the digits model's (activation, weight) pairs in dataflow order, "
             "|w| for unsigned units)", "",
             f"{i['measured']} of the sweep's {i['sweep']} 8x8 variants ({i['selection']}); "
             f"{i['fresh']} measured in this run in {i['seconds']:.0f} s on {i['jobs']} workers "
             f"({i['per_variant_s']:.1f} s of worker time per variant, both stimuli; {i['built']} gate netlists "
             "built in this run, the others reused; a cold variant, netlist included, takes about 7 s), "
             "the others from the cache. "
             "Δ vs the exact unit of the same signedness named in column `vs` (the lowest-energy exact "
             "form on random operands).", "",
             "| multiplier | signed | cells | pJ/mult random | Δ % | pJ/mult real | Δ % |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in fig.mul_rows:
        lines.append(f"| {r['name']} | {'yes' if r['signed'] else 'no'} | {r['cells']} | "
                     f"{_f(r['random_pj'], 4)} | {_f(r['d_random_pct'], 1, True)} | {_f(r['real_pj'], 4)} | "
                     f"{_f(r['d_real_pct'], 1, True)} |")
    return lines


def energy_markdown(fig: EnergyFigures) -> list[str]:
    """The markdown section lines of the figures."""
    return (_pe_markdown(fig) + _strum_note(fig.pe_rows) + _stripes_notes(fig.pe_rows) + _glitch_markdown(fig)
            + _multiplier_markdown(fig) + ["", f"Energy section measured in {fig.seconds:.0f} s."])


# ----------------------------------------------------------------------------------------------
# Energy per multiplication of the 8x8 approximate multipliers
# ----------------------------------------------------------------------------------------------


def _preload(liberty) -> None:
    """Parse the liberty once in this process, so forked workers inherit it (quantpe.power.energy's cache)."""
    PowerLibrary.read(liberty, cells=())


def multiplier_variants(out_dir: Path, selection: str = "kept") -> tuple[list, int]:
    """(configs, size of the sweep): the 8x8 variants of the approximate-multiplier sweep
    (quantpe.report.approx.sweep_variants, signed then unsigned). "all": every one; "kept": those
    the approxmul section kept (column rtl_checked of out_dir/approx/variants.csv: every member of
    an area/MRED or area/MAE front, every budget winner, every exact unit)."""
    cfgs = sweep_variants(8, 8, True) + sweep_variants(8, 8, False)
    if selection == "all":
        return cfgs, len(cfgs)
    if selection != "kept":
        raise QuantpeError(f"unknown multiplier selection {selection!r} (kept | all)")
    path = Path(out_dir) / "approx" / "variants.csv"
    try:
        rows = list(csv.DictReader(io.StringIO(path.read_text())))
    except OSError:
        raise QuantpeError(f"{path} not found: the kept multipliers come from the approxmul section "
                           "(run it first, or measure all of them)") from None
    kept = {r["config_id"] for r in rows if r.get("width") == "8x8" and r.get("rtl_checked") == "True"}
    return [c for c in cfgs if c.config_id in kept], len(cfgs)


def _mul_job(job) -> dict:
    """Energy per multiplication of one multiplier on random and real operands (worker process)."""
    cfg, cycles, seed, liberty = job
    lo, hi = cfg.a_range()
    rng = np.random.default_rng([seed, int(cfg.signed)])       # the same operands for every variant
    rnd = {"a": rng.integers(lo, hi + 1, cycles), "b": rng.integers(lo, hi + 1, cycles)}
    d = build_root() / "power" / cfg.config_id
    rr = measure_power(cfg, rnd, out_dir=d, stimulus="random", name="mul-random", liberty=liberty, cache=True)
    rt = measure_power(cfg, real_trace(cfg, cycles, seed), out_dir=d, stimulus="real", name="mul-real",
                       liberty=liberty, cache=True)
    return {"name": cfg.short_name(), "config_id": cfg.config_id, "method": cfg.method, "signed": cfg.signed,
            "signed_form": cfg.signed_form, "cells": rr["cells"], "random_pj": float(rr["energy_per_op_pj"]),
            "real_pj": float(rt["energy_per_op_pj"]), "random_mw": float(rr["total_mw"]),
            "real_mw": float(rt["total_mw"]), "cached": rr["result_cached"] and rt["result_cached"],
            "built": not rr["synth_cached"],
            "seconds": float(rr["times_s"]["total_s"]) + float(rt["times_s"]["total_s"])}


def multiplier_energy(out_dir: Path, selection: str = "kept", cycles: int = 10000, seed: int = 0,
                      liberty: Path | None = None) -> tuple[list[dict], dict]:
    """(rows, info): energy per multiplication of the `selection` of `multiplier_variants`, in
    parallel (quantpe.core.jobs.parallel_map), cached; deltas vs the lowest-energy (random operands)
    exact unit of the same signedness. info: counts and the measured time per variant."""
    liberty = sky130_path() if liberty is None else liberty
    cfgs, sweep = multiplier_variants(out_dir, selection)
    t0 = time.monotonic()
    _preload(liberty)
    rows = parallel_map(_mul_job, [(c, cycles, seed, Path(liberty)) for c in cfgs], desc="multiplier energy")
    wall = time.monotonic() - t0
    for signed in (True, False):
        group = [r for r in rows if r["signed"] == signed]
        exact = min((r for r in group if r["method"] == "exact"), key=lambda r: r["random_pj"], default=None)
        for r in group:
            r["vs"] = exact["name"] + (f" ({exact['signed_form']})" if signed else "") if exact else None
            r["d_random_pct"] = pct_change(r["random_pj"], exact["random_pj"]) if exact else None
            r["d_real_pct"] = pct_change(r["real_pj"], exact["real_pj"]) if exact else None
    fresh = [r for r in rows if not r["cached"]]
    built = sum(r["built"] for r in fresh)           # a cached row's flag is from the run that measured it
    jobs = min(settings.jobs, max(1, len(cfgs)))
    info = {"selection": "every 8x8 variant" if selection == "all" else
            "the variants the approxmul section kept: front members, budget winners, exact units; "
            "`power_report(multipliers=\"all\")` measures every one",
            "sweep": sweep, "measured": len(rows), "fresh": len(fresh), "built": built, "seconds": wall, "jobs": jobs,
            "per_variant_s": (wall * jobs / len(fresh)) if fresh else 0.0}
    return rows, info


# ----------------------------------------------------------------------------------------------
# The default-run energy table
# ----------------------------------------------------------------------------------------------


def _table_stimuli(name: str, cfg, strum_cfgs: dict, cycles: int, seed: int) -> list[tuple[str, str, dict]]:
    """[(run name, stimulus label, inputs)] of one design of the table (module docstring)."""
    if cfg.kind == "strum":
        return [("real", "real (StruM frames)", strum_and_baseline_traces(cfg, cycles, seed)[0])]
    runs = []
    try:
        runs.append(("real", "real", real_trace(cfg, cycles, seed)))
    except ConfigError:
        runs.append(("random", "random", stimulus_for(cfg, cycles, seed + 1)[0]))
    for sname, scfg in strum_cfgs.items():       # the reference on each StruM design's frames
        runs.append((f"same-as-{sname}", f"real, frames of {sname}",
                     strum_and_baseline_traces(scfg, cycles, seed)[1]))
    return runs


def _table_job(job) -> list[dict]:
    """Measure one design's runs (module level: runs in a worker process)."""
    name, cfg, strum_cfgs, cycles, seed, liberty = job
    out = []
    for run, label, inputs in _table_stimuli(name, cfg, strum_cfgs, cycles, seed):
        r = measure_power(cfg, inputs, out_dir=build_root() / "power" / cfg.config_id, liberty=liberty,
                          stimulus=label, name=f"table-{run}", cache=True)
        out.append({"name": name, "run": run, **{k: r[k] for k in _KEEP}, "config_id": cfg.config_id,
                    "result_cached": r["result_cached"], "synth_cached": r["synth_cached"]})
    return out


def energy_table(designs, reference: str, liberty: Path | None, *, cycles: int = TABLE_CYCLES,
                 seed: int = 0) -> tuple[list[str], list[dict]]:
    """(markdown lines, csv rows) of the default-run energy table (module docstring); with no
    liberty (None or a missing file) one line saying so and no rows."""
    t0 = time.monotonic()
    head = [f"## Energy (gate-level toggles, zero-delay, sky130_fd_sc_hd tt 1.8 V, 100 MHz, {cycles} cycles)", ""]
    if liberty is None or not Path(liberty).is_file():
        where = "../shared/pdk/sky130hd/" if liberty is None else str(liberty)
        return head + [f"Not measured: the sky130_fd_sc_hd liberty is not available ({where}); the "
                       "energy table needs its power tables.", ""], []
    designs = list(designs)
    _preload(liberty)
    strum_cfgs = {n: c for n, c in designs if c.kind == "strum"}
    jobs = [(n, c, strum_cfgs if n == reference else {}, cycles, seed, Path(liberty)) for n, c in designs]
    jobs.sort(key=lambda j: j[0] != reference)            # the longest job (many runs) first
    runs = {(r["name"], r["run"]): r for rs in parallel_map(_table_job, jobs, desc="energy") for r in rs}
    rows = []
    for n, cfg in designs:
        r = runs.get((n, "real")) or runs[(n, "random")]
        ref = None
        if r["run"] == "real" and n != reference:
            ref = runs.get((reference, f"same-as-{n}") if cfg.kind == "strum" else (reference, "real"))
        rows.append({"name": n, "config_id": cfg.config_id, "stimulus": r["stimulus"], "cycles": r["cycles"],
                     "total_mw": r["total_mw"], "switching_mw": r["switching_mw"],
                     "internal_mw": r["internal_mw"], "leakage_mw": r["leakage_mw"],
                     "pj_per_cycle": r["energy_per_cycle_pj"], "op_unit": r["op_unit"],
                     "pj_per_op": r["energy_per_op_pj"],
                     "vs": None if ref is None else f"{reference} ({ref['stimulus']})",
                     "ref_total_mw": None if ref is None else ref["total_mw"],
                     "ref_pj_per_op": None if ref is None else ref["energy_per_op_pj"],
                     "d_mw_pct": None if ref is None else pct_change(r["total_mw"], ref["total_mw"]),
                     "d_pj_per_op_pct": None if ref is None else pct_change(r["energy_per_op_pj"], ref["energy_per_op_pj"]),
                     "cells": r["cells"], "toggles": r["toggles"]})
    cached = sum(rr["result_cached"] for rr in runs.values())
    lines = head + [
        "Every default design's mapped netlist simulated zero-delay (outputs checked equal to the golden "
        "model on every cycle), toggles charged with the liberty's tables (quantpe.power.measure; no wire load). "
        "Δ against " + reference + " on the same data: the real trace (the digits model in dataflow order; "
        "Stripes: the same bricks) or, for StruM, the same frames; designs whose operands the model's "
        "8-bit codes do not fit run their random stimulus and have no Δ. The full energy section "
        "(glitches, multipliers, longer traces) is [energy/energy.md](energy/energy.md).", "",
        "| design | stimulus | mW | pJ/cycle | pJ/MAC | Δ mW % | Δ pJ/MAC % | cells |",
        "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        per = _f(r["pj_per_op"]) if r["op_unit"] == "MAC" else "n/a"
        lines.append(f"| {r['name']} | {r['stimulus']} | {_f(r['total_mw'])} | {_f(r['pj_per_cycle'], 2)} | "
                     f"{per} | {_f(r['d_mw_pct'], 1, True)} | {_f(r['d_pj_per_op_pct'], 1, True)} | "
                     f"{r['cells']} |")
    lines += ["", f"Energy table: {len(runs)} runs ({cached} from the cache) in {time.monotonic() - t0:.0f} s.",
              ""]
    return lines, rows
