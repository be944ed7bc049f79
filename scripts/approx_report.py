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
width and signedness, `quantpe.characterize.rtl_check_variants`) and must equal its golden
table bit for bit, or the report stops. Synthesis goes through
`quantpe.flow` (content-keyed). `quantpe report --only approxmul` runs this section alone.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from quantpe.atomic import ensure_dir, save_figure, write_text
from quantpe.flow import synth_many
from quantpe.golden.approx import ApproxMulConfig, exact_table, mul_table
from quantpe.tables import csv_text, markdown_table

__all__ = ["WIDTHS", "TARGET", "sweep_variants", "kulkarni_2x2", "pareto_front", "select_best",
           "markdown_table", "variant_row", "approx_report"]

# (a_bits, b_bits, signedness options)
WIDTHS = ((8, 8, (True, False)), (8, 4, (True,)), (4, 4, (True, False)), (2, 2, (True, False)))
# the target for an 8x8 variant
TARGET = {"min_saving_pct": 30.0, "max_mred_pct": 2.0, "max_acc_loss_pts": 1.0}
ERROR_METRICS = (("mae_pct", "MAE %"), ("mred_pct", "MRED %"), ("abs_bias_pct", "|bias| % of 2^(na+nb)"))


# ------------------------------------------------------------------ variant sweep
def kulkarni_2x2() -> np.ndarray:
    """Unsigned 2x2 LUT of Kulkarni et al.'s approximate block: exact except 3 x 3 = 7 (not 9)."""
    t = exact_table(2, 2, False).copy()
    t[3, 3] = 7
    return t


def sweep_variants(a_bits: int, b_bits: int, signed: bool) -> list[ApproxMulConfig]:
    """A sweep of every method's parameter at these widths (exact first, duplicates removed).

    truncated t = P/4 .. 5P/8 (P = a_bits + b_bits), without and with compensation;
    broken_array (hbl, vbl) in {(0, P/2), (1, P/2-1), (1, P/2+1), (2, P/2)}; drum k in
    max(2, n/2-1) .. n-1 (n = max width; none at 2 bits); ssm k in max(2, n/2) .. n-1 with core
    truncation t in {0, 2, 3}; mitchell; perforated (rows, start) in
    {(1, 0), (2, 0), (1, 1)}; lut: the Kulkarni 2x2 block (unsigned 2x2 only; the 8x8 LUT kind is
    skipped: its Verilog takes ~20 s to generate). Degenerate variants whose product is a
    constant (every partial product dropped) are left out.
    """
    base = dict(a_bits=a_bits, b_bits=b_bits, signed=signed)
    P, n = a_bits + b_bits, max(a_bits, b_bits)
    out = [ApproxMulConfig(method="exact", **base)]
    for t in range(max(1, P // 4), 5 * P // 8 + 1):
        for comp in (False, True):
            out.append(ApproxMulConfig(method="truncated", t=t, compensate=comp, **base))
    for hbl, vbl in ((0, P // 2), (1, P // 2 - 1), (1, P // 2 + 1), (2, P // 2)):
        if hbl <= b_bits and 0 <= vbl <= P:
            out.append(ApproxMulConfig(method="broken_array", hbl=hbl, vbl=vbl, **base))
    for k in range(max(2, n // 2 - 1), n):
        out.append(ApproxMulConfig(method="drum", k=k, **base))
    for k in range(max(2, n // 2), n):
        for t in (0, 2, 3):
            out.append(ApproxMulConfig(method="ssm", k=k, t=t, **base))
    out.append(ApproxMulConfig(method="mitchell", **base))
    for rows, start in ((1, 0), (2, 0), (1, 1)):
        if start < b_bits and rows <= b_bits - start:
            out.append(ApproxMulConfig(method="perforated", perf_rows=rows, perf_start=start, **base))
    if (a_bits, b_bits, signed) == (2, 2, False):
        out.append(ApproxMulConfig.from_table(kulkarni_2x2(), signed=False))
    seen, uniq = set(), []
    for c in out:
        table = mul_table(c)
        if c not in seen and (c.method == "exact" or table.min() != table.max()):
            seen.add(c)
            uniq.append(c)
    return uniq


def params_of(cfg: ApproxMulConfig) -> str:
    """Short parameter text of a variant, e.g. 't=6,c' or 'k=4'."""
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
def variant_row(cfg: ApproxMulConfig, area_um2: float, exact_area_um2: float, metrics) -> dict:
    """One CSV row: identity, area and saving, exhaustive error metrics (percentages as %)."""
    scale = float(1 << (cfg.a_bits + cfg.b_bits))
    return {
        "width": f"{cfg.a_bits}x{cfg.b_bits}", "signed": bool(cfg.signed), "method": cfg.method,
        "params": params_of(cfg), "config_id": cfg.config_id,
        "area_um2": round(area_um2, 4), "exact_area_um2": round(exact_area_um2, 4),
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
    from quantpe.golden.approx import approx_mul, sign_magnitude_mul
    from quantpe.golden.digits import load_digits_split
    from quantpe.golden.qmodel import build_qmodel
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


def approx_report(out_dir: Path) -> list[str]:
    """Run the sweep (synthesis cached), write out_dir/approx/*, return the markdown section."""
    from quantpe.golden.characterize import characterize
    t0 = time.monotonic()
    out = ensure_dir(Path(out_dir) / "approx")
    cfgs: list[ApproxMulConfig] = []
    for a, b, signs in WIDTHS:
        for s in signs:
            cfgs.extend(sweep_variants(a, b, s))
    synth = [(float(r["area_um2"]), int(r["total_cells"])) for r in synth_many(cfgs, desc="multipliers")]
    t_synth = time.monotonic() - t0
    from quantpe.characterize import rtl_check_variants
    t1 = time.monotonic()
    checks = rtl_check_variants(cfgs, "verilator")       # raises on the first RTL/golden difference
    t_rtl = time.monotonic() - t1
    n_pairs = sum(len(c.config_ids) * c.pairs for c in checks)
    exact_area = {(c.a_bits, c.b_bits, c.signed): area for c, (area, _) in zip(cfgs, synth)
                  if c.method == "exact"}
    rows = [variant_row(c, area, exact_area[(c.a_bits, c.b_bits, c.signed)], characterize(c))
            for c, (area, _) in zip(cfgs, synth)]
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
    write_text(out / "variants.csv", csv_text(rows))
    _plot_pareto(rows, out / "pareto.png")
    by_id = {c.config_id: c for c in cfgs}
    rows8 = [r for r in rows if r["width"] == "8x8"]
    acc_rows, exact_acc = _accuracy_rows(rows8, by_id)
    write_text(out / "accuracy.csv", csv_text(acc_rows))
    _plot_accuracy(acc_rows, exact_acc, out / "accuracy.png")
    best, met = select_best([r for r in acc_rows if r["method"] != "exact"])
    best_signed, met_signed = select_best([r for r in acc_rows if r["method"] != "exact" and r["signed"]])
    elapsed = time.monotonic() - t0

    md = ["## Approximate multipliers", "",
          f"{len(rows)} multiplier variants at {', '.join(f'{a}x{b}' for a, b, _ in WIDTHS)} "
          "(signed; unsigned at 8x8, 4x4, 2x2), each synthesised with the skeleton flow (Yosys, built-in "
          "liberty) and characterised exhaustively from the golden model. Area saving is against the exact "
          "unit of the same widths and signedness (same AND array + Dadda builder). "
          f"Full table: [approx/variants.csv](approx/variants.csv).", "",
          f"RTL = golden on every input pair of every variant: {len(cfgs)} variants, {n_pairs:,} products "
          f"simulated on Verilator in {len(checks)} builds (one bank of multipliers per width and "
          f"signedness, `rtl_check_variants`), {t_rtl:.0f} s, all identical.", "",
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
           f"e.g. as a subtract in the adder tree. The signed rows carry the full sign-magnitude wrapper "
           f"(|a|, |b|, negate: ~740 µm² at 8x8) in both the exact and the approximate unit. "
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
    write_text(out / "summary.json", json.dumps({
        "target": TARGET, "met": met, "best": best, "met_signed": met_signed, "best_signed": best_signed,
        "exact_test_acc": exact_acc,
        "rtl_check": {"simulator": "verilator", "variants": len(cfgs), "products": n_pairs, "builds": len(checks),
                      "seconds": round(t_rtl, 1)}, "n_variants": len(rows),
        "elapsed_s": round(elapsed, 1)}, indent=2) + "\n")
    return md
