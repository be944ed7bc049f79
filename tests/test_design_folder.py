"""`sim` and `synth` take a folder written by `generate` (--design DIR) and use its Verilog as it is."""
import json
import shutil

import pytest

from quantpe.cli import main


def _run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def build(tmp_path, monkeypatch):
    monkeypatch.setenv("QUANTPE_BUILD", str(tmp_path / "build"))
    return tmp_path


def _generate(build, capsys, name, *opts):
    code, _, err = _run(["generate", "approxmul", "--a-bits", 4, "--b-bits", 4, *opts, "--no-lint",
                         "-o", build / name], capsys)
    assert code == 0, err
    return build / name


def test_sim_and_synth_use_the_folder(build, capsys):
    g = _generate(build, capsys, "g", "--method", "truncated", "--t", 2)
    code, out, err = _run(["sim", "approxmul", "--design", g, "--sim", "icarus", "--seed", 1], capsys)
    assert code == 0, err
    assert "PASS: 256 cycles" in out and "-from-" in out     # runs in the cache, not in g
    code, out, err = _run(["synth", "approxmul", "--design", g], capsys)
    assert code == 0, err
    area = json.loads((g / "synth" / "area.json").read_text())
    manifest = json.loads((g / "manifest.json").read_text())
    assert area["verilog"] == [str((g / manifest["verilog"]).resolve())]
    assert sorted(p.name for p in g.iterdir()) == sorted(["manifest.json", manifest["verilog"], "synth"])


def test_edited_verilog_is_simulated_as_it_is_and_fails(build, capsys):
    g = _generate(build, capsys, "g", "--method", "exact")
    other = _generate(build, capsys, "o", "--method", "truncated", "--t", 3)
    verilog = json.loads((g / "manifest.json").read_text())["verilog"]
    assert verilog == json.loads((other / "manifest.json").read_text())["verilog"]
    shutil.copy(other / verilog, g / verilog)      # same ports, other arithmetic
    code, _, err = _run(["sim", "approxmul", "--design", g, "--sim", "icarus", "--seed", 1], capsys)
    assert code == 1, err
    assert "differs from what was generated; using it as it is" in err
    assert "first mismatch at cycle" in err and f"--design {g.resolve()}" in err


@pytest.mark.parametrize("args, msg", [
    (["sim", "baseline", "--design", "{g}"], "holds design kind approxmul, not baseline"),
    (["sim", "approxmul", "--design", "{g}", "--t", 2], "drop --t"),
    (["synth", "approxmul", "--design", "{tmp}/none"], "design folder"),
    (["synth", "approxmul", "--design", "{tmp}"], "no manifest.json"),
])
def test_bad_design_folders(build, capsys, args, msg):
    g = _generate(build, capsys, "g", "--method", "exact")
    args = [str(a).replace("{g}", str(g)).replace("{tmp}", str(build)) for a in args]
    code, _, err = _run(args, capsys)
    assert code == 2 and msg in err and len(err.strip().splitlines()) == 1
