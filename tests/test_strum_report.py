"""Pure-python parts of the StruM report (no synthesis, no full report run)."""
import numpy as np
import pytest

from quantpe.golden.strum_config import StrumConfig
from quantpe.rtl.strum import strum_parts
from quantpe.report.strum import (CATEGORIES, SELECTIONS, _plot_sweep, area_configs, breakdown_row,
                                  classify_part, sweep_accuracy, sweep_configs, target_lines)


def test_breakdown_row_sums_categories_and_remainder():
    parts = [("hmul", 8, 100.0), ("lmul", 8, 10.0), ("select", 1, 50.0), ("high_tree", 1, 30.0),
             ("low_tree", 1, 20.0), ("shift", 1, 5.0), ("combine", 1, 7.0), ("acc", 1, 40.0)]
    r = breakdown_row("x", 1500.0, 2000.0, parts)
    assert r["delta_pct"] == -25.0 and r["area_um2"] == 1500.0
    assert (r["multipliers"], r["low_units"], r["select"], r["adder_tree"], r["accumulator"]) == \
        (800.0, 80.0, 50.0, 62.0, 40.0)
    assert r["parts_sum"] == 1032.0 and r["remainder"] == 468.0
    d = breakdown_row("dyn", 2100.0, 2000.0, [("scatter", 1, 9.0), ("lane", 16, 10.0),
                                              ("tree", 1, 3.0), ("acc", 1, 4.0)])
    assert d["delta_pct"] == 5.0 and d["multipliers"] == 160.0 and d["select"] == 9.0
    assert d["low_units"] == 0.0 and d["remainder"] == 2100.0 - 176.0
    with pytest.raises(KeyError):
        breakdown_row("bad", 1.0, 1.0, [("mystery", 1, 1.0)])


def test_every_part_of_every_area_config_has_a_category():
    for _name, cfg in area_configs():
        cats = {classify_part(p) for p, _, _ in strum_parts(cfg)}
        assert cats <= set(CATEGORIES)
        assert "select" in cats and "accumulator" in cats and "multipliers" in cats
        assert ("low_units" in cats) == (cfg.structure == "static")


def test_area_configs_cover_the_table_and_keep_the_default_ids():
    rows = dict(area_configs())
    assert len(rows) == 4 * len(SELECTIONS) + 2 and len({c.config_id for c in rows.values()}) == len(rows)
    # the K=6 operating point is the K sweep's configuration (same ids, same synthesis cache)
    for v in ("dliq", "mip2q"):
        assert rows[f"{v}-static-k6-group-g2"] == sweep_configs(v, ks=(6,))[0]
    # the prefix rows are exactly the default StrumConfig rows of the lead's design list
    for v in ("dliq", "mip2q"):
        for s in ("static", "dynamic"):
            assert rows[f"{v}-{s}-prefix"].config_id == StrumConfig(variant=v, structure=s).config_id
            g = rows[f"{v}-{s}-group-g8"]
            assert (g.block, g.k, g.lb, g.select, g.groups) == (16, 8, 4, "group", 8)
    assert [c.k for c in sweep_configs("mip2q")] == list(range(2, 15))
    assert [c.groups for c in sweep_configs("dliq", ks=(2, 3, 6, 8, 12))] == [2, 1, 2, 8, 4]


def test_target_lines():
    rows = [{"design": "baseline-l16-int8", "delta_pct": 0.0, "acc_loss_pts": 0.0},
            {"design": "strum-mip2q-static-group-g8", "delta_pct": -30.0, "acc_loss_pts": 2.2},
            {"design": "strum-dliq-static-prefix", "delta_pct": -19.9, "acc_loss_pts": 0.0},
            {"design": "strum-dliq-dynamic-prefix", "delta_pct": 30.0, "acc_loss_pts": 0.0}]
    lines = target_lines(rows)
    assert len(lines) == 2
    assert "target <= -30%: met" in lines[0] and "2.20 pts (NOT met)" in lines[0]
    assert "target <= -20%: NOT met" in lines[1] and "0.00 pts (met)" in lines[1]


def test_sweep_accuracy_matches_a_direct_model_evaluation():
    """Two K values against the model rebuilt here: every layer's INT8 weights replaced by the
    decoded StruM values of its float weights (grouped masks)."""
    from quantpe.golden.digits import load_digits_split
    from quantpe.golden.qmodel import build_qmodel
    from quantpe.golden.strum_encode import encode
    got = sweep_accuracy("mip2q", (4, 12))
    data = load_digits_split()
    q8 = build_qmodel(w_bits=8, a_bits=8)
    for k in (4, 12):
        cfg = StrumConfig(variant="mip2q", k=k, select="group", acc_bits=62)
        qm = q8
        for i, layer in enumerate(q8.layers):
            t = encode(layer.float_weight, cfg)
            L = cfg.block // cfg.groups
            m = t.fields.mask.reshape(*t.fields.mask.shape[:2], cfg.groups, L)
            assert np.all(m.sum(-1) == k // cfg.groups)
            qm = qm.with_weights(i, t.values())
        assert got[k] == qm.accuracy(data.x_test, data.y_test)
    assert got[12] >= got[4] - 0.02 and set(got) == {4, 12}


def test_sweep_plot_writes_a_png(tmp_path):
    rows = [{"variant": v, "k": k, "area_um2": 1000.0 + 100 * k, "accuracy": 0.9 + 0.005 * k}
            for v in ("dliq", "mip2q") for k in (2, 8, 14)]
    _plot_sweep(rows, 2000.0, tmp_path / "s.png", int8_accuracy=0.95)
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweep_target_lines():
    from quantpe.report.strum import sweep_target_lines
    sweep = [{"variant": "dliq", "k": 6, "groups": 2, "delta_pct": -20.6, "accuracy": 0.9667},
             {"variant": "dliq", "k": 4, "groups": 4, "delta_pct": -29.9, "accuracy": 0.95},
             {"variant": "mip2q", "k": 6, "groups": 2, "delta_pct": -29.1, "accuracy": 0.9667}]
    lines = sweep_target_lines(sweep, 0.9667)
    assert lines[0] == "- dliq: area <= -20% with <= 1 point loss at K=6 (G=2, -20.6%, accuracy 0.9667)"
    assert lines[1] == "- mip2q: no K meets area <= -30% with <= 1 point loss"
