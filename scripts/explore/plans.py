"""Per-layer hardware plans for a model: the candidates and their costs (area x MACs, energy on
the layer's own operand pairs), the exact references, the plan file (read, check, write), and
`run_method` (QuantuneV2, FAMES, NSGA-II and the baselines of `quantpe.golden.plan_search`).

Reference models calibrate on the first CAL_SAMPLES training images and score on the test
split; file models use the given inputs and labels for both. Areas come from Yosys on the
built-in liberty (`quantpe.synth.flow`, cached; `AREA` holds this process's figures).
Imports: `quantpe.golden`, `quantpe.core`, `quantpe.synth`, `quantpe.explore`.
"""
from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np
from quantpe.core.jobs import parallel_map
from quantpe.core.limits import MAX_LOSS_POINTS
from quantpe.core.tables import csv_text, markdown_table
from quantpe.explore.approx_sweep import pick_reference, sweep_variants
from quantpe.explore.models import resolve_model
from quantpe.explore.plan_energy import PAIRS, layer_pairs, mul_energy_pj
from quantpe.golden import plan_search as ps
from quantpe.golden.approx import approx_mul
from quantpe.golden.approx_pe import ApproxPEConfig, parse_mul_spec
from quantpe.golden.approx_pe import mul_spec as spec_of
from quantpe.golden.atomic import staged_dir, write_text
from quantpe.golden.baseline import BaselineConfig
from quantpe.golden.bias_comp import layer_compensation, position_counts
from quantpe.golden.cnn import REFERENCE_MODELS, reference_graph
from quantpe.golden.errors import ConfigError, QuantpeError
from quantpe.golden.fames import fames_search
from quantpe.golden.graph_io import load_graph
from quantpe.golden.qgraph import build_qgraph
from quantpe.golden.onnx_io import import_onnx
from quantpe.golden.plan import (
    apply_plan,
    check_plan_model,
    layer_macs,
    make_plan,
    parse_plan,
    plan_text,
    plan_widths,
    validate_plan,
)
from quantpe.golden.plan_search import Problem
from quantpe.synth.flow import synth_many
from quantpe.synth.liberty import sky130_liberty

__all__ = ["PRECISIONS", "PRECISION_METHODS", "MUL_METHODS", "COSTS", "CAL_SAMPLES", "AREA", "PLAN_LANES",
           "prefetch_areas", "exact_reference", "mul_area", "candidates", "plan_area", "plan_designs", "plan_hardware",
           "plan_model", "plan_section", "make_problem", "plan_accuracy", "read_plan", "plan_graph", "load_plan",
           "write_plan", "resolve_cost", "layer_energy", "bias_offsets", "mul_setup", "mul_accuracy", "precision_plan",
           "run_method"]


PRECISIONS = ((8, 8), (8, 4), (4, 4), (2, 2))


PRECISION_METHODS = ("quantune", "uniform", "greedy", "brute", "milp")


MUL_METHODS = ("fames", "nsga2")


COSTS = ("energy", "area")


CAL_SAMPLES = 512


# ------------------------------------------------------------------ costs
@functools.cache
def _mul_cfg(a_bits: int, w_bits: int, spec: str):
    return parse_mul_spec(spec, a_bits, w_bits, True)


AREA: dict = {}


def prefetch_areas(cfgs) -> None:
    """Synthesise (in parallel, cached by the flow) every multiplier config not yet known."""
    todo = [c for c in dict.fromkeys(cfgs) if c not in AREA]
    for c, r in zip(todo, synth_many(todo, desc="multipliers") if todo else []):
        AREA[c] = float(r["area_um2"])


def _is_exact(cfg) -> bool:
    """Every input pair gives the exact product (any signed form, no approximate compressor)."""
    return cfg.method == "exact" and not cfg.compressor


@functools.cache
def exact_reference(a_bits: int, w_bits: int):
    """The cheapest exact signed a_bits x w_bits form of the library (sign-magnitude, Baugh-Wooley,
    Booth): the one exact candidate, and the area every exact layer is costed at."""
    exact = [c for c in sweep_variants(a_bits, w_bits, True) if _is_exact(c)]
    prefetch_areas(exact)
    form, _ = pick_reference({c.signed_form: AREA[c] for c in exact})     # the approxmul section's rule
    return next(c for c in exact if c.signed_form == form)


def mul_area(a_bits: int, w_bits: int, spec: str = "exact") -> float:
    """µm² of the signed a_bits x w_bits multiplier `spec` (Yosys, built-in liberty, cached); an exact
    spec, in any form, costs the area of `exact_reference` (the same product)."""
    if not (2 <= a_bits <= 8 and 2 <= w_bits <= 8):
        raise ConfigError(f"no multiplier area for {a_bits}x{w_bits} bits: the library has 2..8-bit operands")
    cfg = _mul_cfg(a_bits, w_bits, spec)
    if _is_exact(cfg):
        cfg = exact_reference(a_bits, w_bits)
    if cfg not in AREA:
        prefetch_areas([cfg])
    return AREA[cfg]


def candidates(a_bits: int, w_bits: int) -> list:
    """The library's signed a_bits x w_bits multipliers: `exact_reference` first, then every
    approximate one (the other exact forms, the same product at a larger area, are left out)."""
    return [exact_reference(a_bits, w_bits)] + [c for c in sweep_variants(a_bits, w_bits, True)
                                                 if not _is_exact(c)]


def plan_area(plan: dict) -> dict:
    """Per-layer and total area x MACs of a plan: dict(layers=[{name, a_bits, w_bits, mul, macs,
    area_um2, area_x_macs}], total_area_x_macs, exact_area_x_macs) (exact: same widths, exact
    multipliers)."""
    validate_plan(plan)
    rows, tot, ex = [], 0.0, 0.0
    for e, spec in zip(plan["layers"], plan_widths(plan)[2]):
        area = mul_area(e["a_bits"], e["w_bits"], spec)
        exact = mul_area(e["a_bits"], e["w_bits"], "exact")
        rows.append(dict(name=e["name"], a_bits=e["a_bits"], w_bits=e["w_bits"], mul=spec, macs=e["macs"],
                         area_um2=area, area_x_macs=area * e["macs"]))
        tot += area * e["macs"]
        ex += exact * e["macs"]
    return dict(layers=rows, total_area_x_macs=tot, exact_area_x_macs=ex)


# ------------------------------------------------------------------ plan -> hardware
PLAN_LANES = 16


def plan_designs(plan: dict, lanes: int | None = None) -> list:
    """[(layer name, PE DesignConfig)] of a validated plan: one `lanes`-lane dot-product PE per
    layer with the layer's signed a_bits x w_bits operands: kind baseline (exact products) or
    approxpe (the layer's multiplier in every lane); the accumulator is 32 bits, or wider when the
    lane sum needs it. Layers with equal rows share one design (equal config ids)."""
    validate_plan(plan)
    lanes = PLAN_LANES if lanes is None else lanes
    out = []
    for e in plan["layers"]:
        acc = max(32, e["a_bits"] + e["w_bits"] + (lanes - 1).bit_length())
        if e["kind"] == "baseline":
            cfg = BaselineConfig(lanes=lanes, a_bits=e["a_bits"], w_bits=e["w_bits"], acc_bits=acc)
        else:
            cfg = ApproxPEConfig(lanes=lanes, a_bits=e["a_bits"], w_bits=e["w_bits"], signed=True,
                                 acc_bits=acc, mul=e["config"]["mul"])
        out.append((e["name"], cfg))
    return out


def plan_hardware(plan: dict, lanes: int | None = None) -> dict:
    """Per-layer and total hardware figures of a plan: the PE's Yosys area (built-in liberty,
    cached), the multiplier area x MACs (the stated energy proxy), and cycles per sample on one
    PE (MACs / lanes, rounded up per layer)."""
    lanes = PLAN_LANES if lanes is None else lanes
    designs = plan_designs(plan, lanes)
    unique = list(dict.fromkeys(cfg for _, cfg in designs))
    areas = dict(zip(unique, (r["area_um2"] for r in synth_many(unique, desc="plan PEs"))))
    mul = {r["name"]: r for r in plan_area(plan)["layers"]}
    rows = []
    for (name, cfg), e in zip(designs, plan["layers"]):
        rows.append(dict(layer=name, a_bits=e["a_bits"], w_bits=e["w_bits"], kind=cfg.kind,
                         mul=mul[name]["mul"], design=cfg.config_id, pe_area_um2=areas[cfg], macs=e["macs"],
                         cycles=-(-e["macs"] // lanes), mul_area_um2=mul[name]["area_um2"],
                         mul_area_x_macs=mul[name]["area_x_macs"]))
    return dict(lanes=lanes, layers=rows,
                total=dict(pe_area_um2=sum(areas.values()), designs=len(unique),
                           macs=sum(r["macs"] for r in rows), cycles=sum(r["cycles"] for r in rows),
                           mul_area_x_macs=sum(r["mul_area_x_macs"] for r in rows)))


def plan_model(plan: dict, model: str | None = None, inputs=None, labels=None):
    """The model a plan was made for, checked: --model, else the plan's own reference model.
    Returns (name, graph, x_cal, y_cal, x_eval, y_eval)."""
    spec = model if model is not None else plan["model"]["name"]
    if model is None and spec not in REFERENCE_MODELS:
        raise ConfigError(f"plan is for model {spec!r}, not a reference model: give it with --model FILE "
                          f"(and --model-inputs/--model-labels)")
    m = _model(spec, inputs, labels)
    check_plan_model(plan, m[1])
    return m


def plan_section(out_dir: Path, plan: dict, model: str | None = None, inputs=None, labels=None) -> list:
    """`quantpe report --plan`: the plan's hardware (`plan_hardware`) and the model's bit-exact
    accuracy under it (and with exact multipliers at the same widths, and all-INT8); writes
    out_dir/plan/{plan.json, layers.csv, summary.json} and out_dir/plan.md; returns its lines."""
    import json

    name, graph, xc, _, xe, ye = plan_model(plan, model, inputs, labels)
    hw = plan_hardware(plan)
    a_bits, w_bits, specs = plan_widths(plan)
    exact_q = build_qgraph(graph, xc, w_bits=w_bits, a_bits=a_bits)
    acc = dict(plan=apply_plan(graph, plan, xc).accuracy(xe, ye), exact_multipliers=exact_q.accuracy(xe, ye),
               int8=build_qgraph(graph, xc).accuracy(xe, ye), float=graph.accuracy(xe, ye))
    exact = plan_area(plan)["exact_area_x_macs"]
    cut = 100 * (1 - hw["total"]["mul_area_x_macs"] / exact) if exact else 0.0
    cols = ["layer", "a_bits", "w_bits", "kind", "mul", "macs", "cycles", "pe_area_um2", "mul_area_um2",
            "mul_area_x_macs", "design"]
    t = hw["total"]
    energy_line = ("No sky130 liberty (../shared/pdk or $QUANTPE_SKY130_LIB): no multiplier energy, area x MACs "
                   "is the stated proxy.")
    if sky130_liberty() is not None:
        e = layer_energy(exact_q, xc, {r["layer"]: [] if r["kind"] == "baseline" else [_mul_cfg(a, w, sp)]
                                       for r, a, w, sp in zip(hw["layers"], a_bits, w_bits, specs)})
        for r in hw["layers"]:                   # a baseline layer: the lowest-energy exact form
            r["exact_mul_pj"] = e[r["layer"]]["exact_pj"]
            r["mul_pj"] = (e[r["layer"]]["pj"] or [r["exact_mul_pj"]])[0]
            r["mul_energy_pj"] = r["macs"] * r["mul_pj"]
        t["mul_energy_pj"] = sum(r["mul_energy_pj"] for r in hw["layers"])
        t["exact_mul_energy_pj"] = sum(r["macs"] * r["exact_mul_pj"] for r in hw["layers"])
        delta = 100 * (t["mul_energy_pj"] / t["exact_mul_energy_pj"] - 1)
        cols[-1:-1] = ["mul_pj", "exact_mul_pj", "mul_energy_pj"]
        energy_line = (f"Multiplier energy {t['mul_energy_pj'] / 1e3:,.4g} nJ per sample, {delta:+.1f}% against "
                       f"the lowest-energy exact multipliers of the same widths: per layer MACs x pJ per "
                       f"multiplication on {PAIRS} of the layer's own operand pairs (gate netlist, sky130 tt, "
                       f"100 MHz, zero-delay toggles checked against the golden model).")
    md = [f"## Plan: {plan['method']['name']} for model {name}", "",
          f"Bit-exact accuracy on {len(ye)} samples: plan {acc['plan']:.4f}; same widths with exact "
          f"multipliers {acc['exact_multipliers']:.4f}; all INT8 {acc['int8']:.4f}; float {acc['float']:.4f}.", "",
          f"One {hw['lanes']}-lane PE per layer (signed operands): {t['designs']} distinct designs, "
          f"{t['pe_area_um2']:,.1f} µm² in all (Yosys, built-in liberty); {t['cycles']:,} cycles per sample "
          f"(MACs / lanes); multiplier area x MACs {t['mul_area_x_macs']:,.4g} µm²·MAC, {cut:.1f}% below exact "
          f"multipliers of the same widths.", "", energy_line, "",
          *markdown_table(hw["layers"], cols, fmt={"pe_area_um2": lambda v: f"{v:,.1f}",
                                                   "mul_pj": lambda v: f"{v:.4f}",
                                                   "exact_mul_pj": lambda v: f"{v:.4f}",
                                                   "mul_energy_pj": lambda v: f"{v:,.4g}",
                                                   "mul_area_um2": lambda v: f"{v:,.1f}",
                                                   "mul_area_x_macs": lambda v: f"{v:,.4g}",
                                                   "macs": lambda v: f"{v:,}", "cycles": lambda v: f"{v:,}"}), ""]
    summary = dict(model=name, method=plan["method"], accuracy=acc, hardware=hw, mul_cut_pct=cut)
    with staged_dir(Path(out_dir)) as stage:
        write_text(stage / "plan" / "plan.json", json.dumps(plan, indent=1, sort_keys=True) + "\n")
        write_text(stage / "plan" / "layers.csv", csv_text(hw["layers"], cols))
        write_text(stage / "plan" / "summary.json", json.dumps(summary, indent=1, default=float) + "\n")
        write_text(stage / "plan.md", "\n".join(md) + "\n")
    return md


# ------------------------------------------------------------------ models
def _model(spec: str, inputs=None, labels=None):
    name, graph, xc, yc, xe, ye = resolve_model(spec, inputs, labels)
    if yc is None:                     # no labels: accuracy = top-1 agreement with the float model
        yc = ye = graph.predict(xe)
    return name, graph, np.asarray(xc)[:CAL_SAMPLES], np.asarray(yc)[:CAL_SAMPLES], xe, ye


def make_problem(graph, x_cal, x_eval, y_eval, precisions=PRECISIONS):
    for a, w in precisions:
        exact_reference(a, w)
    return Problem(graph, x_cal, x_eval, y_eval, tuple(precisions), mul_area)


def plan_accuracy(plan: dict, model: str = "cnn", inputs=None, labels=None) -> float:
    """Bit-exact accuracy of `model` under `plan` (calibration and scoring as `quantpe plan`)."""
    _, graph, xc, _, xe, ye = _model(model, inputs, labels)
    return apply_plan(graph, plan, xc).accuracy(xe, ye)


def read_plan(path: Path, graph=None) -> dict:
    """The plan in `path`, validated (and checked against `graph` when given); see `load_plan`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"plan file {path} not found" if not path.exists() else f"plan {path} is not a file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"plan {path} is not UTF-8 text") from None
    except OSError as e:
        raise ConfigError(f"cannot read plan {path}: {e.strerror or e}") from None
    return parse_plan(text, graph)


def plan_graph(plan: dict, model: str | None = None):
    """The float graph of the model a plan is for: `model` (a reference name, a .npz from
    `model import` or an .onnx file), else the plan's own reference model."""
    spec = model if model is not None else plan["model"]["name"]
    if spec in REFERENCE_MODELS:
        return reference_graph(spec)
    if model is None:
        raise ConfigError(f"plan is for model {spec!r}, not a reference model: give it with --model FILE")
    path = Path(spec)
    if not path.is_file():
        raise QuantpeError(f"model file {path} not found")
    if path.suffix == ".npz":
        return load_graph(path)[0]
    if path.suffix == ".onnx":
        return import_onnx(path)
    raise QuantpeError(f"--model must be {', '.join(REFERENCE_MODELS)}, a .npz or an .onnx file, got {spec!r}")


def load_plan(path: Path, model: str | None = None) -> dict:
    """The one plan validator of every command that takes a plan (generate, synth, report
    --plan; plan --base): the file read and validated (`golden.plan.validate_plan`) and checked
    against its model (`plan_graph`: hash, layer count and names, `check_plan_model`)."""
    plan = read_plan(path)
    check_plan_model(plan, plan_graph(plan, model))
    return plan


def write_plan(path: Path, plan: dict) -> Path:
    validate_plan(plan)
    return write_text(Path(path), plan_text(plan))


# ------------------------------------------------------------------ methods
def resolve_cost(cost: str | None) -> str:
    """The multiplier cost of the multiplier methods: "energy" (the energy flow, `plan_energy`) or
    "area" (area x MACs); None: energy when the sky130 liberty is there, else area."""
    if cost is None:
        return "energy" if sky130_liberty() is not None else "area"
    if cost not in COSTS:
        raise ConfigError(f"--cost must be one of {', '.join(COSTS)}, got {cost!r}")
    if cost == "energy" and sky130_liberty() is None:
        raise ConfigError("--cost energy needs the sky130_fd_sc_hd liberty (../shared/pdk or $QUANTPE_SKY130_LIB)")
    return cost


def layer_energy(base, x_cal, specs: dict, netlists: dict | None = None) -> dict:
    """{layer: dict(pj=[pJ per multiplication of each cfg of specs[layer]], exact=the lowest-energy
    exact form of the layer's widths, exact_pj=its pJ)}, all on the layer's own operand pairs
    (`plan_energy`); netlists: counts of gate netlists built and reused (`mul_energy_pj`)."""
    jobs, index, forms = [], {}, {}
    vals = base.capture(x_cal)
    for n, cfgs in specs.items():
        lay = base.layer(n)
        a, w = layer_pairs(base, x_cal, n, capture=vals)
        forms[n] = [c for c in sweep_variants(lay.in_bits, lay.weight.bits, True) if _is_exact(c)]
        for c in dict.fromkeys(forms[n] + list(cfgs)):
            index[(n, c)] = len(jobs)
            jobs.append((c, a, w))
    pj = mul_energy_pj(jobs, netlists=netlists)
    out = {}
    for n, cfgs in specs.items():
        exact = min(forms[n], key=lambda c: pj[index[(n, c)]])
        out[n] = dict(pj=[pj[index[(n, c)]] for c in cfgs], exact=exact, exact_pj=pj[index[(n, exact)]])
    return out


def bias_offsets(base, x_cal, cands: dict) -> dict:
    """{layer: [(O,) int64 bias offsets of each candidate]}: the compensation of each multiplier's
    mean error over the layer's calibration activation codes (`golden.bias_comp`)."""
    vals = base.capture(x_cal)
    out = {}
    for n, cfgs in cands.items():
        lay = base.layer(n)
        counts = position_counts(lay, vals[lay.inputs[0]])
        out[n] = [layer_compensation(lay, counts, c) for c in cfgs]
    return out


def mul_setup(graph, x_cal, precisions_plan: list, cost: str = "area", bias_comp: bool = False,
              netlists: dict | None = None):
    """(exact mixed QGraph, candidates {layer: [cfg]}, costs {layer: [MACs x area (µm²) or MACs x
    energy per multiplication (pJ)]}, offsets {layer: [None or (O,) bias offsets]} or None).
    bias_comp: every approximate candidate whose compensation is not zero also appears once more
    with its bias offsets (same cost: the offsets change bias constants only). netlists: the
    energy cost's counts of gate netlists built and reused (`mul_energy_pj`)."""
    names, macs = graph.weight_layers, layer_macs(graph)
    base = build_qgraph(graph, x_cal, w_bits=[w for _, w in precisions_plan],
                        a_bits=[a for a, _ in precisions_plan])
    cands = {n: candidates(a, w) for n, (a, w) in zip(names, precisions_plan)}
    prefetch_areas([c for v in cands.values() for c in v])
    if cost == "energy":                         # the exact candidate: the lowest-energy exact form
        e = layer_energy(base, x_cal, {n: cands[n][1:] for n in names}, netlists)
        cands = {n: [e[n]["exact"]] + cands[n][1:] for n in names}
        costs = {n: [macs[n] * v for v in [e[n]["exact_pj"]] + e[n]["pj"]] for n in names}
    else:
        costs = {n: [macs[n] * AREA[c] for c in cands[n]] for n in names}
    if not bias_comp:
        return base, cands, costs, None
    offs = bias_offsets(base, x_cal, {n: cands[n][1:] for n in names})
    offsets = {}
    for n in names:
        extra = [i for i, o in enumerate(offs[n], start=1) if np.any(o)]
        offsets[n] = [None] * len(cands[n]) + [offs[n][i - 1] for i in extra]
        costs[n] = costs[n] + [costs[n][i] for i in extra]
        cands[n] = cands[n] + [cands[n][i] for i in extra]
    return base, cands, costs, offsets


def mul_accuracy(base, cands, x, y, offsets: dict | None = None):
    """acc(choice) -> bit-exact accuracy of `base` with the chosen multipliers (and their bias
    offsets, `mul_setup`; cached per choice); acc.many(choices) evaluates the uncached ones through
    the executor (`parallel_map`)."""
    names = list(cands)
    per = [cands[n] for n in names]
    offs = [None if offsets is None else offsets[n] for n in names]
    cache = {}

    def acc(choice):
        if choice not in cache:
            cache[choice] = _choice_accuracy((base, names, per, offs, x, y, choice))
        return cache[choice]

    def many(choices):
        todo = [c for c in dict.fromkeys(choices) if c not in cache]
        for c, a in zip(todo, parallel_map(_choice_accuracy, [(base, names, per, offs, x, y, c) for c in todo],
                                           desc="GA population") if todo else []):
            cache[c] = a
        return [cache[c] for c in choices]
    acc.many = many
    return acc


def _choice_accuracy(job) -> float:
    """Accuracy of one choice (module level: a job of the executor)."""
    base, names, per_layer, offsets, x, y, choice = job
    q = base
    for n, opts, offs, i in zip(names, per_layer, offsets, choice):
        if opts[i].method != "exact":
            q = q.with_mul(approx_mul(opts[i]), [n])
        if offs is not None and offs[i] is not None:
            q = q.with_bias_offsets(n, offs[i])
    return q.accuracy(x, y)


def precision_plan(method: str, name: str, graph, x_cal, x_eval, y_eval, budget: float = 0.5,
                   precisions=PRECISIONS) -> dict:
    """The validated plan of precision method `method` (PRECISION_METHODS) on a model in memory:
    calibration on x_cal, accuracy on (x_eval, y_eval), cost ceiling `budget` x the cost of the
    all-first-precision plan (a fraction in (0, 1], ConfigError otherwise)."""
    if method not in PRECISION_METHODS:
        raise ConfigError(f"precision method must be one of {', '.join(PRECISION_METHODS)}, got {method!r}")
    if not 0 < budget <= 1:
        raise ConfigError(f"--budget for {method} is a cost fraction in (0, 1], got {budget}")
    pb = make_problem(graph, x_cal, x_eval, y_eval, precisions)
    fn = {"quantune": ps.quantune, "uniform": ps.uniform, "greedy": ps.greedy,
          "brute": ps.brute_force, "milp": ps.exact_optimum}[method]
    r = fn(pb, budget * pb.cost(pb.top))
    layers = [(a, w, "exact") for a, w in r.plan]
    settings = dict(budget_fraction=budget, precisions=[f"{a}x{w}" for a, w in pb.options],
                    calibration_samples=len(x_cal))
    metrics = dict(accuracy=r.accuracy, cost_area_x_macs=r.cost, cost_fraction=r.cost / pb.cost(pb.top),
                   wall_time_s=round(r.seconds, 3), accuracy_evals=r.evals)
    return make_plan(name, graph, method, settings, layers, metrics)


def run_method(method: str, model: str = "cnn", budget: float | None = None, inputs=None, labels=None,
               precisions=PRECISIONS, base_plan: dict | None = None, precision_budget: float = 0.5,
               generations: int = 10, pop_size: int = 20, seed: int = 0, cost: str | None = None,
               bias_comp: bool = True, ga_start: str = "random") -> dict:
    """Run one planning method and return the validated plan (metrics: accuracy, cost, time).
    ga_start: nsga2's initial population (`plan_search.nsga2`'s start).
    cost: the multiplier methods' cost (`resolve_cost`); the precision methods cost area x MACs.
    bias_comp: the multiplier methods also consider each approximate multiplier with its bias
    compensation (`mul_setup`).
    Long: one branch per method, sharing the model setup."""
    name, graph, xc, yc, xe, ye = _model(model, inputs, labels)
    if method in PRECISION_METHODS:
        if cost not in (None, "area"):
            raise ConfigError(f"--cost {cost}: the precision methods cost area x MACs (energy is for fames and nsga2)")
        return precision_plan(method, name, graph, xc, xe, ye, 0.5 if budget is None else float(budget),
                              precisions)
    if method not in MUL_METHODS:
        raise ConfigError(f"--method must be one of {', '.join(PRECISION_METHODS + MUL_METHODS)}, got {method!r}")
    budget = 1.0 if budget is None else float(budget)
    if not 0 <= budget <= MAX_LOSS_POINTS:                    # NaN too
        raise ConfigError(f"--budget for {method} is an accuracy loss in points in [0, {MAX_LOSS_POINTS:g}], "
                          f"got {budget}")
    cost = resolve_cost(cost)
    if base_plan is None:
        base_plan = run_method("quantune", model, precision_budget, inputs, labels, precisions)
    a_bits, w_bits, _ = plan_widths(base_plan)
    prec = list(zip(a_bits, w_bits))
    netlists = {"built": 0, "reused": 0}
    base, cands, costs, offsets = mul_setup(graph, xc, prec, cost, bias_comp, netlists)
    acc = mul_accuracy(base, cands, xe, ye, offsets)
    names = list(cands)
    t0 = time.perf_counter()
    if method == "fames":
        r = fames_search(base, graph, xc[:128], yc[:128], cands, costs, acc, budget, offsets=offsets)
        choice, evals = r["choice"], len(r["verified"]) + 1
    else:
        acc0 = acc(tuple(0 for _ in names))
        cost_of = lambda c: sum(costs[n][i] for n, i in zip(names, c))          # noqa: E731
        res = ps.nsga2([len(cands[n]) for n in names], lambda c: (cost_of(c), acc(c)),
                       pop_size=pop_size, generations=generations, seed=seed, start=ga_start,
                       evaluate_many=lambda cs: list(zip(map(cost_of, cs), acc.many(cs))))
        ok = [(c, a, ch) for _, ch, c, a in res["log"] if (acc0 - a) * 100 <= budget]
        choice = min(ok)[2] if ok else tuple(0 for _ in names)
        evals = res["evals"]
    dt = time.perf_counter() - t0
    layers = [(a, w, spec_of(cands[n][i]), None if offsets is None else offsets[n][i])
              for n, (a, w), i in zip(names, prec, choice)]
    total = sum(costs[n][i] for n, i in zip(names, choice))
    exact_cost = sum(costs[n][0] for n in names)
    macs = layer_macs(graph)
    area = sum(macs[n] * AREA[cands[n][i]] for n, i in zip(names, choice))
    exact_area = sum(macs[n] * AREA[exact_reference(a, w)] for n, (a, w) in zip(names, prec))
    settings = dict(max_loss_pts=budget, base_method=base_plan["method"]["name"], cost=cost, bias_comp=bias_comp,
                    calibration_samples=len(xc), **({"generations": generations, "pop_size": pop_size,
                                                      "seed": seed, "ga_start": ga_start}
                                                     if method == "nsga2" else {}))
    metrics = dict(accuracy=acc(choice), exact_accuracy=acc(tuple(0 for _ in names)),
                   cost_area_x_macs=area, exact_cost_area_x_macs=exact_area,
                   cost_cut_pct=100 * (1 - total / exact_cost), wall_time_s=round(dt, 3), accuracy_evals=evals)
    if cost == "energy":
        metrics.update(mul_energy_pj=total, exact_mul_energy_pj=exact_cost,
                       netlists_built=netlists["built"], netlists_reused=netlists["reused"])
    return make_plan(name, graph, method, settings, layers, metrics)
