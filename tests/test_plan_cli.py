"""A plan drives generate, synth and report (`--plan FILE`), and bad plans are one line, exit 2."""
import json

import pytest

from quantpe.explore import plans
from quantpe.golden.approx import approx_mul
from quantpe.golden.approx_pe import parse_mul_spec
from quantpe.golden.cnn import mlp_graph, model_data
from quantpe.golden.qgraph import build_qgraph
from quantpe.golden.plan import make_plan, plan_text
from quantpe.synth.liberty import sky130_liberty

LAYERS = [(8, 8, "exact"), (4, 4, "truncated:t=2"), (8, 8, "exact")]


@pytest.fixture
def plan_file(tmp_path, monkeypatch):
    monkeypatch.setenv("QUANTPE_BUILD", str(tmp_path / "build"))
    monkeypatch.setattr(plans, "PLAN_LANES", 2)          # small PEs: quick syntheses
    plan = make_plan("mlp", mlp_graph(), "hand", {}, LAYERS)
    p = tmp_path / "plan.json"
    p.write_text(plan_text(plan))
    return p, plan


def test_generate_synth_report_from_one_plan(plan_file, tmp_path, cli):
    p, plan = plan_file
    code, out, err = cli(["generate", "--plan", p, "-o", tmp_path / "g"])
    assert code == 0, err
    mapping = json.loads((tmp_path / "g" / "plan-designs.json").read_text())["layers"]
    assert mapping["fc0"] == mapping["fc2"] != mapping["fc1"]         # equal rows share one design
    assert "2 designs for 3 layers" in out
    for cid in set(mapping.values()):
        assert (tmp_path / "g" / cid / "manifest.json").is_file()
    code, out, err = cli(["synth", "--plan", p, "-o", tmp_path / "s"])
    assert code == 0, err
    hw = json.loads((tmp_path / "s" / "plan-area.json").read_text())
    assert [r["kind"] for r in hw["layers"]] == ["baseline", "approxpe", "baseline"]
    assert hw["layers"][1]["cycles"] == -(-plan["layers"][1]["macs"] // 2)
    # the same baseline PE through the ordinary synth command has the same area
    code, out, err = cli(["synth", "baseline", "--lanes", 2, "--a-bits", 8, "--w-bits", 8])
    assert code == 0 and f"{hw['layers'][0]['pe_area_um2']:,.1f} um^2" in out
    code, out, err = cli(["report", "--plan", p, "-o", tmp_path / "r"])
    assert code == 0, err
    # independent: the integer MLP at the plan's widths with the one approximate layer swapped in by hand
    x_tr, y_tr, x_te, y_te = model_data("mlp")
    q = build_qgraph(mlp_graph(), x_tr[:512], w_bits=[8, 4, 8], a_bits=[8, 4, 8])
    q = q.with_mul(approx_mul(parse_mul_spec("truncated:t=2", 4, 4, True)), ["fc1"])
    summary = json.loads((tmp_path / "r" / "plan" / "summary.json").read_text())
    assert summary["accuracy"]["plan"] == pytest.approx(q.accuracy(x_te, y_te))
    assert f"plan {q.accuracy(x_te, y_te):.4f}" in (tmp_path / "r" / "plan.md").read_text()
    # multiplier energy: per layer MACs x pJ on the layer's own pairs (the energy flow), else the proxy line
    total = summary["hardware"]["total"]
    if sky130_liberty() is None:
        assert "mul_energy_pj" not in total and "area x MACs is the stated proxy" in (tmp_path / "r" / "plan.md").read_text()
    else:
        layers = summary["hardware"]["layers"]
        assert all(r["mul_energy_pj"] == pytest.approx(r["macs"] * r["mul_pj"]) for r in layers)
        assert total["mul_energy_pj"] == pytest.approx(sum(r["mul_energy_pj"] for r in layers))
        # an exact layer costs its lowest-energy exact form; the total exact reference sums those
        assert [r["mul_pj"] == r["exact_mul_pj"] for r in layers] == [True, False, True]
        assert total["exact_mul_energy_pj"] == pytest.approx(sum(r["macs"] * r["exact_mul_pj"] for r in layers))
        assert "Multiplier energy" in (tmp_path / "r" / "plan.md").read_text()


def _edit(plan, fn):
    plan = json.loads(json.dumps(plan))
    fn(plan)
    return plan


@pytest.mark.parametrize("cmd", ["generate", "synth", "report"])
@pytest.mark.parametrize("edit, msg", [
    (lambda p: p["layers"][1].update(kind="wallace"), "unknown kind"),
    (lambda p: p["layers"][1].update(a_bits=12), "no 12x4-bit multipliers"),
    (lambda p: p.update(schema="quantpe.plan/0"), "schema"),
])
def test_bad_plans(plan_file, tmp_path, cli, cmd, edit, msg):
    p, plan = plan_file
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_edit(plan, edit)))
    code, _, err = cli([cmd, "--plan", bad, "-o", tmp_path / "o"])
    assert code == 2 and msg in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("edit, msg", [
    (lambda p: p["model"].update(sha256="0" * 64), "made for another model"),
    (lambda p: p["layers"].pop(), "plan has 2 layers, the model has 3"),
    (lambda p: p["model"].update(name="vgg"), "not a reference model"),
])
def test_plan_for_another_model(plan_file, tmp_path, cli, edit, msg):
    p, plan = plan_file
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_edit(plan, edit)))
    code, _, err = cli(["report", "--plan", bad, "-o", tmp_path / "o"])
    assert code == 2 and msg in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("args, msg", [
    (["generate", "--plan", "{p}", "baseline"], "drop the DESIGN"),
    (["generate"], "choose a DESIGN"),
    (["synth", "-o", "{tmp}/x", "baseline"], "applies to --plan"),
    (["report", "--plan", "{p}", "--only", "strum"], "drop --only"),
    (["generate", "--plan", "{tmp}/missing.json"], "missing.json not found"),
])
def test_plan_option_misuse(plan_file, tmp_path, cli, args, msg):
    p, _ = plan_file
    args = [a.replace("{p}", str(p)).replace("{tmp}", str(tmp_path)) for a in args]
    code, _, err = cli(args)
    assert code == 2 and msg in err and len(err.strip().splitlines()) == 1, err


def test_nsga2_ga_start_reaches_the_search_and_the_plan(tmp_path, cli, build, monkeypatch):
    """`--ga-start exact` is the start NSGA-II runs from, and the plan's settings say so."""
    from quantpe.golden import plan_search as ps
    starts, real = [], ps.nsga2

    def spy(*a, **kw):
        starts.append(kw.get("start"))
        return real(*a, **kw)
    monkeypatch.setattr(ps, "nsga2", spy)
    out = tmp_path / "p.json"
    code, so, err = cli(["plan", "mlp", "--method", "nsga2", "--cost", "area", "--precisions", "2x2",
                         "--ga-start", "exact", "--pop-size", "4", "--generations", "2", "-o", out])
    assert code == 0, err
    assert starts == ["exact"]
    assert json.loads(out.read_text())["method"]["settings"]["ga_start"] == "exact"
