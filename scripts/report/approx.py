"""Approximate-multiplier report: area/error Pareto at 8x8, 8x4, 4x4, 2x2 and digits accuracy.

`approx_report(out_dir)` writes into out_dir/approx/:
  variants.csv   one row per multiplier variant: widths, signedness, method, parameters, area
                 (Yosys, built-in liberty), area saving vs the exact unit of the same widths and
                 signedness (%, positive = smaller), exhaustive golden metrics (EP, MAE%, WCE%,
                 MRED%, bias, |bias| as % of 2^(na+nb)), Pareto membership per error metric
  pareto.png     area saving against MAE% / MRED% / |bias|% (rows) per width (columns)
  accuracy.csv   every 8x8 variant inside the digits model's integer inference (every layer,
                 bit-exact golden `QModel.with_mul`): test/train accuracy and the loss vs exact.
                 Unsigned units run in sign-magnitude form (`sign_magnitude_mul`: U(|a|, |w|),
                 negated by the operand signs; the sign handling is outside the unit's area)
  accuracy.png   test accuracy against area saving
and returns markdown lines for a "## Approximate multipliers" section (links relative to out_dir).

Every variant is also simulated on every input pair (Verilator, one `MultiplierBank` build per
width and signedness, `quantpe.explore.characterize.rtl_check_variants`) and must equal its golden
table bit for bit, or the report stops. Synthesis goes through
`quantpe.synth.flow` (content-keyed). `quantpe report --only approxmul` runs this section alone.

Also written: references.csv (area of every exact candidate per width and signedness and the
smallest, which every saving is taken against), budgets.csv (cheapest 8x8 unit under each MRED
budget, the legacy sweep vs the current one, with the budget targets), fronts.png (area vs MRED: old front, new front,
exact reference).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from quantpe.core.tables import csv_text, markdown_table
from quantpe.explore.approx_sweep import (
    REFERENCE_FORMS,
    kulkarni_2x2,
    legacy_variants,
    pick_reference,
    sweep_variants,
)
from quantpe.explore.characterize import rtl_check_variants
from quantpe.golden.approx import ApproxMulConfig, approx_mul, sign_magnitude_mul
from quantpe.golden.atomic import ensure_dir, save_figure, write_text
from quantpe.golden.characterize import characterize
from quantpe.golden.digits import load_digits_split
from quantpe.golden.qmodel import build_qmodel
from quantpe.rtl.approx import PlainMultiplier
from quantpe.synth.flow import part_verilog, synth_many
from quantpe.synth.yosys import yosys_version

__all__ = ["WIDTHS", "TARGET", "BUDGETS", "BUDGET_TARGET", "reference_jobs", "budget_table", "pareto_front",
           "select_best", "variant_row", "approx_report"]

# (a_bits, b_bits, signedness options)
WIDTHS = ((8, 8, (True, False)), (8, 4, (True,)), (4, 4, (True, False)), (2, 2, (True, False)))
# the target for an 8x8 variant
TARGET = {"min_saving_pct": 30.0, "max_mred_pct": 2.0, "max_acc_loss_pts": 1.0}
# issue 14: smallest area (µm², built-in liberty) wanted at each MRED budget (%), 8x8; None = no target
BUDGETS = (0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0)
BUDGET_TARGET = {False: {1.0: 1450.0, 2.0: 1150.0, 5.0: 780.0, 20.0: 380.0},
                 True: {0.0: 2020.0, 3.0: 1720.0, 5.0: 1480.0, 10.0: 1400.0, 20.0: 1060.0}}
ERROR_METRICS = (("mae_pct", "MAE %"), ("mred_pct", "MRED %"), ("abs_bias_pct", "|bias| % of 2^(na+nb)"))


def params_of(cfg: ApproxMulConfig) -> str:
    """Short parameter text of a variant, e.g. 't=6,comp', 'k=4', 't=4,or=7,bw',
    't=4,comp,or=5,c42=fa_or,ac=9'."""
    text = _params_of(cfg)
    extra = [f"or={cfg.or_cols}"] if cfg.or_cols else []
    extra += [f"c42={cfg.compressor},ac={cfg.approx_cols}"] if cfg.compressor else []
    extra += [{"baugh_wooley": "bw", "booth": "booth"}[cfg.signed_form]] if cfg.signed_form != "sign_magnitude" else []
    return ",".join([p for p in [text] if p] + extra)


def _params_of(cfg: ApproxMulConfig) -> str:
    m = cfg.method
    if m == "truncated":
        return f"t={cfg.t}" + (",comp" if cfg.compensate else "")
    if m == "broken_array":
        return f"hbl={cfg.hbl},vbl={cfg.vbl}"
    if m == "drum":
        return f"k={cfg.k}"
    if m == "ssm":
        return f"k={cfg.k}" + (f",t={cfg.t}" if cfg.t else "") + (",comp" if cfg.compensate else "")
    if m == "perforated":
        return f"rows={cfg.perf_rows},start={cfg.perf_start}"
    if m == "lut":
        return "kulkarni" if np.array_equal(cfg.lut_table, kulkarni_2x2()) else cfg.lut_sha256[:8]
    return ""


# ------------------------------------------------------------------ pure helpers
def variant_row(cfg: ApproxMulConfig, area_um2: float, exact_area_um2: float, metrics,
                reference: str = "") -> dict:
    """One CSV row: identity, area and saving against the exact reference (`exact_area_um2`,
    built as `reference`), exhaustive error metrics (percentages as %)."""
    scale = float(1 << (cfg.a_bits + cfg.b_bits))
    return {
        "width": f"{cfg.a_bits}x{cfg.b_bits}", "signed": bool(cfg.signed), "method": cfg.method,
        "signed_form": cfg.signed_form if cfg.signed and cfg.method != "lut" else "",
        "params": params_of(cfg), "config_id": cfg.config_id,
        "area_um2": round(area_um2, 4), "exact_area_um2": round(exact_area_um2, 4), "reference": reference,
        "area_saving_pct": round(100.0 * (1.0 - area_um2 / exact_area_um2), 3),
        "ep": round(metrics.ep, 6), "mae_pct": round(metrics.mae_pct, 6),
        "wce_pct": round(metrics.wce_pct, 6), "mred_pct": round(100.0 * metrics.mred, 6),
        "bias": round(metrics.bias, 6), "abs_bias_pct": round(100.0 * abs(metrics.bias) / scale, 6),
    }


def pareto_front(saving, error) -> np.ndarray:
    """Bool mask of the non-dominated points: maximise `saving`, minimise `error`.

    A point is dominated when another has saving >= and error <= with at least one strict;
    equal points are all kept. NaN errors are never on the front.
    """
    s = np.asarray(saving, dtype=float)
    e = np.asarray(error, dtype=float)
    ok = ~np.isnan(e) & ~np.isnan(s)
    front = np.zeros(len(s), dtype=bool)
    for i in np.flatnonzero(ok):
        dom = ok & (s >= s[i]) & (e <= e[i]) & ((s > s[i]) | (e < e[i]))
        front[i] = not dom.any()
    return front


def meets_target(row: dict, target: dict = TARGET) -> bool:
    return (row["area_saving_pct"] >= target["min_saving_pct"] and row["mred_pct"] <= target["max_mred_pct"]
            and row["acc_loss_pts"] < target["max_acc_loss_pts"])


def target_shortfall(row: dict, target: dict = TARGET) -> float:
    """How far a row is from the target: sum of relative violations (0 when it meets it)."""
    return (max(0.0, target["min_saving_pct"] - row["area_saving_pct"]) / target["min_saving_pct"]
            + max(0.0, row["mred_pct"] - target["max_mred_pct"]) / target["max_mred_pct"]
            + max(0.0, row["acc_loss_pts"] - target["max_acc_loss_pts"] + 1e-9) / target["max_acc_loss_pts"])


def select_best(rows: list[dict], target: dict = TARGET) -> tuple[dict | None, bool]:
    """(best row, met): among rows meeting the target the largest area saving (ties: lower MRED);
    if none meets it, the row with the smallest `target_shortfall` and met = False."""
    if not rows:
        return None, False
    ok = [r for r in rows if meets_target(r, target)]
    if ok:
        return max(ok, key=lambda r: (r["area_saving_pct"], -r["mred_pct"])), True
    return min(rows, key=lambda r: (target_shortfall(r, target), -r["area_saving_pct"])), False


# ------------------------------------------------------------------ exact reference
def reference_jobs(a_bits: int, b_bits: int, signed: bool) -> list:
    """[(form name, synthesis job)] of every exact candidate at these widths and signedness."""
    base = ApproxMulConfig(a_bits=a_bits, b_bits=b_bits, signed=signed)
    out = [("sign_magnitude" if signed else "array", base)]
    if signed:
        out.append(("baugh_wooley", base.replace(signed_form="baugh_wooley")))
        out.append(("booth", base.replace(signed_form="booth")))
    out.append(("yosys_mul", part_verilog(PlainMultiplier(a_bits, b_bits, signed), "plainmul")))
    return out


def budget_table(rows: list[dict], legacy_ids: set, signed: bool, reference: tuple[str, float],
                 width: str = "8x8", budgets=BUDGETS) -> list[dict]:
    """Cheapest variant under each MRED budget (%) among `rows` of this width and signedness:
    the old sweep's best (config ids in `legacy_ids`) and the new sweep's best, with the issue's
    target (`BUDGET_TARGET`). Budget 0 (signed only, where the issue sets an exact target): the
    smallest exact unit, i.e. `reference` = (form, area) against the old sweep's exact unit."""
    sub = [r for r in rows if r["width"] == width and r["signed"] == signed]
    targets = BUDGET_TARGET[signed]
    out = []
    for budget in ((0.0,) if 0.0 in targets else ()) + tuple(budgets):
        ok = [r for r in sub if r["mred_pct"] <= budget + 1e-12]
        old = [r for r in ok if r["config_id"] in legacy_ids]
        best_old = min(old, key=lambda r: r["area_um2"], default=None)
        best_new = min(ok, key=lambda r: r["area_um2"], default=None)
        if budget == 0.0:                  # the exact reference may be a non-sweep form ($mul)
            best_new = {"area_um2": reference[1], "mred_pct": 0.0, "method": "exact", "params": reference[0],
                        "config_id": ""}
        tgt = targets.get(budget)
        out.append({"budget_mred_pct": budget,
                    "old_best_um2": best_old["area_um2"] if best_old else float("nan"),
                    "old_variant": f"{best_old['method']} {best_old['params']}" if best_old else "",
                    "old_config_id": best_old["config_id"] if best_old else "",
                    "new_best_um2": best_new["area_um2"] if best_new else float("nan"),
                    "new_mred_pct": best_new["mred_pct"] if best_new else float("nan"),
                    "target_um2": tgt if tgt is not None else float("nan"),
                    "met": "" if tgt is None or best_new is None else ("yes" if best_new["area_um2"] <= tgt else
                                                                       f"no (+{best_new['area_um2'] - tgt:.0f})"),
                    "variant": (f"{best_new['method']} {best_new['params']}" if best_new else ""),
                    "config_id": best_new["config_id"] if best_new else ""})
    return out


# ------------------------------------------------------------------ plots
_COLORS = {"exact": "black", "truncated": "#4c72b0", "broken_array": "#dd8452", "drum": "#55a868", "ssm": "#937860",
           "mitchell": "#c44e52", "perforated": "#8172b3", "lut": "#17becf"}


def _save(fig, path: Path) -> None:
    save_figure(fig, path, dpi=110)


def _plot_pareto(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    widths = [f"{a}x{b}" for a, b, _ in WIDTHS]
    fig, axes = plt.subplots(len(ERROR_METRICS), len(widths), figsize=(4.2 * len(widths), 3.3 * len(ERROR_METRICS)),
                             squeeze=False)
    for ci, wname in enumerate(widths):
        for ri, (key, label) in enumerate(ERROR_METRICS):
            ax = axes[ri][ci]
            for signed, marker in ((True, "o"), (False, "s")):
                sub = [r for r in rows if r["width"] == wname and r["signed"] == signed]
                if not sub:
                    continue
                for r in sub:
                    c = _COLORS[r["method"]]
                    ax.scatter(r[key], r["area_saving_pct"], marker=marker, s=22,
                               facecolors=c if signed else "none", edgecolors=c, linewidths=1)
                front = [r for r in sub if r[f"pareto_{key}"]]
                front.sort(key=lambda r: r[key])
                ax.plot([r[key] for r in front], [r["area_saving_pct"] for r in front],
                        color="grey", lw=0.8, ls="-" if signed else "--")
            ax.set_xscale("symlog", linthresh=1e-2)
            vals = [r[key] for r in rows if r["width"] == wname and np.isfinite(r[key])]
            ax.set_xlim(-2e-3, max(0.1, 2 * max(vals, default=0.1)))
            ax.grid(alpha=0.3)
            if ri == 0:
                ax.set_title(f"{wname} (filled: signed, hollow: unsigned)", fontsize=9)
            if ci == 0:
                ax.set_ylabel("area saving vs exact (%)")
            ax.set_xlabel(label, fontsize=8)
    handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=m) for m, c in _COLORS.items()]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8)
    fig.suptitle("Approximate multipliers: area saving (Yosys, built-in liberty) vs exhaustive error; "
                 "lines: Pareto fronts", fontsize=10)
    fig.tight_layout(rect=(0, 0.04, 1, 0.97))
    _save(fig, path)
    plt.close(fig)


def _plot_fronts(rows: list[dict], legacy_ids: set, refs: dict, path: Path, external=()) -> None:
    """Area (µm²) vs MRED per width and signedness: every variant, the old sweep's area/MRED front
    (dashed) and the new one (solid), the exact reference area (dotted), and the user's external
    circuits (`quantpe.explore.characterize.ExternalUnit`, black crosses)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    groups = [(a, b, s) for a, b, signs in WIDTHS for s in signs]
    fig, axes = plt.subplots(1, len(groups), figsize=(3.3 * len(groups), 3.6), squeeze=False)
    for ax, (a, b, s) in zip(axes[0], groups):
        sub = [r for r in rows if r["width"] == f"{a}x{b}" and r["signed"] == s and r["method"] != "exact"]
        for label, pick, color, ls in (("old front", lambda r: r["config_id"] in legacy_ids, "#c44e52", "--"),
                                       ("new front", lambda r: True, "#4c72b0", "-")):
            pts = [r for r in sub if pick(r)]
            ax.scatter([r["mred_pct"] for r in pts], [r["area_um2"] for r in pts], s=6, color=color, alpha=0.35)
            mask = pareto_front([-r["area_um2"] for r in pts], [r["mred_pct"] for r in pts])
            front = sorted((r for r, m in zip(pts, mask) if m), key=lambda r: r["mred_pct"])
            ax.step([r["mred_pct"] for r in front], [r["area_um2"] for r in front], where="post", color=color,
                    ls=ls, lw=1.2, label=label)
        ext = [u for u in external if (u.a_bits, u.b_bits, u.signed) == (a, b, s)]
        if ext:
            ax.scatter([100 * u.metrics.mred for u in ext], [u.area_um2 for u in ext], marker="x", s=22,
                       color="black", lw=0.9, label="external", zorder=5)
        form, area = refs[(a, b, s)]
        ax.axhline(area, color="black", ls=":", lw=0.8, label=f"exact ref. ({form})")
        ax.set_xscale("symlog", linthresh=0.1)
        ax.set_xlim(0, 60)
        ax.set_title(f"{a}x{b} {'signed' if s else 'unsigned'}", fontsize=9)
        ax.set_xlabel("MRED %", fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    axes[0][0].set_ylabel("area µm² (Yosys, built-in liberty)")
    fig.suptitle("Approximate multipliers: area/MRED Pareto front before (old sweep) and after issue 14", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    _save(fig, path)
    plt.close(fig)


def _plot_accuracy(rows: list[dict], exact_acc: float, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4.8))
    lo = 100 * exact_acc - 8.0       # zoom on the interesting band; worse points sit on the floor
    front = pareto_front([r["area_saving_pct"] for r in rows], [r["acc_loss_pts"] for r in rows])
    for r, on_front in zip(rows, front):
        acc = 100 * r["test_acc"]
        y, marker = (acc, "o") if acc >= lo else (lo + 0.3, "v")
        c = _COLORS[r["method"]]
        ax.scatter(r["area_saving_pct"], y, s=25, marker=marker, edgecolors=c,
                   facecolors=c if r["signed"] else "none")
        if on_front or acc < lo:
            text = (f"{r['method'][:5]} {r['params']}{'' if r['signed'] else ' u'}"
                    + ("" if acc >= lo else f" ({acc:.0f}%)"))
            ax.annotate(text, (r["area_saving_pct"], y), fontsize=6, xytext=(3, 3 if acc >= lo else 6),
                        textcoords="offset points", rotation=0 if acc >= lo else 30)
    ax.set_ylim(lo, 100 * exact_acc + 1.5)
    ax.axhline(100 * exact_acc - TARGET["max_acc_loss_pts"], color="grey", ls="--", lw=0.8,
               label=f"exact int8 - {TARGET['max_acc_loss_pts']:g} pt")
    ax.axvline(TARGET["min_saving_pct"], color="grey", ls=":", lw=0.8, label="30% area saving")
    ax.set_xlabel("area saving of the 8x8 multiplier vs the exact one of its signedness (%)")
    ax.set_ylabel("digits test accuracy (%)")
    ax.set_title("Digits MLP, integer inference with each multiplier in every layer (filled: signed; hollow, 'u':\n"
                 "unsigned in sign-magnitude form; labels: Pareto front of saving vs loss; triangles: below the range)",
                 fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


# ------------------------------------------------------------------ main
def _accuracy_rows(rows8: list[dict], cfgs: dict) -> tuple[list[dict], float]:
    data = load_digits_split()
    q = build_qmodel()    # int8 activations and weights, 32-bit accumulators
    exact_test = q.accuracy(data.x_test, data.y_test)
    exact_train = q.accuracy(data.x_train, data.y_train)
    out = []
    for r in rows8:
        cfg = cfgs[r["config_id"]]
        qm = q.with_mul(approx_mul(cfg) if cfg.signed else sign_magnitude_mul(cfg))
        test, train = qm.accuracy(data.x_test, data.y_test), qm.accuracy(data.x_train, data.y_train)
        out.append({**{k: r[k] for k in ("method", "params", "signed", "config_id", "area_saving_pct", "mae_pct",
                                         "mred_pct", "bias")},
                    "test_acc": round(test, 6), "train_acc": round(train, 6),
                    "acc_loss_pts": round(100 * (exact_test - test), 4),
                    "train_loss_pts": round(100 * (exact_train - train), 4)})
    return out, exact_test


def _external_rows(external, refs: dict) -> list[dict]:
    """One row per external circuit, saving against the same exact reference as the sweep."""
    rows = []
    for u in external:
        ref = refs.get((u.a_bits, u.b_bits, u.signed))
        scale = float(1 << (u.a_bits + u.b_bits))
        rows.append({"name": u.name, "file": str(u.path), "width": f"{u.a_bits}x{u.b_bits}", "signed": u.signed,
                     "area_um2": round(u.area_um2, 4), "reference": ref[0] if ref else "",
                     "area_saving_pct": round(100 * (1 - u.area_um2 / ref[1]), 3) if ref else float("nan"),
                     "mae_pct": round(u.metrics.mae_pct, 6), "mred_pct": round(100 * u.metrics.mred, 6),
                     "wce_pct": round(u.metrics.wce_pct, 6), "ep": round(u.metrics.ep, 6),
                     "abs_bias_pct": round(100 * abs(u.metrics.bias) / scale, 6)})
    return rows


def approx_figures(wide: bool = False, external=()) -> dict:
    """The sweep as data: every variant's row (area, exhaustive metrics, Pareto membership,
    family), the exact references, the budget tables, the external circuits, the kept variants
    and their exhaustive RTL check, the digits-accuracy rows and the verdicts. Raises on the first
    RTL/golden difference. `wide`: see `approx_report`.
    Long: the sweep's steps in order (synthesis of every variant and reference, the rows, their
    Pareto marks, the budgets, the RTL check of the kept ones, accuracy), all on the same rows."""
    import os

    wide = wide or os.environ.get("QUANTPE_APPROX_WIDE", "") == "1"
    t0 = time.monotonic()
    cfgs: list[ApproxMulConfig] = []
    legacy_ids: set = set()
    ref_items = []            # ((a, b, s), form, job)
    for a, b, signs in WIDTHS:
        for s in signs:
            legacy_ids |= {c.config_id for c in legacy_variants(a, b, s)}
            cfgs.extend(sweep_variants(a, b, s, wide))
            ref_items += [((a, b, s), form, job) for form, job in reference_jobs(a, b, s)]
    results = synth_many(cfgs + [job for _, _, job in ref_items], desc="multipliers")
    synth = [(float(r["area_um2"]), int(r["total_cells"])) for r in results[:len(cfgs)]]
    cand: dict = {}
    for (key, form, _), r in zip(ref_items, results[len(cfgs):]):
        cand.setdefault(key, {})[form] = float(r["area_um2"])
    refs = {key: pick_reference(areas) for key, areas in cand.items()}
    t_synth = time.monotonic() - t0
    rows = []
    for c, (area, _) in zip(cfgs, synth):
        form, ref_area = refs[(c.a_bits, c.b_bits, c.signed)]
        rows.append(variant_row(c, area, ref_area, characterize(c), form))
    # Pareto membership per (width, signedness) group and error metric
    for key, _ in ERROR_METRICS:
        for r in rows:
            r[f"pareto_{key}"] = False
        groups = {(r["width"], r["signed"]) for r in rows}
        for g in groups:
            idx = [i for i, r in enumerate(rows) if (r["width"], r["signed"]) == g]
            mask = pareto_front([rows[i]["area_saving_pct"] for i in idx], [rows[i][key] for i in idx])
            for i, m in zip(idx, mask):
                rows[i][f"pareto_{key}"] = bool(m)
    for r in rows:
        r["family"] = "old" if r["config_id"] in legacy_ids else "new"
    ref_rows = [{"width": f"{a}x{b}", "signed": s, **{f: round(cand[(a, b, s)].get(f, float("nan")), 4)
                                                      for f, _ in REFERENCE_FORMS},
                 "reference": refs[(a, b, s)][0], "reference_um2": round(refs[(a, b, s)][1], 4)}
                for a, b, signs in WIDTHS for s in signs]
    budgets = {s: budget_table(rows, legacy_ids, s, refs[(8, 8, s)]) for s in (False, True)}
    ext_rows = _external_rows(external, refs)
    # the kept variants (every front member, budget winner, exact unit) are simulated on every input
    # pair; QUANTPE_APPROX_CHECK=all simulates the whole sweep
    winners = {b[k] for s in (False, True) for b in budgets[s] for k in ("config_id", "old_config_id") if b[k]}
    check_all = os.environ.get("QUANTPE_APPROX_CHECK", "") == "all"
    for r in rows:
        r["rtl_checked"] = bool(check_all or r["method"] == "exact" or r["config_id"] in winners
                                or r["pareto_mred_pct"] or r["pareto_mae_pct"])
    kept = [c for c, r in zip(cfgs, rows) if r["rtl_checked"]]
    t1 = time.monotonic()
    checks = rtl_check_variants(kept, "verilator")       # raises on the first RTL/golden difference
    t_rtl = time.monotonic() - t1
    n_pairs = sum(len(c.config_ids) * c.pairs for c in checks)
    by_id = {c.config_id: c for c in cfgs}
    rows8 = [r for r in rows if r["width"] == "8x8" and r["rtl_checked"]]
    acc_rows, exact_acc = _accuracy_rows(rows8, by_id)
    best, met = select_best([r for r in acc_rows if r["method"] != "exact"])
    best_signed, met_signed = select_best([r for r in acc_rows if r["method"] != "exact" and r["signed"]])
    elapsed = time.monotonic() - t0
    return dict(wide=wide, external=external, rows=rows, cfgs=cfgs, legacy_ids=legacy_ids, refs=refs,
                ref_rows=ref_rows, budgets=budgets, ext_rows=ext_rows, kept=kept, checks=checks, t_rtl=t_rtl,
                n_pairs=n_pairs, acc_rows=acc_rows, exact_acc=exact_acc, best=best, met=met, best_signed=best_signed,
                met_signed=met_signed, elapsed=elapsed, t_synth=t_synth)


def write_approx_data(f: dict, out: Path) -> None:
    """references.csv, budgets.csv, fronts.png, external.csv, variants.csv, pareto.png,
    accuracy.csv, accuracy.png and summary.json of the sweep."""
    (wide, external, rows, cfgs, legacy_ids, refs, ref_rows, budgets, ext_rows, kept, checks, t_rtl,
     n_pairs, acc_rows, exact_acc, best, met, best_signed, met_signed, elapsed) = (
        f["wide"], f["external"], f["rows"], f["cfgs"], f["legacy_ids"], f["refs"], f["ref_rows"],
        f["budgets"], f["ext_rows"], f["kept"], f["checks"], f["t_rtl"], f["n_pairs"], f["acc_rows"],
        f["exact_acc"], f["best"], f["met"], f["best_signed"], f["met_signed"], f["elapsed"])
    write_text(out / "references.csv", csv_text(ref_rows))
    write_text(out / "budgets.csv", csv_text([{"signed": s, **r} for s in (False, True) for r in budgets[s]]))
    _plot_fronts(rows, legacy_ids, refs, out / "fronts.png", external)
    if ext_rows:
        write_text(out / "external.csv", csv_text(ext_rows))
    write_text(out / "variants.csv", csv_text(rows))
    _plot_pareto(rows, out / "pareto.png")
    write_text(out / "accuracy.csv", csv_text(acc_rows))
    _plot_accuracy(acc_rows, exact_acc, out / "accuracy.png")
    write_text(out / "summary.json", json.dumps({
        "target": TARGET, "met": met, "best": best, "met_signed": met_signed, "best_signed": best_signed,
        "exact_test_acc": exact_acc,
        "rtl_check": {"simulator": "verilator", "variants": len(kept), "of": len(cfgs), "products": n_pairs,
                      "builds": len(checks),
                      "seconds": round(t_rtl, 1)}, "n_variants": len(rows),
        "references": {f"{'i' if k[2] else 'u'}{k[0]}x{k[1]}": {"form": f, "area_um2": a} for k, (f, a) in refs.items()},
        "budgets": {("signed" if sg else "unsigned"): budgets[sg] for sg in (False, True)}, "wide": wide,
        "elapsed_s": round(elapsed, 1)}, indent=2) + "\n")


def approx_markdown(f: dict) -> list[str]:
    """The section's markdown lines. Long: one flat list of the section's tables and notes."""
    (wide, rows, cfgs, ref_rows, budgets, ext_rows, kept, checks, t_rtl, n_pairs, acc_rows, exact_acc,
     best, met, best_signed, met_signed, elapsed, t_synth) = (
        f["wide"], f["rows"], f["cfgs"], f["ref_rows"], f["budgets"], f["ext_rows"], f["kept"], f["checks"],
        f["t_rtl"], f["n_pairs"], f["acc_rows"], f["exact_acc"], f["best"], f["met"], f["best_signed"],
        f["met_signed"], f["elapsed"], f["t_synth"])
    n_new = sum(r["family"] == "new" for r in rows)
    md = ["## Approximate multipliers", "",
          f"{len(rows)} multiplier variants at {', '.join(f'{a}x{b}' for a, b, _ in WIDTHS)} "
          "(signed; unsigned at 8x8, 4x4, 2x2), each synthesised with the skeleton flow (Yosys, built-in "
          "liberty) and characterised exhaustively from the golden model: the "
          f"{len(rows) - n_new} variants of the sweep before issue 14 (\"old\") and {n_new} new ones "
          "(native two's-complement Baugh-Wooley arrays for signed units, with truncation, broken array and "
          "perforation; OR compression of the lowest partial-product columns, `or_cols`; at 8x8 approximate "
          "4:2 compressors in the reduction tree's low columns, `compressor` and `approx_cols`; radix-4 "
          "Booth arrays for signed units, `booth`, with broken-Booth truncation, compensation, OR columns, "
          "perforated rows and at 8x8 compressors"
          f"{'; wide grid' if wide else ''}). "
          f"Full table: [approx/variants.csv](approx/variants.csv).", "",
          "**Exact reference.** Every area saving (variants.csv `area_saving_pct`, the tables and plots below, "
          "the accuracy table) is against the smallest exact multiplier this flow produces at the same widths and "
          "signedness, among: the unsigned AND array + Dadda tree, the sign-magnitude wrapper around it "
          "(signed), the native Baugh-Wooley array (signed), the project's radix-4 Booth array (signed) and "
          "a plain `y = a * b` mapped by Yosys' own `$mul` flow. Yosys here is " + yosys_version().split("(")[0].strip() +
          ", which has no `booth` pass (`yosys -p 'help booth'`: no such command), so the Booth candidate is "
          "the project's own structural one. "
          "Table: [approx/references.csv](approx/references.csv).", ""]
    ref_cols = [("width", "width"), ("signed", "signed")] + [(f, f"{f} µm²") for f, _ in REFERENCE_FORMS] + \
        [("reference", "reference")]
    md += markdown_table(ref_rows, ref_cols) + [""]
    md += ["**Cheapest 8x8 unit under an MRED budget** (exhaustive MRED; area µm²; old = the sweep before "
           "issue 14, new = this sweep; target = the issue's acceptance figure; budget 0 = the exact unit). "
           "Table: [approx/budgets.csv](approx/budgets.csv).", ""]
    b_cols = [("budget_mred_pct", "MRED budget %"), ("old_best_um2", "old best µm²"), ("new_best_um2", "new best µm²"),
              ("target_um2", "target µm²"), ("met", "met"), ("new_mred_pct", "MRED %"), ("variant", "variant")]
    for sgn in (False, True):
        md += [f"*8x8 {'signed' if sgn else 'unsigned'}*", ""] + markdown_table(budgets[sgn], b_cols) + [""]
    if ext_rows:
        md += [f"**External circuits** ({len(ext_rows)}, simulated on every input pair and synthesised by the "
               "same flow; crosses on the plot below; [approx/external.csv](approx/external.csv)):", "",
               *markdown_table(ext_rows, [("name", "circuit"), ("width", "width"), ("signed", "signed"),
                                          ("area_um2", "area µm²"), ("area_saving_pct", "saving %"),
                                          ("mred_pct", "MRED %"), ("mae_pct", "MAE %")]), ""]
    md += ["![area vs MRED: old and new Pareto fronts](approx/fronts.png)", "",
           f"RTL = golden on every input pair of every kept variant (each member of an area/MRED or area/MAE "
           f"front at each width, each "
           f"budget winner, each exact unit: {len(kept)} of the {len(cfgs)} variants, column `rtl_checked` of "
           f"variants.csv; `QUANTPE_APPROX_CHECK=all` checks all of them): {n_pairs:,} products simulated on "
           f"Verilator in {len(checks)} builds (banks of multipliers per width and signedness, "
           f"`rtl_check_variants`), {t_rtl:.0f} s, all identical. The builders themselves are checked "
           f"exhaustively at 2x2 and 4x4 for every family in the tests.", "",
           "![approximate multipliers: area saving vs error](approx/pareto.png)", ""]
    cols = [("method", "method"), ("params", "params"), ("area_um2", "area µm²"), ("area_saving_pct", "saving %"),
            ("mae_pct", "MAE %"), ("mred_pct", "MRED %"), ("bias", "bias"), ("ep", "EP")]
    for a, b, signs in WIDTHS:
        for s in signs:
            w = f"{a}x{b}"
            front = [r for r in rows if r["width"] == w and r["signed"] == s
                     and (r["pareto_mred_pct"] or r["method"] == "exact")]
            front.sort(key=lambda r: r["area_saving_pct"])
            md += [f"**{w} {'signed' if s else 'unsigned'}: Pareto front (area saving vs MRED)**", ""]
            md += markdown_table(front, cols) + [""]
    md += ["### Digits accuracy with each 8x8 multiplier", "",
           f"Every layer of the int8 digits MLP uses the multiplier in its integer inference (bit-exact "
           f"golden). Exact int8 test accuracy: {100 * exact_acc:.2f}% (360 test samples: one sample is "
           f"0.28 points). Signed units take the int8 operands as they are. Unsigned units run in "
           f"sign-magnitude form: y = U(|a|, |w|), negated when the signs differ (`sign_magnitude_mul`); "
           f"|int8| <= 128 fits the 8-bit unsigned unit. That is the same product as the signed unit of the "
           f"same parameters, but its saving counts only the unit: the sign handling (in the digits model "
           f"only the weight's sign, since activations are ReLU outputs >= 0) is left to the datapath, "
           f"e.g. as a subtract in the adder tree. Signed sign-magnitude rows carry the full wrapper "
           f"(|a|, |b|, negate), Baugh-Wooley (`bw`) and Booth (`booth`) rows none; every saving is against the exact reference above. "
           f"Listed: the kept 8x8 variants (front members, budget winners, exact units). "
           f"Table: [approx/accuracy.csv](approx/accuracy.csv).", "",
           "![digits accuracy vs area saving](approx/accuracy.png)", ""]
    acc_cols = [("method", "method"), ("params", "params"), ("signed", "signed"), ("area_saving_pct", "saving %"),
                ("mred_pct", "MRED %"), ("mae_pct", "MAE %"), ("bias", "bias"),
                ("test_acc", "test acc"), ("acc_loss_pts", "loss (pt)"), ("train_loss_pts", "train loss (pt)")]
    acc_sorted = sorted(acc_rows, key=lambda r: -r["area_saving_pct"])
    md += markdown_table(acc_sorted, acc_cols) + [""]
    t = TARGET
    goal = (f">= {t['min_saving_pct']:g}% area saving, MRED <= {t['max_mred_pct']:g}%, "
            f"< {t['max_acc_loss_pts']:g} point test-accuracy loss")
    def _verdict(label, row, ok):
        if row is None:
            return [f"No approximate {label} variant was evaluated.", ""]
        what = (f"`{row['config_id']}` ({row['method']} {row['params']}): {row['area_saving_pct']:.1f}% area "
                f"saving, MRED {row['mred_pct']:.2f}%, accuracy loss {row['acc_loss_pts']:.2f} points")
        if ok:
            return [f"**Target ({goal}) met** by the {label} {what}.", ""]
        return [f"**Target ({goal}) not met** by any {label} variant. Closest: {what}.", ""]
    md += _verdict("8x8" if best is None or best["signed"] else "unsigned 8x8", best, met)
    md += _verdict("signed 8x8", best_signed, met_signed)
    md += [f"_Sweep time {elapsed:.0f} s (synthesis and generation {t_synth:.0f} s, cached per config id; "
           f"exhaustive RTL check {t_rtl:.0f} s)._", ""]
    return md


def approx_report(out_dir: Path, wide: bool = False, external=()) -> list[str]:
    """Run the sweep (synthesis cached), write out_dir/approx/*, return the markdown section.

    `external`: user circuits (`quantpe.explore.characterize.external_units`), plotted on fronts.png beside
    the generated ones and listed in external.csv (same flow, same reference).

    `wide` (or the environment variable QUANTPE_APPROX_WIDE=1, for `quantpe report --only
    approxmul`): the larger grid of `new_families` (about 4x the syntheses of the default)."""
    out = ensure_dir(Path(out_dir) / "approx")
    f = approx_figures(wide, external)
    write_approx_data(f, out)
    return approx_markdown(f)
