"""Exhaustive characterization from RTL and from external Verilog, and the `characterize` CLI.

References here are independent of the code under test: the exact product is a * b, the
truncated reference is a scalar double loop over the partial-product bits, and the metrics of
the hand-written wrong multipliers are worked out from their definitions by scalar loops.
"""
import json
import time

import numpy as np
import pytest

from quantpe.explore.characterize import (approx_config, rtl_check_variants, exhaustive_inputs, external_characterize,
                                  rtl_characterize)
from quantpe.cli import main
from quantpe.golden.approx import ApproxMulConfig, mul_table
from quantpe.golden.characterize import characterize
from quantpe.golden.errors import QuantpeError
from quantpe.rtl.ports import Port
from quantpe.sim.capture import capture
from quantpe.synth.ports import verilog_ports
from quantpe.sim.runner import SimulationFailed
from quantpe.sim.harness import harness_verilog, module_header_ports

EXACT4 = "module mymul (input [3:0] a, input [3:0] b, output [7:0] y);\n  assign y = a * b;\nendmodule\n"
EXACT8S = ("module smul (a, b, y);\n  input signed [7:0] a;\n  input signed [7:0] b;\n"
           "  output signed [15:0] y;\n  assign y = a * b;\nendmodule\n")
# deliberately wrong: product LSB forced to 0 (unsigned 4x4)
NOLSB4 = "module nolsb (input [3:0] a, input [3:0] b, output [7:0] y);\n  assign y = (a * b) & 8'hfe;\nendmodule\n"
# deliberately wrong: +1 on the diagonal (signed 4x4)
DIAG4S = ("module diag (input signed [3:0] a, input signed [3:0] b, output signed [7:0] y);\n"
          "  assign y = (a == b) ? a * b + 8'sd1 : a * b;\nendmodule\n")


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def _scalar_metrics(f, na, nb, signed):
    """EP, MAE, WCE, MRED, bias of a scalar multiplier f by plain loops (independent reference)."""
    def rng(n):
        return range(-(1 << (n - 1)), 1 << (n - 1)) if signed else range(1 << n)
    errs, rels = [], []
    for a in rng(na):
        for b in rng(nb):
            e = f(a, b) - a * b
            errs.append(e)
            if a * b:
                rels.append(abs(e) / abs(a * b))
    n = len(errs)
    return {"ep": sum(e != 0 for e in errs) / n, "mae": sum(abs(e) for e in errs) / n,
            "wce": max(abs(e) for e in errs), "mred": sum(rels) / len(rels), "bias": sum(errs) / n}


def _trunc_ref(a, b, na, nb, t):
    """Unsigned truncated array: sum of a_j & b_i * 2^(i+j) over i + j >= t."""
    return sum(((a >> j) & (b >> i) & 1) << (i + j) for i in range(nb) for j in range(na) if i + j >= t)


# ------------------------------------------------------------------ harness: clock-less DUTs
def test_harness_connects_clock_only_when_present():
    ports = [Port("a", "in", 4, 1, False), Port("b", "in", 4, 1, False), Port("y", "out", 8, 1, False)]
    clocked = harness_verilog("m", ports, 16)
    comb = harness_verilog("m", ports, 16, None, None)
    assert ".clk(clk)" in clocked and ".rst(rst)" in clocked
    assert ".clk(" not in comb and ".rst(" not in comb and ".a(stim_word[3:0])" in comb
    assert module_header_ports(EXACT4, "mymul") == {"input", "a", "b", "output", "y"}
    assert {"a", "b", "y"} <= module_header_ports(EXACT8S, "smul")
    with pytest.raises(QuantpeError, match="not found"):
        module_header_ports(EXACT4, "other")


def test_exhaustive_inputs_order():
    x = exhaustive_inputs(2, 3, True)
    assert len(x["a"]) == 32
    # cycle p = a_pattern * 8 + b_pattern; pattern 2 of a 2-bit signed operand is -2
    assert (x["a"][16], x["b"][16]) == (-2, 0) and (x["a"][5], x["b"][5]) == (0, -3)


# ------------------------------------------------------------------ RTL vs golden, exhaustive
def _kinds_4x4():
    """Every kind once at 4x4 on Icarus (alternating signedness); the other signedness is --slow."""
    kinds = [dict(method="exact"), dict(method="truncated", t=4), dict(method="truncated", t=3, compensate=True),
             dict(method="broken_array", hbl=1, vbl=3), dict(method="drum", k=3), dict(method="mitchell"),
             dict(method="perforated", perf_rows=1, perf_start=1), dict(method="ssm", k=3, t=1),
             dict(method="lut")]
    out = []
    for i, kw in enumerate(kinds):
        for signed in (False, True):
            tag = "-".join(f"{v}" for v in kw.values()) + ("-i" if signed else "-u")
            marks = [pytest.mark.slow] if (i + signed) % 2 else []
            out.append(pytest.param(kw, signed, id=tag, marks=marks))
    return out


@pytest.mark.parametrize("kw, signed", _kinds_4x4())
def test_rtl_exhaustive_4x4_icarus(kw, signed, seed):
    if kw["method"] == "lut":
        rng = np.random.default_rng(seed)
        lo, hi = (-128, 128) if signed else (0, 256)
        table = rng.integers(lo, hi, size=(16, 16))
        cfg = ApproxMulConfig.from_table(table, signed=signed)
    else:
        cfg = ApproxMulConfig(a_bits=4, b_bits=4, signed=signed, **kw)
    r = rtl_characterize(cfg, "icarus")
    assert np.array_equal(r.table, mul_table(cfg))
    assert r.metrics.to_dict() == characterize(cfg).to_dict()
    if kw["method"] == "lut":
        assert np.array_equal(r.table, table)
    if kw == dict(method="truncated", t=4) and not signed:
        # against a scalar reference written from the definition
        ref = np.array([[_trunc_ref(a, b, 4, 4, 4) for b in range(16)] for a in range(16)])
        assert np.array_equal(r.table, ref)


def test_rtl_wrong_golden_is_caught():
    """The exhaustive check must fail when the RTL and the golden config disagree."""
    from quantpe.sim.runner import SimulationFailed, run
    cfg = ApproxMulConfig(method="truncated", a_bits=4, b_bits=4, t=2)
    with pytest.raises(SimulationFailed, match="first mismatch"):
        run(cfg, "icarus", exhaustive_inputs(4, 4, False), seed=0, name="fault-injection",
            golden_cfg=cfg.replace(t=3), retry_with_waves=False)


KINDS_8X8 = [
    pytest.param(dict(method="truncated", t=6, compensate=True, signed=False), id="trunc-t6c-u"),
    pytest.param(dict(method="drum", k=4, signed=True), id="drum-k4-i", marks=pytest.mark.slow),
    pytest.param(dict(method="ssm", k=6, t=2, signed=False), id="ssm-k6t2-u", marks=pytest.mark.slow),
    pytest.param(dict(method="mitchell", signed=False), id="mitchell-u", marks=pytest.mark.slow),
    pytest.param(dict(method="broken_array", hbl=2, vbl=6, signed=True), id="bam-i", marks=pytest.mark.slow),
    pytest.param(dict(method="perforated", perf_rows=2, perf_start=0, signed=False), id="perf-u",
                 marks=pytest.mark.slow),
]


@pytest.mark.parametrize("kw", KINDS_8X8)
def test_rtl_exhaustive_8x8_verilator(kw):
    cfg = ApproxMulConfig(a_bits=8, b_bits=8, **kw)
    t0 = time.perf_counter()
    r = rtl_characterize(cfg, "verilator")
    print(f"{cfg.config_id}: 65536 pairs on verilator, sim {r.sim_s:.2f} s, build {r.build_s:.1f} s, "
          f"whole {time.perf_counter() - t0:.1f} s")
    assert r.table.shape == (256, 256)
    assert np.array_equal(r.table, mul_table(cfg))
    assert r.metrics.to_dict() == characterize(cfg).to_dict()
    assert r.sim_s < 30


# ------------------------------------------------------------------ external Verilog
def test_external_exact_4x4_icarus(tmp_path):
    f = _write(tmp_path, "mymul.v", EXACT4)
    assert verilog_ports([f], "mymul") == {"a": ("in", 4), "b": ("in", 4), "y": ("out", 8)}
    table, m, res = external_characterize(f, "mymul", 4, 4, False, "icarus")
    assert np.array_equal(table, np.arange(16)[:, None] * np.arange(16)[None, :])
    assert m.ep == 0 and m.wce == 0 and m.mred == 0 and res.cycles == 256


@pytest.mark.parametrize("sim", ["icarus", pytest.param("verilator", marks=pytest.mark.slow)])
def test_external_exact_8x8_signed(tmp_path, sim):
    f = _write(tmp_path, "smul.v", EXACT8S)
    table, m, res = external_characterize([f], "smul", 8, 8, True, sim)
    v = np.arange(-128, 128)
    v = np.concatenate([v[128:], v[:128]])              # pattern order: 0..127, -128..-1
    assert np.array_equal(table, v[:, None] * v[None, :])
    assert m.ep == 0 and m.mae == 0
    print(f"external 8x8 on {sim}: run {res.run_s:.2f} s, wall {res.wall_s:.1f} s, build {res.build_s:.1f} s")


@pytest.mark.parametrize("src, top, signed, f", [
    (NOLSB4, "nolsb", False, lambda a, b: (a * b) & 0xFE),
    (DIAG4S, "diag", True, lambda a, b: a * b + 1 if a == b else a * b),
], ids=["nolsb-u4", "diag-i4"])
def test_external_wrong_multiplier_metrics(tmp_path, src, top, signed, f):
    path = _write(tmp_path, f"{top}.v", src)
    table, m, _ = external_characterize(path, top, 4, 4, signed, "icarus")
    ref = _scalar_metrics(f, 4, 4, signed)
    for k, v in ref.items():
        assert getattr(m, k) == pytest.approx(v, rel=1e-12, abs=0), k
    if top == "nolsb":       # closed form: odd products are the pairs with both operands odd
        assert (m.ep, m.mae, m.wce, m.bias) == (0.25, 0.25, 1, -0.25)
    else:                    # 16 diagonal pairs out of 256, each +1
        assert (m.ep, m.wce, m.bias) == (1 / 16, 1, 1 / 16)


def test_capture_generic_streams(tmp_path):
    """capture() returns every cycle's outputs for arbitrary streams (not only exhaustive)."""
    f = _write(tmp_path, "mymul.v", EXACT4)
    a = np.array([3, 15, 0, 7, 15]); b = np.array([5, 15, 9, 1, 2])
    ports = [Port("a", "in", 4, 1, False), Port("b", "in", 4, 1, False), Port("y", "out", 8, 1, False)]
    res = capture([f], "mymul", ports, {"a": a, "b": b}, "icarus")
    assert res.outputs["y"].tolist() == [15, 225, 0, 7, 30]
    with pytest.raises(QuantpeError, match="share one length"):
        capture([f], "mymul", ports, {"a": a, "b": b[:3]}, "icarus")


# ------------------------------------------------------------------ CLI
def _run_cli(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_golden_outputs(tmp_path, capsys):
    out = tmp_path / "o"
    code, stdout, _ = _run_cli(["characterize", "--kind", "truncated", "--a-bits", 4, "--b-bits", 4,
                                "--t", 4, "-o", out], capsys)
    assert code == 0
    cfg = approx_config("truncated", 4, 4, t=4)
    stem = cfg.config_id
    ref = np.array([[_trunc_ref(a, b, 4, 4, 4) for b in range(16)] for a in range(16)])
    assert np.array_equal(np.load(out / f"{stem}.npy"), ref)
    flat = np.frombuffer((out / f"{stem}.bin").read_bytes(), dtype="<i4")
    assert flat.size == 256 and all(flat[a * 16 + b] == ref[a, b] for a in (0, 5, 15) for b in (0, 7, 15))
    doc = json.loads((out / f"{stem}.json").read_text())
    assert doc["config"]["t"] == 4 and doc["metrics"]["wce"] == int(np.abs(ref - np.arange(16)[:, None] * np.arange(16)).max())
    hdr = (out / f"{stem}.h").read_text()
    assert "static const int32_t" in hdr and "_SIZE 256" in hdr
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{stem}{s}" for s in (".bin", ".h", ".json", ".npy"))
    assert "EP" in stdout and "MRED" in stdout


def test_cli_rtl_and_lut_kind(tmp_path, capsys):
    table = (np.arange(8)[:, None] * np.arange(4)[None, :]) ^ 1
    np.save(tmp_path / "t.npy", table)
    code, stdout, err = _run_cli(["characterize", "--kind", "lut", "--a-bits", 3, "--b-bits", 2, "--lut",
                                  tmp_path / "t.npy", "--rtl", "--sim", "icarus", "-o", tmp_path / "o"], capsys)
    assert code == 0, err
    assert "all 32 pairs match" in stdout
    (j,) = (tmp_path / "o").glob("*.json")
    doc = json.loads(j.read_text())
    assert doc["rtl"]["matches_golden"] and doc["metrics"]["ep"] == 1.0 and doc["metrics"]["wce"] == 1


def test_cli_external(tmp_path, capsys):
    f = _write(tmp_path, "nolsb.v", NOLSB4)
    code, stdout, err = _run_cli(["characterize", "--verilog", f, "--top", "nolsb", "--a-bits", 4,
                                  "--b-bits", 4, "--sim", "icarus", "-o", tmp_path / "o"], capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "o" / "nolsb-u4x4.json").read_text())
    assert doc["metrics"]["ep"] == 0.25 and doc["metrics"]["bias"] == -0.25
    assert np.load(tmp_path / "o" / "nolsb-u4x4.npy")[3, 5] == 14


@pytest.mark.parametrize("args, msg", [
    (["--kind", "truncated", "--a-bits", 9, "--t", 2], "a_bits must be in 2..8"),
    (["--kind", "exact", "--b-bits", 1], "b_bits must be in 2..8"),
    (["--kind", "truncated", "--a-bits", 8, "--b-bits", 8, "--t", 17], "t must be in 0..16"),
    (["--kind", "drum", "--t", 3, "--k", 3], "t is not a parameter"),
    (["--kind", "wallace"], "unknown multiplier kind"),
    (["--kind", "lut", "--a-bits", 4, "--b-bits", 4, "--lut", "{shape}"], "LUT shape"),
    (["--kind", "lut", "--a-bits", 2, "--b-bits", 2, "--lut", "{range}"], "LUT values"),
    (["--kind", "lut"], "needs --lut"),
    (["--verilog", "{syntax}", "--top", "bad", "--a-bits", 4, "--b-bits", 4, "--sim", "icarus"], "is not valid Verilog: "),
    (["--verilog", "{noy}", "--top", "noy", "--a-bits", 4, "--b-bits", 4, "--sim", "icarus"], "lacks port(s) y"),
    (["--verilog", "{exact4}", "--top", "mymul", "--a-bits", 8, "--b-bits", 4, "--sim", "icarus"], "port a is input 4 bits"),
    (["--verilog", "{exact4}", "--top", "nosuch", "--a-bits", 4, "--b-bits", 4, "--sim", "icarus"], "nosuch"),
    (["--verilog", "{narrow}", "--top", "narrow", "--a-bits", 4, "--b-bits", 4, "--sim", "icarus"], "port y is output 6 bits"),
    (["--verilog", "{exact4}", "--a-bits", 4, "--b-bits", 4], "needs --top"),
    (["--verilog", "{exact4}", "--top", "mymul", "--t", 3], "apply to --method only"),
    (["--verilog", "{exact4}", "--top", "mymul", "--a-bits", 9], "a_bits must be in 2..8"),
], ids=lambda x: x if isinstance(x, str) else None)
def test_cli_bad_input(tmp_path, capsys, args, msg):
    np.save(tmp_path / "shape.npy", np.zeros((16, 8), dtype=np.int64))
    np.save(tmp_path / "range.npy", np.full((4, 4), 1000))
    files = {"shape": tmp_path / "shape.npy", "range": tmp_path / "range.npy",
             "syntax": _write(tmp_path, "syntax.v", "module bad (input [3:0] a, output y;\n assign y = ;\nendmodule\n"),
             "noy": _write(tmp_path, "noy.v", "module noy (input [3:0] a, input [3:0] b, output [7:0] p);\n"
                                              "  assign p = a * b;\nendmodule\n"),
             "narrow": _write(tmp_path, "narrow.v", "module narrow (input [3:0] a, input [3:0] b, output [5:0] y);\n"
                                                    "  assign y = a * b;\nendmodule\n"),
             "exact4": _write(tmp_path, "mymul.v", EXACT4)}
    argv = ["characterize", *[str(files[a[1:-1]]) if isinstance(a, str) and a.startswith("{") else a for a in args],
            "-o", tmp_path / "out"]
    code, stdout, err = _run_cli(argv, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("quantpe: error:") and msg in lines[0], err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# ------------------------------------------------------------------ every report variant, banked
def _bank_groups():
    from quantpe.report.approx import WIDTHS
    out = []
    for a, b, signs in WIDTHS:
        for s in signs:
            # one bank group by default (unsigned 4x4); each other group is a 25-110 s Verilator build
            slow = (a, b, s) != (4, 4, False)
            out.append(pytest.param(a, b, s, id=f"{'i' if s else 'u'}{a}x{b}",
                                    marks=[pytest.mark.slow] if slow else []))
    return out


@pytest.mark.parametrize("na,nb,signed", _bank_groups())
def test_every_report_variant_rtl_equals_golden(na, nb, signed):
    """Each variant of the report's sweep at these widths, every input pair, one Verilator build."""
    from quantpe.explore.approx_sweep import sweep_variants
    cfgs = sweep_variants(na, nb, signed)
    checks = rtl_check_variants(cfgs, "verilator")
    assert [i for c in checks for i in c.config_ids] == [c.config_id for c in cfgs]
    assert all(c.pairs == 1 << (na + nb) for c in checks)
    print(f"{len(cfgs)} variants {'i' if signed else 'u'}{na}x{nb} in {len(checks)} banks: build "
          f"{sum(c.build_s for c in checks):.1f} s, run {sum(c.sim_s for c in checks):.1f} s")


def test_bank_check_catches_one_wrong_variant(monkeypatch, build):
    """A golden table that differs in one product of one variant must stop the check, naming it.
    The bank's Verilator build makes only the harness's clk/rst/done public (not every signal)."""
    import quantpe.explore.characterize as ch
    cfgs = [ApproxMulConfig(method="exact", a_bits=3, b_bits=3),
            ApproxMulConfig(method="ssm", k=2, a_bits=3, b_bits=3),
            ApproxMulConfig(method="truncated", t=2, a_bits=3, b_bits=3)]
    victim = cfgs[1]

    def wrong_table(cfg):
        t = mul_table(cfg)
        if cfg == victim:
            t = t.copy()
            t[5, 6] += 1
        return t

    monkeypatch.setattr(ch, "mul_table", wrong_table)
    with pytest.raises(SimulationFailed, match=rf"{victim.config_id}: RTL product of a=5 b=6 .*1 of 64 pairs"
                                               r"(.|\n)*rerun with a waveform: quantpe sim approxmul --config"):
        rtl_check_variants(cfgs, "verilator")
    monkeypatch.undo()
    assert len(rtl_check_variants(cfgs, "verilator")[0].config_ids) == 3
    logs = list((build / "build" / "external").glob("*/build-verilator.log"))
    assert len(logs) == 1
    vlt = logs[0].parent / "harness_vpi.vlt"
    assert vlt.read_text().count("public_flat_rw -module") == 3
    cmd = (logs[0].parent / "verilator" / "Vtop__verFiles.dat").read_text()
    assert "--no-public-flat-rw" in cmd and str(vlt) in cmd

