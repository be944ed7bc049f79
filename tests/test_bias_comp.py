"""Bias compensation of approximate multipliers (golden/bias_comp.py), the bias-aware FAMES estimate
(golden/fames.py) and QuantuneV2's exact optimum (plan_search.exact_optimum), each against a
reference written from the contract: loops over every product, hand-derived values, enumeration."""
import itertools

import numpy as np
import pytest

from quantpe.golden import plan_search as ps
from quantpe.golden.approx import ApproxMulConfig, approx_mul, exact_table, mul_table
from quantpe.golden.bias_comp import compensation, layer_compensation, output_mean_errors, position_counts
from quantpe.golden.cnn import model_data, reference_graph
from quantpe.golden.errors import ConfigError, QuantpeError
from quantpe.golden.fames import candidate_terms, count_matrices, loss_estimates, output_grads
from quantpe.golden.intmath import to_unsigned
from quantpe.golden.layers import INPUT, Conv2d, Flatten, Linear, ReLU
from quantpe.golden.qgraph import build_qgraph
from quantpe.golden.graph import Graph, Node
from quantpe.golden.plan import make_plan, parse_plan, plan_text, with_plan_muls


def _tiny_conv(rng):
    conv = Conv2d(rng.standard_normal((4, 1, 3, 3)), rng.standard_normal(4) * 0.1, padding=1, groups=2)
    return Graph((2, 4, 4), (Node("c", conv, (INPUT,)), Node("r", ReLU(), ("c",)), Node("f", Flatten(), ("r",)),
                            Node("fc", Linear(rng.standard_normal((3, 64)) * 0.2, np.zeros(3)), ("f",))))


@pytest.fixture
def tiny(seed):
    rng = np.random.default_rng(seed)
    g = _tiny_conv(rng)
    x = rng.standard_normal((12, 2, 4, 4))
    y = rng.integers(0, 3, 12)
    return g, x, y, build_qgraph(g, x, w_bits=[4, 4], a_bits=[4, 4])


TRUNC = ApproxMulConfig(method="truncated", a_bits=4, b_bits=4, signed=True, t=3)


def test_mean_errors_against_every_product(tiny):
    """mu[o] = mean over (sample, position) of sum_k E[a, w[o, k]], by a loop over every product."""
    g, x, _, q = tiny
    lay = q.layer("c")
    codes = q.capture(x)["input"]
    cols = lay.columns(lay.input_codes(codes))                   # (N, G, P, K)
    e = (mul_table(TRUNC) - exact_table(4, 4, True)).astype(float)
    w = lay.weight.codes
    n, gr, p, k = cols.shape
    want = np.zeros(w.shape[0])
    for o in range(w.shape[0]):
        grp = o // (w.shape[0] // gr)
        for ni, pi, ki in itertools.product(range(n), range(p), range(k)):
            want[o] += e[to_unsigned(cols[ni, grp, pi, ki], 4), to_unsigned(w[o, ki], 4)]
    want /= n * p
    counts = position_counts(lay, codes)
    assert counts.shape == (2, 9, 16) and counts.sum() == n * p * k * gr
    mu, m = output_mean_errors(counts, to_unsigned(w, 4), e)
    assert np.allclose(mu, want) and np.allclose(m.sum(axis=1), mu)
    assert np.any(mu != 0)                                        # truncation is biased


def test_compensation_rounds_half_away_and_cancels_the_mean(tiny):
    assert compensation(np.array([2.5, -2.5, 0.49, -0.5, 3.0])).tolist() == [-3, 3, 0, 1, -3]
    g, x, _, q = tiny
    lay = q.layer("c")
    codes = q.capture(x)["input"]
    c = layer_compensation(lay, position_counts(lay, codes), TRUNC)
    qa = q.with_mul(approx_mul(TRUNC), ["c"])
    a_in = lay.input_codes(codes)
    exact = q.layer("c").accumulators(a_in, 32)
    approx = qa.with_bias_offsets("c", c).layer("c").accumulators(a_in, 32)
    # the compensated layer's mean output error per channel is within half a unit
    mean_err = (approx - exact).mean(axis=(0, 2, 3))
    assert np.all(np.abs(mean_err) <= 0.5 + 1e-9), mean_err
    # c is minus the uncompensated layer's measured mean error, rounded half away from zero (on
    # every seed; how large that error is depends on the data, so it is not asserted)
    raw = (qa.layer("c").accumulators(a_in, 32) - exact).mean(axis=(0, 2, 3))
    assert np.array_equal(np.asarray(c), compensation(raw)), (c, raw)
    assert np.allclose(mean_err, raw + np.asarray(c))


def test_bias_offsets_are_exact_in_the_integer_model(tiny):
    g, x, _, q = tiny
    lay = q.layer("c")
    a_in = lay.input_codes(q.capture(x)["input"])
    off = np.array([3, -7, 0, 1 << 40])
    shifted = q.with_bias_offsets("c", off).layer("c")
    lo, hi = -(1 << 31), (1 << 31) - 1
    assert shifted.bias.tolist() == [int(np.clip(b + o, lo, hi)) for b, o in zip(lay.bias, off)]
    got = shifted.accumulators(a_in, 32)[:, :3]
    assert np.array_equal(got, lay.accumulators(a_in, 32)[:, :3] + off[None, :3, None, None])
    with pytest.raises(QuantpeError, match="4 integers"):
        q.with_bias_offsets("c", np.array([1.5, 0, 0, 0]))
    with pytest.raises(QuantpeError, match="4 integers"):
        q.with_bias_offsets("c", np.array([1, 2]))


def test_shift_term_of_a_constant_error(tiny):
    """A multiplier off by d on every product: the errors equal their means, so the residual is 0
    and the second-order term is the shift's quadratic form with mu[o] = K d (hand-derived)."""
    g, x, y, q = tiny
    mats = count_matrices(q, x, output_grads(g, x, y)[0])
    m = mats["c"]
    d = 2.0
    e = np.full((16, 16), d)
    first, second = candidate_terms(m, e, None, "bias")
    k = 9
    shift = m["S"] @ (m["s_a"] * m["s_w"] * k * d)
    assert second == pytest.approx(float(np.sum(shift ** 2)) / (2 * m["n"]), rel=1e-9)
    assert first == pytest.approx(m["s_a"] * d * np.sum(m["G"]), rel=1e-9)
    # compensating it away: offsets -K d cancel the shift and the first-order term
    first_c, second_c = candidate_terms(m, e, np.full(4, -k * d), "bias")
    assert second_c == pytest.approx(0.0, abs=1e-12) and first_c == pytest.approx(0.0, abs=1e-9 * abs(first))
    # the independent form ignores the coherence: h/(2N) s_a^2 <C2, d^2>
    assert candidate_terms(m, e, None, "independent")[1] == pytest.approx(
        m["h"] / (2 * m["n"]) * m["s_a"] ** 2 * d * d * np.sum(m["C2"]), rel=1e-9)


def test_gradient_sums_against_loops(tiny):
    g, x, y, q = tiny
    grads = output_grads(g, x, y)[0]
    m = count_matrices(q, x, grads)["c"]
    gy = grads["c"]
    assert np.allclose(m["S"], 12 * gy.sum(axis=(2, 3))) and np.allclose(m["T"], gy.sum(axis=(0, 2, 3)))
    assert m["positions"] == 12 * 16


def test_estimate_forms_and_bad_form(tiny):
    g, x, y, q = tiny
    mats = count_matrices(q, x, output_grads(g, x, y)[0])
    exact = ApproxMulConfig(method="exact", a_bits=4, b_bits=4, signed=True)
    for form in ("bias", "independent"):
        assert loss_estimates(mats, {"c": [exact]}, form=form)["c"][0] == (0.0, 0.0, 0.0)
    with pytest.raises(QuantpeError, match="form"):
        loss_estimates(mats, {"c": [exact]}, form="other")


def test_plan_bias_offsets_round_trip_and_checks():
    g = reference_graph("mlp")
    xtr, _, xte, yte = model_data("mlp")
    names = g.weight_layers
    o0 = g.node(names[0]).layer.out_channels
    off = list(range(-(o0 // 2), o0 - o0 // 2))
    layers = [(8, 4, "truncated:t=3", off)] + [(8, 8, "exact")] * (len(names) - 1)
    plan = parse_plan(plan_text(make_plan("mlp", g, "test", {}, layers)), g)
    assert plan["layers"][0]["bias_offsets"] == off and "bias_offsets" not in plan["layers"][1]
    q = build_qgraph(g, xtr[:200], w_bits=[4] + [8] * (len(names) - 1), a_bits=8)
    want = q.with_mul(approx_mul(ApproxMulConfig(method="truncated", a_bits=8, b_bits=4, signed=True, t=3)),
                      [names[0]]).with_bias_offsets(names[0], np.array(off))
    got = with_plan_muls(q, plan)
    assert np.array_equal(got.logits(xte[:50]), want.logits(xte[:50]))
    for edit, msg in ((lambda e: e.update(bias_offsets=[1.5] * o0), "bias offset"),
                      (lambda e: e.update(bias_offsets=[]), "non-empty"),
                      (lambda e: e.update(bias_offsets=[1 << 31] * o0), "bias offset"),
                      (lambda e: e.update(bias_offsets=[0] * (o0 + 1)), "output channels")):
        p = parse_plan(plan_text(plan))
        edit(p["layers"][0])
        with pytest.raises(ConfigError, match=msg):
            parse_plan(plan_text(p), g)


def test_exact_optimum_minimises_quantune_objective():
    """The integer program's plan: within budget, and no plan within budget has a smaller sum of
    QuantuneV2 scores (every combination enumerated)."""
    g = reference_graph("mlp")
    xtr, _, xte, yte = model_data("mlp")
    pb = ps.Problem(g, xtr[:300], xte[:100], yte[:100], ((8, 8), (4, 4), (2, 2)), lambda a, w, s: float(a * w))
    metrics = ps.layer_metrics(pb, 64)
    scores = ps.sensitivity_scores(metrics)
    for frac in (0.3, 0.5, 0.8):
        budget = frac * pb.cost(pb.top)
        r = ps.exact_optimum(pb, budget, metrics=metrics)
        assert r.cost <= budget
        best = min(sum(scores[(n, o)] for n, o in zip(pb.names, plan))
                   for plan in itertools.product(pb.options, repeat=len(pb.names)) if pb.cost(plan) <= budget)
        assert sum(scores[(n, o)] for n, o in zip(pb.names, r.plan)) == pytest.approx(best)
        assert r.evals <= 1 and r.method == "milp"
    with pytest.raises(QuantpeError, match="no plan fits"):
        ps.exact_optimum(pb, 1.0, metrics=metrics)


def test_mul_setup_adds_compensated_candidates(monkeypatch):
    """explore.plans: each approximate candidate with a non-zero compensation appears once more with its
    offsets at the same cost; the accuracy of such a choice equals the plan file's model."""
    from quantpe.explore import plans
    from quantpe.golden.plan import apply_plan
    monkeypatch.setattr(plans, "AREA", {})

    def fake_areas(cfgs):                                  # no synthesis: a stand-in area per config
        for c in cfgs:
            plans.AREA.setdefault(c, float(c.a_bits * c.b_bits * (16 - c.t)))
    monkeypatch.setattr(plans, "prefetch_areas", fake_areas)
    exact = ApproxMulConfig(method="exact", a_bits=8, b_bits=8, signed=True)
    trunc = [ApproxMulConfig(method="truncated", a_bits=8, b_bits=8, signed=True, t=t) for t in (1, 6)]
    monkeypatch.setattr(plans, "candidates", lambda a, w: [exact] + trunc)
    g = reference_graph("mlp")
    xtr, ytr, xte, yte = model_data("mlp")
    names = g.weight_layers
    prec = [(8, 8)] * len(names)
    base, cands, costs, offsets = plans.mul_setup(g, xtr[:512], prec, "area", bias_comp=True)
    for n in names:
        plain = len(cands[n]) - sum(o is not None for o in offsets[n])
        assert cands[n][:plain] == [exact] + trunc and plain == 3
        for i in range(plain, len(cands[n])):
            j = cands[n].index(cands[n][i])                  # its plain twin
            assert costs[n][i] == costs[n][j] and np.any(offsets[n][i])
    n0 = names[0]
    i = len(cands[n0]) - 1                                 # a compensated candidate of layer 0
    acc = plans.mul_accuracy(base, cands, xte, yte, offsets)
    choice = (i,) + (0,) * (len(names) - 1)
    plan = make_plan("mlp", g, "test", {}, [(8, 8, "truncated:t=6", offsets[n0][i])]
                     + [(8, 8, "exact")] * (len(names) - 1))
    assert apply_plan(g, plan, xtr[:512]).accuracy(xte, yte) == acc(choice)
