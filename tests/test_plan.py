"""Plan files: schema, validation (one clear line), round trip, apply_plan bit-exactness, CLI."""
import json

import numpy as np
import pytest

from quantpe import cli
from quantpe.golden.approx import ApproxMulConfig, approx_mul
from quantpe.golden.cnn import model_data, reference_graph
from quantpe.golden.errors import ConfigError
from quantpe.golden.qgraph import build_qgraph
from quantpe.golden.plan import (SCHEMA, apply_plan, graph_sha256, layer_macs, make_plan, parse_plan,
                                 plan_text)
from quantpe.explore.plans import plan_area

CNN_LAYERS = [(8, 4, "exact"), (4, 4, "truncated:t=2"), (8, 8, "drum:k=4"), (2, 2, "exact"), (8, 4, "mitchell")]


@pytest.fixture(scope="module")
def cnn():
    g = reference_graph("cnn")
    xtr, ytr, xte, yte = model_data("cnn")
    return g, xtr[:256], xte[:120], yte[:120]


def test_macs_hand_counted(cnn):
    # conv1: 8x8 positions x 16 out x (1 x 9); conv2: 64 x 32 x 144; dw3: 16 x 32 x 9 (groups 32);
    # pw4: 16 x 32 x 32; fc: 10 x 128
    assert layer_macs(cnn[0]) == {"conv1": 9216, "conv2": 294912, "dw3": 4608, "pw4": 16384, "fc": 1280}


def test_round_trip_and_apply_is_bit_exact(cnn):
    g, xc, xe, _ = cnn
    plan = make_plan("cnn", g, "hand", {"note": "test"}, CNN_LAYERS)
    assert plan["schema"] == SCHEMA and plan["model"]["sha256"] == graph_sha256(g)
    assert [e["kind"] for e in plan["layers"]] == ["baseline", "approxpe", "approxpe", "baseline", "approxpe"]
    text = plan_text(plan)
    assert parse_plan(text, g) == plan and plan_text(parse_plan(text)) == text
    q = apply_plan(g, plan, xc)
    ref = build_qgraph(g, xc, w_bits=[4, 4, 8, 2, 4], a_bits=[8, 4, 8, 2, 8])
    for name, (a, w, spec) in zip(g.weight_layers, CNN_LAYERS):
        if spec != "exact":
            method, _, p = spec.partition(":")
            kw = {k: int(v) for k, v in (t.split("=") for t in p.split(",") if t)}
            ref = ref.with_mul(approx_mul(ApproxMulConfig(method=method, a_bits=a, b_bits=w, signed=True, **kw)),
                               [name])
    assert np.array_equal(q.logits(xe), ref.logits(xe))
    assert q.layer_a_bits == (8, 4, 8, 2, 8) and q.w_bits == (4, 4, 8, 2, 4)
    # a different multiplier changes the result (the plan's multiplier is really used)
    other = make_plan("cnn", g, "hand", {}, CNN_LAYERS[:1] + [(4, 4, "exact")] + CNN_LAYERS[2:])
    assert not np.array_equal(apply_plan(g, other, xc).logits(xe), q.logits(xe))


def _edit(plan, fn):
    p = json.loads(plan_text(plan))
    fn(p)
    return json.dumps(p)


@pytest.mark.parametrize("edit, msg", [
    (lambda p: p["layers"].pop(), "plan has 4 layers, the model has 5 weight layers"),
    (lambda p: p["layers"][0].update(name="convX"), "plan layer 0 is 'convX', the model's weight layer 0 is 'conv1'"),
    (lambda p: p["layers"][1].update(kind="tpu"), "unknown kind 'tpu'"),
    (lambda p: p["layers"][2].update(a_bits=16), "no 16x8-bit multipliers"),
    (lambda p: p["layers"][2].update(a_bits=1), "a_bits must be an integer in 2..16"),
    (lambda p: p["layers"][1]["config"].update(mul="bogus"), "layer conv2"),
    (lambda p: p["layers"][0].update(config={"mul": "exact"}), "kind baseline takes no config"),
    (lambda p: p.update(schema="quantpe.plan/0"), "plan schema must be 'quantpe.plan/1'"),
    (lambda p: p["layers"][3].pop("macs"), "layer 3 lacks macs"),
])
def test_validation_errors(cnn, edit, msg):
    g = cnn[0]
    plan = make_plan("cnn", g, "hand", {}, CNN_LAYERS)
    with pytest.raises(ConfigError, match=msg) as e:
        parse_plan(_edit(plan, edit), g)
    assert "\n" not in str(e.value)


def test_other_model_and_bad_json(cnn):
    g = cnn[0]
    plan = make_plan("cnn", g, "hand", {}, CNN_LAYERS)
    mlp = reference_graph("mlp")
    with pytest.raises(ConfigError, match="plan was made for another model"):
        parse_plan(plan_text(plan), mlp)
    with pytest.raises(ConfigError, match="not valid JSON"):
        parse_plan(plan_text(plan)[:-5], g)
    # 16-bit layers are fine with exact products
    p16 = make_plan("cnn", g, "hand", {}, [(16, 16, "exact")] + CNN_LAYERS[1:])
    assert apply_plan(g, p16, cnn[1]).layer_a_bits[0] == 16


def test_plan_area_hand(cnn):
    g = cnn[0]
    plan = make_plan("cnn", g, "hand", {}, CNN_LAYERS)
    r = plan_area(plan)
    assert len(r["layers"]) == 5
    assert r["total_area_x_macs"] == pytest.approx(sum(x["area_um2"] * x["macs"] for x in r["layers"]))
    # every exact form costs the cheapest exact unit of its widths (the honest reference)
    from quantpe.explore.plans import exact_reference, mul_area
    ref = exact_reference(8, 8)
    assert ref.method == "exact" and mul_area(8, 8, "exact") == mul_area(8, 8, "exact:signed_form=baugh_wooley") \
        == mul_area(8, 8, "exact:signed_form=booth")
    assert r["exact_area_x_macs"] == pytest.approx(sum(x["macs"] * mul_area(x["a_bits"], x["w_bits"], "exact")
                                                       for x in r["layers"]))
    # sign-magnitude approximations carry the |a|, |b|, negate wrapper: the drum 8x8 layer is no saving
    assert r["layers"][2]["area_um2"] > mul_area(8, 8, "exact")
    cheap = make_plan("cnn", g, "hand", {}, [(a, w, "truncated:compensate=1,signed_form=booth,t=3")
                                              for a, w, _ in CNN_LAYERS])
    rc = plan_area(cheap)
    assert rc["total_area_x_macs"] < rc["exact_area_x_macs"] == pytest.approx(r["exact_area_x_macs"])




def _main(argv, monkeypatch):
    """quantpe.cli.main (the `plan` command is part of the CLI)."""
    return cli.main(argv)


def test_cli_plan_quantune_mlp(tmp_path, monkeypatch, capsys):
    out = tmp_path / "plan.json"
    assert _main(["-q", "plan", "mlp", "--method", "quantune", "--budget", "0.6", "--precisions", "8x8,4x4",
                  "-o", str(out)], monkeypatch) == 0
    plan = parse_plan(out.read_text(), reference_graph("mlp"))
    assert plan["method"]["name"] == "quantune" and plan["metrics"]["cost_fraction"] <= 0.6
    assert 0.5 < plan["metrics"]["accuracy"] <= 1.0
    # the plan's stored accuracy is the bit-exact accuracy of the model under the plan
    from quantpe.explore.plans import plan_accuracy
    assert plan_accuracy(plan, "mlp") == plan["metrics"]["accuracy"]
    # a plan for another model as --base: one line, exit 2
    capsys.readouterr()
    assert _main(["plan", "cnn", "--method", "fames", "--base", str(out), "-o", str(tmp_path / "f.json")],
                 monkeypatch) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("quantpe: error: plan was made for another model")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert _main(["plan", "mlp", "--method", "fames", "--base", str(bad), "-o", str(tmp_path / "f.json")],
                 monkeypatch) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert _main(["plan", "mlp", "--method", "quantune", "--precisions", "16x8", "-o", str(out)], monkeypatch) == 2
    assert "--precisions item '16x8'" in capsys.readouterr().err
    assert _main(["plan", "mlp", "--method", "quantune", "--cost", "energy", "-o", str(out)], monkeypatch) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the precision methods cost area x MACs" in err[0]
