"""Pure-python parts of the approximate-multiplier report: sweep, Pareto front, selection, tables."""
import itertools

import numpy as np
import pytest

from quantpe.report.approx import TARGET, pareto_front, select_best, variant_row
from quantpe.explore.approx_sweep import kulkarni_2x2, sweep_variants
from quantpe.golden.approx import approx_mul
from quantpe.golden.characterize import characterize
from quantpe.core.tables import markdown_table


def _brute_front(s, e):
    """Straightforward O(n^2) reference: i is on the front unless some j is at least as good in
    both and strictly better in one."""
    out = []
    for i in range(len(s)):
        dominated = any(s[j] >= s[i] and e[j] <= e[i] and (s[j] > s[i] or e[j] < e[i])
                        for j in range(len(s)) if j != i)
        out.append(not dominated)
    return out


def test_pareto_named_cases():
    # (saving, error): B dominates C (more saving, less error); A and B trade off; D duplicates A
    s = [10.0, 30.0, 20.0, 10.0, 5.0]
    e = [0.1, 0.5, 0.9, 0.1, 0.0]
    assert pareto_front(s, e).tolist() == [True, True, False, True, True]
    assert pareto_front([], []).tolist() == []
    assert pareto_front([1.0, 2.0], [float("nan"), 1.0]).tolist() == [False, True]


def test_pareto_random_vs_brute_force(seed):
    rng = np.random.default_rng(seed)
    for _ in range(50):
        n = int(rng.integers(1, 25))
        s = rng.integers(0, 6, n).astype(float)    # small ranges: many ties
        e = rng.integers(0, 6, n).astype(float)
        assert pareto_front(s, e).tolist() == _brute_front(s, e)


def _row(saving, mred, loss, name="x"):
    return {"config_id": name, "area_saving_pct": saving, "mred_pct": mred, "acc_loss_pts": loss}


def test_select_best_meets_target():
    rows = [_row(45.0, 5.0, 0.0, "too-wrong"), _row(35.0, 1.5, 0.5, "ok-35"), _row(31.0, 0.5, 0.0, "ok-31"),
            _row(40.0, 1.0, 1.0, "loss-exactly-1pt"), _row(20.0, 0.1, 0.0, "small")]
    best, met = select_best(rows)
    assert met and best["config_id"] == "ok-35"


def test_select_best_reports_closest_when_unmet():
    rows = [_row(29.0, 1.0, 0.0, "near"), _row(10.0, 0.1, 0.0, "far"), _row(50.0, 8.0, 3.0, "wild")]
    best, met = select_best(rows)
    assert not met and best["config_id"] == "near"
    assert select_best([]) == (None, False)
    assert TARGET == {"min_saving_pct": 30.0, "max_mred_pct": 2.0, "max_acc_loss_pts": 1.0}


def test_markdown_table_layout():
    lines = markdown_table([{"m": "drum", "s": 41.234, "small": 0.01234, "ok": True},
                            {"m": "exact", "s": 0.0, "small": 0.5, "ok": False}],
                           [("m", "method"), ("s", "saving %"), ("small", "MRED %"), ("ok", "pareto")])
    assert lines == ["| method | saving % | MRED % | pareto |",
                     "|---|---|---|---|",
                     "| drum | 41.23 | 0.0123 | yes |",
                     "| exact | 0.00 | 0.50 | no |"]


def test_variant_row_metrics():
    cfg = sweep_variants(4, 4, True)[3]   # truncated, smallest t, compensated
    m = characterize(cfg)
    r = variant_row(cfg, 75.0, 100.0, m)
    assert r["area_saving_pct"] == 25.0 and r["width"] == "4x4" and r["signed"] is True
    assert r["mred_pct"] == pytest.approx(100 * m.mred, abs=1e-6)
    assert r["abs_bias_pct"] == pytest.approx(100 * abs(m.bias) / 256, abs=1e-6)


def test_sweep_is_valid_and_unique():
    for (a, b), s in itertools.product([(8, 8), (8, 4), (4, 4), (2, 2)], (True, False)):
        vs = sweep_variants(a, b, s)
        assert vs[0].method == "exact" and len(set(vs)) == len(vs)
        methods = {v.method for v in vs}
        assert {"truncated", "broken_array", "mitchell", "perforated"} <= methods
        assert ("drum" in methods) == (max(a, b) > 2)
        assert ("ssm" in methods) == (max(a, b) > 2)
        assert ("lut" in methods) == ((a, b, s) == (2, 2, False))
    assert len(sweep_variants(8, 8, True)) >= 15


def test_kulkarni_block():
    t = kulkarni_2x2()
    a, b = np.meshgrid(np.arange(4), np.arange(4), indexing="ij")
    want = a * b
    want[3, 3] = 7
    np.testing.assert_array_equal(t, want)
    lut = [v for v in sweep_variants(2, 2, False) if v.method == "lut"][0]
    assert int(approx_mul(lut)(np.array(3), np.array(3))) == 7


# ------------------------------------------------- issue 14: references, budgets, new families
def test_sweep_starts_with_the_legacy_sweep_and_adds_new_families():
    from quantpe.explore.approx_sweep import legacy_variants
    for a, b, s in [(8, 8, True), (4, 4, False), (4, 4, True), (2, 2, False)]:
        old, new = legacy_variants(a, b, s), sweep_variants(a, b, s)
        assert new[:len(old)] == old and len(set(new)) == len(new)
        booth = [c for c in new[len(old):] if c.signed_form == "booth"]
        assert bool(booth) == s
        if s:
            assert {c.method for c in booth} == {"exact", "truncated", "broken_array", "perforated"}
        extra = [c for c in new[len(old):] if not c.compressor and c.signed_form != "booth"]
        c42 = [c for c in new[len(old):] if c.compressor and c.signed_form != "booth"]
        assert bool(c42) == ((a, b) == (8, 8)) and all(c.method in ("exact", "truncated", "broken_array")
                                                       for c in c42)
        assert any(c.or_cols for c in extra)
        assert all(c.signed_form == "baugh_wooley" for c in extra if not c.or_cols)
        assert {c.signed_form for c in extra if c.or_cols} == ({"baugh_wooley", "sign_magnitude"} if s
                                                               else {"sign_magnitude"})
        if s:
            methods = {c.method for c in extra if not c.or_cols}
            assert methods >= {"exact", "truncated", "broken_array", "perforated"}
    assert set(sweep_variants(4, 4, True, wide=True)) > set(sweep_variants(4, 4, True))


def test_pick_reference():
    from quantpe.explore.approx_sweep import pick_reference
    assert pick_reference({"sign_magnitude": 2635.0, "baugh_wooley": 1945.6, "yosys_mul": 2421.1}) == \
        ("baugh_wooley", 1945.6)
    assert pick_reference({"array": 46.3, "yosys_mul": 46.3}) == ("array", 46.3)     # tie: structural first
    assert pick_reference({"baugh_wooley": 1945.6, "booth": 1741.7, "yosys_mul": 2421.1}) == ("booth", 1741.7)


def test_budget_table_named_rows():
    from quantpe.report.approx import budget_table

    def r(cid, area, mred, method="truncated"):
        return {"width": "8x8", "signed": False, "config_id": cid, "area_um2": area, "mred_pct": mred,
                "method": method, "params": cid}
    rows = [r("ex", 1900.0, 0.0, "exact"), r("old1", 1600.0, 0.8), r("new1", 1400.0, 0.9),
            r("new2", 700.0, 4.9), r("old2", 1200.0, 1.9), {**r("other", 10.0, 0.0), "signed": True}]
    tab = budget_table(rows, {"ex", "old1", "old2"}, False, ("array", 1900.0), budgets=(0.5, 1.0, 2.0, 5.0))
    assert [t["budget_mred_pct"] for t in tab] == [0.5, 1.0, 2.0, 5.0]
    assert [t["old_best_um2"] for t in tab] == [1900.0, 1600.0, 1200.0, 1200.0]
    assert [t["new_best_um2"] for t in tab] == [1900.0, 1400.0, 1200.0, 700.0]
    assert [t["met"] for t in tab] == ["", "yes", "no (+50)", "yes"]          # targets 1450, 1150, 780
    signed = budget_table([{**x, "signed": True} for x in rows], {"ex"}, True, ("baugh_wooley", 1945.0),
                          budgets=(3.0,))
    assert signed[0]["budget_mred_pct"] == 0.0 and signed[0]["new_best_um2"] == 1945.0
    assert signed[0]["met"] == "yes"
