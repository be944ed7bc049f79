"""Report section "Per-layer plans": QuantuneV2 vs baselines, FAMES vs NSGA-II, sanity scatter.

Writes out_dir/plans/: precision.csv (every brute-force combination: cost, accuracy),
precision_methods.csv, precision_sweep.csv (QuantuneV2 and greedy against brute force at each
SWEEP budget), fames.csv, sanity.csv, scaling.csv, plan_*.json (the chosen plans), fronts.png,
sanity.png, scaling.png, fames_front.png, deep_front.png; returns the markdown lines. Model: the
digits CNN (calibration: first 512 training images, scores: the 360 test images, bit-exact); the
deep network: FAMES against NSGA-II (DEEP_GA_SIZE) on the digits ResNet (51 weight layers), area
cost. Wall times are measured on this machine with a fresh accuracy cache per method.
quick=True: two precisions, a tiny GA and no deep network (for tests).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from quantpe.core.tables import csv_text, markdown_table
from quantpe.explore.plan_energy import PAIRS
from quantpe.explore.plans import (
    AREA,
    CAL_SAMPLES,
    PRECISIONS,
    exact_reference,
    make_problem,
    mul_accuracy,
    mul_setup,
    precision_plan,
    resolve_cost,
    write_plan,
)
from quantpe.golden import plan_search as ps
from quantpe.golden.approx_pe import mul_spec
from quantpe.golden.atomic import ensure_dir, save_figure, write_text
from quantpe.golden.cnn import model_data, reference_graph
from quantpe.golden.fames import count_matrices, fames_search, loss_estimates, output_grads
from quantpe.golden.layers import INPUT, Linear, ReLU
from quantpe.golden.graph import Graph, Node
from quantpe.golden.plan import layer_macs, make_plan, plan_widths

__all__ = ["plans_report", "plans_figures", "write_plans_data", "plans_markdown", "PlansFigures",
           "precision_figures", "fames_figures", "deep_fames_figures", "scaling_figures", "scaling_graph",
           "plot_fronts"]

BUDGETS = (0.2, 0.35, 0.5)
#: the budget sweep (cost fractions) of the QuantuneV2-vs-brute-force summary
SWEEP = tuple(round(0.05 * k, 2) for k in range(1, 21))
#: NSGA-II (population, generations), by quick
GA_SIZE = {False: (24, 12), True: (8, 3)}
#: the deep network of the FAMES-vs-NSGA-II comparison, its NSGA-II (population, generations): 2,000
#: evaluations at most, the order of published GA multiplier-substitution searches, and its cost
#: (area x MACs: the energy flow would simulate every candidate on each of the 51 layers)
DEEP_MODEL = "resnet"
DEEP_GA_SIZE = (40, 50)
DEEP_COST = "area"
#: the deep entry's GA starts from the exact plan: from uniform random choices a 40 x 50 NSGA-II
#: never found a plan within 1 point that cuts any area on the 51-layer ResNet
DEEP_GA_START = "exact"
#: depths of the synthetic chains of the planner-time study, by quick
DEPTHS = {False: (2, 4, 8, 16, 32, 64), True: (2, 4, 8)}


def scaling_graph(depth: int, width: int = 32, seed: int = 0):
    """Synthetic chain of `depth` Linear(width, width) + ReLU layers and a Linear(width, 10)."""
    rng = np.random.default_rng(seed)
    nodes, prev = [], INPUT
    for i in range(depth):
        nodes.append(Node(f"fc{i}", Linear(rng.standard_normal((width, width)) / np.sqrt(width),
                                           rng.standard_normal(width) * 0.1), (prev,)))
        nodes.append(Node(f"r{i}", ReLU(), (f"fc{i}",)))
        prev = f"r{i}"
    nodes.append(Node("out", Linear(rng.standard_normal((10, width)) / np.sqrt(width), np.zeros(10)), (prev,)))
    return Graph((width,), tuple(nodes))


def _or_blank(spec: str):
    return lambda v: "" if v is None else spec.format(v)


def _fmt_plan(plan) -> str:
    return " ".join(f"{a}x{w}" for a, w in plan)


def _plot(path, draw, title, figsize=(6.4, 4.2)):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=figsize)
    draw(ax)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def plot_fronts(all_rows, rows, budgets, path) -> None:
    """Brute-force cloud (cost fraction, accuracy) and each method's pick per budget."""
    def draw(ax):
        ax.scatter([float(r["cost_fraction"]) for r in all_rows], [100 * float(r["accuracy"]) for r in all_rows],
                   s=6, color="lightgrey", label=f"brute force ({len(all_rows)} plans)")
        for (name, m), col in zip((("quantune", "o"), ("greedy", "s"), ("uniform", "^"), ("brute", "x")),
                                  ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")):
            sub = [r for r in rows if r["method"] == name]
            style = dict(color=col) if m == "x" else dict(edgecolors=col, facecolors="none")
            ax.scatter([float(r["cost_fraction"]) for r in sub], [100 * float(r["accuracy"]) for r in sub],
                       marker=m, s=60 if m != "x" else 40, label=name, linewidths=1.3, **style)
        for b in budgets:
            ax.axvline(float(b), color="k", lw=0.5, ls=":")
        ax.set_xlabel("area x MACs / all-8x8 (exact multipliers)")
        ax.set_ylabel("test accuracy % (bit-exact)")
        ax.legend(fontsize=7)
    _plot(path, draw, "digits CNN: per-layer precision plans at the budgets (dotted lines)")


@dataclass
class PrecisionFigures:
    """The precision-plan study on one problem: every brute-force plan (`all_rows`), each
    method's pick per budget (`rows`, `picks`), the budget sweep (`sweep`)."""
    all_rows: list
    rows: list
    picks: dict
    brute: object
    budgets: list
    sweep: list


def precision_figures(pb) -> PrecisionFigures:
    """QuantuneV2, uniform and greedy against brute force at BUDGETS, then the SWEEP (accuracies
    from brute force's measurements of every plan); wall times with a fresh cache per method."""
    top = pb.cost(pb.top)
    rows, picks = [], {}
    pb.cache, pb.evals = {}, 0
    brute = ps.brute_force(pb, None, limit=5000)
    every_plan = dict(pb.cache)                         # brute force measured every combination
    all_rows = [dict(plan=_fmt_plan(p), cost_fraction=c / top, accuracy=a) for c, a, p in brute.trace]
    low = pb.cost([pb.options[-1]] * len(pb.names)) / top
    budgets = [b for b in BUDGETS if b >= low]
    for b in budgets:
        best = ps.best_within(brute.trace, b * top)
        for name, fn in (("quantune", ps.quantune), ("uniform", ps.uniform), ("greedy", ps.greedy)):
            pb.cache, pb.evals = {}, 0
            r = fn(pb, b * top)
            picks[(name, b)] = r
            rows.append(dict(method=name, budget=b, plan=_fmt_plan(r.plan), cost_fraction=r.cost / top,
                             accuracy=r.accuracy, wall_s=r.seconds, evals=r.evals,
                             gap_vs_brute_pts=100 * (best[1] - r.accuracy)))
        rows.append(dict(method="brute", budget=b, plan=_fmt_plan(best[2]), cost_fraction=best[0] / top,
                         accuracy=best[1], wall_s=brute.seconds, evals=brute.evals, gap_vs_brute_pts=0.0))
        picks[("brute", b)] = best
    metrics = ps.layer_metrics(pb, 128)
    sweep = []
    for b in (x for x in SWEEP if x >= low):
        pb.cache = dict(every_plan)
        best = ps.best_within(brute.trace, b * top)
        q, g = ps.quantune(pb, b * top, metrics=metrics), ps.greedy(pb, b * top)
        opt = ps.exact_optimum(pb, b * top, metrics=metrics)
        sweep.append(dict(budget=b, brute=best[1], quantune=q.accuracy, quantune_gap_pts=100 * (best[1] - q.accuracy),
                          greedy=g.accuracy, greedy_gap_pts=100 * (best[1] - g.accuracy), milp=opt.accuracy,
                          quantune_gap_to_milp_pts=100 * (opt.accuracy - q.accuracy)))
    return PrecisionFigures(all_rows, rows, picks, brute, budgets, sweep)


@dataclass
class FamesFigures:
    """FAMES and NSGA-II on one base precision plan: the summary `row`, the chosen multiplier per
    layer (`chosen`), the plan, the one-layer sanity pairs (empty unless asked), the GA's
    evaluations and FAMES's point as (cost fraction, accuracy)."""
    row: dict
    chosen: list
    plan: dict
    pairs: list
    ga_pts: list
    point: tuple


def _ga_figures(ga, f_cost, f_acc, acc0):
    """(best GA accuracy within FAMES's cost, cheapest GA plan within 1 point, (GA time, GA
    evaluations) to the match: its first plan at FAMES's cost or lower with FAMES's accuracy or
    better; None if it never matched)."""
    within = [(c, a, chh) for _, chh, c, a in ga["log"] if c <= f_cost]
    ga_best = max(within, key=lambda t: (t[1], -t[0])) if within else None
    ok = [(c, a, chh) for _, chh, c, a in ga["log"] if (acc0 - a) * 100 <= 1.0]
    ga_cheap = min(ok) if ok else None
    match = next(((t, k + 1) for k, (t, chh, c, a) in enumerate(ga["log"]) if c <= f_cost and a >= f_acc), None)
    return ga_best, ga_cheap, match


def _sanity_pairs(names, cands, offsets, mats, est, acc, acc0) -> list:
    """Every plain (layer, multiplier) pair substituted alone: both estimate forms and the
    measured accuracy drop."""
    ind = loss_estimates(mats, cands, offsets, form="independent")
    pairs = []
    for n in names:
        for i, cfg in enumerate(cands[n]):
            if cfg.method == "exact" or offsets[n][i] is not None:
                continue
            c = tuple(i if m == n else 0 for m in names)
            pairs.append(dict(layer=n, mul=mul_spec(cfg), first=est[n][i][0], second=est[n][i][1],
                              estimate=est[n][i][2], estimate_independent=ind[n][i][2],
                              acc_drop_pts=100 * (acc0 - acc(c))))
    return pairs


def fames_figures(graph, xc, yc, xe, ye, base_plan, tag, quick, sanity, cost, model: str = "cnn",
                  ga_size: tuple | None = None, ga_start: str = "random") -> FamesFigures:
    """FAMES (timed: gradients, counting matrices, estimates, MCKP and its verifications), then
    NSGA-II on real accuracy with a fresh cache, on the same candidates of `base_plan`'s widths;
    ga_size: NSGA-II's (population, generations) [GA_SIZE[quick]]; ga_start: its initial
    population (`plan_search.nsga2`); model: the plan's model name."""
    base, cands, costs, offsets = mul_setup(graph, xc, base_plan, cost, bias_comp=True)
    names = list(cands)
    exact_cost = sum(costs[n][0] for n in names)
    macs = layer_macs(graph)

    def area_cut(choice):                       # against the cheapest exact units (by area)
        return 100 * (1 - sum(macs[n] * AREA[cands[n][i]] for n, i in zip(names, choice)) /
                      sum(macs[n] * AREA[exact_reference(a, w)] for n, (a, w) in zip(names, base_plan)))
    acc = mul_accuracy(base, cands, xe, ye, offsets)
    acc0 = acc(tuple(0 for _ in names))
    t0 = time.perf_counter()
    grads, _ = output_grads(graph, xc[:128], yc[:128])
    mats = count_matrices(base, xc[:128], grads)
    est = loss_estimates(mats, cands, offsets)
    t_est = time.perf_counter() - t0
    fr = fames_search(base, graph, xc[:128], yc[:128], cands, costs, acc, 1.0, est=est, offsets=offsets)
    t_fames = time.perf_counter() - t0
    ch = fr["choice"]
    f_cost = sum(costs[n][i] for n, i in zip(names, ch))
    f_acc = acc(ch)
    acc_ga = mul_accuracy(base, cands, xe, ye, offsets)
    pop, gens = ga_size or GA_SIZE[quick]
    t1 = time.perf_counter()
    ga = ps.nsga2([len(cands[n]) for n in names],
                  lambda c: (sum(costs[n][i] for n, i in zip(names, c)), acc_ga(c)), pop_size=pop,
                  generations=gens, seed=0, start=ga_start)
    t_ga = time.perf_counter() - t1
    ga_best, ga_cheap, match = _ga_figures(ga, f_cost, f_acc, acc0)
    plan = make_plan(model, graph, "fames", dict(max_loss_pts=1.0, base=tag, cost=cost),
                     [(a, w, mul_spec(cands[n][i]), offsets[n][i]) for n, (a, w), i in zip(names, base_plan, ch)],
                     dict(accuracy=f_acc, exact_accuracy=acc0, cost_cut_pct=100 * (1 - f_cost / exact_cost),
                          wall_time_s=round(t_fames, 3)))
    row = dict(model=model, base=tag, cost=cost, precisions=_fmt_plan(base_plan), exact_acc=acc0, fames_acc=f_acc,
               fames_cut_pct=100 * (1 - f_cost / exact_cost), fames_area_cut_pct=area_cut(ch),
               fames_s=t_fames, fames_est_s=t_est, fames_solve_s=fr["seconds"]["solve"],
               fames_verify_s=fr["seconds"]["verify"], fames_solves=fr["solves"],
               fames_evals=len(fr["verified"]) + 1, ga_evals=ga["evals"], ga_pop=pop, ga_generations=gens,
               ga_start=ga_start, ga_s=t_ga,
               ga_acc_at_fames_cost=None if ga_best is None else ga_best[1],
               ga_best_cut_pct_within_1pt=None if ga_cheap is None else 100 * (1 - ga_cheap[0] / exact_cost),
               ga_time_to_match_s=None if match is None else match[0],
               ga_evals_to_match=None if match is None else match[1],
               speedup_at_match=None if match is None else match[0] / t_fames,
               ga_run_over_fames=t_ga / t_fames, ga_over_fames_evals=ga["evals"] / (len(fr["verified"]) + 1))
    chosen = [dict(layer=n, a_bits=a, w_bits=w, mul=mul_spec(cands[n][i]), bias_comp=offsets[n][i] is not None,
                   cut_pct=100 * (1 - costs[n][i] / costs[n][0])) for n, (a, w), i in zip(names, base_plan, ch)]
    pairs = _sanity_pairs(names, cands, offsets, mats, est, acc, acc0) if sanity else []
    ga_pts = [(c / exact_cost, a) for _, _, c, a in ga["log"]]
    return FamesFigures(row, chosen, plan, pairs, ga_pts, (f_cost / exact_cost, f_acc))


def deep_fames_figures(model: str = DEEP_MODEL, ga_size: tuple = DEEP_GA_SIZE, cost: str = DEEP_COST,
                       precisions=PRECISIONS, ga_start: str = DEEP_GA_START) -> FamesFigures:
    """`fames_figures` on reference model `model` (default: the deep ResNet) from its QuantuneV2
    precision plan at budget 0.5 (tag "<model> q50"), NSGA-II of size ga_size from ga_start."""
    graph = reference_graph(model)
    xtr, ytr, xte, yte = model_data(model)
    xc, yc = xtr[:CAL_SAMPLES], ytr[:CAL_SAMPLES]
    a_bits, w_bits, _ = plan_widths(precision_plan("quantune", model, graph, xc, xte, yte, 0.5, precisions))
    return fames_figures(graph, xc, yc, xte, yte, list(zip(a_bits, w_bits)), f"{model} q50", False, sanity=False,
                         cost=cost, model=model, ga_size=ga_size, ga_start=ga_start)


def _layer_rho(pairs: list) -> list:
    """[{layer, pairs, rho_bias, rho_independent}] per layer, then "all"."""
    from scipy.stats import spearmanr
    out = []
    for layer in list(dict.fromkeys(p["layer"] for p in pairs)) + ["all"]:
        sel = [p for p in pairs if layer in ("all", p["layer"])]
        drop = [p["acc_drop_pts"] for p in sel]
        out.append(dict(layer=layer, pairs=len(sel),
                        rho_bias=spearmanr([p["estimate"] for p in sel], drop).statistic,
                        rho_independent=spearmanr([p["estimate_independent"] for p in sel], drop).statistic))
    return out


# The section text carries this phrase since the plans cost exact layers at the cheapest exact unit;
# `quantpe report` flags committed plans results without it as stale.
EXACT_REFERENCE_MARK = "the exact reference of the approximate-multiplier section"


def scaling_figures(quick: bool) -> tuple[list, np.ndarray]:
    """QuantuneV2's wall time on synthetic chains of growing depth (two precisions, 256
    calibration samples) and the least-squares line (seconds per parameter, offset)."""
    srows = []
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((256, 32))
    for d in DEPTHS[quick]:
        g = scaling_graph(d)
        spb = ps.Problem(g, xs, xs[:64], np.zeros(64, dtype=np.int64), ((8, 8), (4, 4)),
                         lambda a, w, s: float(a * w))
        t0 = time.perf_counter()
        ps.quantune(spb, 0.5 * spb.cost(spb.top))
        srows.append(dict(weight_layers=d + 1, params=sum(v.size for v in g.params().values()),
                          quantune_s=time.perf_counter() - t0))
    return srows, np.polyfit([r["params"] for r in srows], [r["quantune_s"] for r in srows], 1)


@dataclass
class PlansFigures:
    """Everything the plans section reports, as data (module docstring)."""
    quick: bool
    cost: str
    options: tuple
    n_layers: int
    precision: PrecisionFigures
    scaling: list
    fit: np.ndarray
    fames: dict                 # base tag -> FamesFigures
    sanity: list                # the q50 base's sanity pairs
    rho: object                 # their Spearman result (None below three pairs)
    layer_rho: list             # `_layer_rho` of the sanity pairs (empty below three pairs)
    deep: FamesFigures | None = None    # `deep_fames_figures` (None when quick)


def plans_figures(quick: bool = False) -> PlansFigures:
    """Run the study (module docstring) on the digits CNN."""
    from scipy.stats import spearmanr
    graph = reference_graph("cnn")
    xtr, ytr, xte, yte = model_data("cnn")
    xc, yc = xtr[:CAL_SAMPLES], ytr[:CAL_SAMPLES]
    precisions = ((8, 8), (4, 4)) if quick else ((8, 8), (8, 4), (4, 4), (2, 2))
    cost = "area" if quick else resolve_cost(None)           # of the multiplier selection
    pb = make_problem(graph, xc, xte, yte, precisions)
    prec = precision_figures(pb)
    srows, fit = scaling_figures(quick)
    bases = {"q50": prec.picks[("quantune", prec.budgets[-1])].plan}
    b2 = ps.best_within([t for t in prec.brute.trace if any(min(o) == 2 for o in t[2])], pb.cost(pb.top))
    if b2 is not None:
        bases["best2bit"] = b2[2]
    fames = {tag: fames_figures(graph, xc, yc, xte, yte, bp, tag, quick, sanity=(tag == "q50"), cost=cost)
             for tag, bp in bases.items()}
    scat = fames["q50"].pairs
    rho = spearmanr([p["estimate"] for p in scat], [p["acc_drop_pts"] for p in scat]) if len(scat) > 2 else None
    return PlansFigures(quick, cost, tuple(pb.options), len(pb.names), prec, srows, fit, fames, scat, rho,
                        _layer_rho(scat) if rho is not None else [], None if quick else deep_fames_figures())


def write_plans_data(fig: PlansFigures, out: Path) -> None:
    """The data files of the section (module docstring): CSVs, plan JSONs and plots."""
    prec = fig.precision
    write_text(out / "precision.csv", csv_text(prec.all_rows))
    write_text(out / "precision_methods.csv", csv_text(prec.rows))
    write_text(out / "precision_sweep.csv", csv_text(prec.sweep))
    plot_fronts(prec.all_rows, prec.rows, prec.budgets, out / "fronts.png")
    write_text(out / "scaling.csv", csv_text(fig.scaling))

    def draw_s(ax):
        ax.plot([r["params"] for r in fig.scaling], [r["quantune_s"] for r in fig.scaling], "o-",
                label="QuantuneV2 planner")
        ax.set_xlabel("model parameters (synthetic Linear+ReLU chains, width 32)")
        ax.set_ylabel("planner wall time (s), 2 precisions, 256 calibration samples")
        ax.legend(fontsize=7)
    _plot(out / "scaling.png", draw_s, "planner time vs model size (two inferences per precision + one sort)")
    for tag, f in fig.fames.items():
        write_plan(out / f"plan_fames_{tag}.json", f.plan)
    write_text(out / "fames.csv", csv_text(_fames_rows(fig)))
    scat = fig.sanity
    write_text(out / "sanity.csv", csv_text(scat))

    def draw_f(ax):
        ax.scatter([p["estimate"] for p in scat], [p["acc_drop_pts"] for p in scat], s=10)
        ax.set_xscale("symlog", linthresh=1e-4)
        ax.set_xlabel("FAMES estimated loss change |first| + second")
        ax.set_ylabel("measured accuracy drop (points), one layer substituted")
    if scat:
        _plot(out / "sanity.png", draw_f, f"every (layer, multiplier) pair: Spearman rho = {fig.rho.statistic:.3f}")
    cost_name = "energy" if fig.cost == "energy" else "area x MACs"

    def draw_g(ax):
        for tag, f in fig.fames.items():
            ax.scatter([100 * (1 - c) for c, _ in f.ga_pts], [100 * a for _, a in f.ga_pts], s=8, alpha=0.5,
                       label=f"NSGA-II evaluations ({tag})")
            ax.scatter([100 * (1 - f.point[0])], [100 * f.point[1]], marker="*", s=120, label=f"FAMES ({tag})")
        ax.set_xlabel(f"multiplier {cost_name} cut vs the same precisions with exact multipliers (%)")
        ax.set_ylabel("test accuracy % (bit-exact)")
        ax.legend(fontsize=7)
    _plot(out / "fames_front.png", draw_g, "approximate multipliers per layer: FAMES vs NSGA-II")
    if fig.deep is not None:
        write_deep_data(fig.deep, out)


def write_deep_data(d: FamesFigures, out: Path) -> None:
    """The deep entry's files: its FAMES plan (plan_fames_<model>.json) and deep_front.png."""
    write_plan(out / f"plan_fames_{DEEP_MODEL}.json", d.plan)

    def draw_d(ax):
        ax.scatter([100 * (1 - c) for c, _ in d.ga_pts], [100 * a for _, a in d.ga_pts], s=6, alpha=0.4,
                   label=f"NSGA-II evaluations ({d.row['ga_evals']})")
        ax.scatter([100 * (1 - d.point[0])], [100 * d.point[1]], marker="*", s=140, color="C3",
                   label=f"FAMES ({d.row['fames_evals']} evaluations)")
        ax.set_xlabel("multiplier area x MACs cut vs the same precisions with exact multipliers (%)")
        ax.set_ylabel("test accuracy % (bit-exact)")
        ax.legend(fontsize=7)
    _plot(out / "deep_front.png", draw_d, f"digits ResNet ({len(d.chosen)} weight layers): FAMES vs NSGA-II")


def _fames_rows(fig: PlansFigures) -> list:
    return [f.row for f in fig.fames.values()] + ([fig.deep.row] if fig.deep is not None else [])


def _precision_markdown(fig: PlansFigures) -> list[str]:
    rows, sweep, options = fig.precision.rows, fig.precision.sweep, fig.options
    lines = ["## Per-layer plans", "",
             "Digits CNN (5 weight layers), bit-exact integer inference, calibration on the first "
             f"{CAL_SAMPLES} training images, accuracy on the 360 test images. Cost of the precision plans = sum over "
             "layers of MACs x multiplier area (Yosys, built-in liberty): the stated area x MACs proxy of "
             "multiplier energy" + (" (the multiplier selection below minimises the energy flow's figures)"
                                     if fig.cost == "energy" else "") + "; every exact layer is costed at the cheapest exact unit of its widths "
             "(" + ", ".join(f"{a}x{w} {exact_reference(a, w).signed_form}" for a, w in options) + ": "
             f"{EXACT_REFERENCE_MARK}). Candidates per layer: " + ", ".join(f"{a}x{w}" for a, w in options) +
             f" (a_bits x w_bits); brute force = all {len(options) ** fig.n_layers} combinations.", "",
             "### QuantuneV2 local metrics vs accuracy-driven search", ""]
    lines += markdown_table(rows, ["method", "budget", "plan", "cost_fraction", "accuracy", "wall_s", "evals",
                                   "gap_vs_brute_pts"],
                            fmt={"accuracy": "{:.4f}".format, "cost_fraction": "{:.3f}".format,
                                 "wall_s": "{:.2f}".format, "gap_vs_brute_pts": "{:.2f}".format})
    qt = [r for r in rows if r["method"] == "quantune"]
    gr = {r["budget"]: r for r in rows if r["method"] == "greedy"}
    worst_gap = max(r["gap_vs_brute_pts"] for r in qt)
    ratio = min(gr[r["budget"]]["wall_s"] / r["wall_s"] for r in qt)
    lines += ["", f"QuantuneV2: largest gap to brute force {worst_gap:.2f} points (target <= 0.5: "
              f"{'met' if worst_gap <= 0.5 else 'NOT met'}); greedy / QuantuneV2 wall time >= {ratio:.1f}x "
              f"(target >= 10x: {'met' if ratio >= 10 else 'NOT met'}). Brute force: "
              f"{rows[3]['evals']} evaluations in {rows[3]['wall_s']:.0f} s.", "", "![fronts](plans/fronts.png)", ""]
    within = [r for r in sweep if r["quantune_gap_pts"] <= 0.5]
    worst = max(sweep, key=lambda r: r["quantune_gap_pts"])
    lines += [f"Budget sweep ({len(sweep)} budgets, {sweep[0]['budget']:.2f} to {sweep[-1]['budget']:.2f} of the "
              f"all-{options[0][0]}x{options[0][1]} cost; accuracies from the brute-force measurements): "
              f"QuantuneV2 within 0.5 points of brute force at {len(within)} of {len(sweep)} budgets, largest gap "
              f"{worst['quantune_gap_pts']:.2f} points at {worst['budget']:.2f} (brute force "
              f"{100 * worst['brute']:.1f}% there); greedy within 0.5 points at "
              f"{sum(r['greedy_gap_pts'] <= 0.5 for r in sweep)} of {len(sweep)}. `milp` = the exact optimum of "
              f"QuantuneV2's own objective (sum of the chosen pairs' sensitivity scores) within the budget, an "
              f"integer program (`plan_search.exact_optimum`), the reference where brute force is out of reach: "
              f"QuantuneV2 within 0.5 points of it at {sum(r['quantune_gap_to_milp_pts'] <= 0.5 for r in sweep)} "
              f"of {len(sweep)} budgets.", ""]
    lines += markdown_table(sweep, ["budget", "brute", "quantune", "quantune_gap_pts", "greedy", "greedy_gap_pts",
                                    "milp", "quantune_gap_to_milp_pts"],
                            fmt={"budget": "{:.2f}".format, "brute": "{:.4f}".format, "quantune": "{:.4f}".format,
                                 "greedy": "{:.4f}".format, "quantune_gap_pts": "{:.2f}".format,
                                 "greedy_gap_pts": "{:.2f}".format, "milp": "{:.4f}".format,
                                 "quantune_gap_to_milp_pts": "{:.2f}".format})
    return lines + [""]


def _scaling_markdown(fig: PlansFigures) -> list[str]:
    lines = ["### Planner time vs model size", ""]
    lines += markdown_table(fig.scaling, ["weight_layers", "params", "quantune_s"], fmt={"quantune_s": "{:.3f}".format})
    return lines + ["", f"Least-squares line: {fig.fit[0] * 1e6:.3f} s per million parameters + {fig.fit[1]:.3f} s.",
                    "", "![scaling](plans/scaling.png)", ""]


def _fames_intro(fig: PlansFigures) -> list[str]:
    cost_text = (f"multiplier energy per sample = sum over layers of MACs x pJ per multiplication of the "
                 f"layer's multiplier on {PAIRS} of the layer's own (activation, weight) code pairs (the energy "
                 f"flow: gate netlist, sky130_fd_sc_hd tt, 100 MHz, zero-delay toggles, checked against the golden "
                 f"model on every cycle), an exact layer at its lowest-energy exact form; `fames_cut_pct` and "
                 f"`cut_pct` are energy cuts, `fames_area_cut_pct` the same plan's area x MACs cut"
                 if fig.cost == "energy" else "multiplier area x MACs (the stated proxy)")
    pop, gens = GA_SIZE[fig.quick]
    return ["### FAMES multiplier selection vs NSGA-II (real accuracy)", "",
            "Base precisions: q50 = the QuantuneV2 plan at budget 0.5; best2bit = the most accurate "
            "brute-force precision plan that has a 2-bit (2x2) layer. Candidates: every signed "
            "multiplier of the layer's widths in the library (`sweep_variants`), exact included, and each "
            "approximate one once more with its bias compensation (its mean error over the layer's calibration "
            "activation codes, per output channel, folded into the layer's integer bias: `golden/bias_comp.py`; "
            "exact in the integer model, the same multiplier hardware). "
            f"Cost minimised by both methods: {cost_text}. "
            "FAMES: 32 loss budgets, geometric from the sum of the per-layer largest estimates down to the "
            "smallest positive estimate, bisected for the "
            "largest whose MCKP pick verifies within 1 point of the exact-multiplier model (one "
            "bit-exact accuracy per probe); the GA is pymoo NSGA-II on real accuracy "
            f"(population {pop}, {gens} generations). "
            "`speedup_at_match` = the GA's wall time until it first evaluates a plan at FAMES's cost or lower "
            "with FAMES's accuracy or better (`ga_time_to_match_s`) over FAMES's wall time (`fames_s`: "
            "gradients, counting matrices, estimates, MCKP and its verifications; the cost tables are inputs "
            "of both methods and not timed); empty: the GA never matched FAMES in its run, the ratio is then "
            "above `ga_run_over_fames` = the GA's whole run over FAMES's time.", ""]


_FAMES_FMT = {"exact_acc": "{:.4f}".format, "fames_acc": "{:.4f}".format, "fames_s": "{:.1f}".format,
              "fames_est_s": "{:.1f}".format, "fames_solve_s": "{:.1f}".format, "fames_verify_s": "{:.1f}".format,
              "ga_s": "{:.0f}".format, "ga_acc_at_fames_cost": _or_blank("{:.4f}"),
              "ga_best_cut_pct_within_1pt": _or_blank("{:.2f}"), "ga_time_to_match_s": _or_blank("{:.1f}"),
              "speedup_at_match": _or_blank("{:.1f}"), "ga_run_over_fames": "{:.1f}".format,
              "ga_over_fames_evals": "{:.0f}".format}


def _fames_markdown(fig: PlansFigures) -> list[str]:
    lines = _fames_intro(fig)
    lines += markdown_table([f.row for f in fig.fames.values()],
                            ["base", "precisions", "exact_acc", "fames_acc", "fames_cut_pct",
                             "fames_area_cut_pct", "fames_s", "fames_est_s", "fames_solve_s", "fames_verify_s",
                             "fames_evals", "ga_evals", "ga_s", "ga_acc_at_fames_cost",
                             "ga_best_cut_pct_within_1pt", "ga_time_to_match_s", "speedup_at_match",
                             "ga_run_over_fames"],
                            fmt=_FAMES_FMT)
    for tag, f in fig.fames.items():
        lines += ["", f"FAMES plan ({tag}):", ""]
        lines += markdown_table(f.chosen, ["layer", "a_bits", "w_bits", "mul", "bias_comp", "cut_pct"],
                                fmt={"cut_pct": "{:.1f}".format})
    scat, rho = fig.sanity, fig.rho
    if rho is not None:
        lines += ["", f"Sanity check over {len(scat)} (layer, multiplier) pairs on the q50 precisions (one layer "
                  f"substituted, plain multipliers): Spearman rank correlation of the estimate with the measured "
                  f"accuracy drop rho = {rho.statistic:.3f} (p = {rho.pvalue:.1e}); per layer, for the default "
                  f"estimate (second-order term = independent residual + the coherent shift of each channel, "
                  f"`golden/fames.py`) and the independent-error one:", ""]
        lines += markdown_table(fig.layer_rho, ["layer", "pairs", "rho_bias", "rho_independent"],
                                fmt={"rho_bias": "{:.3f}".format, "rho_independent": "{:.3f}".format})
        lines += ["", "![sanity](plans/sanity.png)"]
    return lines + ["", "![fames front](plans/fames_front.png)", ""]


def _deep_markdown(fig: PlansFigures) -> list[str]:
    d = fig.deep
    if d is None:
        return []
    r = d.row
    if r["speedup_at_match"] is not None:
        match = (f"the GA first matched FAMES (a plan at FAMES's cost or lower, FAMES's accuracy or better) after "
                 f"{r['ga_evals_to_match']} evaluations and {r['ga_time_to_match_s']:.0f} s: FAMES is "
                 f"{r['speedup_at_match']:.1f}x faster at the match, {r['ga_run_over_fames']:.1f}x over the GA's whole run")
    else:
        match = (f"the GA never matched FAMES in its run (its best accuracy within FAMES's cost: "
                 f"{_or_blank('{:.4f}')(r['ga_acc_at_fames_cost']) or 'none'}): the speed-up at the match is above "
                 f"the whole-run ratio, {r['ga_run_over_fames']:.1f}x")
    lines = ["### Deep network: FAMES vs NSGA-II on the digits ResNet", "",
             f"The digits ResNet (`golden/resnet.py`: {len(d.chosen)} weight layers, 24 depthwise-pointwise residual "
             f"blocks) at its QuantuneV2 precisions of budget 0.5 (exact multipliers: {r['exact_acc']:.4f}), the "
             f"candidates and the 1-point verification rule above, cost {r['cost']} "
             f"({'area x MACs' if r['cost'] == 'area' else 'energy'}); NSGA-II: population {r['ga_pop']}, "
             f"{r['ga_generations']} generations ({r['ga_evals']} distinct plans evaluated), "
             f"{_GA_START_TEXT[r['ga_start']]}. FAMES: "
             f"{r['fames_s']:.1f} s = estimate {r['fames_est_s']:.1f} s (gradients, counting matrices, estimates) + "
             f"solve {r['fames_solve_s']:.1f} s ({r['fames_solves']} MCKPs: the budgets the bisection visits) + verification {r['fames_verify_s']:.1f} s "
             f"({r['fames_evals']} bit-exact accuracies); the GA's run {r['ga_s']:.0f} s. FAMES: accuracy "
             f"{r['fames_acc']:.4f}, {r['fames_cut_pct']:.1f}% cost cut; {match}. The ratio's bound: GA evaluations / "
             f"FAMES evaluations = {r['ga_over_fames_evals']:.0f} (the speed-up a GA of this size can show at most "
             f"when one evaluation costs the same in both and FAMES's estimates and solves cost nothing).", ""]
    lines += markdown_table([r], ["base", "cost", "exact_acc", "fames_acc", "fames_cut_pct", "fames_s", "fames_est_s",
                                  "fames_solve_s", "fames_verify_s", "fames_evals", "ga_evals", "ga_s",
                                  "ga_acc_at_fames_cost", "ga_best_cut_pct_within_1pt", "ga_evals_to_match",
                                  "ga_time_to_match_s", "speedup_at_match", "ga_run_over_fames",
                                  "ga_over_fames_evals"], fmt=_FAMES_FMT)
    return lines + ["", "![deep front](plans/deep_front.png)", ""]


_GA_START_TEXT = {"random": "its first population uniform random choices",
                  "exact": "its first population the exact plan and one-layer substitutions of it "
                           "(`plan_search.exact_start`)"}


def plans_markdown(fig: PlansFigures) -> list[str]:
    """The markdown section lines of the figures (without the section's compute time)."""
    return _precision_markdown(fig) + _scaling_markdown(fig) + _fames_markdown(fig) + _deep_markdown(fig)


def plans_report(out_dir: Path, quick: bool = False) -> list[str]:
    """Write out_dir/plans/* (module docstring) and return the markdown section lines."""
    t_start = time.perf_counter()
    out = ensure_dir(Path(out_dir) / "plans")
    fig = plans_figures(quick)
    write_plans_data(fig, out)
    lines = plans_markdown(fig) + [f"Section computed in {time.perf_counter() - t_start:.0f} s.", ""]
    write_text(out / "section.md", "\n".join(lines) + "\n")
    return lines
