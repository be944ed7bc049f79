"""StruM section of the report: area (with a per-part breakdown), K sweep, accuracy, storage.

`strum_report(out_dir) -> list[str]` writes into out_dir/strum/:
  area.csv, area.json      16-lane INT8 baseline vs StruM static DLIQ, static MIP2Q, dynamic DLIQ
                           and MIP2Q (B=16, K=8, hb=8, lb=4, int8 activations, 32-bit accumulator,
                           pipeline 1), for the block-wide selection network (select="prefix")
                           and the grouped one (select="group", G = 8: one high lane per pair,
                           and G = 4: two per group of four); um^2, % vs the baseline, a
                           breakdown per part, and the digits test accuracy of that format
  k_sweep.csv, k_sweep.png static DLIQ and MIP2Q with select="group", B=16, K=2..14: PE area and
                           digits test accuracy (two y-axes)
  accuracy.csv, accuracy.json   float / INT8 / StruM-DLIQ / StruM-MIP2Q / INT4 test accuracy
                           and per-layer weight SQNR (both selections)
  storage.csv              bits per weight
and returns the markdown lines of a "## StruM" section (image links relative to out_dir).

Areas: Yosys with the project's built-in liberty through `quantpe.synth.flow` (cached per config id and
sources, synthesised in parallel).
Breakdown: every submodule kind listed by `rtl.strum.strum_parts(cfg)` (and, for the baseline,
its multiplier / adder tree / accumulator built from the same generator classes) is converted
and synthesised *on its own* (cached under build/parts/<sha of its Verilog>/), then scaled
by its instance count. Synthesising alone sees no cross-boundary optimisation (constant inputs,
unused output bits, sharing), and the flattened PE has pipeline registers the parts do not, so
the parts' sum differs from the flattened total; the difference is reported as "remainder".
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from amaranth import signed
from quantpe.core.tables import csv_text, markdown_table
from quantpe.golden.atomic import ensure_dir, save_figure, write_text
from quantpe.golden.baseline import BaselineConfig
from quantpe.golden.strum_codec import storage_figures
from quantpe.golden.strum_config import StrumConfig
from quantpe.golden.strum_eval import strum_model_accuracy
from quantpe.rtl.accumulator import Accumulator
from quantpe.rtl.adder_tree import AdderTree
from quantpe.rtl.strum import strum_parts
from quantpe.rtl.strum_units import LaneMul
from quantpe.synth.flow import part_verilog, synth_many

__all__ = ["strum_report", "area_configs", "target_lines", "sweep_target_lines", "SELECTIONS", "POINTS", "sweep_configs", "breakdown_row", "CATEGORIES",
           "sweep_accuracy", "classify_part"]

#: breakdown categories, in table order
CATEGORIES = ("multipliers", "low_units", "select", "adder_tree", "accumulator")
_PART_CATEGORY = {"hmul": "multipliers", "lane": "multipliers", "lmul": "low_units",
                  "select": "select", "scatter": "select", "high_tree": "adder_tree",
                  "low_tree": "adder_tree", "shift": "adder_tree", "combine": "adder_tree",
                  "tree": "adder_tree", "acc": "accumulator"}
SWEEP_KS = tuple(range(2, 15))


def classify_part(name: str) -> str:
    """Breakdown category of a `strum_parts` name (dynamic lanes count as multipliers: each is
    an hb x a_bits multiplier with its operand mux and shifter)."""
    return _PART_CATEGORY[name]


#: selection structures of the area table: (label, StrumConfig keywords)
SELECTIONS = (("prefix", {}), ("group-g8", {"select": "group", "groups": 8}),
              ("group-g4", {"select": "group", "groups": 4}))
#: every (label, StrumConfig keywords) of the area table: the K=8 selections (static and
#: dynamic) and the K=6 operating point (two high lanes per group of 8 lanes; static only)
POINTS = SELECTIONS + (("k6-group-g2", {"k": 6, "select": "group"}),)


def area_configs() -> list[tuple[str, StrumConfig]]:
    """The StruM rows of the area table (B=16, lb=4, K=8 unless the label says otherwise),
    named `<variant>-<structure>-<label>`."""
    rows = []
    for label, kw in POINTS:
        for variant in ("dliq", "mip2q"):
            for structure in ("static", "dynamic") if label in dict(SELECTIONS) else ("static",):
                rows.append((f"{variant}-{structure}-{label}",
                             StrumConfig(variant=variant, structure=structure, **kw)))
    return rows


def sweep_configs(variant: str, select: str = "group", ks=SWEEP_KS) -> list[StrumConfig]:
    return [StrumConfig(variant=variant, k=k, select=select) for k in ks]


# ------------------------------------------------------------------ synthesis (quantpe.synth.flow)

def _strum_part_jobs(cfg: StrumConfig) -> list[tuple[str, int, object]]:
    return [(name, count, part_verilog(factory())) for name, factory, count in strum_parts(cfg)]


def _baseline_part_jobs(cfg: BaselineConfig) -> list[tuple[str, int, object]]:
    """The baseline PE's submodules: lane multiplier (the same `a * w` as LaneMul), the adder
    tree and the accumulator, with the baseline's own widths."""
    return [("hmul", cfg.lanes, part_verilog(LaneMul(cfg.w_bits, signed(cfg.a_bits), cfg.product_bits))),
            ("tree", 1, part_verilog(AdderTree(cfg.lanes, cfg.product_bits, cfg.sum_bits))),
            ("acc", 1, part_verilog(Accumulator(cfg.sum_bits, cfg.acc_bits, cfg.saturate)))]


def _parts_areas(part_jobs: list[list[tuple[str, int, object]]]) -> list[list[tuple[str, int, float]]]:
    """(name, count, µm²) per part of each design, all parts synthesised in one parallel batch."""
    flat = [job for jobs in part_jobs for _, _, job in jobs]
    areas = iter(a["area_um2"] for a in synth_many(flat, desc="StruM parts"))
    return [[(name, count, next(areas)) for name, count, _ in jobs] for jobs in part_jobs]


def breakdown_row(name: str, total: float, baseline_total: float, parts) -> dict:
    """One area-table row: total, % vs baseline, per-category sums of (part, count, area) and
    the remainder total - sum(parts) (pipeline registers and flattening effects)."""
    row = {"design": name, "area_um2": round(total, 1),
           "delta_pct": round(100.0 * (total / baseline_total - 1.0), 2)}
    cats = dict.fromkeys(CATEGORIES, 0.0)
    for part, count, area in parts:
        cats[classify_part(part)] += count * area
    row.update({c: round(v, 1) for c, v in cats.items()})
    row["parts_sum"] = round(sum(cats.values()), 1)
    row["remainder"] = round(total - sum(cats.values()), 1)
    return row


def target_lines(rows: list[dict]) -> list[str]:
    """One markdown bullet per static StruM row: area delta and accuracy loss vs the targets
    (MIP2Q <= -30 %, DLIQ <= -20 %, loss <= 1 point)."""
    goal = {"dliq": -20.0, "mip2q": -30.0}
    out = []
    for r in rows:
        parts = r["design"].split("-")
        if len(parts) < 3 or parts[0] != "strum" or parts[2] != "static":
            continue
        g = goal[parts[1]]
        area_ok = r["delta_pct"] <= g
        acc_ok = r.get("acc_loss_pts") is not None and r["acc_loss_pts"] <= 1.0
        out.append(f"- {r['design']}: {r['delta_pct']:+.1f}% (target <= {g:.0f}%: "
                   f"{'met' if area_ok else 'NOT met'}), accuracy loss "
                   f"{r.get('acc_loss_pts', float('nan')):.2f} pts ({'met' if acc_ok else 'NOT met'})")
    return out


def sweep_target_lines(sweep: list[dict], int8_accuracy: float) -> list[str]:
    """Per variant, the sweep points that meet both the area target and the <= 1 point
    accuracy-loss target (or a line saying none does)."""
    goal = {"dliq": -20.0, "mip2q": -30.0}
    out = []
    for v in ("dliq", "mip2q"):
        ok = [r for r in sweep if r["variant"] == v and r["delta_pct"] <= goal[v]
              and 100 * (int8_accuracy - r["accuracy"]) <= 1.0 + 1e-9]
        if ok:
            pts = ", ".join(f"K={r['k']} (G={r['groups']}, {r['delta_pct']:+.1f}%, "
                            f"accuracy {r['accuracy']:.4f})" for r in ok)
            out.append(f"- {v}: area <= {goal[v]:.0f}% with <= 1 point loss at {pts}")
        else:
            out.append(f"- {v}: no K meets area <= {goal[v]:.0f}% with <= 1 point loss")
    return out


# ------------------------------------------------------------------ accuracy

def sweep_accuracy(variant: str, ks, select: str = "group", block: int = 16, lb: int = 4) -> dict:
    """Digits test accuracy of StruM-`variant` (all layers, float-weight encoder) per K."""
    out = {}
    for k in ks:
        cfg = StrumConfig(variant=variant, block=block, k=k, lb=lb, select=select, acc_bits=62)
        out[int(k)] = float(strum_model_accuracy(cfg)["accuracy"][variant])
    return out


# ------------------------------------------------------------------ output helpers

def _plot_sweep(rows: list[dict], baseline_area: float, path: Path,
                int8_accuracy: float | None = None) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax2 = ax.twinx()
    ks = sorted({r["k"] for r in rows})
    for variant, color in (("dliq", "tab:blue"), ("mip2q", "tab:red")):
        rs = sorted((r for r in rows if r["variant"] == variant), key=lambda r: r["k"])
        ax.plot([r["k"] for r in rs], [r["area_um2"] for r in rs], "o-", color=color,
                label=f"area {variant}")
        ax2.plot([r["k"] for r in rs], [100 * r["accuracy"] for r in rs], "s--", color=color,
                 alpha=0.6, label=f"accuracy {variant}")
    ax.axhline(baseline_area, color="gray", lw=1, ls=":", label="INT8 baseline area")
    if int8_accuracy is not None:
        ax2.axhline(100 * int8_accuracy, color="black", lw=1, ls="-.", alpha=0.5,
                    label="INT8 accuracy")
    ax.set_xlabel("K (high slots per block of 16)")
    ax.set_ylabel("PE area (um^2)")
    ax2.set_ylabel("digits test accuracy (%)")
    ax.set_xticks(ks)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="lower right")
    ax.set_title("StruM static, select=group, B=16 lb=4")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------ the section

def strum_figures() -> dict:
    """Every figure of the section as data: the area table with its breakdown and accuracy
    (`rows`), the K sweep, the accuracy and SQNR tables, the storage table (designs and parts
    synthesised in parallel, cached)."""
    # ---- every design and part of the section, synthesised in parallel (cached)
    base_cfg = BaselineConfig()
    named = area_configs()
    sweep_cfgs = [(variant, cfg) for variant in ("dliq", "mip2q") for cfg in sweep_configs(variant)]
    designs = [base_cfg] + [c for _, c in named] + [c for _, c in sweep_cfgs]
    area = {c.config_id: a["area_um2"] for c, a in zip(designs, synth_many(designs, desc="StruM designs"))}
    parts = _parts_areas([_baseline_part_jobs(base_cfg)] + [_strum_part_jobs(c) for _, c in named])

    # ---- area table with breakdown
    base_total = area[base_cfg.config_id]
    rows = [breakdown_row("baseline-l16-int8", base_total, base_total, parts[0])]
    for (name, cfg), cfg_parts in zip(named, parts[1:]):
        rows.append(breakdown_row(f"strum-{name}", area[cfg.config_id], base_total, cfg_parts))
        rows[-1]["config_id"] = cfg.config_id
    rows[0]["config_id"] = base_cfg.config_id

    # ---- K sweep (static, select=group)
    sweep = []
    accs_k = {variant: sweep_accuracy(variant, SWEEP_KS) for variant in ("dliq", "mip2q")}
    for variant, cfg in sweep_cfgs:
        a = area[cfg.config_id]
        sweep.append({"variant": variant, "k": cfg.k, "groups": cfg.groups,
                      "area_um2": round(a, 1),
                      "delta_pct": round(100 * (a / base_total - 1), 2),
                      "accuracy": accs_k[variant][cfg.k], "config_id": cfg.config_id})

    # ---- accuracy (every selection structure of the area table)
    accs = {label: strum_model_accuracy(StrumConfig(acc_bits=62, **kw)) for label, kw in POINTS}
    for r, (name, cfg) in zip(rows[1:], area_configs()):
        label = name.split("-", 2)[2]
        r["test_accuracy"] = round(accs[label]["accuracy"][cfg.variant], 4)
        r["acc_loss_pts"] = round(100 * (accs[label]["accuracy"]["int8"] - r["test_accuracy"]), 2) + 0.0
    rows[0]["test_accuracy"] = round(accs["prefix"]["accuracy"]["int8"], 4)
    rows[0]["acc_loss_pts"] = 0.0
    names = ["float", "int8", "dliq", "mip2q", "int4"]
    acc_rows = [{"select": s, **{n: round(r["accuracy"][n], 4) for n in names}} for s, r in accs.items()]
    sq_rows = []
    for s, r in accs.items():
        for lay in r["layers"]:
            sq_rows.append({"select": s, "layer": lay["layer"], "shape": "x".join(map(str, lay["shape"])),
                            **{n: round(lay["sqnr_db"][n], 2) for n in names[1:]}})

    # ---- storage
    st_rows = []
    for _name, cfg in area_configs():
        if cfg.structure == "static" and (cfg.select == "prefix" or cfg.k != 8):
            f = storage_figures(cfg)
            st_rows.append({"format": f"StruM-{cfg.variant} B16 K{cfg.k} lb4", **{k: f[k] for k in (
                "mask_bits", "hi_bits", "lo_bits", "header_bits", "block_bits", "bits_per_weight")}})
    st_rows.append({"format": "INT8", "mask_bits": 0, "hi_bits": 128, "lo_bits": 0,
                    "header_bits": 0, "block_bits": 128, "bits_per_weight": 8.0})
    st_rows.append({"format": "INT4", "mask_bits": 0, "hi_bits": 0, "lo_bits": 64,
                    "header_bits": 0, "block_bits": 64, "bits_per_weight": 4.0})
    return dict(rows=rows, sweep=sweep, accs=accs, acc_rows=acc_rows, sq_rows=sq_rows, st_rows=st_rows,
                base_total=base_total, names=names)


def write_strum_data(fig: dict, d: Path) -> None:
    """k_sweep.csv and .png, accuracy.json and .csv, area.csv and .json, storage.csv."""
    write_text(d / "k_sweep.csv", csv_text(fig["sweep"]))
    write_text(d / "accuracy.json", json.dumps(fig["accs"], indent=1))
    write_text(d / "area.csv", csv_text(fig["rows"]))
    write_text(d / "area.json", json.dumps(fig["rows"], indent=1))
    write_text(d / "accuracy.csv", csv_text(fig["acc_rows"]))
    _plot_sweep(fig["sweep"], fig["base_total"], d / "k_sweep.png", fig["accs"]["prefix"]["accuracy"]["int8"])
    write_text(d / "storage.csv", csv_text(fig["st_rows"]))


def strum_markdown(fig: dict, seconds: float) -> list[str]:
    """The markdown lines of the section (`seconds`: the time it took, stated at its end)."""
    rows, sweep, accs, names = fig["rows"], fig["sweep"], fig["accs"], fig["names"]
    acc_rows, sq_rows, st_rows = fig["acc_rows"], fig["sq_rows"], fig["st_rows"]
    pct = lambda v: f"{v:+.1f}"          # noqa: E731
    um = lambda v: f"{v:,.0f}"           # noqa: E731
    cols = ["design", "area_um2", "delta_pct", *CATEGORIES, "remainder", "test_accuracy",
            "acc_loss_pts"]
    md = ["## StruM", "",
          "B=16, K=8, hb=8, lb=4, int8 activations, 32-bit accumulator, pipeline 1; Yosys with the "
          "built-in liberty (sky130_fd_sc_hd cell areas), µm². `prefix`: block-wide mask-driven "
          "selection network (K high lanes anywhere in the block, the default); `group-gG`: "
          "`select=\"group\"`, the block is cut into G groups of 16/G consecutive lanes with K/G "
          "high lanes each (g8: one high lane per pair of lanes, 2:1 muxes; g4: two per group of "
          "four); `k6-group-g2`: K=6, two groups of 8 lanes with 3 high lanes each (the K sweep's "
          "best point for both variants). The StruM totals include the decoder (selection network / scatter, low units, "
          "DLIQ shifter). Accuracy: digits test set, StruM on every layer (`acc_loss_pts`: INT8 "
          "accuracy minus this, in points; one image = 0.28 points).", "",
          "Breakdown: each submodule kind synthesised on its own and multiplied by its instance "
          "count (dynamic: `multipliers` = the B full lanes with operand mux and shifter). "
          "Synthesis of a part alone sees no cross-boundary optimisation and has no pipeline "
          "registers, so the parts do not add up to the flattened total: `remainder` = total - "
          "sum of parts.", ""]
    md += markdown_table(rows, cols, {"area_um2": um, "delta_pct": pct, **{c: um for c in CATEGORIES},
                                     "remainder": um}, default=str)
    md += ["", "Targets (static PE incl. decoder; accuracy loss <= 1 point vs INT8):", ""]
    md += target_lines(rows)
    md += ["",
           "Data: [area.csv](strum/area.csv), [area.json](strum/area.json).", "",
           "### K sweep (static, select=group, B=16)", "",
           "G = gcd(16, K) groups, so odd K has G = 1, which is the block-wide network (the "
           "saw-tooth in the area curve).", "",
           "![StruM K sweep](strum/k_sweep.png)", "", "Data: [k_sweep.csv](strum/k_sweep.csv).", ""]
    md += sweep_target_lines(sweep, accs["prefix"]["accuracy"]["int8"]) + [""]
    md += markdown_table(sweep, ["variant", "k", "groups", "area_um2", "delta_pct", "accuracy"],
                         {"area_um2": um, "delta_pct": pct, "accuracy": lambda v: f"{v:.4f}"}, default=str)
    md += ["", "### Accuracy (digits MLP, 360 test images, bit-exact integer inference, StruM on "
           "every layer, float-weight encoder)", ""]
    md += markdown_table(acc_rows, ["select", *names], {n: (lambda v: f"{v:.4f}") for n in names}, default=str)
    md += ["", "Per-layer weight SQNR (dB):", ""]
    md += markdown_table(sq_rows, ["select", "layer", "shape", *names[1:]], default=str)
    md += ["", "### Storage", ""]
    md += markdown_table(st_rows, list(st_rows[0]), default=str)
    md += ["", "The mask is the same B bits for both selections (a grouped mask could be coded in "
           f"fewer bits, not done). Section built in {seconds:.0f} s.", ""]
    return md


def strum_report(out_dir: Path) -> list[str]:
    """Write out_dir/strum/* (module docstring) and return the markdown of the StruM section."""
    t0 = time.monotonic()
    d = ensure_dir(Path(out_dir) / "strum")
    fig = strum_figures()
    write_strum_data(fig, d)
    return strum_markdown(fig, time.monotonic() - t0)
