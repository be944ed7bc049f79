"""`sim` and `synth` take a folder written by `generate` (--design DIR) and use its Verilog as it is."""
import json
import shutil

import pytest


def _generate(build, cli, name, *opts):
    code, _, err = cli(["generate", "approxmul", "--a-bits", 4, "--b-bits", 4, *opts, "--no-lint",
                         "-o", build / name])
    assert code == 0, err
    return build / name


def test_sim_and_synth_use_the_folder(build, cli):
    g = _generate(build, cli, "g", "--method", "truncated", "--t", 2)
    code, out, err = cli(["sim", "approxmul", "--design", g, "--sim", "icarus", "--seed", 1])
    assert code == 0, err
    assert "PASS: 256 cycles" in out and "-from-" in out     # runs in the cache, not in g
    code, out, err = cli(["synth", "approxmul", "--design", g])
    assert code == 0, err
    area = json.loads((g / "synth" / "area.json").read_text())
    manifest = json.loads((g / "manifest.json").read_text())
    assert area["verilog"] == [str((g / manifest["verilog"]).resolve())]
    assert sorted(p.name for p in g.iterdir()) == sorted(["manifest.json", manifest["verilog"], "synth"])


def test_edited_verilog_is_simulated_as_it_is_and_fails(build, cli):
    g = _generate(build, cli, "g", "--method", "exact")
    other = _generate(build, cli, "o", "--method", "truncated", "--t", 3)
    verilog = json.loads((g / "manifest.json").read_text())["verilog"]
    assert verilog == json.loads((other / "manifest.json").read_text())["verilog"]
    shutil.copy(other / verilog, g / verilog)      # same ports, other arithmetic
    code, _, err = cli(["sim", "approxmul", "--design", g, "--sim", "icarus", "--seed", 1])
    assert code == 1, err
    assert "differs from what was generated; using it as it is" in err
    assert "first mismatch at cycle" in err and f"--design {g.resolve()}" in err


@pytest.mark.parametrize("args, msg", [
    (["sim", "baseline", "--design", "{g}"], "holds design kind approxmul, not baseline"),
    (["sim", "approxmul", "--design", "{g}", "--t", 2], "drop --t"),
    (["synth", "approxmul", "--design", "{tmp}/none"], "design folder"),
    (["synth", "approxmul", "--design", "{tmp}"], "no manifest.json"),
])
def test_bad_design_folders(build, cli, args, msg):
    g = _generate(build, cli, "g", "--method", "exact")
    args = [str(a).replace("{g}", str(g)).replace("{tmp}", str(build)) for a in args]
    code, _, err = cli(args)
    assert code == 2 and msg in err and len(err.strip().splitlines()) == 1
