"""Approximate multiplier RTL (Amaranth simulator) vs the golden tables, bit for bit.

Default run: every kind exhaustive at 4x4 (signed and unsigned, with parameter sweeps), a few
asymmetric widths exhaustive, a seeded sample of pairs at 8x8, Verilog conversion and Verilator
lint of every kind.
`--slow`: every kind exhaustive at 8x8 (65536 pairs each; 4-31 s per design in pysim, 3.5 min in all).
"""
from __future__ import annotations

import re
import time

import numpy as np
import pytest
from amaranth.back import verilog
from quantpe.tb.amaranth_sim import run_comb

from quantpe.golden.approx import ApproxMulConfig, exact_table, mul_table, operand_values, pp_keep_mask
from quantpe.golden.errors import ConfigError
from quantpe.sim.toolchain import lint
from quantpe.rtl.approx import approx_multiplier


def simulate(cfg: ApproxMulConfig, pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """y of the RTL for operand bit patterns pa[i], pb[i] (combinational: set, then read)."""
    av = operand_values(cfg.a_bits, cfg.signed)[pa].tolist()
    bv = operand_values(cfg.b_bits, cfg.signed)[pb].tolist()
    got = run_comb(approx_multiplier(cfg), [{"a": a, "b": b} for a, b in zip(av, bv)], ["y"])
    return np.array([g["y"] for g in got], dtype=np.int64)


def all_pairs(cfg):
    pa, pb = np.meshgrid(np.arange(1 << cfg.a_bits), np.arange(1 << cfg.b_bits), indexing="ij")
    return pa.reshape(-1), pb.reshape(-1)


def check(cfg, pa, pb, extra=""):
    got = simulate(cfg, pa, pb)
    want = mul_table(cfg)[pa, pb]
    bad = np.flatnonzero(got != want)
    if bad.size:
        a = operand_values(cfg.a_bits, cfg.signed)[pa[bad[0]]]
        b = operand_values(cfg.b_bits, cfg.signed)[pb[bad[0]]]
        pytest.fail(f"{cfg.config_id}{extra}: {bad.size} mismatches, first a={a} b={b}: "
                    f"rtl {got[bad[0]]} golden {want[bad[0]]}")
    return len(pa)


def kinds(na, nb):
    """One representative (or more) per kind."""
    return [dict(method="exact"),
            dict(method="truncated", t=(na + nb) // 2),
            dict(method="truncated", t=(na + nb) // 2 + 1, compensate=True),
            dict(method="broken_array", hbl=1, vbl=(na + nb) // 2),
            dict(method="drum", k=3),
            dict(method="ssm", k=max(2, max(na, nb) - 2), t=1),
            dict(method="mitchell"),
            dict(method="perforated", perf_rows=2, perf_start=1)]


def sweep_4x4():
    for t in range(0, 9):
        for comp in (False, True):
            yield dict(method="truncated", t=t, compensate=comp)
    for hbl in range(0, 5):
        for vbl in range(0, 9, 2):
            yield dict(method="broken_array", hbl=hbl, vbl=vbl)
    for k in (2, 3, 4):
        yield dict(method="drum", k=k)
        for t in (0, 2, 3):
            yield dict(method="ssm", k=k, t=t, compensate=t == 3)
    for start in range(4):
        for rows in range(1, 5 - start):
            yield dict(method="perforated", perf_rows=rows, perf_start=start)
    yield dict(method="exact")
    yield dict(method="mitchell")


@pytest.mark.parametrize("signed", [False, True], ids=["u", "s"])
def test_rtl_exhaustive_4x4_all_kinds_and_parameters(signed):
    n = 0
    for kw in sweep_4x4():
        cfg = ApproxMulConfig(a_bits=4, b_bits=4, signed=signed, **kw)
        n += check(cfg, *all_pairs(cfg))
    assert n == 67 * 256       # 67 designs, all 256 pairs each


@pytest.mark.parametrize("na,nb,signed", [(2, 2, True), (2, 2, False), (3, 7, True), (8, 2, False), (5, 3, True)])
def test_rtl_exhaustive_asymmetric(na, nb, signed):
    for kw in kinds(na, nb):
        if kw["method"] == "drum" and max(na, nb) < 3:
            kw = dict(method="drum", k=2)
        if kw["method"] == "perforated" and nb < 3:
            kw = dict(method="perforated", perf_rows=1)
        cfg = ApproxMulConfig(a_bits=na, b_bits=nb, signed=signed, **kw)
        check(cfg, *all_pairs(cfg))


def lut_table(na, nb, signed, rng):
    t = exact_table(na, nb, signed) + rng.integers(-3, 4, size=(1 << na, 1 << nb))
    return t if signed else np.abs(t)


@pytest.mark.parametrize("na,nb,signed", [(4, 4, False), (4, 4, True), (3, 5, True), (6, 6, False)])
def test_rtl_lut_exhaustive(na, nb, signed, seed):
    cfg = ApproxMulConfig.from_table(lut_table(na, nb, signed, np.random.default_rng(seed)), signed=signed)
    check(cfg, *all_pairs(cfg), extra=f" seed={seed}")


def sample_8x8(rng, n=1500):
    corners = np.array([0, 1, 2, 3, 127, 128, 129, 254, 255, 64, 85, 170])
    pa = np.concatenate([np.repeat(corners, len(corners)), rng.integers(0, 256, n)])
    pb = np.concatenate([np.tile(corners, len(corners)), rng.integers(0, 256, n)])
    return pa, pb


@pytest.mark.parametrize("signed", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["u", "s"])
def test_rtl_sampled_8x8(signed, seed):
    rng = np.random.default_rng(seed)
    timing = []
    for kw in kinds(8, 8) + [dict(method="drum", k=2), dict(method="drum", k=6),
                             dict(method="broken_array", hbl=3, vbl=0), dict(method="ssm", k=6, t=2),
                             dict(method="ssm", k=5, t=3, compensate=True)]:
        cfg = ApproxMulConfig(signed=signed, **kw)
        pa, pb = sample_8x8(rng, 600 if kw["method"] in ("exact", "perforated") else 1200)
        t0 = time.perf_counter()
        n = check(cfg, pa, pb, extra=f" seed={seed}")
        timing.append(f"{cfg.short_name()}: {n} pairs {time.perf_counter() - t0:.2f}s")
    print("\n".join(timing))


@pytest.mark.slow
@pytest.mark.parametrize("signed", [False, True], ids=["u", "s"])
@pytest.mark.parametrize("kw", kinds(8, 8) + [dict(method="drum", k=2)], ids=lambda kw: "-".join(map(str, kw.values())))
def test_rtl_exhaustive_8x8(kw, signed):
    cfg = ApproxMulConfig(signed=signed, **kw)
    t0 = time.perf_counter()
    check(cfg, *all_pairs(cfg))
    print(f"{cfg.short_name()}: 65536 pairs in {time.perf_counter() - t0:.1f}s")


@pytest.mark.slow
@pytest.mark.parametrize("signed", [False, True], ids=["u", "s"])
def test_rtl_lut_8x8_sampled(signed, seed):
    rng = np.random.default_rng(seed)
    cfg = ApproxMulConfig.from_table(lut_table(8, 8, signed, rng), signed=signed)
    check(cfg, *sample_8x8(rng, 2000), extra=f" seed={seed}")


# ----------------------------------------------------------------------------- Verilog / structure
def to_verilog(cfg):
    return verilog.convert(approx_multiplier(cfg), name="approx_mul")


@pytest.mark.parametrize("kw", kinds(8, 8) + [dict(method="lut")], ids=lambda kw: kw["method"])
@pytest.mark.parametrize("signed", [False, True], ids=["u", "s"])
def test_verilog_conversion_and_lint(kw, signed, tmp_path):
    n = 8 if kw["method"] != "lut" else 4
    if kw["method"] == "lut":
        cfg = ApproxMulConfig.from_table(lut_table(4, 4, signed, np.random.default_rng(0)), signed=signed)
    else:
        cfg = ApproxMulConfig(signed=signed, **kw)
    v = to_verilog(cfg)
    assert re.search(rf"input \[{n - 1}:0\] a;", v), v[:2000]       # Amaranth declares ports unsigned
    assert re.search(rf"input \[{n - 1}:0\] b;", v)
    assert re.search(rf"output \[{cfg.y_bits - 1}:0\] y;", v)
    code = re.sub(r"\(\*.*?\*\)|/\*.*?\*/|@\*", "", v, flags=re.S)    # drop attributes, comments, @*
    assert "*" not in code, "structural generators must not use the * operator"
    path = tmp_path / "approx_mul.v"
    path.write_text(v)
    lint(path, "approx_mul")       # verilator --lint-only -Wall with the project's waivers


@pytest.mark.parametrize("kw", [dict(method="exact"), dict(method="truncated", t=7, compensate=True),
                                dict(method="broken_array", hbl=2, vbl=6),
                                dict(method="perforated", perf_rows=3, perf_start=1)],
                         ids=lambda kw: kw["method"])
def test_dropped_partial_products_are_absent(kw):
    cfg = ApproxMulConfig(**kw)
    v = to_verilog(cfg)
    present = set(re.findall(r"wire pp_pp(\d)_(\d);", v))
    keep = pp_keep_mask(cfg)
    assert present == {(str(i), str(j)) for i, j in np.argwhere(keep)}
    assert len(present) == keep.sum() < 64 or kw["method"] == "exact"


def test_ssm_core_and_segment_muxes():
    cfg = ApproxMulConfig(method="ssm", k=6, t=2)
    v = to_verilog(cfg)
    assert len(re.findall(r"wire kk_pp\d_\d;", v)) == 36 - 3    # 6x6 core, columns 0 and 1 absent
    assert "pp_pp" not in v.replace("kk_pp", "") and "shift_from" not in v


def test_drum_uses_small_core():
    v = to_verilog(ApproxMulConfig(method="drum", k=4))
    assert len(re.findall(r"wire kk_pp\d_\d;", v)) == 16       # one 4x4 array, no 8x8 array
    assert "pp_pp" not in v.replace("kk_pp", "")


@pytest.mark.parametrize("heights", [[5, 0, 7, 1, 3], [1, 1, 9], [0, 0, 4, 4, 4], [12], [3, 3, 3, 3], [2, 0, 2]])
def test_compressor_tree_any_column_profile(heights, seed):
    """The Dadda builder sums bits for irregular column heights (exhaustive up to 2^12 inputs)."""
    from amaranth.hdl import Elaboratable, Module, Signal
    from quantpe.rtl.approx import _compress

    total = sum(heights)

    class Top(Elaboratable):
        def __init__(self):
            self.x = Signal(total)
            self.y = Signal(len(heights) + total.bit_length() + 1)

        def elaborate(self, platform):
            m = Module()
            cols, k = [], 0
            for h in heights:
                cols.append([self.x[k + i] for i in range(h)])
                k += h
            m.d.comb += self.y.eq(_compress(m, cols, "t"))
            return m

    weights = [1 << c for c, h in enumerate(heights) for _ in range(h)]
    xs = range(1 << total) if total <= 12 else np.random.default_rng(seed).integers(0, 1 << total, 3000).tolist()
    xs = list(xs)
    got = run_comb(Top(), [{"x": x} for x in xs], ["y"])
    bad = [(x, g["y"], want) for x, g in zip(xs, got)
           if g["y"] != (want := sum(w for i, w in enumerate(weights) if (x >> i) & 1))]
    assert not bad, f"seed={seed}: {bad[:3]}"


def test_rejects_non_config():
    with pytest.raises(ConfigError, match="needs an ApproxMulConfig"):
        approx_multiplier({"method": "exact"})
