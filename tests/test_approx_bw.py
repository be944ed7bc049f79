"""Baugh-Wooley (native two's-complement) arrays and lower-column OR compression.

Golden vs an independent scalar bit-level reference written here from the docstring contract,
hand-computed constants, the compensation constant against a brute-force mean over every
operand pair, RTL (Amaranth simulator) == golden on every input pair at small widths, a
mutation of the RTL that the check must catch, and the id/spec backward compatibility.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from quantpe.golden.approx import (
    ApproxMulConfig,
    array_constant,
    baugh_wooley_constant,
    exact_table,
    mul_table,
    operand_values,
    truncation_compensation,
)
from quantpe.golden.approx_pe import mul_spec, parse_mul_spec
from quantpe.golden.errors import ConfigError

from test_approx_rtl import all_pairs, check


def ref_array(cfg: ApproxMulConfig, a: int, b: int) -> int:
    """Scalar reference of the array kinds from the contract (independent of golden's code)."""
    na, nb, P = cfg.a_bits, cfg.b_bits, cfg.a_bits + cfg.b_bits
    bw = cfg.signed_form == "baugh_wooley"
    if cfg.signed and not bw:
        u = ref_array(cfg.replace(signed=False), abs(a), abs(b))
        return -u if (a < 0) != (b < 0) else u
    pa, pb = a % (1 << na), b % (1 << nb)
    cols = {c: [] for c in range(2 * P + 2)}
    dropped_quarters = 0
    for i in range(nb):
        for j in range(na):
            c = i + j
            if cfg.method == "truncated":
                kept = c >= cfg.t
            elif cfg.method == "broken_array":
                kept = i >= cfg.hbl and c >= cfg.vbl
            elif cfg.method == "perforated":
                kept = not (cfg.perf_start <= i < cfg.perf_start + cfg.perf_rows)
            else:
                kept = True
            nand = bw and ((i == nb - 1) != (j == na - 1))
            if kept:
                bit = (pa >> j) & (pb >> i) & 1
                cols[c].append(1 - bit if nand else bit)
            else:
                dropped_quarters += (3 if nand else 1) << c
    const = 0
    if cfg.compensate:
        q, r = divmod(dropped_quarters, 4)
        const += q + (1 if r >= 2 else 0)  # round half away (positive)
    if bw:
        const += (1 << (P - 1)) + (1 << (na - 1)) + (1 << (nb - 1))
        const %= 1 << P
    for c in range(const.bit_length()):
        if (const >> c) & 1:
            cols[c].append(1)
    total = sum((min(1, sum(v)) if c < cfg.or_cols else sum(v)) << c for c, v in cols.items())
    if bw:
        total %= 1 << P
        if total >= 1 << (P - 1):
            total -= 1 << P
    return total


def variants(na, nb, signed, bw):
    base = dict(a_bits=na, b_bits=nb, signed=signed)
    if bw:
        base["signed_form"] = "baugh_wooley"
    P = na + nb
    out = [
        dict(method="exact"),
        dict(method="truncated", t=P // 2),
        dict(method="truncated", t=P // 2, compensate=True),
        dict(method="truncated", t=P // 2 + 1, compensate=True),
        dict(method="broken_array", hbl=1, vbl=P // 2),
        dict(method="perforated", perf_rows=1, perf_start=0),
        dict(method="perforated", perf_rows=1, perf_start=nb - 1),
        dict(method="truncated", t=0, or_cols=P // 2),
        dict(method="truncated", t=2, or_cols=P // 2 + 1, compensate=True),
        dict(method="broken_array", hbl=1, vbl=2, or_cols=P // 2),
    ]
    return [ApproxMulConfig(**base, **kw) for kw in out]


@pytest.mark.parametrize("na,nb", [(2, 2), (4, 4), (3, 5), (5, 3)])
@pytest.mark.parametrize("signed,bw", [(True, True), (True, False), (False, False)])
def test_golden_matches_scalar_reference_exhaustive(na, nb, signed, bw):
    for cfg in variants(na, nb, signed, bw):
        av, bv = operand_values(na, signed), operand_values(nb, signed)
        want = np.array([[ref_array(cfg, int(a), int(b)) for b in bv] for a in av])
        assert np.array_equal(mul_table(cfg), want), cfg.config_id


def test_golden_matches_scalar_reference_sampled_8x8(seed):
    rng = np.random.default_rng(seed)
    pairs = [(-128, -128), (-128, 127), (127, 127), (0, -128), (-1, -1)] + [
        tuple(int(v) for v in rng.integers(-128, 128, 2)) for _ in range(150)
    ]
    for cfg in variants(8, 8, True, True) + variants(8, 8, False, False):
        t = mul_table(cfg)
        for a, b in pairs:
            a, b = (a, b) if cfg.signed else (a % 256, b % 256)
            assert t[a % 256, b % 256] == ref_array(cfg, a, b), (cfg.config_id, a, b)


@pytest.mark.parametrize("na,nb", [(n, m) for n in range(2, 9) for m in range(2, 9)])
def test_baugh_wooley_exact_is_the_product(na, nb):
    cfg = ApproxMulConfig(a_bits=na, b_bits=nb, signed=True, signed_form="baugh_wooley")
    assert np.array_equal(mul_table(cfg), exact_table(na, nb, True)) and cfg.y_bits == na + nb


def test_hand_computed_constants():
    # K = 2^n + 2^(2n-1) for n x n (the textbook modified Baugh-Wooley constant)
    assert baugh_wooley_constant(8, 8) == 256 + 32768 == 0x8100
    assert baugh_wooley_constant(4, 4) == 16 + 128
    assert baugh_wooley_constant(8, 4) == 2048 + 128 + 8
    assert baugh_wooley_constant(2, 2) == 8 + 2 + 2  # 12 < 16
    # 8x8 BW truncated t=8: columns 0..6 hold c+1 AND bits (sum (c+1) 2^c = 769 quarters), column 7
    # six AND bits and two NAND bits (a0 b7, a7 b0): (6 + 2*3) * 128 = 1536 quarters -> 2305/4 = 576.25
    bw = ApproxMulConfig(method="truncated", t=8, compensate=True, signed=True, signed_form="baugh_wooley")
    assert truncation_compensation(bw) == 576
    assert array_constant(bw) == (0x8100 + 576)
    # unsigned array unchanged: 1793/4 -> 448
    assert truncation_compensation(ApproxMulConfig(method="truncated", t=8, compensate=True)) == 448
    # OR compression of a 2x2 array's columns 0, 1: 3 x 3 = 1 + 2 (a1b0 | a0b1) + 4 = 7 (Kulkarni's block)
    orc = ApproxMulConfig(method="truncated", a_bits=2, b_bits=2, or_cols=2)
    want = exact_table(2, 2, False).copy()
    want[3, 3] = 7
    assert np.array_equal(mul_table(orc), want)


@pytest.mark.parametrize("t", range(1, 12))
def test_compensation_is_the_brute_force_mean_of_the_dropped_bits(t):
    """Over every operand pair the mean error of the uncompensated truncated BW array is exactly
    -E[dropped bits]; the compensation constant is that mean rounded half away from zero."""
    kw = dict(method="truncated", t=t, signed=True, signed_form="baugh_wooley")
    plain = ApproxMulConfig(**kw)
    mean_dropped = float(np.mean(exact_table(8, 8, True) - mul_table(plain)))
    c = truncation_compensation(ApproxMulConfig(**kw, compensate=True))
    assert abs(c - mean_dropped) <= 0.5 and (c - mean_dropped != -0.5)
    assert (4 * mean_dropped).is_integer()
    comp = ApproxMulConfig(**kw, compensate=True)
    if t <= 8:  # products near the extremes would wrap for very large t
        assert abs(float(np.mean(mul_table(comp) - exact_table(8, 8, True)))) <= 0.5


@pytest.mark.parametrize("na,nb", [(4, 4), (3, 5), (2, 2)])
@pytest.mark.parametrize("signed,bw", [(True, True), (True, False), (False, False)])
def test_rtl_exhaustive(na, nb, signed, bw):
    for cfg in variants(na, nb, signed, bw):
        check(cfg, *all_pairs(cfg))


def test_rtl_mutation_is_caught(monkeypatch):
    """An RTL built with one NAND turned into an AND must differ from golden."""
    import quantpe.rtl.approx as rtl

    cfg = ApproxMulConfig(a_bits=4, b_bits=4, signed=True, signed_form="baugh_wooley")
    real = rtl.bw_invert_mask

    def flipped(c):
        m = real(c)
        m[3, 0] = False
        return m

    monkeypatch.setattr(rtl, "bw_invert_mask", flipped)
    with pytest.raises(pytest.fail.Exception, match="mismatches"):
        check(cfg, *all_pairs(cfg))


def test_ids_and_specs_backward_compatible():
    # ids computed on the commit before these fields existed
    assert ApproxMulConfig(signed=True).config_id == "approxmul-exact-i8x8-31a9d32d"
    assert (
        ApproxMulConfig(method="truncated", t=6, compensate=True, signed=True).config_id
        == "approxmul-trunc-t6c-i8x8-898b46b3"
    )
    assert ApproxMulConfig(method="drum", k=4).config_id == "approxmul-drum-k4-u8x8-40cd13d5"
    bw = ApproxMulConfig(method="truncated", t=6, signed=True, signed_form="baugh_wooley", or_cols=3)
    assert bw.short_name() == "approxmul-trunc-t6-or3-bw-i8x8"
    from quantpe.core.kinds import config_from_dict

    assert config_from_dict(bw.to_dict()) == bw and config_from_dict(bw.to_dict()).config_id == bw.config_id
    assert "signed_form" not in ApproxMulConfig(signed=True).to_dict()
    spec = mul_spec(bw)
    assert spec == "truncated:or_cols=3,signed_form=baugh_wooley,t=6"
    assert parse_mul_spec(spec, 8, 8, True) == bw
    assert mul_spec(ApproxMulConfig(method="truncated", t=6, compensate=True)) == "truncated:compensate=1,t=6"


@pytest.mark.parametrize(
    "kw,msg",
    [
        (dict(signed_form="radix8"), "signed_form must be one of"),
        (dict(signed_form="baugh_wooley"), "needs signed=True"),
        (
            dict(signed_form="baugh_wooley", signed=True, method="drum", k=4),
            "needs signed=True and an array method",
        ),
        (dict(method="truncated", or_cols=17), "or_cols must be in 0..16"),
        (dict(method="exact", or_cols=2), "or_cols is not a parameter of method 'exact'"),
        (dict(method="drum", k=3, or_cols=2), "or_cols is not a parameter"),
    ],
)
def test_config_errors(kw, msg):
    with pytest.raises(ConfigError, match=re.escape(msg)):
        ApproxMulConfig(**kw)


@pytest.mark.parametrize(
    "kw",
    [
        pytest.param(dict(method="exact", signed=True, signed_form="baugh_wooley"), marks=pytest.mark.slow),
        dict(method="truncated", t=4, compensate=True, signed=True, signed_form="baugh_wooley", or_cols=5),
        pytest.param(dict(method="broken_array", hbl=1, vbl=2, or_cols=4), marks=pytest.mark.slow),
    ],
)
def test_rtl_exhaustive_4x4_icarus(kw):
    """The generated Verilog on Icarus through the registry harness, every input pair."""
    from quantpe.explore.characterize import rtl_characterize

    cfg = ApproxMulConfig(a_bits=4, b_bits=4, **kw)
    assert np.array_equal(rtl_characterize(cfg, "icarus").table, mul_table(cfg))


def test_characterize_config_accepts_new_fields():
    from quantpe.explore.characterize import approx_config

    cfg = approx_config("trunc", 8, 8, True, t=4, or_cols=6, signed_form="baugh_wooley")
    assert cfg == ApproxMulConfig(method="truncated", t=4, or_cols=6, signed=True, signed_form="baugh_wooley")
    with pytest.raises(ConfigError, match="needs signed=True"):
        approx_config("trunc", 8, 8, False, t=4, signed_form="baugh_wooley")
