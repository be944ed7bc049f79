"""QuantuneV2 planner, search baselines and the FAMES machinery (counting matrices, estimates, MCKP)."""
import itertools
import json
import time

import numpy as np
import pytest

from quantpe.golden import plan_search as ps
from quantpe.golden.approx import ApproxMulConfig, exact_table, mul_table
from quantpe.golden.cnn import model_data, reference_graph
from quantpe.golden.fames import count_matrices, fames_search, loss_estimates, output_grads, select_mckp
from quantpe.golden.layers import INPUT, Conv2d, Flatten, Linear, ReLU
from quantpe.golden.qgraph import build_qgraph
from quantpe.golden.errors import QuantpeError
from quantpe.golden.graph import Graph, Node
from quantpe.golden.intmath import to_unsigned


def _area(a, w, spec):
    return float(a * w)


@pytest.fixture(scope="module")
def mlp_problem():
    g = reference_graph("mlp")
    xtr, _, xte, yte = model_data("mlp")
    return ps.Problem(g, xtr[:300], xte[:200], yte[:200], ((8, 8), (4, 4), (2, 2)), _area)


def test_scores_oriented_and_bounded():
    m = {("a", (8, 8)): dict(w_mse=1.0, w_sqnr=40.0, out_mse=1.0, out_sqnr=30.0, sqnr_drop=1.0),
         ("a", (4, 4)): dict(w_mse=5.0, w_sqnr=20.0, out_mse=4.0, out_sqnr=10.0, sqnr_drop=5.0),
         ("b", (4, 4)): dict(w_mse=3.0, w_sqnr=25.0, out_mse=2.0, out_sqnr=20.0, sqnr_drop=3.0)}
    s = ps.sensitivity_scores(m)
    assert s[("a", (8, 8))] == 0.0 and s[("a", (4, 4))] == 1.0 and s[("b", (4, 4))] == 0.5


def test_metrics_follow_precision(mlp_problem):
    m = ps.layer_metrics(mlp_problem, 100)
    for n in mlp_problem.names:
        assert m[(n, (8, 8))]["w_sqnr"] > m[(n, (4, 4))]["w_sqnr"] > m[(n, (2, 2))]["w_sqnr"]
        assert m[(n, (8, 8))]["w_mse"] < m[(n, (2, 2))]["w_mse"]


def test_searches_respect_budget_and_brute_is_best(mlp_problem):
    pb = mlp_problem
    budget = 0.5 * pb.cost(pb.top)
    pb.cache = {}
    brute = ps.brute_force(pb, budget)
    assert brute.evals == sum(pb.cost(list(p)) <= budget for p in itertools.product(pb.options, repeat=3))
    for fn in (ps.quantune, ps.greedy, ps.uniform):
        r = fn(pb, budget)
        assert r.cost <= budget and r.accuracy <= brute.accuracy
        assert r.accuracy == pb.qgraph(r.plan).accuracy(pb.x_eval, pb.y_eval)
    q = ps.quantune(pb, budget)
    assert q.evals <= 1                               # the planner measures accuracy once (cached: 0)
    assert ps.uniform(pb, budget).plan == [(4, 4)] * 3   # 8x8 is over budget, 4x4 the best uniform


def _chain(rng, sizes):
    """Linear layers sizes[0] -> sizes[1] -> ... with ReLUs between (MACs = in x out each)."""
    nodes, prev = [], INPUT
    for i, (k, o) in enumerate(zip(sizes, sizes[1:])):
        nodes.append(Node(f"l{i}", Linear(rng.standard_normal((o, k)), rng.standard_normal(o) * 0.1), (prev,)))
        prev = f"l{i}"
        if i < len(sizes) - 2:
            nodes.append(Node(f"r{i}", ReLU(), (prev,)))
            prev = f"r{i}"
    return Graph((sizes[0],), tuple(nodes))


class _TableProblem(ps.Problem):
    """A Problem whose accuracy of a plan is read from a given table (ties on purpose)."""

    def accuracy(self, plan):
        self.evals += 1
        return self.table[tuple(map(tuple, plan))]


def _metrics_in_order(keys):
    """Metrics whose five ranks all agree: keys[i] is the i-th least sensitive pair."""
    return {k: dict(w_mse=i, w_sqnr=-i, out_mse=i, out_sqnr=-i, sqnr_drop=i) for i, k in enumerate(keys)}


def test_quantune_plan_hand_derived(seed):
    """Three layers of 10, 100 and 20 MACs, options 8x8 (64 um^2) and 4x4 (16): the top plan costs
    64 * 130 = 8320, a 4x4 move saves 480, 4800, 960. Sensitivity (least first) of the 4x4 pairs:
    l0, l2, l1. Budget 3500: the walk moves l0 (7840), l2 (6880), l1 (2080 <= 3500, overshoot);
    the pass back up, most sensitive first: l1 to 8x8 would cost 6880 (no), l2 3040 (yes), l0
    then 3520 (no). Plan 4x4, 4x4, 8x8 at 3040."""
    rng = np.random.default_rng(seed)
    g = _chain(rng, [2, 5, 20, 1])
    x = rng.standard_normal((16, 2))
    pb = ps.Problem(g, x, x, np.zeros(16, np.int64), ((8, 8), (4, 4)), _area)
    assert pb.macs == {"l0": 10, "l1": 100, "l2": 20}
    hi, lo = (8, 8), (4, 4)
    metrics = _metrics_in_order([("l0", hi), ("l2", hi), ("l1", hi), ("l0", lo), ("l2", lo), ("l1", lo)])
    r = ps.quantune(pb, 3500.0, metrics=metrics)
    assert r.plan == [lo, lo, hi] and r.cost == 3040.0
    assert [(c, p) for c, _, p in r.trace] == [(8320.0, [hi, hi, hi]), (7840.0, [lo, hi, hi]),
                                               (6880.0, [lo, hi, lo]), (2080.0, [lo, lo, lo]),
                                               (3040.0, [lo, lo, hi])]
    assert r.accuracy == pb.qgraph(r.plan).accuracy(x, np.zeros(16, np.int64))


def test_brute_force_and_greedy_break_accuracy_ties_to_the_lower_cost(seed):
    """Equal accuracies: brute force keeps the cheapest of the most accurate plans; greedy's step
    keeps the larger saving among equally accurate moves; uniform the most accurate option."""
    rng = np.random.default_rng(seed)
    hi, lo = (8, 8), (4, 4)
    g = _chain(rng, [2, 5, 20])                                # MACs 10, 100
    pb = _TableProblem(g, np.ones((2, 2)), np.ones((2, 2)), np.zeros(2, np.int64), (hi, lo), _area)
    pb.table = {(hi, hi): 0.9, (hi, lo): 0.9, (lo, hi): 0.9, (lo, lo): 0.9}
    b = ps.brute_force(pb)
    assert b.plan == [lo, lo] and b.cost == 16 * 110 and b.evals == 4
    pb.table = {(hi, hi): 0.9, (hi, lo): 0.9, (lo, hi): 0.9, (lo, lo): 0.5}
    b = ps.brute_force(pb, budget=64 * 110)
    assert b.plan == [hi, lo] and b.cost == 64 * 10 + 16 * 100 and b.accuracy == 0.9
    r = ps.greedy(pb, 64 * 110 - 1)                            # one move: l1 saves 4800, l0 480
    assert r.plan == [hi, lo]
    pb.table[(hi, hi)], pb.table[(lo, lo)] = 0.8, 0.85
    u = ps.uniform(pb, 64 * 110)
    assert u.plan == [lo, lo] and u.accuracy == 0.85


def test_nsga2_finds_small_optimum():
    target = (2, 0, 3, 1)
    r = ps.nsga2([4, 4, 4, 4], lambda c: (float(sum(c)), -float(sum(abs(x - t) for x, t in zip(c, target)))),
                 pop_size=12, generations=12, seed=0)
    assert any(ch == target for _, _, ch in r["front"])
    assert r["evals"] == len({entry[1] for entry in r["log"]})


def test_nsga2_batched_population_is_the_same_search():
    """evaluate_many (the executor's batches) gives the same evaluations in the same order and the
    same front as one evaluation at a time; each batch holds only uncached, distinct choices."""
    def f(c):
        return float(sum(c)), -float(sum((x - 1) ** 2 for x in c)) + 0.1 * c[0]
    batches = []

    def many(cs):
        assert len(set(cs)) == len(cs)
        batches.append(list(cs))
        return [f(c) for c in cs]
    one = ps.nsga2([3, 4, 3, 5], f, pop_size=10, generations=6, seed=3)
    two = ps.nsga2([3, 4, 3, 5], lambda c: pytest.fail("evaluated one at a time"), pop_size=10, generations=6,
                   seed=3, evaluate_many=many)
    assert [e[1:] for e in two["log"]] == [e[1:] for e in one["log"]]
    assert two["front"] == one["front"] and two["evals"] == one["evals"]
    assert [c for b in batches for c in b] == [e[1] for e in one["log"]] and len(batches) <= 6


def test_exact_start_is_the_exact_plan_and_distinct_one_layer_substitutions():
    n_options = [3, 1, 5, 2]
    pop = ps.exact_start(n_options, 6, seed=4)
    assert pop.shape == (6, 4) and not pop[0].any()
    assert all(np.count_nonzero(r) == 1 for r in pop[1:]) and len({tuple(r) for r in pop}) == 6
    assert all(0 <= v < n for r in pop for v, n in zip(r, n_options)) and not pop[:, 1].any()
    assert len(ps.exact_start(n_options, 50, seed=0)) == 1 + 2 + 4 + 1      # every substitution, once
    assert (ps.exact_start(n_options, 6, seed=4) == pop).all()


def test_nsga2_exact_start_evaluates_the_start_population_first():
    """The first generation evaluated is exact_start's population; the search then goes on."""
    def f(c):
        return float(sum(c)), -float(sum(c))
    r = ps.nsga2([4, 4, 4, 4, 4, 4], f, pop_size=8, generations=3, seed=1, start="exact")
    first = {e[1] for e in r["log"][:8]}
    assert first == {tuple(int(v) for v in row) for row in ps.exact_start([4] * 6, 8, seed=1)}
    assert r["evals"] > 8
    with pytest.raises(QuantpeError, match="GA start"):
        ps.nsga2([2], f, start="best")


def _tiny_conv(rng):
    conv = Conv2d(rng.standard_normal((4, 1, 3, 3)), rng.standard_normal(4) * 0.1, padding=1, groups=2)
    return Graph((2, 4, 4), (Node("c", conv, (INPUT,)), Node("r", ReLU(), ("c",)), Node("f", Flatten(), ("r",)),
                            Node("fc", Linear(rng.standard_normal((3, 64)) * 0.2, np.zeros(3)), ("f",))))


def test_counting_matrices_against_loops(seed):
    rng = np.random.default_rng(seed)
    g = _tiny_conv(rng)
    x = rng.standard_normal((5, 2, 4, 4))
    y = rng.integers(0, 3, 5)
    q = build_qgraph(g, x, w_bits=[3, 4], a_bits=[4, 3])
    grads, _ = output_grads(g, x, y)
    mats = count_matrices(q, x, grads)
    lay = q.layer("c")
    cols = lay.columns(lay.input_codes(q.capture(x)["input"]))     # (N, G, P, K)
    w, sw = lay.weight.codes, lay.weight.scale[:, 0]
    gy = grads["c"].reshape(5, 4, -1)
    C = np.zeros((16, 8))
    G = np.zeros((16, 8))
    C2 = np.zeros((16, 8))
    n, gr, p, k = cols.shape
    for ni, o, pi, ki in itertools.product(range(n), range(4), range(p), range(k)):
        grp = o // 2
        i, j = to_unsigned(cols[ni, grp, pi, ki], 4), to_unsigned(w[o, ki], 3)
        C[i, j] += 1
        C2[i, j] += sw[o] ** 2
        G[i, j] += gy[ni, o, pi] * sw[o]
    assert np.array_equal(mats["c"]["C"], C)
    assert np.allclose(mats["c"]["C2"], C2) and np.allclose(mats["c"]["G"], G)
    assert mats["c"]["C"].sum() == 5 * 4 * 16 * 9                    # every MAC counted once
    # first-order identity: E = the exact table itself (a multiplier doubling every product) gives
    # s_a * <G, E> = sum of dL/dy * (float value of the bias-free accumulator)
    e = exact_table(4, 3, True).astype(float)
    acc = lay.accumulators(lay.input_codes(q.capture(x)["input"]), 32) - lay.bias[None, :, None, None]
    want = np.sum(grads["c"] * acc * (lay.in_scale * sw)[None, :, None, None])
    assert mats["c"]["s_a"] * np.sum(mats["c"]["G"] * e) == pytest.approx(want, rel=1e-9)


def test_estimates_zero_for_exact_and_grow_with_error(seed):
    rng = np.random.default_rng(seed)
    g = _tiny_conv(rng)
    x = rng.standard_normal((20, 2, 4, 4))
    y = rng.integers(0, 3, 20)
    q = build_qgraph(g, x, w_bits=[4, 4], a_bits=[4, 4])
    mats = count_matrices(q, x, output_grads(g, x, y)[0])
    cands = [ApproxMulConfig(method=m, a_bits=4, b_bits=4, signed=True, t=t) for m, t in
             (("exact", 0), ("truncated", 2), ("truncated", 4))]
    est = loss_estimates(mats, {"c": cands, "fc": cands}, form="independent")
    assert est["c"][0] == (0.0, 0.0, 0.0)
    assert est["c"][1][1] < est["c"][2][1]                           # more dropped bits, larger 2nd order
    e = (mul_table(cands[2]) - exact_table(4, 4, True)).astype(float)
    assert est["c"][2][1] == pytest.approx(mats["c"]["h"] / 40 * mats["c"]["s_a"] ** 2 * np.sum(mats["c"]["C2"] * e * e))
    assert loss_estimates(mats, {"c": cands, "fc": cands})["c"][0] == (0.0, 0.0, 0.0)   # the default form too


def test_estimate_is_abs_first_plus_second():
    """Counting matrices by hand: G = -E (the error pattern against the gradient), C2 = 1,
    s_a = 1/2, h = 2, N = 4. With S = sum(E^2): first = s_a <G, E> = -S/2 (negative), second =
    h / (2N) s_a^2 <C2, E^2> = S/16 (the independent-error form), estimate = |first| + second = 9S/16."""
    cfg = ApproxMulConfig(method="truncated", a_bits=4, b_bits=4, signed=True, t=4)
    e = (mul_table(cfg) - exact_table(4, 4, True)).astype(float)
    S = float(np.sum(e * e))
    assert S > 0
    mats = {"l": dict(C=np.ones((16, 16)), C2=np.ones((16, 16)), G=-e, s_a=0.5, h=2.0, n=4, a_bits=4, w_bits=4)}
    (first, second, est), = loss_estimates(mats, {"l": [cfg]}, form="independent")["l"]
    assert first == pytest.approx(-S / 2) and second == pytest.approx(S / 16) and est == pytest.approx(9 * S / 16)


def test_mckp_matches_enumeration(seed):
    rng = np.random.default_rng(seed)
    for _ in range(10):
        sizes = rng.integers(1, 5, 4)
        costs = [list(rng.uniform(1, 10, s)) for s in sizes]
        losses = [list(rng.uniform(0, 1, s)) for s in sizes]
        budget = float(rng.uniform(0.5, 2.5))
        best = None
        for ch in itertools.product(*[range(s) for s in sizes]):
            if sum(losses[i][c] for i, c in enumerate(ch)) <= budget:
                cost = sum(costs[i][c] for i, c in enumerate(ch))
                best = cost if best is None or cost < best else best
        got = select_mckp(costs, losses, budget)
        if best is None:
            assert got is None
        else:
            assert sum(costs[i][c] for i, c in enumerate(got)) == pytest.approx(best)
            assert sum(losses[i][c] for i, c in enumerate(got)) <= budget + 1e-9


def test_fames_search_verifies_its_pick(seed):
    rng = np.random.default_rng(seed)
    g = _tiny_conv(rng)
    x = rng.standard_normal((40, 2, 4, 4))
    y = np.argmax(g.forward(x), axis=1)
    q = build_qgraph(g, x, w_bits=[4, 4], a_bits=[4, 4])
    from quantpe.explore.approx_sweep import sweep_variants
    from quantpe.golden.approx import approx_mul
    cands = {n: sweep_variants(4, 4, True) for n in q.weight_layers}
    costs = {n: [float(i == 0) * 10 + 1 for i in range(len(cands[n]))] for n in cands}

    def acc(ch):
        qq = q
        for n, i in zip(cands, ch):
            if i:
                qq = qq.with_mul(approx_mul(cands[n][i]), [n])
        return qq.accuracy(x, y)
    r = fames_search(q, g, x, y, cands, costs, acc, max_loss_pts=5.0)
    assert (r["exact_accuracy"] - acc(r["choice"])) * 100 <= 5.0
    assert len(r["verified"]) <= 7                                   # bisection over 32 budgets


def test_fames_budget_ladder_reaches_the_smallest_estimate():
    """A bad multiplier with a small estimate (1e-3) beside a useless one (1e4): the ladder must go
    down to the good one's 1e-6, not stop 2^11.5 below the top and fall back to the exact plan."""
    layers = ["l0", "l1"]
    row = [(0.0, 0.0, 0.0), (0.0, 0.0, 1e-6), (0.0, 0.0, 1e-3), (0.0, 0.0, 1e4)]
    est = {n: row for n in layers}
    cands = {n: ["exact", "good", "bad", "useless"] for n in layers}
    costs = {n: [10.0, 5.0, 1.0, 0.5] for n in layers}
    seen = []

    def acc(ch):
        seen.append(ch)
        return 1.0 if all(i <= 1 for i in ch) else 0.0
    r = fames_search(None, None, None, None, cands, costs, acc, max_loss_pts=1.0, est=est)
    assert r["choice"] == (1, 1)
    assert r["exact_accuracy"] == 1.0
    assert all(v[2] in (0.0, 1.0) for v in r["verified"]) and len(seen) <= 7


def test_fames_time_split_covers_its_parts():
    """seconds: the estimates (none to make: est is given), the MCKP solves, and the accuracy
    calls (each sleeps 20 ms here, the exact model's included)."""
    layers = ["l0", "l1", "l2"]
    est = {n: [(0.0, 0.0, 0.0), (0.0, 0.0, 1e-3), (0.0, 0.0, 1.0)] for n in layers}
    cands = {n: ["exact", "good", "bad"] for n in layers}
    costs = {n: [10.0, 5.0, 1.0] for n in layers}
    calls = []

    def acc(ch):
        calls.append(ch)
        time.sleep(0.02)
        return 1.0 if all(i <= 1 for i in ch) else 0.0
    t0 = time.perf_counter()
    r = fames_search(None, None, None, None, cands, costs, acc, max_loss_pts=1.0, est=est)
    total = time.perf_counter() - t0
    sec = r["seconds"]
    assert set(sec) == {"estimate", "solve", "verify"} and r["choice"] == (1, 1, 1)
    assert len(calls) == len(r["verified"]) + 1 and sec["verify"] >= 0.02 * len(calls)
    assert sec["estimate"] < 0.01 and sec["solve"] > 0 and sum(sec.values()) <= total
    assert len(r["verified"]) <= r["solves"] <= 6          # only the bisection's budgets: log2(32) + 1


def test_deep_entry_files_and_the_fames_csv_rows(tmp_path):
    """The study's writers on a FAMES entry (a real plan, a fake run): the deep entry's plan file
    and front plot, and fames.csv from the entries' rows, the deep one last."""
    from types import SimpleNamespace

    from quantpe.core.tables import csv_text
    from quantpe.golden.plan import make_plan
    from quantpe.report.plans import DEEP_MODEL, FamesFigures, _fames_rows, write_deep_data
    graph = reference_graph("cnn")
    plan = make_plan("cnn", graph, "fames", {}, [(8, 8, "exact")] * len(graph.weight_layers))
    row = dict(model="cnn", base="q50", ga_evals=3, fames_evals=2)
    f = FamesFigures(row, [{}] * len(graph.weight_layers), plan, [], [(0.9, 0.95), (0.8, 0.9), (0.7, 0.5)],
                     (0.85, 0.96))
    write_deep_data(f, tmp_path)
    assert json.loads((tmp_path / f"plan_fames_{DEEP_MODEL}.json").read_text()) == plan
    assert (tmp_path / "deep_front.png").stat().st_size > 0
    deep = FamesFigures(dict(row, model="resnet"), f.chosen, plan, [], f.ga_pts, f.point)
    lines = csv_text(_fames_rows(SimpleNamespace(fames={"q50": f}, deep=deep))).splitlines()
    assert lines[0].startswith("model,base") and [x.split(",")[0] for x in lines[1:]] == ["cnn", "resnet"]


def test_ga_match_counts_time_and_evaluations():
    from quantpe.report.plans import _ga_figures
    log = [(0.5, (1,), 5.0, 0.80), (1.0, (2,), 3.0, 0.95), (1.5, (3,), 2.0, 0.97), (2.0, (4,), 1.0, 0.99)]
    best, cheap, match = _ga_figures(dict(log=log), f_cost=2.5, f_acc=0.96, acc0=0.99)
    assert match == (1.5, 3)                    # the first plan at <= 2.5 cost and >= 0.96 accuracy
    assert best == (1.0, 0.99, (4,)) and cheap == (1.0, 0.99, (4,))
    assert _ga_figures(dict(log=log), f_cost=0.5, f_acc=0.5, acc0=0.99)[2] is None


def test_fames_hessian_proxy_hand_computed():
    """One Linear layer, logits [ln 3 + 1, 1] for both samples (softmax [3/4, 1/4]), labels 1 and
    0: N dL/dy = softmax - onehot = [3/4, -3/4] and [-1/4, 1/4], so h = mean((N dL/dy)^2) =
    (9 + 9 + 1 + 1) / 16 / 4 = 5/16, whatever the batch size."""
    g = Graph((1,), (Node("fc", Linear(np.array([[np.log(3.0) + 1.0], [1.0]]), np.zeros(2)), (INPUT,)),))
    for n in (2, 6):
        x = np.ones((n, 1))
        y = np.array([1, 0] * (n // 2))
        q = build_qgraph(g, x, w_bits=[4], a_bits=[4])
        grads, loss = output_grads(g, x, y)
        np.testing.assert_allclose(grads["fc"] * n, [[0.75, -0.75], [-0.25, 0.25]] * (n // 2), atol=1e-12)
        m = count_matrices(q, x, grads)["fc"]
        assert m["h"] == pytest.approx(5 / 16, rel=1e-12) and m["n"] == n
        assert loss == pytest.approx((np.log(4.0) + np.log(4.0 / 3.0)) / 2, rel=1e-12)


@pytest.mark.slow
def test_plans_report_quick(tmp_path):
    """The report section end to end with two precisions and a tiny GA (long: the sanity check runs
    every (layer, multiplier) pair of the library)."""
    from quantpe.report.plans import plans_report
    lines = plans_report(tmp_path, quick=True)
    assert lines[0] == "## Per-layer plans"
    for f in ("precision.csv", "precision_methods.csv", "precision_sweep.csv", "fames.csv", "sanity.csv", "scaling.csv",
              "fronts.png", "sanity.png", "scaling.png", "fames_front.png", "plan_fames_q50.json"):
        assert (tmp_path / "plans" / f).stat().st_size > 0
    assert any("Spearman" in x for x in lines)
    from quantpe.report.plans import EXACT_REFERENCE_MARK
    assert any(EXACT_REFERENCE_MARK in x for x in lines)


def test_stale_plans_results_are_flagged(tmp_path):
    """Committed plans results made before the cheapest-exact costing are named stale in the report."""
    from quantpe.report.plans import EXACT_REFERENCE_MARK
    from quantpe.report.run import _stale_plans
    section = tmp_path / "section.md"
    assert _stale_plans(section) == ""                       # no committed results: nothing to flag
    section.write_text("## Per-layer plans\n\nCost = sum over layers of MACs x multiplier area.\n")
    assert "rerun `quantpe report --only plans`" in _stale_plans(section)
    section.write_text(f"## Per-layer plans\n\n... ({EXACT_REFERENCE_MARK}) ...\n")
    assert _stale_plans(section) == ""


def test_ga_population_accuracies_through_the_executor_equal_one_at_a_time(seed, monkeypatch):
    """quantpe plan's GA batches (`mul_accuracy(...).many`, parallel_map on 2 processes) give the
    bit-exact accuracy of each choice, as the one-at-a-time evaluation does."""
    from quantpe.core.settings import settings
    from quantpe.explore.plans import mul_accuracy
    rng = np.random.default_rng(seed)
    g = _tiny_conv(rng)
    x = rng.standard_normal((40, 2, 4, 4))
    y = np.argmax(g.forward(x), axis=1)
    q = build_qgraph(g, x, w_bits=[4, 4], a_bits=[4, 4])
    from quantpe.explore.approx_sweep import sweep_variants
    cands = {n: sweep_variants(4, 4, True)[:6] for n in q.weight_layers}
    choices = [tuple(int(v) for v in rng.integers(0, 6, 2)) for _ in range(6)]
    one = mul_accuracy(q, cands, x, y)
    monkeypatch.setattr(settings, "jobs", 2)
    assert mul_accuracy(q, cands, x, y).many(choices) == [one(c) for c in choices]


def test_deep_section_states_the_match_or_its_absence():
    """The deep network's text: the speed-up at the match when the GA matched, else the whole-run
    ratio as its lower bound; the time split and the evaluations bound in both."""
    from types import SimpleNamespace

    from quantpe.report.plans import FamesFigures, _deep_markdown
    row = dict(model="resnet", base="resnet q50", cost="area", exact_acc=0.91, fames_acc=0.90, fames_cut_pct=11.0,
               fames_s=40.0, fames_est_s=20.0, fames_solve_s=15.0, fames_verify_s=5.0, fames_evals=7,
               fames_solves=6, ga_evals=2000, ga_pop=40, ga_generations=50, ga_start="exact", ga_s=2600.0, ga_acc_at_fames_cost=0.85,
               ga_best_cut_pct_within_1pt=None, ga_time_to_match_s=None, ga_evals_to_match=None,
               speedup_at_match=None, ga_run_over_fames=65.0, ga_over_fames_evals=2000 / 7)
    deep = FamesFigures(row, [{}] * 51, {}, [], [], (0.89, 0.90))
    text = "\n".join(_deep_markdown(SimpleNamespace(deep=deep)))
    assert "51 weight layers" in text and "never matched" in text and "above the whole-run ratio, 65.0x" in text
    assert "estimate 20.0 s" in text and "solve 15.0 s (6 MCKPs" in text and "verification 5.0 s" in text
    assert "the exact plan and one-layer substitutions of it" in text
    assert "GA evaluations / FAMES evaluations = 286" in text
    row.update(ga_time_to_match_s=1300.0, ga_evals_to_match=1000, speedup_at_match=32.5)
    text = "\n".join(_deep_markdown(SimpleNamespace(deep=deep)))
    assert "after 1000 evaluations and 1300 s: FAMES is 32.5x faster at the match" in text
    assert _deep_markdown(SimpleNamespace(deep=None)) == []
