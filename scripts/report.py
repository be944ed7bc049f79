"""The main job (`quantpe report`, `make report`): for every design of the default set,
generate + lint the Verilog, run the cocotb regression against the golden model, synthesise
with the built-in liberty; then write the area table, deltas, plot and model accuracy to
reports/. With the real sky130_fd_sc_hd library available (../shared/pdk or --liberty), the
reference PE is also synthesised with it as a calibration row.
"""
from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

from quantpe.atomic import write_text
from quantpe.golden.errors import QuantpeError

__all__ = ["run_report", "default_real_liberty"]

REPO = Path(__file__).resolve().parent.parent


def default_real_liberty() -> Path | None:
    p = REPO.parent / "shared" / "pdk" / "sky130hd" / "sky130_fd_sc_hd__tt_025C_1v80.lib.gz"
    return p if p.exists() else None


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
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)
    print(f"wrote {path}")


def run_report(out: Path, sim: str = "icarus", cycles: int = 2000, seed: int = 1,
               liberty: Path | None = None) -> dict:
    from quantpe.designs import REFERENCE, default_designs
    from quantpe.sim.regression import regress
    from quantpe.sim.runner import design_dir, ensure_generated
    from quantpe.sim.toolchain import lint, tool_version
    from quantpe.synth import delta_table, format_delta_markdown, synthesize

    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise QuantpeError(f"cannot create report folder {out}: {e.strerror}") from None
    t0 = time.perf_counter()
    rows, sims = [], []
    for name, cfg, _base in default_designs():
        manifest = ensure_generated(cfg)
        vpath = design_dir(cfg) / manifest["verilog"]
        lint(vpath, manifest["top"])
        r = regress(cfg, sim, cycles, seed)
        sims.append({"name": name, "config_id": cfg.config_id, "sim": sim, "cycles": r.checked,
                     "seed": seed, "result": "pass"})
        print(f"{name}: {r.checked} cycles match golden on {sim}", flush=True)
        area = synthesize(vpath, manifest["top"], design_dir(cfg) / "synth")
        area.update(name=name, config_id=cfg.config_id, config=cfg.to_dict())
        rows.append(area)
        print(f"{name}: {area['area_um2']:,.1f} um^2 ({area['gate_equivalents']:,.0f} GE)", flush=True)
    table = delta_table(rows, REFERENCE)
    calib = None
    real = liberty or default_real_liberty()
    if real is not None:
        ref_cfg = next(c for n, c, _ in default_designs() if n == REFERENCE)
        manifest = ensure_generated(ref_cfg)
        ra = synthesize(design_dir(ref_cfg) / manifest["verilog"], manifest["top"],
                        design_dir(ref_cfg) / "synth-real", liberty=real)
        builtin = next(r for r in rows if r["name"] == REFERENCE)
        calib = {"design": REFERENCE, "liberty": Path(real).name, "liberty_sha256": ra["liberty_sha256"],
                 "area_um2_real": ra["area_um2"], "area_um2_builtin": builtin["area_um2"],
                 "ratio_builtin_over_real": builtin["area_um2"] / ra["area_um2"],
                 "transistors_real_flow": ra["transistors"]}
    accuracy = _digits_accuracy()
    summary = {
        "designs": [{k: r[k] for k in ("name", "config_id", "area_um2", "gate_equivalents",
                                        "flip_flops", "transistors", "total_cells", "cells",
                                        "liberty_sha256", "yosys_version", "config")} for r in rows],
        "deltas": table, "simulation": sims, "calibration": calib, "digits_model": accuracy,
        "tools": {"yosys": tool_version("yosys"), "iverilog": tool_version("iverilog"),
                  "verilator": tool_version("verilator")},
        "wall_time_s": round(time.perf_counter() - t0, 1),
    }
    _write(out / "area.json", json.dumps(summary, indent=2) + "\n")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["name", "config_id", "area_um2", "gate_equivalents", "transistors", "flip_flops",
                "d_area_pct", "d_transistors_pct"])
    for r, d in zip(rows, table):
        w.writerow([r["name"], r["config_id"], f"{r['area_um2']:.2f}", f"{r['gate_equivalents']:.1f}",
                    r["transistors"], r["flip_flops"], _pct(d["d_area_um2_pct"]), _pct(d["d_transistors_pct"])])
    _write(out / "area.csv", buf.getvalue())
    md = ["# quantpe report", "",
          f"Generated by `quantpe report` (make report): every design below was generated, linted, "
          f"simulated for {cycles} cycles on {sim} (seed {seed}) with every output compared with the "
          f"golden model on every cycle, and synthesised with Yosys ({summary['tools']['yosys']}) on "
          f"the built-in liberty (cell areas of sky130_fd_sc_hd).", "",
          "## Area (deltas against " + REFERENCE + ")", "", format_delta_markdown(table), ""]
    if calib:
        md += ["## Calibration against the real sky130_fd_sc_hd library", "",
               f"{REFERENCE}: built-in liberty {calib['area_um2_builtin']:,.1f} µm², "
               f"{calib['liberty']} {calib['area_um2_real']:,.1f} µm², ratio "
               f"{calib['ratio_builtin_over_real']:.3f}.", ""]
    if accuracy:
        md += ["## Digits reference model (test split, bit-exact golden inference)", "",
               "| model | test accuracy |", "|---|---|"]
        md += [f"| {k} | {v:.4f} |" for k, v in accuracy.items()] + [""]
    md += ["![area](area.png)", ""]
    for section in _technique_sections():
        md += section(out) + [""]
    _write(out / "README.md", "\n".join(md))
    _plot_area(table, out / "area.png")
    print(f"report done in {summary['wall_time_s']} s")
    return summary


def _technique_sections():
    """The per-technique report sections, each `f(out_dir) -> markdown lines`."""
    from quantpe.approx_report import approx_report
    from quantpe.stripes_report import stripes_report
    from quantpe.strum_report import strum_report
    return [strum_report, approx_report, stripes_report]


def _pct(v):
    return "" if v is None else f"{v:+.2f}"


def _digits_accuracy() -> dict:
    from quantpe.golden.digits import load_digits_split
    from quantpe.golden.mlp import load_reference_model
    from quantpe.golden.qmodel import build_qmodel
    split = load_digits_split()
    model = load_reference_model()
    q8 = build_qmodel(model, w_bits=8, a_bits=8)
    return {"float": float(model.accuracy(split.x_test, split.y_test)),
            "int8 (int8 weights and activations, int32 accumulators)": float(q8.accuracy(split.x_test, split.y_test))}
