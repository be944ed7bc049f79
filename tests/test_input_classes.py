"""Bad input by class (issue 31): every number finite and in its shared range, no empty list
items, one plan validator for every command that takes a plan, a missing input before any
output folder, a user's broken Verilog as bad input, output paths checked before the work,
each warning once."""
import argparse
import json
import math

import pytest

from quantpe.cli import main
from quantpe.golden.errors import ConfigError, QuantpeError, ToolError, warn
from quantpe.core.limits import (MAX_CYCLES, MAX_GATE_CYCLES, MAX_SEED, bounded_float, cycles_type, gate_cycles_type,
                            items_type, seed_type)


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "1e999", "x", ""])
def test_floats_are_finite(text):
    with pytest.raises(argparse.ArgumentTypeError, match="--b"):
        bounded_float("--b", 0.0, 100.0)(text)


def test_float_bounds_and_open_lower_end():
    f = bounded_float("--f", 0.0, 1.0, lo_open=True)
    assert f("1") == 1.0 and f("1e-9") == 1e-9
    for bad in ("0", "-0.0", "1.0000001"):
        with pytest.raises(argparse.ArgumentTypeError, match=r"\(0, 1\]"):
            f(bad)
    assert bounded_float("--g", 0.0, 1.0)("0") == 0.0 and not math.isnan(bounded_float("--g", 0, 1)("0.5"))


@pytest.mark.parametrize("text", ["8x8,,", ",8x8", "8x8,,4x4", "", " ", "8x8, "])
def test_list_items_are_never_dropped(text):
    with pytest.raises(argparse.ArgumentTypeError, match="empty items"):
        items_type("--l", str)(text)
    assert items_type("--l", str)("a, b") == ("a", "b")


def test_one_bound_per_quantity():
    assert seed_type(str(MAX_SEED)) == MAX_SEED and cycles_type(str(MAX_CYCLES)) == MAX_CYCLES
    assert gate_cycles_type(str(MAX_GATE_CYCLES)) == MAX_GATE_CYCLES
    for t, v in ((seed_type, MAX_SEED + 1), (cycles_type, MAX_CYCLES + 1), (gate_cycles_type, MAX_GATE_CYCLES + 1),
                 (gate_cycles_type, 1)):
        with pytest.raises(argparse.ArgumentTypeError):
            t(str(v))
    from quantpe.cli import build_parser
    parser = build_parser()
    # every command taking gate-level cycles shares the bound (power and bench power)
    for argv in (["power", "baseline", "--cycles", str(MAX_GATE_CYCLES + 1)],
                 ["bench", "power", "--cycles", str(MAX_GATE_CYCLES + 1)],
                 ["sim", "baseline", "--cycles", str(MAX_CYCLES + 1)],
                 ["bench", "sim", "--cycles", str(MAX_CYCLES + 1)],
                 ["report", "--cycles", str(MAX_CYCLES + 1)]):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)


@pytest.mark.parametrize("argv,needle", [
    (["plan", "mlp", "--method", "fames", "--budget", "nan", "-o", "p.json"], "finite number"),
    (["plan", "mlp", "--method", "fames", "--precision-budget", "inf", "-o", "p.json"], "finite number"),
    (["plan", "mlp", "--method", "nsga2", "--pop-size", "0", "-o", "p.json"], "2..1000"),
    (["power", "baseline", "--clock-mhz", "nan"], "finite number"),
    (["power", "baseline", "--cycles", "1000000000000"], f"2..{MAX_GATE_CYCLES}"),
    (["model", "import", "x.onnx", "--inputs", "x.npy", "--a-bits", "99", "-o", "o"], "2..16"),
    (["bench", "profile", "--scale", "nan"], "finite number"),
])
def test_numbers_refused_by_the_parser(argv, needle, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("quantpe: error:") and needle in err[0], err


def _run(argv, capsys, code=2):
    assert main([str(a) for a in argv]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("quantpe: error:"), err
    assert len([ln for ln in err if not ln.startswith("quantpe: warning:")]) == 1, err
    return err[-1]


def test_empty_items_and_budgets_in_commands(tmp_path, capsys):
    assert "empty items" in _run(["plan", "mlp", "--method", "quantune", "--precisions", "8x8,,", "-o",
                                  tmp_path / "p.json"], capsys)
    assert "cost fraction in (0, 1]" in _run(["plan", "mlp", "--method", "quantune", "--budget", "2", "-o",
                                             tmp_path / "p.json"], capsys)
    assert "empty items" in _run(["report", "--only", "strum,,", "-o", tmp_path / "r"], capsys)
    assert "empty parameter" in _run(["generate", "approxpe", "--mul", "drum:k=3,,", "--no-lint", "-o",
                                      tmp_path / "g"], capsys)
    assert not any(tmp_path.iterdir())


@pytest.fixture
def plans(tmp_path):
    from quantpe.golden.cnn import reference_graph
    from quantpe.golden.plan import make_plan
    graph = reference_graph("mlp")
    plan = make_plan("mlp", graph, "uniform", {}, [(8, 8, "exact")] * len(graph.weight_layers))
    (tmp_path / "ok.json").write_text(json.dumps(plan))
    del plan["layers"][1]
    (tmp_path / "short.json").write_text(json.dumps(plan))
    return tmp_path


def test_one_plan_validator(plans, build, capsys):
    """synth, generate and report --plan and plan --base check a plan against its model alike."""
    want = "plan has 2 layers, the model has 3 weight layers"
    short = plans / "short.json"
    for argv in (["synth", "--plan", short], ["generate", "--plan", short, "-o", plans / "g"],
                 ["report", "--plan", short, "-o", plans / "r"],
                 ["plan", "mlp", "--method", "fames", "--base", short, "-o", plans / "f.json"]):
        assert want in _run(argv, capsys), argv
    assert "plan was made for another model" in _run(["synth", "--plan", plans / "ok.json", "--model", "cnn"],
                                                     capsys)
    assert "not found" in _run(["synth", "--plan", plans / "none.json"], capsys)
    from quantpe.explore.plans import load_plan
    assert len(load_plan(plans / "ok.json")["layers"]) == 3
    with pytest.raises(ConfigError, match="2 layers"):
        load_plan(short)
    assert not [n for n in ("g", "r", "f.json") if (plans / n).exists()]


def test_missing_inputs_before_any_output_folder(tmp_path, build, capsys):
    out = tmp_path / "p"
    err = _run(["power", "baseline", "--lanes", "2", "--stimulus", "random", "--cycles", "20", "--liberty",
                tmp_path / "missing.lib.gz", "-o", out], capsys)
    assert "missing.lib.gz not found" in err and not out.exists()
    (tmp_path / "e.onnx").write_bytes(b"")
    err = _run(["model", "import", tmp_path / "e.onnx", "--inputs", tmp_path / "x.npy", "-o", tmp_path / "imp"],
               capsys)
    assert "is empty, not an ONNX model" in err and not (tmp_path / "imp").exists()


LOOP_V = ("module lp (input [2:0] a, input [2:0] b, output [5:0] y);\n  wire [5:0] t;\n"
          "  assign t = ~t ^ a;\n  assign y = t;\nendmodule\n")


@pytest.mark.parametrize("text,needle", [
    ("module s(; endmodule\n", "is not valid Verilog: "),
    ("", "is empty, not Verilog"),
    ("\x7fELF\x00\x01", "is not Verilog (binary content)"),
    ("just words\n", "is not Verilog (no module in it)"),
    (LOOP_V, "combinational loop in module lp"),
    ("module other(input a, output y); assign y = a; endmodule\n", "module lp is not defined in"),
])
def test_a_users_broken_verilog_is_bad_input(text, needle, tmp_path):
    from quantpe.synth.ports import verilog_ports
    f = tmp_path / "lp.v"
    f.write_text(text)
    with pytest.raises(QuantpeError) as e:
        verilog_ports([f], "lp")
    assert not isinstance(e.value, ToolError) and needle in str(e.value) and "\n" not in str(e.value)


def test_edited_design_folder_with_a_syntax_error(tmp_path, build, capsys):
    from quantpe.golden.baseline import BaselineConfig
    from quantpe.rtl.generate import generate
    d = tmp_path / "d"
    v = d / generate(BaselineConfig(lanes=2, a_bits=3, w_bits=3), d)["verilog"]
    v.write_text(v.read_text() + "module junk(; endmodule\n")
    for argv in (["sim", "baseline", "--design", d, "--sim", "verilator", "--cycles", "10"],
                 ["synth", "baseline", "--design", d]):
        assert main([str(a) for a in argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 2 and err[0].startswith("quantpe: warning:") and "differs" in err[0], err
        assert err[1].startswith(f"quantpe: error: {v} is not valid Verilog: ") and "syntax error" in err[1]


def test_output_paths_checked_first(tmp_path, capsys):
    (tmp_path / "a_file").write_text("x")
    err = _run(["plan", "mlp", "--method", "quantune", "-o", tmp_path / "a_file" / "p.json"], capsys)
    assert err.endswith(f"{tmp_path / 'a_file'} is not a directory")
    err = _run(["synth", "baseline", "-o", "/proc/quantpe-test/s"], capsys, code=3)
    assert "/proc/quantpe-test/s" in err
    assert _run(["plan", "mlp", "--method", "quantune", "-o", tmp_path], capsys).endswith("is a folder, not a file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_each_warning_once(capsys):
    warn("issue-31 test warning")
    warn("issue-31 test warning")
    assert capsys.readouterr().err == "quantpe: warning: issue-31 test warning\n"
