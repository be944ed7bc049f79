"""FAMES-style approximate-multiplier selection per layer (papers.md §2 interpretation).

For a mixed-precision integer model q (one (a_bits, w_bits) per weight layer) and a calibration
batch (x, labels):
- C_l[i, j] = number of multiplications of layer l whose activation code has bit pattern i
  (a_bits wide, two's complement) and whose weight code has pattern j (w_bits wide), counted on
  the codes the layer's multipliers see (`QWeight.input_codes`, zero padding included: code 0).
  C2_l is the same count weighted by s_w[o]^2 of each multiplication's output channel.
- G_l[i, j] = sum over multiplications of (dL/dy_o) * s_w[o] for output element y_o the product
  feeds, dL/dy from one backward pass of the float model (mean softmax cross-entropy of the
  batch against the labels); s_w folded in because an integer product error e in channel o
  moves y_o by s_a * s_w[o] * e.
- E_m = mul_table(m) - exact_table (same pattern layout).
- Estimated loss change of multiplier m in layer l:
      first  = s_a * <G_l, E_m>                      (first-order Taylor term)
      independent = h_l / (2 N) * s_a^2 * <C2_l, E_m^2>   (second order, independent MAC errors)
  with the Hessian proxy h_l = mean over the layer's outputs of (N dL/dy)^2: the empirical
  Fisher (Gauss-Newton) diagonal of one sample's loss, averaged over the layer.
  The errors of one output's K products are not independent: their means m[o, k] (over the
  layer's activation codes at position k, `bias_comp.output_mean_errors`) add up to a shift
  mu[o] = sum_k m[o, k] of every output of channel o. Form "bias" (the default) splits the
  second-order term into the independent residual about those means and the shift's own term:
      residual = independent - h_l / (2 N) * s_a^2 * NP * sum_{o,k} s_w[o]^2 m[o, k]^2   (>= 0)
      shift    = 1 / (2 N) * sum_n (sum_o S[n, o] * s_a * s_w[o] * mu[o])^2
      second   = residual + shift
  with S[n, o] = sum over the output positions of N dL/dy[n, o] and NP the outputs per channel:
  the empirical-Fisher quadratic form of a shift that is equal at every position and sample, as
  the layer's consumers (pooling, the next layers) see it. Form "independent": second =
  independent. A candidate with bias offsets c (O,) (`bias_comp.compensation`, folded into the
  layer's integer bias) moves first by s_a * sum_o s_w[o] c[o] T[o] (T[o] = the sum of dL/dy of
  channel o) and mu by c.
      estimate = |first| + second   (the first term alone averages near zero at convergence).
- Selection: one multiplier per layer minimising sum_l MACs_l * area(m_l) subject to
  sum_l estimate_l(m_l) <= budget: a multiple-choice knapsack solved exactly as a 0/1 integer
  program (scipy.optimize.milp, HiGHS).
"""
from __future__ import annotations

import time

import numpy as np

from .approx import exact_table, mul_table
from .bias_comp import output_mean_errors
from .train import loss_grad
from .errors import QuantpeError
from .intmath import to_unsigned
from quantpe.golden.layers import INPUT
from quantpe.golden.qgraph import QGraph
from quantpe.golden.graph import Graph

__all__ = ["ESTIMATE_FORMS", "output_grads", "count_matrices", "loss_estimates", "select_mckp", "fames_search"]


def output_grads(graph: Graph, x, y) -> tuple[dict, float]:
    """({weight layer: dL/dy of its float output}, loss) for the mean cross-entropy of graph's
    (N, classes) output on (x, y): one forward and one backward pass."""
    out, caches = graph.forward_train(x)
    loss, g_out = loss_grad(out.reshape(len(out), -1), np.asarray(y, dtype=np.int64))
    grads, keep = {graph.output: g_out.reshape(out.shape)}, set(graph.weight_layers)
    res = {}
    for nd in reversed(graph.nodes):
        g = grads.pop(nd.name, None)
        if g is None:
            continue
        if nd.name in keep:
            res[nd.name] = g
        gin, _ = nd.layer.backward(caches[nd.name], g)
        for i, gi in zip(nd.inputs, gin):
            if i != INPUT:
                grads[i] = grads[i] + gi if i in grads else gi
    return res, loss


def count_matrices(q: QGraph, x, grads: dict) -> dict:
    """{layer: dict(C, C2, G, s_a, h, n)} on the calibration batch x (module docstring)."""
    vals = q.capture(x)
    n_samples = len(x)
    out = {}
    for name in q.weight_layers:
        lay = q.layer(name)
        na, nw = lay.in_bits, lay.weight.bits
        if na > 8 or nw > 8:
            raise QuantpeError(f"layer {name}: counting matrices need <= 8-bit operands, got {na}x{nw}")
        cols = lay.columns(lay.input_codes(vals[lay.inputs[0]]))          # (N, G, P, K)
        n, g, p, k = cols.shape
        ai = to_unsigned(cols, na)
        wi = to_unsigned(lay.weight.codes, nw)                              # (O, K)
        o = wi.shape[0]
        og = o // g
        sw = lay.weight.scale[:, 0]
        gy = np.asarray(grads[name], dtype=np.float64).reshape(n, o, -1)   # (N, O, P)
        C = np.zeros((1 << na, 1 << nw))
        C2 = np.zeros_like(C)
        G = np.zeros_like(C)
        P = np.zeros((g, k, 1 << na))
        kk = np.arange(k)
        for gi in range(g):
            a_g = ai[:, gi].reshape(n * p, k)
            w_g = wi[gi * og:(gi + 1) * og]                                # (og, K)
            s_g = sw[gi * og:(gi + 1) * og]
            a_cnt = np.bincount((kk[None, :] * (1 << na) + a_g).ravel(),
                                minlength=k << na).reshape(k, 1 << na).astype(np.float64)
            P[gi] = a_cnt
            w_one = np.zeros((og, k, 1 << nw))
            w_one[np.arange(og)[:, None], kk[None, :], w_g] = 1.0
            C += a_cnt.T @ w_one.sum(axis=0)
            C2 += a_cnt.T @ np.einsum("o,okj->kj", s_g ** 2, w_one)
            gw = (gy[:, gi * og:(gi + 1) * og, :] * s_g[None, :, None]).transpose(0, 2, 1).reshape(n * p, og)
            flat_a = a_g.ravel()
            for j in np.unique(w_g):
                h = gw @ (w_g == j).astype(np.float64)                     # (N*P, K)
                G[:, j] += np.bincount(flat_a, weights=h.ravel(), minlength=1 << na)
        h_l = float(np.mean((n_samples * gy) ** 2))
        out[name] = dict(C=C, C2=C2, G=G, s_a=float(lay.in_scale), h=h_l, n=n_samples,
                         a_bits=na, w_bits=nw, P=P, w_patterns=wi, s_w=np.asarray(sw, dtype=np.float64),
                         S=(n_samples * gy).sum(axis=2), T=gy.sum(axis=(0, 2)), positions=n * p)
    return out


ESTIMATE_FORMS = ("bias", "independent")


def candidate_terms(m: dict, e: np.ndarray, offsets: np.ndarray | None, form: str, means=None) -> tuple:
    """(first, second) of error table e in the layer of count matrices m (module docstring);
    offsets: the bias offsets (O,) the candidate adds to the layer's bias codes, or None; means:
    `output_mean_errors` of e in this layer when the caller has them."""
    first = m["s_a"] * float(np.sum(m["G"] * e))
    second = m["h"] / (2 * m["n"]) * m["s_a"] ** 2 * float(np.sum(m["C2"] * e * e))
    if form == "independent" and offsets is None:
        return first, second
    mu, mok = means if means is not None else output_mean_errors(m["P"], m["w_patterns"], e)
    if offsets is not None:
        first += m["s_a"] * float(np.sum(m["s_w"] * offsets * m["T"]))
        mu = mu + offsets
    if form == "independent":
        return first, second
    mean_sq = m["positions"] * float(np.sum(m["s_w"][:, None] ** 2 * mok ** 2))
    resid = max(second - m["h"] / (2 * m["n"]) * m["s_a"] ** 2 * mean_sq, 0.0)
    shift = m["S"] @ (m["s_a"] * m["s_w"] * mu)            # (N,): each sample's loss slope times the shift
    return first, resid + float(np.sum(shift ** 2)) / (2 * m["n"])


def loss_estimates(mats: dict, candidates: dict, offsets: dict | None = None, form: str = "bias") -> dict:
    """{layer: [(first, second, estimate) per candidate ApproxMulConfig]}.

    offsets {layer: [None or (O,) int bias offsets per candidate]} (None: no candidate has any);
    form "bias" (default): second = the independent residual term plus the coherent-shift term;
    "independent": the independent-error term alone (module docstring)."""
    if form not in ESTIMATE_FORMS:
        raise QuantpeError(f"loss estimate form must be one of {', '.join(ESTIMATE_FORMS)}, got {form!r}")
    uses: dict = {}                                  # cfg -> [(layer, position, offsets)]
    for name, cands in candidates.items():
        m = mats[name]
        offs = (offsets or {}).get(name) or [None] * len(cands)
        for i, (cfg, off) in enumerate(zip(cands, offs)):
            if (cfg.a_bits, cfg.b_bits) != (m["a_bits"], m["w_bits"]) or not cfg.signed:
                raise QuantpeError(f"layer {name}: candidate {cfg.short_name()} does not fit the layer's "
                                   f"signed {m['a_bits']}x{m['w_bits']} operands")
            uses.setdefault(cfg, []).append((name, i, off))
    rows = {name: [None] * len(cands) for name, cands in candidates.items()}
    for cfg, where in uses.items():                  # each error table made once, for every layer
        e = (mul_table(cfg) - exact_table(cfg.a_bits, cfg.b_bits, True)).astype(np.float64)
        means = {}                                   # a compensated twin reuses the layer's means
        for name, i, off in where:
            m = mats[name]
            if name not in means:
                means[name] = (output_mean_errors(m["P"], m["w_patterns"], e)
                               if form == "bias" or offsets else None)
            first, second = candidate_terms(m, e, None if off is None else np.asarray(off, np.float64),
                                            form, means[name])
            rows[name][i] = (first, second, abs(first) + second)
    return rows


def select_mckp(costs: list, losses: list, budget: float) -> list | None:
    """Index of one option per layer minimising sum(costs[l][i]) s.t. sum(losses[l][i]) <= budget
    (exact 0/1 program, scipy.optimize.milp); None if infeasible."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    sizes = [len(c) for c in costs]
    nv = sum(sizes)
    c = np.concatenate([np.asarray(x, dtype=np.float64) for x in costs])
    scale = max(float(np.max(np.abs(c))), 1e-300)
    rows, lo, hi = [], [], []
    start = 0
    for s in sizes:
        r = np.zeros(nv)
        r[start:start + s] = 1.0
        rows.append(r)
        lo.append(1.0)
        hi.append(1.0)
        start += s
    rows.append(np.concatenate([np.asarray(x, dtype=np.float64) for x in losses]))
    lo.append(-np.inf)
    hi.append(float(budget))
    res = milp(c / scale, constraints=LinearConstraint(np.array(rows), lo, hi),
               integrality=np.ones(nv), bounds=Bounds(0, 1))
    if res.x is None:
        return None
    x = np.round(res.x).astype(int)
    out, start = [], 0
    for s in sizes:
        out.append(int(np.argmax(x[start:start + s])))
        start += s
    return out


def fames_search(base: QGraph, graph: Graph, x_cal, y_cal, candidates: dict, costs: dict, accuracy,
                 max_loss_pts: float = 1.0, n_budgets: int = 32, est: dict | None = None,
                 offsets: dict | None = None) -> dict:
    """FAMES selection on the exact mixed-precision model `base`.

    candidates {layer: [ApproxMulConfig]} (exact first), costs {layer: [MACs x area]} alike,
    accuracy(specs: tuple of candidate indices) -> bit-exact accuracy (the one verification per
    budget). Loss budgets B_k = top * (floor / top)^(k / (n - 1)), k = 0..n-1: geometric from top =
    the sum of the per-layer largest estimates down to floor = the smallest positive estimate of
    any candidate (below it only the exact plan and zero-estimate picks fit); a bisection over k
    (assuming smaller budgets verify) finds the largest budget whose MCKP pick's measured accuracy
    is within max_loss_pts of the exact model: its pick is the result (else the exact plan);
    about log2(n) + 1 verifications. est: precomputed
    `loss_estimates` (then the counting matrices are not recomputed); offsets: the candidates'
    bias offsets (`loss_estimates`; accuracy() applies them). Returns dict(choice,
    estimates, verified [(budget, choice, accuracy)], exact_accuracy, solves, seconds=dict(
    estimate, solve, verify)): wall times of the estimates (0 when `est` is given), of the MCKP
    solves (a budget's pick is solved when the bisection first visits it: `solves` of the n,
    about log2(n) + 1) and of the accuracy calls (the exact model's included)."""
    names = list(candidates)
    if n_budgets < 2:
        raise QuantpeError(f"fames_search: n_budgets must be >= 2, got {n_budgets}")
    t0 = time.perf_counter()
    if est is None:
        grads, _ = output_grads(graph, x_cal, y_cal)
        est = loss_estimates(count_matrices(base, x_cal, grads), candidates, offsets)
    t1 = time.perf_counter()
    losses = [[r[2] for r in est[n]] for n in names]
    cost_l = [list(costs[n]) for n in names]
    exact = tuple(0 for _ in names)
    top = sum(max(v) for v in losses)
    positive = [v for row in losses for v in row if v > 0]
    floor = min(positive) if positive else top
    budgets = [top * (floor / top) ** (k / (n_budgets - 1)) if top > 0 else 0.0 for k in range(n_budgets)]
    picks, t_solve, t_verify = {}, 0.0, 0.0

    def pick(k):                                     # B_k descending: cheaper picks first
        nonlocal t_solve
        if k not in picks:                           # solved when the bisection visits B_k
            ts = time.perf_counter()
            p = select_mckp(cost_l, losses, budgets[k])
            picks[k] = exact if p is None else tuple(p)
            t_solve += time.perf_counter() - ts
        return picks[k]
    tv = time.perf_counter()
    acc0 = accuracy(exact)
    t_verify += time.perf_counter() - tv
    verified, seen = [], {}

    def ok(k):
        nonlocal t_verify
        c = pick(k)
        if c not in seen:
            tv = time.perf_counter()
            seen[c] = accuracy(c)
            t_verify += time.perf_counter() - tv
            verified.append((budgets[k], c, seen[c]))
        return (acc0 - seen[c]) * 100 <= max_loss_pts
    lo, hi = 0, n_budgets - 1                        # bisection: the largest budget that verifies
    found = ok(hi)
    while found and lo < hi:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    choice = picks[hi] if found else exact
    seconds = dict(estimate=t1 - t0, solve=t_solve, verify=t_verify)
    return dict(choice=choice, estimates=est, verified=verified, exact_accuracy=acc0, solves=len(picks),
                seconds=seconds)
