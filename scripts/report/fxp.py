"""Fixed point and stochastic rounding report section: requantiser area and SR overhead, rounding
statistics, and the limited-precision training experiment on the digits data.

`fxp_report(out_dir)` writes into out_dir/fxp/ (each file atomically):
  area.csv / area.json       requantiser variants and the 16-lane int16 x int16 PE (48-bit
                             accumulator), Yosys + built-in liberty, cached per config id
  overhead.json              the three SR overhead ratios (formulas in the section text)
  rounding.json              mean rounding error over 1e5 samples of the LFSR stream (golden ==
                             RTL bit for bit)
  training.csv / .json / .png  the default training experiment (golden.fxp_train.run_experiment)
and returns the markdown lines of the "## Fixed point and stochastic rounding" section.
`write_training` is shared with `quantpe train --experiment`.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from quantpe.core.jobs import parallel_map
from quantpe.core.tables import csv_rows
from quantpe.golden.atomic import ensure_dir, save_figure, write_text
from quantpe.golden.baseline import BaselineConfig
from quantpe.golden.fixedpoint import FixedFormat
from quantpe.golden.fxp_train import DEFAULT_ACT_ILS, DEFAULT_POINTS, TrainSetup, train_fixed
from quantpe.golden.requant import RequantConfig, rounding_statistics
from quantpe.synth.flow import synth_many

__all__ = ["fxp_report", "area_rows", "overheads", "write_training", "training_table", "claims",
           "PE_CONFIG", "COLUMN_PES", "TARGET_PCT"]

PE_CONFIG = BaselineConfig(lanes=16, a_bits=16, w_bits=16, acc_bits=48)
COLUMN_PES = 28            # the paper's 28 x 28 array: one rounding unit per column of 28 PEs
TARGET_PCT = 3.0
REQUANT_VARIANTS = {
    "truncate": RequantConfig(mode="truncate"),
    "nearest": RequantConfig(mode="nearest"),
    "stochastic (16-bit fibonacci LFSR)": RequantConfig(),
    "stochastic (32-bit galois LFSR, 14 steps)": RequantConfig(lfsr_bits=32, lfsr_kind="galois",
                                                               lfsr_steps=14),
    "column of 28, nearest": RequantConfig(columns=28, mode="nearest"),
    "column of 28, stochastic, 28 independent LFSRs": RequantConfig(columns=28),
    "column of 28, stochastic, one shared LFSR": RequantConfig(columns=28, lfsr_shared=True),
}
SR_KEY, RN_KEY = "stochastic (16-bit fibonacci LFSR)", "nearest"


def _fxp_dir(out_dir: Path) -> Path:
    return ensure_dir(Path(out_dir) / "fxp", "report folder")


def area_rows() -> list[dict]:
    rows = []
    named = [*REQUANT_VARIANTS.items(), ("PE 16 x int16 x int16, acc 48", PE_CONFIG)]
    for (name, cfg), a in zip(named, synth_many([c for _, c in named], desc="requantisers")):
        rows.append(dict(name=name, config_id=cfg.config_id, area_um2=a["area_um2"],
                         gate_equivalents=a["gate_equivalents"], flip_flops=a["flip_flops"],
                         transistors=a["transistors"], cells=a["total_cells"]))
    return rows


def overheads(rows: list[dict]) -> dict:
    """SR overhead = A(SR requantiser) - A(nearest requantiser), relative to (a) the nearest
    requantiser, (b) one PE, (c) a column of 28 PEs plus its (nearest) requantiser; and the whole
    SR requantiser's share of a 28-PE column that uses it."""
    a = {r["name"]: r["area_um2"] for r in rows}
    sr, rn, pe = a[SR_KEY], a[RN_KEY], a["PE 16 x int16 x int16, acc 48"]
    extra = sr - rn
    col = COLUMN_PES * pe
    return {"sr_um2": sr, "nearest_um2": rn, "pe_um2": pe, "sr_extra_um2": extra,
            "vs_nearest_pct": 100 * extra / rn, "vs_pe_pct": 100 * extra / pe,
            "vs_column_pct": 100 * extra / (col + rn), "sr_unit_share_of_column_pct": 100 * sr / (col + sr),
            "column_pes": COLUMN_PES, "target_pct": TARGET_PCT}


def training_table(runs) -> list[dict]:
    base = runs[0]
    out = []
    for r in runs:
        out.append(dict(label=r.label, wl=r.wl, fl=r.fl, mode=r.mode or "float",
                        activations="float" if r.wl is None else (
                            "same format" if r.act_il is None else f"<{r.act_il},FL>"),
                        final_accuracy=r.final_accuracy,
                        vs_float_pts=100 * (r.final_accuracy - base.final_accuracy),
                        best_accuracy=1 - min(r.test_error), updates_zeroed=r.updates_zeroed,
                        updates_proposed=r.updates_proposed, zeroed_pct=100 * r.zeroed_fraction,
                        below_half_eps=r.updates_below_half_eps, applied_ratio=r.update_applied_ratio,
                        grads_zeroed=r.grads_zeroed, seconds=r.seconds))
    return out


def _plot_training(runs, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    base = runs[0]
    groups = {}
    for r in runs[1:]:
        groups.setdefault(r.act_il, []).append(r)
    fig, axes = plt.subplots(1, len(groups), figsize=(7 * len(groups), 5), sharey=True, squeeze=False)
    points = sorted({(r.wl, r.fl) for r in runs[1:]}, reverse=True)
    colors = {p: plt.cm.viridis(i / max(len(points) - 1, 1)) for i, p in enumerate(points)}
    for ax, (act_il, rs) in zip(axes[0], groups.items()):
        ep = range(1, len(base.test_error) + 1)
        ax.plot(ep, [100 * e for e in base.test_error], color="black", lw=2.5, label="float")
        for r in rs:
            ax.plot(ep, [100 * e for e in r.test_error], color=colors[(r.wl, r.fl)],
                    ls="-" if r.mode == "stochastic" else "--", lw=1.3,
                    label=f"WL{r.wl} FL{r.fl} {'SR' if r.mode == 'stochastic' else 'RN'}")
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title("all values in <WL-FL, FL>" if act_il is None else
                     f"weights/gradients <WL-FL, FL>, activations/errors <{act_il}, FL>")
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_ylabel("test error (%)")
    axes[0][-1].legend(fontsize=7, ncol=1, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.suptitle("Digits MLP, SGD in fixed point: round-to-nearest (dashed) vs stochastic (solid)")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def write_training(out_dir: Path, runs, setup, command: str) -> list[Path]:
    """training.json / .csv / .png of `runs` (float first) into out_dir/fxp/."""
    import dataclasses
    d = _fxp_dir(out_dir)
    table = training_table(runs)
    meta = {"setup": dataclasses.asdict(setup), "optimizer": "SGD", "command": command,
            "inference": "fixed point, round-to-nearest", "runs": [r.to_dict() for r in runs],
            "claims": claims(table)}
    write_text(d / "training.json", json.dumps(meta, indent=1) + "\n")
    cols = list(table[0])
    write_text(d / "training.csv", csv_rows([cols] + [[row[c] for c in cols] for row in table]))
    _plot_training(runs, d / "training.png")
    return [d / "training.json", d / "training.csv", d / "training.png"]


def claims(table: list[dict]) -> list[dict]:
    """The paper's qualitative claims, checked on the numbers of `table` per activation format."""
    base = table[0]["final_accuracy"]
    out = []
    for acts in dict.fromkeys(r["activations"] for r in table[1:]):
        rows = {(r["wl"], r["fl"], r["mode"]): r for r in table[1:] if r["activations"] == acts}
        wl16 = sorted(fl for (wl, fl, m) in rows if wl == 16 and m == "stochastic")
        if not wl16:
            continue
        sr = {fl: rows[(16, fl, "stochastic")]["final_accuracy"] for fl in wl16}
        rn = {fl: rows[(16, fl, "nearest")]["final_accuracy"] for fl in wl16 if (16, fl, "nearest") in rows}
        track = all(base - a <= 0.02 for a in sr.values())
        out.append(dict(activations=acts, claim="WL=16: SR tracks float at every FL (within 2 points)",
                        holds=track, detail={f"FL{fl}": round(100 * (a - base), 2) for fl, a in sr.items()}))
        lo = min(rn) if rn else None
        if lo is not None:
            gap = sr[lo] - rn[lo]
            out.append(dict(activations=acts, claim=f"WL=16: RN degrades or fails at the lowest FL ({lo}) "
                            f"while SR does not (RN >= 2 points below SR)", holds=gap >= 0.02,
                            detail={"RN": round(100 * rn[lo], 2), "SR": round(100 * sr[lo], 2)}))
            ra, sa = rows[(16, lo, "nearest")]["applied_ratio"], rows[(16, lo, "stochastic")]["applied_ratio"]
            out.append(dict(activations=acts, claim=f"updates below eps/2 vanish under RN: RN applies "
                            f"less of the proposed update than SR (WL=16 FL={lo})", holds=ra < sa,
                            detail={"RN_applied": round(ra, 3), "SR_applied": round(sa, 3)}))
        lowest = {}
        for (wl, fl, m) in rows:
            if wl < 16 and m == "stochastic" and (wl, fl, "nearest") in rows:
                lowest[wl] = min(fl, lowest.get(wl, fl))
        if lowest and lo is not None:
            gaps = {f"WL{wl} FL{fl}": round(100 * (rows[(wl, fl, "stochastic")]["final_accuracy"]
                                                   - rows[(wl, fl, "nearest")]["final_accuracy"]), 2)
                    for wl, fl in sorted(lowest.items())}
            ref = round(100 * (sr[lo] - rn[lo]), 2)
            out.append(dict(activations=acts, claim=f"WL=8/12 at their lowest FL: the SR - RN accuracy gap "
                            f"is at least the WL=16 FL={lo} gap ({ref} points)",
                            holds=all(g >= ref for g in gaps.values()), detail=gaps))
    return out


def _fmt_claims(cl: list[dict]) -> list[str]:
    return [f"- [{'holds' if c['holds'] else 'does NOT hold'}] ({c['activations']} activations) "
            f"{c['claim']}: "
            + ", ".join(f"{k} {v}" for k, v in c["detail"].items()) for c in cl]


def _train_one(job):
    wl_fl, mode, act_il, setup = job
    return train_fixed(None if wl_fl is None else FixedFormat.from_wl(*wl_fl), mode, setup, act_il=act_il)


def training_runs(points, act_ils, setup, modes=("nearest", "stochastic")) -> list:
    """`fxp_train.run_experiment`'s runs, in its order, on the flow's process pool (every run
    seeds its own generators from `setup`, so the results do not depend on the pool)."""
    jobs = [(None, None, None, setup)] + [((wl, fl), mode, act_il, setup) for act_il in act_ils
                                          for wl, fl in points for mode in modes]
    return parallel_map(_train_one, jobs, desc="fixed-point training")


def fxp_figures() -> dict:
    """The section's figures as data: requantiser areas and SR overheads, rounding statistics of
    the LFSR stream, the training runs (golden) and their table; `train_s`: the training time."""
    rows = area_rows()
    stats = {name: rounding_statistics(cfg, 100_000, 1) for name, cfg in
             [("stochastic", RequantConfig()), ("nearest", RequantConfig(mode="nearest")),
              ("stochastic, 4 lanes independent", RequantConfig(columns=4)),
              ("stochastic, 4 lanes shared", RequantConfig(columns=4, lfsr_shared=True))]}
    setup = TrainSetup()
    t1 = time.perf_counter()
    runs = training_runs(DEFAULT_POINTS, DEFAULT_ACT_ILS, setup)
    train_s = time.perf_counter() - t1
    return dict(rows=rows, ov=overheads(rows), stats=stats, setup=setup, runs=runs, train_s=train_s,
                table=training_table(runs))


def write_fxp_data(out_dir: Path, f: dict) -> None:
    """fxp/area.json, area.csv, overhead.json, rounding.json and the training files."""
    d = _fxp_dir(out_dir)
    rows = f["rows"]
    write_text(d / "area.json", json.dumps(rows, indent=1) + "\n")
    cols = list(rows[0])
    write_text(d / "area.csv", csv_rows([cols] + [[r[c] for c in cols] for r in rows]))
    write_text(d / "overhead.json", json.dumps(f["ov"], indent=1) + "\n")
    write_text(d / "rounding.json", json.dumps(f["stats"], indent=1) + "\n")
    write_training(out_dir, f["runs"], f["setup"], "quantpe train --experiment (or quantpe report)")


def fxp_markdown(f: dict, seconds: float) -> list[str]:
    """The section's markdown lines (`seconds`: the time it took, stated at its end). Long: one
    flat list of the section's tables and notes."""
    rows, ov, stats, setup, runs, train_s, table = (f["rows"], f["ov"], f["stats"], f["setup"], f["runs"],
                                                    f["train_s"], f["table"])
    md = ["## Fixed point and stochastic rounding (Gupta et al. 2015)", "",
          "Requantiser: acc_bits = 48 accumulator with 28 fractional bits -> <2,14> (k = 14 bits "
          "dropped), round then saturate, latency 1; stochastic = (Z + R) >> k with R the low 14 bits "
          "of an LFSR; nearest = (Z + 2^(k-1) - 1) >> k (exact ties toward -inf, the paper's rule). "
          "Golden == RTL on every cycle (out, out_valid, LFSR state) on Icarus and Verilator "
          "(tests/test_requant_rtl.py).", "",
          "| design | area µm² | GE | flip-flops |", "|---|---:|---:|---:|"]
    md += [f"| {r['name']} | {r['area_um2']:,.1f} | {r['gate_equivalents']:,.0f} | {r['flip_flops']} |"
           for r in rows]
    ok = ov["vs_column_pct"] <= TARGET_PCT
    md += ["", f"SR overhead = A(SR, 16-bit LFSR) - A(nearest) = {ov['sr_extra_um2']:,.1f} µm²: "
           f"{ov['vs_nearest_pct']:.1f}% of the nearest requantiser, {ov['vs_pe_pct']:.3f}% of one 16-lane "
           f"int16 PE, {ov['vs_column_pct']:.4f}% of a column of {COLUMN_PES} PEs sharing one requantiser "
           f"(target <= {TARGET_PCT}%: {'met' if ok else 'NOT met'}); the whole SR requantiser is "
           f"{ov['sr_unit_share_of_column_pct']:.3f}% of such a column (paper: SR adds < 4%).", "",
           "Rounding error over 1e5 samples of the LFSR stream after reset (units of eps; SE from 100 "
           "batch means):", "", "| requantiser | data | mean error | SE | z |", "|---|---|---:|---:|---:|"]
    for name, st in stats.items():
        for set_name, s in st.items():
            md.append(f"| {name} | {set_name} | {s['mean_eps']:+.5f} | {s['se_eps']:.5f} | {s['z']:+.2f} |")
    md += ["", f"Training (golden only): digits MLP 64-64-32-10, SGD lr {setup.lr}, "
           f"batch {setup.batch_size}, "
           f"{setup.epochs} epochs, seed {setup.seed} (float baseline identical), test error after every "
           f"epoch with round-to-nearest fixed-point inference; {len(runs)} runs in {train_s:.0f} s. "
           "Command: `quantpe train --experiment`.", "",
           "| run | activations | final acc | vs float (pts) | updates rounded to zero | "
           "updates < eps/2 | applied/proposed |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in table:
        md.append(f"| {r['label']} | {r['activations']} | {r['final_accuracy']:.4f} | "
                  f"{r['vs_float_pts']:+.2f} | "
                  f"{r['updates_zeroed']:,} / {r['updates_proposed']:,} ({r['zeroed_pct']:.1f}%) | "
                  f"{r['below_half_eps']:,} | {r['applied_ratio']:.3f} |")
    fl = runs[0]
    md += ["", f"Range: in the float run the hidden ReLU outputs reach {fl.max_abs_hidden:.1f} and the "
           "logits "
           f"{fl.max_abs_logit:.1f}. With everything in one format, WL=16 FL=14 / FL=12 leave IL = 2 / 4 "
           "(range +-2 / +-8), so activations and logits saturate under either rounding and training "
           "collapses: a range failure, not a precision one. The second half of the table keeps "
           "weights, biases, gradients and updates in <WL-FL,FL> but holds activations and errors in "
           "<6,FL> (same step eps, range +-32), which isolates the precision effect the paper describes.",
           "", "Paper's claims on digits:", ""] + _fmt_claims(claims(table))
    md += ["", "![training](fxp/training.png)", "",
           f"(section built in {seconds:.0f} s)"]
    return md


def fxp_report(out_dir: Path) -> list[str]:
    """Write out_dir/fxp/* and return the markdown section."""
    t0 = time.perf_counter()
    f = fxp_figures()
    write_fxp_data(out_dir, f)
    return fxp_markdown(f, time.perf_counter() - t0)
