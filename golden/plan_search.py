"""Per-layer precision search on a model: the QuantuneV2-style planner and its baselines.

A `Problem` is a float graph, a calibration batch (scales; the two inferences of QuantuneV2), an
evaluation set (real bit-exact accuracy for the searches), per-layer MACs and a cost per
multiplication `mul_area(a_bits, w_bits, spec)` (µm² of that multiplier; cost of a plan =
sum over layers of MACs x area: the stated area x MACs proxy of energy). Candidates: a list of
(a_bits, w_bits) options per layer, the same for every layer; a budget is a cost ceiling.

QuantuneV2 (`quantune`), papers.md §4 interpretation:
- one float inference of the calibration batch and one quantized inference per candidate
  precision p (the whole model at p); per layer l and p: weight MSE / SQNR (lowered W against
  its dequantized codes), output activation MSE / SQNR (the float tensor the layer's output
  scale is calibrated on against the dequantized integer output), and the SQNR drop
  SQNR(input activation) - SQNR(output activation) (the noise layer l adds itself);
- score(l, p) = mean over the five metrics of the rank of (l, p) among all pairs, scaled to
  [0, 1], oriented so that high = sensitive (high MSE, low SQNR, large drop);
- one sort of the pairs (l, p) with p cheaper than the top option by score, ascending; walking it
  from the top-precision plan, layer l moves to p when p is cheaper than its current option,
  until the cost is within the budget; then one pass over the layers, most sensitive current
  choice first, moves each back up to the most precise option the budget still allows (the
  walk's last step may overshoot). O(layers x options) after the inferences.
Baselines on the same candidates and budget: `uniform` (best single precision within budget),
`greedy` (accuracy-greedy: from the top plan, each step measures every layer moved one option
down and keeps the best real accuracy, ties to the larger saving; the NEST-C/Glow style
leave-one-layer-out loop), `brute_force` (every combination, best accuracy within budget), and
`exact_optimum`: the exact minimum of QuantuneV2's objective (the sum of the chosen pairs' scores)
within the budget, an integer program, the reference where brute force is out of reach.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import numpy as np

from .errors import QuantpeError
from .fames import select_mckp
from quantpe.golden.qgraph import QGraph, build_qgraph, fused_clip
from quantpe.golden.graph import Graph
from .plan import layer_macs
from .qerror import mse_sqnr

__all__ = ["Problem", "layer_metrics", "sensitivity_scores", "quantune", "uniform", "greedy",
           "brute_force", "exact_optimum", "SearchResult", "METRICS"]

# (metric, +1 if a higher value means more sensitive)
METRICS = (("w_mse", 1), ("w_sqnr", -1), ("out_mse", 1), ("out_sqnr", -1), ("sqnr_drop", 1))


@dataclass
class Problem:
    graph: Graph
    x_cal: np.ndarray
    x_eval: np.ndarray
    y_eval: np.ndarray
    options: tuple                      # ((a_bits, w_bits), ...) most expensive first
    mul_area: object                    # (a_bits, w_bits, spec) -> µm²
    floats: dict = field(default=None, repr=False)
    cache: dict = field(default_factory=dict, repr=False)
    evals: int = 0

    def __post_init__(self):
        if not self.options:
            raise QuantpeError("need at least one precision option")
        if self.floats is None:
            self.floats = self.graph.forward(self.x_cal, capture=True)[1]
        self.names = self.graph.weight_layers
        self.macs = layer_macs(self.graph)
        self.options = tuple(sorted({tuple(o) for o in self.options}, key=lambda o: -self.unit(o)))

    def unit(self, opt, spec: str = "exact") -> float:
        return float(self.mul_area(opt[0], opt[1], spec))

    def cost(self, plan, specs=None) -> float:
        """area x MACs of per-layer options `plan` (multiplier specs: exact unless given)."""
        specs = specs or ["exact"] * len(plan)
        return float(sum(self.macs[n] * self.unit(o, s) for n, o, s in zip(self.names, plan, specs)))

    def qgraph(self, plan) -> QGraph:
        return build_qgraph(self.graph, self.x_cal, w_bits=[o[1] for o in plan], a_bits=[o[0] for o in plan],
                            float_capture=self.floats)

    def accuracy(self, plan) -> float:
        """Bit-exact accuracy on the evaluation set (cached per plan)."""
        key = tuple(map(tuple, plan))
        if key not in self.cache:
            self.evals += 1
            self.cache[key] = self.qgraph(plan).accuracy(self.x_eval, self.y_eval)
        return self.cache[key]

    @property
    def top(self) -> list:
        return [self.options[0]] * len(self.names)


@dataclass
class SearchResult:
    method: str
    plan: list                          # per layer (a_bits, w_bits)
    cost: float
    accuracy: float
    seconds: float
    evals: int                          # accuracy evaluations (bit-exact inferences of x_eval)
    trace: list = field(default_factory=list)   # [(cost, accuracy or None, plan)] visited plans


def _fused_source(graph: Graph, name: str) -> str:
    """The float tensor a requantizing node's scale is calibrated on (its fused Clip, if any)."""
    return graph.consumers(name)[0] if fused_clip(graph, name) is not None else name


def layer_metrics(pb: Problem, samples: int | None = None) -> dict:
    """{(layer, option): {metric: value}} from the float capture and one quantized inference of
    the calibration batch (its first `samples` images; scales from the whole batch) per option."""
    g, out = pb.graph, {}
    x = pb.x_cal[:samples]
    floats = {k: v[:samples] for k, v in pb.floats.items()}
    for opt in pb.options:
        q = pb.qgraph([opt] * len(pb.names))
        vals = q.capture(x)
        for n in pb.names:
            lay = q.layer(n)
            w = g.node(n).layer.lowered
            w_mse, w_sqnr = mse_sqnr(w, lay.weight.codes * lay.weight.scale)
            a_in = lay.input_codes(vals[lay.inputs[0]]) * lay.in_scale
            _, in_sqnr = mse_sqnr(floats[lay.inputs[0]], a_in)
            if lay.is_raw:
                y_hat = vals[n] * lay.acc_scale.reshape((-1,) + (1,) * (vals[n].ndim - 2))
                ref = floats[n]
            else:
                y_hat = vals[n] * lay.out_scale
                ref = floats[_fused_source(g, n)]
            o_mse, o_sqnr = mse_sqnr(ref, y_hat)
            out[(n, opt)] = dict(w_mse=w_mse, w_sqnr=w_sqnr, in_sqnr=in_sqnr, out_mse=o_mse,
                                 out_sqnr=o_sqnr, sqnr_drop=in_sqnr - o_sqnr)
        del q, vals                 # one option's capture alive at a time (the next one is as large)
    return out


def sensitivity_scores(metrics: dict) -> dict:
    """{(layer, option): score in [0, 1]}: mean rank-normalised metric (module docstring)."""
    keys = list(metrics)
    if len(keys) == 1:
        return {keys[0]: 0.5}
    total = np.zeros(len(keys))
    for m, sign in METRICS:
        v = np.array([sign * metrics[k][m] for k in keys], dtype=np.float64)
        v = np.nan_to_num(v, nan=0.0, posinf=1e300, neginf=-1e300)
        ranks = np.argsort(np.argsort(v, kind="stable"), kind="stable")
        total += ranks / (len(keys) - 1)
    return {k: float(s / len(METRICS)) for k, s in zip(keys, total)}


def _walk(pb: Problem, order, budget: float):
    plan = pb.top
    trace = [(pb.cost(plan), None, list(plan))]
    idx = {n: i for i, n in enumerate(pb.names)}
    for n, opt in order:
        if pb.cost(plan) <= budget:
            break
        i = idx[n]
        if pb.unit(opt) < pb.unit(plan[i]):
            plan[i] = opt
            trace.append((pb.cost(plan), None, list(plan)))
    return plan, trace


def quantune(pb: Problem, budget: float, metrics: dict | None = None, metric_samples: int = 128) -> SearchResult:
    """QuantuneV2-style plan within `budget` (module docstring); wall time includes the inferences
    (metrics given: they are reused and not timed). The final accuracy is measured once."""
    t0 = time.perf_counter()
    metrics = metrics or layer_metrics(pb, metric_samples)
    scores = sensitivity_scores(metrics)
    cheaper = [k for k in scores if pb.unit(k[1]) < pb.unit(pb.options[0])]
    order = sorted(cheaper, key=lambda k: (scores[k], -pb.unit(k[1])))
    plan, trace = _walk(pb, order, budget)
    for i in sorted(range(len(plan)), key=lambda i: -scores.get((pb.names[i], plan[i]), 0.0)):
        for opt in pb.options:                               # most precise first
            if pb.unit(opt) <= pb.unit(plan[i]):
                break
            cand = plan[:i] + [opt] + plan[i + 1:]
            if pb.cost(cand) <= budget:
                plan = cand
                trace.append((pb.cost(plan), None, list(plan)))
                break
    dt = time.perf_counter() - t0
    ev = pb.evals
    acc = pb.accuracy(plan)
    return SearchResult("quantune", plan, pb.cost(plan), acc, dt, pb.evals - ev, trace)


def uniform(pb: Problem, budget: float) -> SearchResult:
    t0, ev = time.perf_counter(), pb.evals
    best, trace = None, []
    for opt in pb.options:
        plan = [opt] * len(pb.names)
        c = pb.cost(plan)
        if c <= budget:
            a = pb.accuracy(plan)
            trace.append((c, a, plan))
            if best is None or a > best[1]:
                best = (plan, a)
    if best is None:
        plan = [pb.options[-1]] * len(pb.names)
        best = (plan, pb.accuracy(plan))
    return SearchResult("uniform", best[0], pb.cost(best[0]), best[1], time.perf_counter() - t0,
                        pb.evals - ev, trace)


def greedy(pb: Problem, budget: float) -> SearchResult:
    t0, ev = time.perf_counter(), pb.evals
    plan = pb.top
    trace = [(pb.cost(plan), pb.accuracy(plan), list(plan))]
    opts = list(pb.options)
    while pb.cost(plan) > budget:
        best = None
        for i in range(len(plan)):
            j = opts.index(plan[i])
            if j + 1 >= len(opts):
                continue
            cand = list(plan)
            cand[i] = opts[j + 1]
            key = (pb.accuracy(cand), pb.cost(plan) - pb.cost(cand))
            if best is None or key > best[0]:
                best = (key, cand)
        if best is None:
            break
        plan = best[1]
        trace.append((pb.cost(plan), best[0][0], list(plan)))
    return SearchResult("greedy", plan, pb.cost(plan), pb.accuracy(plan), time.perf_counter() - t0,
                        pb.evals - ev, trace)


def brute_force(pb: Problem, budget: float | None = None, limit: int = 5000) -> SearchResult:
    """Every combination (QuantpeError above `limit`); budget None evaluates all of them (the
    front); the result is the best accuracy within the budget (ties: lower cost)."""
    n = len(pb.options) ** len(pb.names)
    if n > limit:
        raise QuantpeError(f"brute force needs {n} evaluations (> {limit})")
    t0, ev = time.perf_counter(), pb.evals
    trace, best = [], None
    for plan in itertools.product(pb.options, repeat=len(pb.names)):
        plan = list(plan)
        c = pb.cost(plan)
        if budget is not None and c > budget:
            continue
        a = pb.accuracy(plan)
        trace.append((c, a, plan))
        if best is None or (a, -c) > (best[1], -best[2]):
            best = (plan, a, c)
    if best is None:
        raise QuantpeError("no combination fits the budget")
    return SearchResult("brute", best[0], best[2], best[1], time.perf_counter() - t0, pb.evals - ev, trace)


def exact_optimum(pb: Problem, budget: float, metrics: dict | None = None, metric_samples: int = 128) -> SearchResult:
    """The plan that minimises QuantuneV2's own objective, the sum over layers of the sensitivity
    score of the layer's option (`sensitivity_scores`), within `budget`: an exact multiple-choice
    knapsack (0/1 integer program, `fames.select_mckp`; HAWQ-V3's ILP with QuantuneV2's
    scores). It needs no accuracy evaluation but the final one; QuantpeError if nothing fits."""
    t0 = time.perf_counter()
    metrics = metrics or layer_metrics(pb, metric_samples)
    scores = sensitivity_scores(metrics)
    objective = [[scores[(n, opt)] for opt in pb.options] for n in pb.names]
    costs = [[pb.macs[n] * pb.unit(opt) for opt in pb.options] for n in pb.names]
    pick = select_mckp(objective, costs, budget)
    if pick is None:
        raise QuantpeError(f"no plan fits the budget {budget:.6g}")
    plan = [pb.options[i] for i in pick]
    dt = time.perf_counter() - t0
    ev = pb.evals
    acc = pb.accuracy(plan)
    return SearchResult("milp", plan, pb.cost(plan), acc, dt, pb.evals - ev, [(pb.cost(plan), acc, list(plan))])


def best_within(trace, budget: float):
    """(cost, accuracy, plan) of the most accurate evaluated plan of `trace` within budget."""
    ok = [t for t in trace if t[0] <= budget and t[1] is not None]
    return max(ok, key=lambda t: (t[1], -t[0])) if ok else None


GA_STARTS = ("random", "exact")


def exact_start(n_options: list, pop_size: int, seed: int = 0) -> np.ndarray:
    """(pop_size, layers) int initial population: the all-exact choice (option 0 everywhere) and
    pop_size - 1 distinct one-layer substitutions (layer, then a non-exact option, uniform from
    default_rng(seed)); fewer rows when the network has fewer such substitutions."""
    rng = np.random.default_rng(seed)
    rows, seen = [np.zeros(len(n_options), dtype=np.int64)], set()
    total = sum(n - 1 for n in n_options)
    while len(rows) < min(pop_size, total + 1):
        layer = int(rng.integers(len(n_options)))
        if n_options[layer] < 2:
            continue
        opt = int(rng.integers(1, n_options[layer]))
        if (layer, opt) not in seen:
            seen.add((layer, opt))
            row = np.zeros(len(n_options), dtype=np.int64)
            row[layer] = opt
            rows.append(row)
    return np.array(rows)


def nsga2(n_options: list, evaluate, pop_size: int = 20, generations: int = 10, seed: int = 0,
          evaluate_many=None, start: str = "random") -> dict:
    """NSGA-II (pymoo) over one integer choice per layer (choice l in 0..n_options[l]-1),
    minimising (cost, -accuracy) from evaluate(choice tuple) -> (cost, accuracy) (real bit-exact
    accuracy; cached per choice). start: the initial population, "random" (uniform choices, pymoo's
    integer sampling) or "exact" (`exact_start`: the exact plan and one-layer substitutions of it,
    a population that starts accurate on a deep network, where uniform choices break it).
    `evaluate_many(list of choices) -> [(cost, accuracy)]`, when
    given, evaluates each population's new choices in one batch (e.g. in parallel) instead; the
    search, its log order and its front are the same. Returns dict(log=[(seconds since start,
    choice, cost, accuracy)] in evaluation order, front=[(cost, accuracy, choice)] of the final
    population, evals)."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import ElementwiseProblem, Problem
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.operators.sampling.rnd import IntegerRandomSampling
    from pymoo.optimize import minimize

    if start not in GA_STARTS:
        raise QuantpeError(f"GA start must be one of {', '.join(GA_STARTS)}, got {start!r}")
    t0 = time.perf_counter()
    cache, log = {}, []

    def ev(choice):
        if choice not in cache:
            cache[choice] = evaluate(choice)
            log.append((time.perf_counter() - t0, choice) + tuple(cache[choice]))
        return cache[choice]

    def bounds():
        return dict(n_var=len(n_options), n_obj=2, xl=np.zeros(len(n_options)),
                    xu=np.array(n_options, dtype=float) - 1, vtype=int)

    class _P(ElementwiseProblem):
        def __init__(self):
            super().__init__(**bounds())

        def _evaluate(self, x, out, *args, **kwargs):
            c, a = ev(tuple(int(v) for v in np.round(x)))
            out["F"] = [c, -a]

    class _Batch(Problem):
        def __init__(self):
            super().__init__(**bounds())

        def _evaluate(self, X, out, *args, **kwargs):
            choices = [tuple(int(v) for v in np.round(x)) for x in X]
            new = list(dict.fromkeys(c for c in choices if c not in cache))
            for c, r in zip(new, evaluate_many(new) if new else []):
                cache[c] = tuple(r)
                log.append((time.perf_counter() - t0, c) + tuple(r))
            out["F"] = np.array([[cache[c][0], -cache[c][1]] for c in choices], dtype=float)

    sampling = IntegerRandomSampling() if start == "random" else exact_start(n_options, pop_size, seed)
    algo = NSGA2(pop_size=pop_size, sampling=sampling,
                 crossover=SBX(prob=0.9, eta=15, vtype=float, repair=RoundingRepair()),
                 mutation=PM(eta=20, vtype=float, repair=RoundingRepair()), eliminate_duplicates=True)
    res = minimize(_P() if evaluate_many is None else _Batch(), algo, ("n_gen", generations), seed=seed,
                   verbose=False)
    X = np.atleast_2d(res.X)
    front = sorted({tuple(int(v) for v in np.round(x)) for x in X})
    return dict(log=log, front=[(cache[c][0], cache[c][1], c) for c in front], evals=len(cache))
