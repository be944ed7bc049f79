"""The main job (`quantpe report`, `make report`): for every design of the default set,
generate + lint the Verilog, run the cocotb regression against the golden model, synthesise
with the built-in liberty; then write the area table, deltas, plot and model accuracy to
reports/. With the real sky130_fd_sc_hd library available (../shared/pdk or --liberty), the
reference PE is also synthesised with it as a calibration row, and every design's gate-level
energy is measured on it (quantpe.report.power.energy_table: energy.csv and the table after the
area table; one line saying it is missing otherwise). Then every technique section but the
studies (quantpe.report.studies: long sections whose committed results README.md carries, each with a
line saying whether it was built from the run's inputs); `--all` runs those too.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from quantpe.core.build import design_dir
from quantpe.core.designs import REFERENCE, default_designs
from quantpe.core.jobs import parallel_map
from quantpe.core.kinds import KINDS
from quantpe.core.tables import csv_text, signed
from quantpe.explore.characterize import external_units
from quantpe.golden.atomic import ensure_dir, save_figure, write_text
from quantpe.golden.digits import load_digits_split
from quantpe.golden.errors import QuantpeError
from quantpe.golden.mlp import load_reference_model
from quantpe.golden.qmodel import build_qmodel
from quantpe.report.cache import cached_step, inputs_digest, knobs
from quantpe.report.plans import EXACT_REFERENCE_MARK
from quantpe.report.power import energy_table
from quantpe.report.studies import STUDIES, record_study, replace_study_block, study_block
from quantpe.rtl.approx_pe import exact_lane_form
from quantpe.rtl.generate import ensure_generated
from quantpe.sim.regression import regress
from quantpe.sim.toolchain import lint, tool_version
from quantpe.synth.area import delta_table, format_delta_markdown
from quantpe.synth.flow import synth_design, synth_many
from quantpe.synth.liberty import sky130_liberty

__all__ = ["run_report", "selected_sections", "SECTIONS"]



def _write(path: Path, text: str) -> None:
    write_text(path, text)
    print(f"wrote {path}")


def _plot_area(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = [r["name"] for r in rows]
    areas = [r["area_um2"] for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(rows)), 4))
    bars = ax.bar(range(len(rows)), areas, color=["#4c72b0" if r.get("baseline") else "#dd8452" for r in rows])
    for b, r in zip(bars, rows):
        pct = r.get("d_area_um2_pct")
        label = "ref" if r.get("baseline") else (f"{pct:+.1f}%" if pct is not None else "")
        ax.annotate(label, (b.get_x() + b.get_width() / 2, b.get_height()), ha="center", va="bottom",
                    fontsize=8)
    ax.set_xticks(range(len(rows)), names, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("area (µm², sky130hd-calibrated cells)")
    ax.set_title("PE area (Yosys, built-in liberty); % vs the 16-lane int8 baseline")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")


def _regress_job(job) -> dict:
    """Lint and regress one design (module level: runs in a worker process)."""
    cfg, sim, cycles, seed = job

    def run():
        manifest = ensure_generated(cfg)
        lint(design_dir(cfg) / manifest["verilog"], manifest["top"])
        r = regress(cfg, sim, cycles, seed)
        return {"config_id": cfg.config_id, "sim": sim, "cycles": r.checked, "seed": seed, "result": "pass"}
    result, hit = cached_step("regression", [cfg.kind, cfg.to_dict(), sim, cycles, seed], None, run)
    return dict(result, cached=hit)


def run_report(out: Path, sim: str = "icarus", cycles: int = 2000, seed: int = 1,
               liberty: Path | None = None, only: tuple[str, ...] | None = None, model=None,
               external_mults: Path | None = None, everything: bool = False) -> dict:
    """The main job (module docstring): the default-design table and every section but the
    studies (quantpe.report.studies), whose committed results README.md carries; `everything` runs the
    studies too. `only` restricts the run to some sections, studies included (the default-design
    table is then skipped; each section's markdown goes to out/<section>.md, a study's to its
    folder, replacing its block in an existing README.md).
    `model`: a user model (name, graph, x_cal, y_cal, x, y) added to the "models" section.
    `external_mults`: a folder of the user's multiplier Verilog, plotted in the approxmul section."""
    if liberty is not None and not Path(liberty).is_file():
        raise QuantpeError(f"liberty not found: {liberty}")
    sections = selected_sections(only, everything)
    if model is not None and not any(name == "models" for name, _ in sections):
        raise QuantpeError("--model adds a model to the models section, which --only leaves out")
    external = ()
    if external_mults is not None:
        if not any(name == "approxmul" for name, _ in sections):
            raise QuantpeError("--external-mults adds circuits to the approxmul section, which "
                               + ("--only" if only is not None else "the default run")
                               + " leaves out (add --only approxmul)")
        external = external_units(external_mults)
    out = ensure_dir(Path(out), "report folder")
    t0 = time.perf_counter()
    timings = {}
    main = _main_job(out, sim, cycles, seed, liberty, timings) if only is None else None
    section_lines, cached = _run_sections(out, sections, only, model, external, timings)
    timings = {k: round(v, 1) for k, v in timings.items()}
    total = round(time.perf_counter() - t0, 1)
    if main is not None:
        _write_main(out, main, sections, section_lines, cached, timings, total)
    print(f"report done in {total} s (" + ", ".join(f"{k} {v} s" for k, v in timings.items()) + ")")
    return main["summary"] if main is not None else {"timings_s": dict(timings, total=total)}


def _main_job(out: Path, sim: str, cycles: int, seed: int, liberty: Path | None, timings: dict) -> dict:
    """The default designs: regression on `sim`, synthesis (built-in liberty, and the reference
    on the real one for calibration), the energy table; their figures and the main markdown."""
    t0 = time.perf_counter()
    designs = default_designs()
    names = [name for name, _ in designs]
    cfgs = [cfg for _, cfg in designs]
    sims = parallel_map(_regress_job, [(c, sim, cycles, seed) for c in cfgs], desc="regressions",
                        resources={"verilator": 1} if sim == "verilator" else None)
    for name, r in zip(names, sims):
        r["name"] = name
        print(f"{name}: {r['cycles']} cycles match golden on {sim}"
              + (" (cached result of an identical run)" if r["cached"] else ""), flush=True)
    timings["regressions"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    rows = []
    for name, cfg, area in zip(names, cfgs, synth_many(cfgs, desc="synthesis")):
        area = dict(area, name=name, config_id=cfg.config_id, config=cfg.to_dict())
        rows.append(area)
        print(f"{name}: {area['area_um2']:,.1f} um^2 ({area['gate_equivalents']:,.0f} GE)", flush=True)
    table = delta_table(rows, REFERENCE)
    calib = None
    real = liberty or sky130_liberty()
    if real is not None:
        ref_cfg = dict(designs)[REFERENCE]
        ra = synth_design(ref_cfg, liberty=real)
        builtin = next(r for r in rows if r["name"] == REFERENCE)
        calib = {"design": REFERENCE, "liberty": Path(real).name, "liberty_sha256": ra["liberty_sha256"],
                 "area_um2_real": ra["area_um2"], "area_um2_builtin": builtin["area_um2"],
                 "ratio_builtin_over_real": builtin["area_um2"] / ra["area_um2"],
                 "transistors_real_flow": ra["transistors"]}
    timings["synthesis"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    energy_md, energy_rows = energy_table(designs, REFERENCE, real)
    if energy_rows:
        _write(out / "energy.csv", csv_text([{k: f"{v:.6g}" if isinstance(v, float) else v
                                              for k, v in r.items()} for r in energy_rows]))
    timings["energy"] = time.perf_counter() - t1
    accuracy = _digits_accuracy()
    summary = {
        "designs": [{k: r[k] for k in ("name", "config_id", "area_um2", "gate_equivalents",
                                        "flip_flops", "transistors", "total_cells", "cells",
                                        "liberty_sha256", "yosys_version", "config")} for r in rows],
        "deltas": table, "simulation": sims, "calibration": calib, "digits_model": accuracy,
        "tools": {"yosys": tool_version("yosys"), "iverilog": tool_version("iverilog"),
                  "verilator": tool_version("verilator")},
    }
    summary["energy"] = energy_rows
    md = _main_section(out, summary, rows, table, cycles, sim, seed, REFERENCE, energy_md)
    _plot_area(table, out / "area.png")
    return dict(summary=summary, md=md, sims=sims)


def _run_sections(out: Path, sections, only, model, external, timings: dict) -> tuple[dict, list]:
    """Run each selected section (through the report cache unless it holds a user's input);
    a study's lines are recorded in its folder. Returns ({name: lines}, names reused from cache)."""
    section_lines, cached = {}, []
    for name, load in sections:
        t1 = time.perf_counter()
        kw = ({"extra": () if model is None else (model,)} if name == "models"
              else {"external": external} if name == "approxmul" and external else {})
        if any(kw.values()):                       # a user's model or circuits: always run
            lines = load()(out, **kw) + [""]
        else:
            lines, hit = cached_step(f"section-{name}", [], out, lambda load=load: load()(out) + [""])
            if hit:
                cached.append(name)
        timings[name] = time.perf_counter() - t1
        if name in STUDIES:
            record_study(out, name, lines, timings[name], inputs_digest(with_knobs=False), knobs())
            lines = study_block(out, name, inputs_digest(with_knobs=False))
            if only is not None and replace_study_block(out / "README.md", name, lines):
                print(f"replaced the {name} study in {out / 'README.md'}")
        elif only is not None:
            _write(out / f"{name}.md", "\n".join(lines))
        section_lines[name] = lines
        print(f"{name} section done in {timings[name]:.1f} s" + (" (cached)" if name in cached else ""), flush=True)
    return section_lines, cached


def _write_main(out: Path, main: dict, sections, section_lines: dict, cached: list, timings: dict,
                total: float) -> None:
    """area.json and README.md of the main job (every section, the studies' committed blocks)."""
    summary, md, sims = main["summary"], main["md"], main["sims"]
    summary["timings_s"] = dict(timings, total=total)
    _write(out / "area.json", json.dumps(summary, indent=2) + "\n")
    ran = {name for name, _ in sections}
    md += [line for name, _ in SECTIONS for line in
           (section_lines[name] if name in ran else study_block(out, name, inputs_digest(with_knobs=False)))]
    reused = (["regressions"] if any(r["cached"] for r in sims) else []) + cached
    md += [f"_Report built in {total:.0f} s: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
           + " (syntheses and simulator builds cached under build/"
           + (f"; reused from the report cache: {', '.join(reused)}" if reused else "") + ")._", ""]
    _write(out / "README.md", "\n".join(md))


def selected_sections(only: tuple[str, ...] | None, everything: bool = False) -> list:
    """The (name, loader) pairs of SECTIONS a run executes: `only`'s, else all (`everything`),
    else all but the studies."""
    if everything and only is not None:
        raise QuantpeError("--all runs every section; drop --only")
    if only is not None:
        unknown = sorted(set(only) - {name for name, _ in SECTIONS})
        if unknown:
            raise QuantpeError(f"unknown report section(s) {', '.join(unknown)} "
                               f"(choose from {', '.join(n for n, _ in SECTIONS)})")
        return [(name, load) for name, load in SECTIONS if name in only]
    return [(name, load) for name, load in SECTIONS if everything or name not in STUDIES]


def _main_section(out: Path, summary: dict, rows, table, cycles, sim, seed, reference,
                  energy_md: list[str] = ()) -> list[str]:
    """Write area.csv; return the first part of README.md (the default designs' area table, then
    `energy_md`, the energy table)."""
    csv_rows = [{"name": r["name"], "config_id": r["config_id"], "area_um2": f"{r['area_um2']:.2f}",
                 "gate_equivalents": f"{r['gate_equivalents']:.1f}", "transistors": r["transistors"],
                 "flip_flops": r["flip_flops"], "d_area_pct": signed(d["d_area_um2_pct"], 2),
                 "d_transistors_pct": signed(d["d_transistors_pct"], 2)} for r, d in zip(rows, table)]
    _write(out / "area.csv", csv_text(csv_rows))
    calib, accuracy = summary["calibration"], summary["digits_model"]
    md = ["# quantpe report", "",
          f"Generated by `quantpe report` (make report): every design below was generated, linted, "
          f"simulated for {cycles} cycles on {sim} (seed {seed}) with every output compared with the "
          f"golden model on every cycle, and synthesised with Yosys ({summary['tools']['yosys']}) on "
          f"the built-in liberty (cell areas of sky130_fd_sc_hd).", "",
          "## Area (deltas against " + reference + ")", "", format_delta_markdown(table), ""]
    md += _exact_lane_note(table, reference)
    md += list(energy_md)
    if calib:
        md += ["## Calibration against the real sky130_fd_sc_hd library", "",
               f"{reference}: built-in liberty {calib['area_um2_builtin']:,.1f} µm², "
               f"{calib['liberty']} {calib['area_um2_real']:,.1f} µm², ratio "
               f"{calib['ratio_builtin_over_real']:.3f}.", ""]
    if accuracy:
        md += ["## Digits reference model (test split, bit-exact golden inference)", "",
               "| model | test accuracy |", "|---|---|"]
        md += [f"| {k} | {v:.4f} |" for k, v in accuracy.items()] + [""]
    md += ["![area](area.png)", "",
           "Studies: " + ", ".join(f"{n} ({st.folder}/)" for n, st in STUDIES.items()) + " are long, and "
           "`make report` does not rerun them; `quantpe report --only NAME` reruns one (the `-o` folder's "
           "README.md gets its new block), `quantpe report --all` runs everything. Each appears below in its "
           "place as committed, with a line saying whether it was built from the same sources, data and "
           "tools as this run.", ""]
    stale = _stale_plans(Path(out) / "plans" / "section.md")
    if stale:
        md += [f"**The committed per-layer plans results are stale:** {stale}", ""]
    return md


def _exact_lane_note(table, reference: str) -> list[str]:
    """A caveat under the area table when the all-exact approximate-multiplier PE is smaller than
    the reference PE (whose products are Yosys' own `$mul` mapping)."""
    row = next((d for d in table if d["name"] == "approxpe-l16-int8-exact"), None)
    if row is None or row["d_area_um2_pct"] >= 0:
        return []
    return [f"**Caveat on the PE deltas:** approxpe-l16-int8-exact is {reference}'s dot product with every "
            "lane the cheapest exact signed 8x8 unit of the approximate-multiplier section "
            f"(`{exact_lane_form(8, 8, True)}`), "
            f"and it is {-row['d_area_um2_pct']:.1f}% smaller. The baseline, StruM and Stripes PEs map "
            "their products with Yosys' `$mul`, so the deltas above compare designs built the same way, "
            "not against the cheapest exact PE.", ""]


def _stale_plans(section: Path) -> str:
    """Why the committed plans section no longer matches the code ('' when it does, or is absent)."""
    if not section.is_file() or EXACT_REFERENCE_MARK in section.read_text():
        return ""
    return ("they were computed before exact layers were costed at the cheapest exact unit of their widths "
            "(reports/approx/references.csv; they used the larger sign-magnitude unit, so their area cuts are "
            "overstated) and before the compressor and Booth multipliers joined the candidates; rerun "
            "`quantpe report --only plans`.")


def _section(path: str):
    module, _, attr = path.partition(":")
    return lambda: getattr(__import__(module, fromlist=[attr]), attr)


#: the technique sections of the report, in order: (name, loader of `f(out_dir) -> markdown
#: lines`), from the registry's report entries
SECTIONS = [(k.name, _section(k.report)) for k in KINDS.values() if k.report] + [
    ("models", _section("quantpe.report.model:models_report")),
    ("plans", _section("quantpe.report.plans:plans_report")),
    ("energy", _section("quantpe.report.power:power_report")),
    ("realmodels", _section("quantpe.report.realmodels:realmodels_report"))]



def _digits_accuracy() -> dict:
    split = load_digits_split()
    model = load_reference_model()
    q8 = build_qmodel(model, w_bits=8, a_bits=8)
    return {"float": float(model.accuracy(split.x_test, split.y_test)),
            "int8 (int8 weights and activations, int32 accumulators)": float(q8.accuracy(split.x_test, split.y_test))}
