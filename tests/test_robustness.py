"""The README's promises under bad input, faults and interruptions (one test per case found by
the 220-case probe of the robustness issue): exit codes, one error line, nothing earlier
destroyed, nothing left behind, corrupt or stale cache entries rebuilt."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from quantpe.golden.baseline import BaselineConfig

QUANTPE = [sys.executable, "-m", "quantpe.cli"]


def quantpe(*args, env=None, cwd=None, timeout=600):
    return subprocess.run([*QUANTPE, *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout)


def one_line(r, code, needle):
    assert r.returncode == code, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("quantpe: error:") and needle in lines[0], r.stderr
    assert "Traceback" not in r.stdout + r.stderr


def test_bad_config_documents(tmp_path):
    cases = {"binary": b"\x7fELF\x02\x01\x01\xff\xfe", "nested": b"[" * 200000,
             "huge-int": b'{"kind": "baseline", "lanes": ' + b"9" * 5000 + b"}"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    one_line(quantpe("generate", "baseline", "--config", str(tmp_path / "binary")), 2, "not UTF-8")
    one_line(quantpe("generate", "baseline", "--config", str(tmp_path / "nested")), 2, "not a usable JSON")
    r = quantpe("generate", "baseline", "--config", str(tmp_path / "huge-int"))
    assert r.returncode == 2 and len(r.stderr) < 300, r.stderr


def test_negative_seed_and_bounded_cycles():
    for cmd in (["sim", "baseline"], ["report"], ["bench", "sim"]):
        one_line(quantpe(*cmd, "--seed", "-1"), 2, "--seed must be in 0..")
    one_line(quantpe("sim", "baseline", "--cycles", "200000000"), 2, "--cycles must be in 1..10000000")


def test_method_without_its_parameter_is_refused(tmp_path):
    for method, needs in (("truncated", "--t"), ("bam", "--hbl"), ("perforated", "--perf-rows"), ("drum", "--k")):
        one_line(quantpe("characterize", "--method", method, "-o", str(tmp_path / method)), 2, needs)
        assert not (tmp_path / method).exists()


def test_verification_failure_is_exit_1(tmp_path):
    """A corrupted lane in the cached Verilog: exit 1 with the mismatch, not a usage error."""
    env = dict(os.environ, QUANTPE_BUILD=str(tmp_path))
    args = ["--lanes", "2", "--a-bits", "3", "--w-bits", "3", "--acc-bits", "8"]
    assert quantpe("generate", "baseline", *args, env=env).returncode == 0
    cfg = BaselineConfig(lanes=2, a_bits=3, w_bits=3, acc_bits=8)
    d = tmp_path / "baseline" / cfg.config_id
    manifest = json.loads((d / "manifest.json").read_text())
    v = d / manifest["verilog"]
    text = v.read_text()
    assert "prod1 = " in text
    mutated = text.replace("prod1 = ", "prod1 = 1 + ", 1)
    v.write_text(mutated)
    import hashlib
    manifest["verilog_sha256"] = hashlib.sha256(mutated.encode()).hexdigest()   # a consistent, wrong entry
    (d / "manifest.json").write_text(json.dumps(manifest))
    r = quantpe("sim", "baseline", *args, "--sim", "icarus", "--cycles", "200", "--seed", "3", env=env)
    assert r.returncode == 1, r.stderr
    assert "quantpe: FAIL: " in r.stderr and "rerun: quantpe sim baseline" in r.stderr


def test_edited_and_truncated_cache_entries_are_rebuilt(tmp_path):
    from quantpe.rtl.generate import ensure_generated
    from quantpe.core.build import design_dir
    os.environ["QUANTPE_BUILD"] = str(tmp_path)
    try:
        cfg = BaselineConfig(lanes=2, a_bits=3, w_bits=3, acc_bits=8)
        m = ensure_generated(cfg)
        v = design_dir(cfg) / m["verilog"]
        good = v.read_text()
        v.write_text(good + "// edited by hand\n")
        ensure_generated(cfg)
        assert v.read_text() == good                         # rebuilt, with a warning
        (design_dir(cfg) / "manifest.json").write_text('{"config_id": ')
        assert ensure_generated(cfg)["config_id"] == cfg.config_id
    finally:
        del os.environ["QUANTPE_BUILD"]


def test_build_digest_covers_golden_sources(tmp_path, monkeypatch):
    """A golden edit changes the generator digest, so build/ never serves Verilog made from old
    golden constants (rtl/ imports widths and constants from golden/)."""
    import quantpe.rtl.generate as gen
    before = gen.generator_digest()
    import quantpe.golden.approx as approx
    src = Path(approx.__file__)
    text = src.read_text()
    try:
        src.write_text(text + "\n# an edit\n")
        assert gen.generator_digest() != before
    finally:
        src.write_text(text)
    assert gen.generator_digest() == before


@pytest.mark.parametrize("liberty", ["typo.lib", "broken.lib"])
def test_failed_synthesis_keeps_earlier_results(tmp_path, liberty):
    env = dict(os.environ, QUANTPE_BUILD=str(tmp_path / "build"))
    out = tmp_path / "out"
    args = ["synth", "baseline", "--lanes", "2", "--a-bits", "2", "--w-bits", "2", "--acc-bits", "6", "-o", str(out)]
    assert quantpe(*args, env=env).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (tmp_path / "broken.lib").write_text("library (x) { cell (") if liberty == "broken.lib" else None
    r = quantpe(*args, "--liberty", str(tmp_path / liberty), env=env)
    assert r.returncode == 2, r.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name in before} == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_report_checks_liberty_before_working(tmp_path):
    t0 = time.monotonic()
    one_line(quantpe("report", "-o", str(tmp_path / "r"), "--liberty", str(tmp_path / "missing.lib")), 2,
             "liberty not found")
    assert time.monotonic() - t0 < 60 and not (tmp_path / "r").exists()


def test_generate_failure_leaves_no_folder(tmp_path):
    one_line(quantpe("generate", "baseline", "--lanes", "0", "-o", str(tmp_path / "g")), 2, "lanes must be in 1..256")
    assert not (tmp_path / "g").exists()


def test_sigterm_during_generate_cleans_up(tmp_path):
    """SIGTERM while the Verilog of a big LUT multiplier is generated: exit 130, no hidden
    staging folder left, nothing half-written."""
    import numpy as np
    lut = tmp_path / "big.npy"
    np.save(lut, np.arange(1 << 16, dtype=np.int32).reshape(256, 256) % 1000)
    out = tmp_path / "g"
    p = subprocess.Popen([*QUANTPE, "generate", "approxmul", "--method", "lut", "--lut-path", str(lut),
                          "--a-bits", "8", "--b-bits", "8", "-o", str(out), "--no-lint"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    t0 = time.monotonic()          # generation has started when its staging folder is there
    while p.poll() is None and time.monotonic() - t0 < 120 and not list(out.glob(".stage-*")):
        time.sleep(0.05)
    time.sleep(0.5)
    os.killpg(p.pid, signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    if p.returncode == 0:
        pytest.skip("generation finished before the signal")
    assert p.returncode == 130, err
    assert "interrupted" in err
    left = list(out.rglob("*")) if out.exists() else []
    assert not left, left


def test_external_verilog_with_processes_and_loops(tmp_path):
    (tmp_path / "alw.v").write_text("module alw(input [2:0] a, input [2:0] b, output reg [5:0] y);\n"
                                    "  always @* y = a * b;\nendmodule\n")
    (tmp_path / "loop.v").write_text("module lp(input [2:0] a, input [2:0] b, output [5:0] y);\n"
                                     "  wire [5:0] t; assign t = y ^ {a, b}; assign y = t + 1;\nendmodule\n")
    env = dict(os.environ, QUANTPE_BUILD=str(tmp_path / "build"))
    r = quantpe("characterize", "--verilog", str(tmp_path / "alw.v"), "--top", "alw", "--a-bits", "3",
                "--b-bits", "3", "--sim", "icarus", "-o", str(tmp_path / "c1"), env=env)
    assert r.returncode == 0 and "EP 0.0000" in r.stdout, r.stderr
    one_line(quantpe("characterize", "--verilog", str(tmp_path / "loop.v"), "--top", "lp", "--a-bits", "3",
                     "--b-bits", "3", "--sim", "icarus", "-o", str(tmp_path / "c2"), env=env), 2, "combinational loop")


def test_quote_in_build_folder_is_one_line(tmp_path):
    env = dict(os.environ, QUANTPE_BUILD=str(tmp_path / 'a"b'))
    one_line(quantpe("sim", "baseline", "--lanes", "2", "--sim", "icarus", "--cycles", "10", env=env), 2,
             "double quote")


def test_non_ascii_working_folder(tmp_path):
    """Icarus mangles non-ASCII plusargs: the harness files are named relative to the run folder."""
    cwd = tmp_path / "Ünïcødé-проект"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "QUANTPE_BUILD"}
    r = quantpe("sim", "baseline", "--lanes", "2", "--a-bits", "3", "--w-bits", "3", "--sim", "icarus",
                "--cycles", "100", "--seed", "1", env=env, cwd=cwd)
    assert r.returncode == 0 and "PASS: 100 cycles" in r.stdout, r.stderr
    assert "Ünïcødé-проект/build/baseline" in r.stdout
    (cwd / "m.v").write_text("module m (input [2:0] a, input [2:0] b, output [5:0] y);\n"
                             "  assign y = a * b;\nendmodule\n")
    r = quantpe("characterize", "--verilog", "m.v", "--top", "m", "--a-bits", "3", "--b-bits", "3",
                "--sim", "icarus", "--no-area", env=env, cwd=cwd)
    assert r.returncode == 0 and "EP 0.0000" in r.stdout, r.stderr


def test_space_in_build_folder_with_verilator_is_one_line(tmp_path):
    env = dict(os.environ, QUANTPE_BUILD=str(tmp_path / "my build"))
    one_line(quantpe("sim", "baseline", "--lanes", "2", "--sim", "verilator", "--cycles", "10", env=env), 2,
             "contains a space")
    r = quantpe("sim", "baseline", "--lanes", "2", "--sim", "icarus", "--cycles", "10", "--seed", "2", env=env)
    assert r.returncode == 0 and "PASS" in r.stdout, r.stderr       # Icarus has no such limit


def test_long_harness_runs_report_their_progress(tmp_path, monkeypatch):
    """The harness writes its simulated cycle count about 50 times per run (the progress bar's
    source); the bar itself only shows on a terminal."""
    monkeypatch.setenv("QUANTPE_BUILD", str(tmp_path / "build"))
    from quantpe.sim.regression import regress
    r = regress(BaselineConfig(lanes=2, a_bits=3, w_bits=3), "icarus", 5000, seed=3)
    written = int((r.run_dir / "progress").read_text())
    assert 5000 - 5000 // 50 <= written <= 5000
