"""Limited-precision training (golden): what is rounded, determinism, the update counts, the CLI,
the report's claim checks, and bad input."""
import dataclasses
import json

import numpy as np
import pytest

from quantpe.cli import main
from quantpe.report.fxp import claims, overheads, training_table
from quantpe.golden.digits import load_digits_split
from quantpe.golden.errors import QuantpeError
from quantpe.golden.fixedpoint import FixedFormat
from quantpe.golden.fxp_train import TrainSetup, train_fixed

SHORT = TrainSetup(epochs=3)


@pytest.fixture(scope="module")
def short_runs():
    f8 = FixedFormat.from_wl(16, 8)
    return {"float": train_fixed(None, None, SHORT),
            "rn8": train_fixed(f8, "nearest", SHORT, act_il=6),
            "sr8": train_fixed(f8, "stochastic", SHORT, act_il=6)}


def test_float_baseline_is_plain_sgd_from_the_same_init():
    """The float run equals an independent SGD written here with golden.mlp's gradients."""
    from quantpe.golden.mlp import LAYER_SIZES, MLP, loss_and_grads
    full = load_digits_split()
    data = dataclasses.replace(full, x_train=full.x_train[:480], y_train=full.y_train[:480])
    setup = TrainSetup(epochs=1)
    rng = np.random.default_rng(setup.seed)
    params = []
    for fi, fo in zip(LAYER_SIZES[:-1], LAYER_SIZES[1:]):
        params += [rng.standard_normal((fo, fi)) * np.sqrt(2.0 / fi), np.zeros(fo)]
    order = rng.permutation(len(data.x_train))
    for s in range(0, len(order), setup.batch_size):
        idx = order[s:s + setup.batch_size]
        _, gw, gb = loss_and_grads(MLP(params[0::2], params[1::2]), data.x_train[idx], data.y_train[idx])
        params = [p - setup.lr * g for p, g in zip(params, [g for pair in zip(gw, gb) for g in pair])]
    want = 1 - MLP(params[0::2], params[1::2]).accuracy(data.x_test, data.y_test)
    got = train_fixed(None, None, setup, data=data).test_error[0]
    assert got == pytest.approx(want, abs=1 / 360 + 1e-12)


def test_runs_are_deterministic_and_counted(short_runs):
    f8 = FixedFormat.from_wl(16, 8)
    again = train_fixed(f8, "stochastic", SHORT, act_il=6)
    assert again.test_error == short_runs["sr8"].test_error
    assert again.updates_zeroed == short_runs["sr8"].updates_zeroed
    fl = short_runs["float"]
    assert fl.updates_zeroed == 0 and fl.update_applied_ratio == pytest.approx(1.0)
    rn, sr = short_runs["rn8"], short_runs["sr8"]
    for r in (rn, sr):
        assert 0 < r.updates_zeroed < r.updates_proposed and len(r.test_error) == SHORT.epochs
    # RN drops every update below eps/2 (and so applies less of the proposed step); SR keeps the
    # expected update (applied/proposed ~ 1)
    assert rn.update_applied_ratio < 0.9 < sr.update_applied_ratio < 1.1
    assert rn.updates_zeroed >= rn.updates_below_half_eps * 0.99


def test_fixed_point_values_stay_on_the_grid(monkeypatch):
    """Every quantised tensor is a multiple of eps inside the range (spy on quantize)."""
    import quantpe.golden.fxp_train as ft
    seen = []
    real = ft.quantize

    def spy(v, fmt, mode, rng=None, what="value"):
        out = real(v, fmt, mode, rng, what)
        seen.append((out, fmt))
        return out
    monkeypatch.setattr(ft, "quantize", spy)
    full = load_digits_split()
    data = dataclasses.replace(full, x_train=full.x_train[:320], y_train=full.y_train[:320])
    ft.train_fixed(FixedFormat.from_wl(12, 6), "stochastic", TrainSetup(epochs=1), data=data)
    assert len(seen) > 150
    for out, fmt in seen[::50]:
        codes = out / fmt.eps
        assert np.array_equal(codes, np.round(codes))
        assert codes.min() >= fmt.code_min and codes.max() <= fmt.code_max


def test_nan_in_training_data_is_one_line_error():
    data = load_digits_split()
    x = np.array(data.x_train)
    x[3, 5] = np.nan
    bad = dataclasses.replace(data, x_train=x)
    with pytest.raises(QuantpeError, match="NaN or infinite") as e:
        train_fixed(FixedFormat(8, 8), "nearest", SHORT, data=bad)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("argv, msg", [
    (["--wl", "40", "--fl", "8"], "WL = IL + FL must be <= 32"),
    (["--wl", "16", "--fl", "16"], "IL must be >= 1"),
    (["--fl", "-2"], "FL must be >= 0"), (["--rounding", "even"], "--rounding must be one of"),
    (["--lr", "nan"], "learning rate"), (["--long"], "--long applies to --experiment only"),
    (["--act-il", "0"], "IL must be >= 1")])
def test_cli_bad_input(argv, msg, tmp_path, capsys):
    assert main(["train", *argv, "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1
    assert not (tmp_path / "fxp").exists() or not any((tmp_path / "fxp").iterdir())


def test_cli_single_run_writes_json(tmp_path, capsys):
    assert main(["train", "--rounding", "stochastic", "--wl", "12", "--fl", "6", "--epochs", "1",
                 "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "WL12 FL6 stochastic" in out and "float" in out
    d = json.loads((tmp_path / "fxp" / "train-wl12-fl6-stochastic.json").read_text())
    assert [r["label"] for r in d["runs"]] == ["float", "WL12 FL6 stochastic"]
    assert d["setup"]["epochs"] == 1


def test_claims_and_overheads_follow_the_numbers():
    def row(label, wl, fl, mode, acc, applied=1.0):
        return dict(label=label, wl=wl, fl=fl, mode=mode,
                    activations="float" if wl is None else "same format",
                    final_accuracy=acc, applied_ratio=applied)
    t = [row("float", None, None, "float", 0.97)]
    for fl, rn, sr in ((14, 0.97, 0.97), (8, 0.80, 0.96)):
        t += [row("", 16, fl, "nearest", rn, 0.7), row("", 16, fl, "stochastic", sr, 1.0)]
    t += [row("", 8, 4, "nearest", 0.1, 0.1), row("", 8, 4, "stochastic", 0.9, 1.0)]
    res = claims(t)
    assert len(res) == 4 and all(x["holds"] for x in res), res
    t[4]["final_accuracy"] = 0.90            # SR at FL8 now 7 points below float
    assert not claims(t)[0]["holds"]
    rows = [dict(name="nearest", area_um2=100.0),
            dict(name="stochastic (16-bit fibonacci LFSR)", area_um2=150.0),
            dict(name="PE 16 x int16 x int16, acc 48", area_um2=1000.0)]
    ov = overheads(rows)
    assert ov["vs_nearest_pct"] == pytest.approx(50.0) and ov["vs_pe_pct"] == pytest.approx(5.0)
    assert ov["vs_column_pct"] == pytest.approx(100 * 50 / (28 * 1000 + 100))


def test_training_table_counts(short_runs):
    runs = [short_runs["float"], short_runs["rn8"], short_runs["sr8"]]
    t = training_table(runs)
    assert t[0]["vs_float_pts"] == 0 and t[1]["activations"] == "<6,FL>"
    assert t[1]["updates_zeroed"] == short_runs["rn8"].updates_zeroed


@pytest.mark.slow
def test_report_section_writes_its_files(tmp_path, monkeypatch, short_runs):
    """fxp_report end to end with the synthesis and the long experiment replaced by small stand-ins."""
    import quantpe.report.fxp as fr
    import quantpe.golden.fxp_train as ft
    rows = [dict(name=n, config_id=n, area_um2=a, gate_equivalents=a / 3.75, flip_flops=1, transistors=1,
                 cells=1)
            for n, a in [("truncate", 900.0), ("nearest", 1700.0), (fr.SR_KEY, 2700.0),
                         ("stochastic (32-bit galois LFSR, 14 steps)", 3500.0),
                         ("column of 28, nearest", 1.0),
                         ("column of 28, stochastic, 28 independent LFSRs", 1.0),
                         ("column of 28, stochastic, one shared LFSR", 1.0),
                         ("PE 16 x int16 x int16, acc 48", 188000.0)]]
    monkeypatch.setattr(fr, "area_rows", lambda: rows)
    monkeypatch.setattr(ft, "run_experiment", lambda *a, **k: [short_runs["float"], short_runs["rn8"],
                                                              short_runs["sr8"]])
    monkeypatch.setattr(fr, "rounding_statistics", lambda cfg, n, seed: {
        "uniform": dict(mean_eps=0.0, se_eps=1e-3, z=0.0), "ties": dict(mean_eps=-0.5, se_eps=0.0, z=-1.0)})
    md = fr.fxp_report(tmp_path)
    assert md[0].startswith("## Fixed point and stochastic rounding")
    text = "\n".join(md)
    assert "of a column of 28 PEs" in text and "(target <= 3.0%: met)" in text
    assert "WL16 FL8 stochastic actIL6" in text and "![training](fxp/training.png)" in text
    names = {p.name for p in (tmp_path / "fxp").iterdir()}
    assert names == {"area.csv", "area.json", "overhead.json", "rounding.json", "training.csv",
                     "training.json", "training.png"}      # fxp.md: the report's study record
    assert json.loads((tmp_path / "fxp" / "overhead.json").read_text())["vs_nearest_pct"] == pytest.approx(
        100 * 1000 / 1700)


def test_report_training_runs_in_parallel_equal_the_experiment():
    """The report's pooled runs equal `run_experiment`'s, run by run, in the same order."""
    import dataclasses as dc
    from quantpe.report.fxp import training_runs
    from quantpe.golden.fxp_train import TrainSetup, run_experiment
    setup = TrainSetup(epochs=1)
    want = run_experiment(((8, 4),), act_ils=(None, 6), setup=setup)
    got = training_runs(((8, 4),), (None, 6), setup)

    def strip(r):
        return {k: v for k, v in dc.asdict(r).items() if k != "seconds"}
    assert [strip(r) for r in got] == [strip(r) for r in want] and len(got) == 5
