"""The default-run energy table (quantpe.report.power.energy_table): deltas on the same data equal
independent measure_power runs, a warm rerun comes from the cache, no liberty is one line."""
import pytest

from quantpe.golden.baseline import BaselineConfig
from quantpe.power.measure import measure_power
from quantpe.synth.liberty import sky130_path
from quantpe.report.power import energy_table
from quantpe.tb.power_traces import real_trace

REF = ("ref", BaselineConfig(lanes=2, acc_bits=20))
SAT = ("sat", BaselineConfig(lanes=2, acc_bits=20, saturate=True))
INT4 = ("int4", BaselineConfig(lanes=2, a_bits=4, w_bits=4, acc_bits=12))


def test_no_liberty_is_one_line_and_no_rows(tmp_path):
    for lib in (None, tmp_path / "missing.lib"):
        md, rows = energy_table([REF, SAT], "ref", lib)
        assert rows == []
        body = [ln for ln in md if ln and not ln.startswith("#")]
        assert len(body) == 1 and "Not measured" in body[0] and "liberty" in body[0]


@pytest.mark.skipif(not sky130_path().exists(), reason="sky130 liberty not available")
def test_table_deltas_are_same_data_runs_and_a_rerun_is_cached(build, tmp_path):
    md, rows = energy_table([REF, SAT, INT4], "ref", sky130_path(), cycles=300)
    by = {r["name"]: r for r in rows}
    assert [r["name"] for r in rows] == ["ref", "sat", "int4"]
    # independent runs of the same stimulus, outside the table's cache
    direct = {n: measure_power(c, real_trace(c, 300, 0), out_dir=tmp_path / n) for n, c in (REF, SAT)}
    for n in ("ref", "sat"):
        assert by[n]["stimulus"] == "real"
        assert by[n]["total_mw"] == pytest.approx(direct[n]["total_mw"], rel=1e-12)
        assert by[n]["pj_per_op"] == pytest.approx(direct[n]["energy_per_op_pj"], rel=1e-12)
    a, b = direct["sat"], direct["ref"]
    assert by["sat"]["d_mw_pct"] == pytest.approx(100 * (a["total_mw"] - b["total_mw"]) / b["total_mw"])
    assert by["sat"]["d_pj_per_op_pct"] == pytest.approx(
        100 * (a["energy_per_op_pj"] - b["energy_per_op_pj"]) / b["energy_per_op_pj"])
    assert by["ref"]["d_mw_pct"] is None and by["int4"]["d_mw_pct"] is None
    assert by["int4"]["stimulus"] == "random"         # the model's int8 codes do not fit int4
    assert any(ln.startswith("| sat | real |") for ln in md)
    md2, rows2 = energy_table([REF, SAT, INT4], "ref", sky130_path(), cycles=300)
    assert rows2 == rows
    assert any("(3 from the cache)" in ln for ln in md2)


def _fake_kept(out_dir, cfgs):
    """out_dir/approx/variants.csv as the approxmul section writes it, keeping exactly `cfgs`."""
    from quantpe.explore.approx_sweep import sweep_variants
    from quantpe.core.tables import csv_text
    rows = [{"width": "8x8", "config_id": c.config_id, "rtl_checked": c in cfgs}
            for s in (True, False) for c in sweep_variants(8, 8, s)]
    rows.append({"width": "4x4", "config_id": "approxmul-exact-i4x4-x", "rtl_checked": True})
    (out_dir / "approx").mkdir(parents=True)
    (out_dir / "approx" / "variants.csv").write_text(csv_text(rows))


def test_multiplier_selection_counts_and_missing_kept_list(tmp_path):
    from quantpe.explore.approx_sweep import sweep_variants
    from quantpe.golden.errors import QuantpeError
    from quantpe.report.power import multiplier_variants
    n = len(sweep_variants(8, 8, True)) + len(sweep_variants(8, 8, False))
    allv, total = multiplier_variants(tmp_path, "all")
    assert total == n == len(allv) and {c.signed for c in allv} == {True, False}
    assert all((c.a_bits, c.b_bits) == (8, 8) for c in allv)
    with pytest.raises(QuantpeError, match="approxmul section"):
        multiplier_variants(tmp_path, "kept")
    pick = [allv[0], allv[-1]]
    _fake_kept(tmp_path, pick)
    kept, total = multiplier_variants(tmp_path, "kept")
    assert kept == pick and total == n


@pytest.mark.slow
@pytest.mark.skipif(not sky130_path().exists(), reason="sky130 liberty not available")
def test_multiplier_energy_rows_are_independent_runs_with_deltas_vs_exact(build, tmp_path, seed):
    import numpy as np

    from quantpe.golden.approx import ApproxMulConfig
    from quantpe.report.power import multiplier_energy
    ex_s = ApproxMulConfig(method="exact", signed=True)
    tr_s = ApproxMulConfig(method="truncated", t=6, signed=True)
    tr_u = ApproxMulConfig(method="truncated", t=8, signed=False)
    _fake_kept(tmp_path, [ex_s, tr_s, tr_u])
    rows, info = multiplier_energy(tmp_path, "kept", cycles=300, seed=seed)
    assert info["measured"] == 3 and info["fresh"] == 3 and info["sweep"] > 300
    by = {r["config_id"]: r for r in rows}
    for cfg in (ex_s, tr_s, tr_u):
        lo, hi = cfg.a_range()
        # the operands by hand: uniform over the operand range, the same for every variant
        rng = np.random.default_rng([seed, int(cfg.signed)])
        ops = {"a": rng.integers(lo, hi + 1, 300)}
        ops["b"] = rng.integers(lo, hi + 1, 300)
        r = measure_power(cfg, ops, out_dir=tmp_path / cfg.config_id)
        assert by[cfg.config_id]["random_pj"] == pytest.approx(r["energy_per_op_pj"], rel=1e-12)
        rt = measure_power(cfg, real_trace(cfg, 300, seed), out_dir=tmp_path / cfg.config_id, name="real")
        assert by[cfg.config_id]["real_pj"] == pytest.approx(rt["energy_per_op_pj"], rel=1e-12)
    t = by[tr_s.config_id]
    assert t["d_random_pct"] == pytest.approx(100 * (t["random_pj"] / by[ex_s.config_id]["random_pj"] - 1))
    assert t["random_pj"] < by[ex_s.config_id]["random_pj"]      # 6 columns fewer partial products
    assert by[ex_s.config_id]["d_random_pct"] == 0.0 and by[ex_s.config_id]["d_real_pct"] == 0.0
    assert by[tr_u.config_id]["vs"] is None and by[tr_u.config_id]["d_real_pct"] is None   # no unsigned exact kept
    rows2, info2 = multiplier_energy(tmp_path, "kept", cycles=300, seed=seed)
    assert info2["fresh"] == 0 and [r["random_pj"] for r in rows2] == [r["random_pj"] for r in rows]
    assert info["built"] == 3 and info2["built"] == 0          # netlists built by this run only


def test_stripes_sentences_compare_within_one_trace():
    """The Stripes efficiency sentence is made per trace (MLP, CNN bricks), each against the
    bit-parallel SIP and the baseline row of the same trace."""
    from quantpe.report.power import CNN_LABEL, EnergyFigures, energy_markdown

    def row(name, stim, pj, ops=1600, cycles=1000):
        return {"name": name, "stimulus": stim, "total_mw": 1.0, "switching_mw": 0.5, "internal_mw": 0.5,
                "energy_per_cycle_pj": 10.0, "energy_per_op_pj": pj, "cells": 1, "ops": ops, "cycles": cycles,
                "toggles": 1, "times_s": {"total_s": 1.0}}
    rows = [row("baseline-l16-int8", "real", 2.0), row("stripes-static", "real", 8.0, ops=200),
            row("stripes-parallel", "real", 4.0),
            row("baseline-l16-int8", CNN_LABEL, 1.0), row("stripes-static", CNN_LABEL, 3.0, ops=400),
            row("stripes-parallel", CNN_LABEL, 6.0)]
    text = "\n".join(energy_markdown(EnergyFigures(rows, [], [], None, 1000, 1000, 1000, 6464, 1.0)))
    mlp, cnn = [ln for ln in text.splitlines() if ln.startswith("Stripes on the same bricks")]
    assert "MLP" in mlp and "stripes-static: 0.50x the bit-parallel SIP's and 0.25x the baseline" in mlp
    assert "CNN" in cnn and "stripes-static: 2.00x the bit-parallel SIP's and 0.33x the baseline" in cnn
    assert "stripes-static 80.00" in mlp and "stripes-static 40.00" in cnn        # cycles per brick
