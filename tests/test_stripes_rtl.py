"""SIP PE RTL (rtl/stripes.py) against the golden schedule, every output every cycle.

Amaranth simulator; the stream mixes random bricks, named corners and one brick per
precision 1..a_bits, with random input stalls (valid low, random data on the ports), output
back-pressure and long first..last runs (accumulator wrap at the minimal acc_bits).
Seeded by the session seed (conftest `seed` fixture: --seed N or $QUANTPE_SEED).
"""
import re

import numpy as np
import pytest
from amaranth.back import verilog

from quantpe.golden.stripes import StripesConfig, stripes_schedule
from quantpe.golden.stripes_precision import detect_windows
from quantpe.rtl.ports import ports_of
from quantpe.sim.toolchain import lint
from quantpe.rtl.stripes import PrecisionDetector, stripes_detector, stripes_pe
from quantpe.tb.amaranth_sim import run_clocked, run_comb
from quantpe.tb.stripes_stimulus import make_stream, stripes_coverage, stripes_run

def simulate(cfg, s):
    """Drive `s` (a StripesSchedule) into the RTL; return the list of mismatches."""
    ins = {"in_valid": s.in_valid, "first": s.first, "last": s.last, "a": s.a, "w": s.w,
           "out_ready": s.out_ready}
    if cfg.mode == "static":
        ins.update(win_msb=s.win_msb, win_lsb=s.win_lsb)
    names = ("in_ready", "out_valid", "out_sum")
    got = run_clocked(stripes_pe(cfg), ins, list(names))
    exp = {"in_ready": s.in_ready, "out_valid": s.out_valid, "out_sum": s.out_sum}
    return [f"cycle {t}: (in_ready, out_valid, out_sum) = {tuple(int(got[n][t]) for n in names)}, "
            f"golden {tuple(int(exp[n][t]) for n in names)}"
            for t in range(len(s)) if any(got[n][t] != exp[n][t] for n in names)]


RTL_CFGS = [
    StripesConfig(),                                                        # static i8 x i8
    StripesConfig(lanes=8, a_signed=False, acc_bits=20),                    # static u8, min acc
    StripesConfig(lanes=4, a_bits=16, acc_bits=26),                         # static i16, min acc
    StripesConfig(mode="dynamic"),                                          # DStripes leading
    StripesConfig(mode="dynamic", lanes=8, group=4, a_signed=False, w_signed=False, acc_bits=21),
    StripesConfig(mode="dynamic", trailing=True),                           # leading + trailing
    StripesConfig(mode="dynamic", trailing=True, group=4),                  # per-group shift
    StripesConfig(mode="dynamic", trailing=True, lanes=4, group=2, a_bits=16, a_signed=False,
                  acc_bits=27),
    StripesConfig(mode="dynamic", trailing=True, lanes=6, group=3, a_bits=5, w_bits=3,
                  w_signed=False, acc_bits=12),                             # odd sizes, wraps
    StripesConfig(mode="parallel"),
    StripesConfig(mode="parallel", lanes=3, a_bits=5, a_signed=False, w_bits=4, w_signed=False,
                  acc_bits=12),
]


@pytest.mark.parametrize("cfg", RTL_CFGS, ids=lambda c: c.short_name())
def test_rtl_matches_golden_schedule(cfg, seed):
    rng = np.random.default_rng([seed, RTL_CFGS.index(cfg)])
    bricks, s = stripes_run(cfg, rng, 40 if cfg.lanes >= 16 else 60)
    assert (s.finish >= 0).all(), "stream did not finish: enlarge T"
    cov = stripes_coverage(cfg, bricks, s)     # what this test claims to exercise
    missing = [k for k in ("output_backpressure_stall", "input_stall_while_ready", "back_to_back",
                           "all_precisions") if not cov[k]]
    if cfg.acc_bits == cfg.sum_bits and not cov["accumulator_wrap"]:
        missing.append("accumulator_wrap")
    assert not missing, f"not exercised: {missing}"
    errors = simulate(cfg, s)
    assert not errors, "\n".join(errors[:10])


def test_harness_detects_wrong_golden(seed):
    """The per-cycle check fails when the expectation is off by one in value or in timing."""
    cfg = StripesConfig(mode="dynamic", lanes=4, trailing=True)
    rng = np.random.default_rng(seed)
    bricks, _ = make_stream(cfg, rng, 10)
    T = 200
    s = stripes_schedule(cfg, bricks, np.ones(T, int), np.ones(T, int))
    assert simulate(cfg, s) == []
    t = int(np.flatnonzero(s.out_valid)[0])
    s.out_sum[t] += 1
    assert simulate(cfg, s)
    s.out_sum[t] -= 1
    k = int(np.flatnonzero(s.in_ready == 0)[0])
    s.in_ready[k] = 1
    assert simulate(cfg, s)


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("group", [1, 2])
def test_detector_exhaustive_4bit_pairs(signed, group):
    det = PrecisionDetector(lanes=2, group=group, a_bits=4, a_signed=signed, trailing=True)
    lo, hi = (-8, 7) if signed else (0, 15)
    pairs = np.array([(x, y) for x in range(lo, hi + 1) for y in range(lo, hi + 1)])
    exp_msb, exp_lsb = detect_windows(pairs, 4, signed, group, True)
    got = run_comb(det, [{"a": [x, y]} for x, y in pairs], ["msb", "lsb"])      # packed groups
    mask = (1 << det.win_bits) - 1
    bad = [(x, y, j, g) for i, ((x, y), g) in enumerate(zip(pairs, got)) for j in range(det.n_groups)
           if ((g["msb"] >> (j * det.win_bits)) & mask, (g["lsb"] >> (j * det.win_bits)) & mask)
           != (exp_msb[i, j], exp_lsb[i, j])]
    assert not bad, bad[:5]


VERILOG_CFGS = [StripesConfig(), StripesConfig(mode="dynamic", trailing=True, group=4),
                StripesConfig(mode="parallel")]


@pytest.mark.parametrize("cfg", VERILOG_CFGS, ids=lambda c: c.short_name())
def test_verilog_conversion_ports_and_lint(cfg, tmp_path):
    dut = stripes_pe(cfg)
    text = verilog.convert(dut, name="quantpe_stripes", emit_src=False)
    top = text[text.index("module quantpe_stripes("):]
    top = top[:top.index("endmodule")]
    decl = {}
    for m in re.finditer(r"^\s*(input|output)\s+(?:\[(\d+):0\]\s+)?(\w+);", top, re.M):
        decl[m.group(3)] = (m.group(1), int(m.group(2) or 0) + 1)
    expected = {"in_valid": ("input", 1), "in_ready": ("output", 1),
                "first": ("input", 1), "last": ("input", 1),
                "a": ("input", cfg.lanes * cfg.a_bits), "w": ("input", cfg.lanes * cfg.w_bits)}
    if cfg.mode == "static":
        expected.update(win_msb=("input", cfg.win_bits), win_lsb=("input", cfg.win_bits))
    expected.update(out_valid=("output", 1), out_ready=("input", 1),
                    out_sum=("output", cfg.acc_bits))
    assert [p.name for p in ports_of(dut)] == list(expected)          # signature order
    expected.update(clk=("input", 1), rst=("input", 1))
    assert decl == expected
    if cfg.mode == "dynamic":
        assert "module \\quantpe_stripes.detector (" in text
        det = stripes_detector(cfg)
        assert [p.name for p in ports_of(det)] == ["a", "msb", "lsb"]
        assert "module detector(" in verilog.convert(det, name="detector", emit_src=False)
    path = tmp_path / "quantpe_stripes.v"
    path.write_text(text)
    lint(path, "quantpe_stripes")     # the project's verilator -Wall with its documented waivers
