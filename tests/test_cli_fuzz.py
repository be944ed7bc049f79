"""Fuzzing the command line: random and malformed arguments, config documents, LUT files and
Verilog snippets for every subcommand must keep the exit-code contract (0, 1, 2, 3; never a
traceback or an internal error), print one `quantpe: error:` line for 2 and 3, and leave no
file outside the build cache when they fail. In-process (`quantpe.cli.main`), in a fresh
working folder per example, with the simulators and Yosys hidden from PATH so that a valid
command stops at the tool check (exit 3) instead of running for minutes. The default profile
runs a few hundred examples; `--slow` runs more."""
from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantpe.cli import main
from quantpe.core.kinds import KINDS

EXAMPLES = int(os.environ.get("QUANTPE_FUZZ_EXAMPLES", "60"))

WORDS = ["--lanes", "--a-bits", "--w-bits", "--acc-bits", "--pipeline", "--saturate", "--no-a-signed",
         "--variant", "--block", "--k", "--lb", "--hb", "--mode", "--group", "--method", "--t", "--mul",
         "--lane-muls", "--config", "--cycles", "--seed", "--sim", "--scoreboard", "--liberty", "-o",
         "--only", "--kind", "--lut-path", "--verilog", "--top", "--rtl", "--signed", "--b-bits",
         "0", "1", "-1", "2", "8", "16", "17", "999999999999999999999", "1e3", "", "x", "dliq", "mip2q",
         "static", "dynamic", "icarus", "verilator", "magic", "truncated", "drum", "lut", "exact:", ";;",
         "cfg.json", "lut.npy", "lut.bin", "m.v", "missing.json", "out", "/", "\u00e9\u00e8", "--help-not"]
COMMANDS = [["generate", k] for k in KINDS] + [["sim", k] for k in KINDS] + [["synth", k] for k in KINDS] + [
    ["characterize"], ["report"], ["bench", "sim"], ["liberty"], []]

CONFIG_DOCS = st.one_of(
    st.builds(lambda k, extra: json.dumps({"kind": k, **extra}), st.sampled_from(sorted(KINDS) + ["nope"]),
              st.dictionaries(st.sampled_from(["lanes", "a_bits", "block", "k", "mode", "method", "bogus"]),
                              st.one_of(st.integers(-5, 300), st.booleans(), st.text(max_size=4), st.none()),
                              max_size=3)),
    st.text(max_size=30), st.just("[" * 5000), st.just('{"kind": "baseline", "lanes": ' + "9" * 5000 + "}"),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")))
VERILOG = st.sampled_from([
    "module m(input [3:0] a, input [3:0] b, output [7:0] y); assign y = a * b; endmodule",
    "module m(input [3:0] a, input [3:0] b, output reg [7:0] y); always @* y = a * b; endmodule",
    "module m(input [3:0] a, output [7:0] y); wire [7:0] t; assign t = y + a; assign y = t; endmodule",
    "module m(input a; endmodule", "", "module other(input a, output b); assign b = a; endmodule"])


def _run(argv) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as e:          # argparse: --help (0) and usage errors (2)
            code = e.code if isinstance(e.code, int) else 2
    return code, err.getvalue()


def _files(root: Path) -> set:
    return {p for p in root.rglob("*") if p.is_file() and "build" not in p.relative_to(root).parts}


def _contract(tmp_path_factory, monkeypatch, cmd, words, config, lut, verilog):
    work = tmp_path_factory.mktemp("fuzz")
    monkeypatch.chdir(work)
    monkeypatch.setenv("QUANTPE_BUILD", str(work / "build"))
    monkeypatch.setenv("PATH", str(work / "no-tools"))          # no yosys, iverilog, verilator, make
    monkeypatch.setattr("quantpe.core.tools.verilator_root", lambda: None)
    (work / "cfg.json").write_text(config, encoding="utf-8", errors="surrogateescape")
    (work / "lut.npy").write_bytes(lut)
    (work / "lut.bin").write_bytes(lut)
    (work / "m.v").write_text(verilog)
    before = _files(work)
    code, err = _run([*cmd, *words])
    assert code in (0, 1, 2, 3), (cmd + words, code, err)
    assert "Traceback" not in err and "internal error" not in err, (cmd + words, err)
    if code in (2, 3):
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("quantpe: error:"), (cmd + words, err)
        assert _files(work) == before, (cmd + words, sorted(map(str, _files(work) - before)))


_inputs = given(cmd=st.sampled_from(COMMANDS), words=st.lists(st.sampled_from(WORDS), max_size=6),
                config=CONFIG_DOCS, lut=st.binary(max_size=64), verilog=VERILOG)
_checks = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
test_cli_contract_under_fuzzing = settings(max_examples=EXAMPLES, deadline=None,
                                           suppress_health_check=_checks)(_inputs(_contract))
test_cli_contract_under_fuzzing_long = pytest.mark.slow(
    settings(max_examples=10 * EXAMPLES, deadline=None, suppress_health_check=_checks)(_inputs(_contract)))


def test_lut_files_malformed(tmp_path):
    """Empty, truncated and wrong-shape LUT files: one line, exit 2."""
    cases = {"empty.npy": b"", "short.bin": b"\x00" * 7}
    np.save(tmp_path / "shape.npy", np.zeros((3, 5), dtype=np.int32))
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    for name in [*cases, "shape.npy"]:
        code, err = _run(["characterize", "--method", "lut", "--a-bits", "4", "--b-bits", "4",
                          "--lut-path", str(tmp_path / name), "-o", str(tmp_path / "out")])
        assert code == 2 and err.count("\n") == 1 and err.startswith("quantpe: error:"), (name, err)
    assert not (tmp_path / "out").exists()
