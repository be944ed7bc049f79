"""Reduction schedule and approximate 4:2 compressors (golden/reduction.py, golden/compressors.py).

The schedule with exact cells against the plain integer sum (exhaustive and seeded random), the
textbook Dadda cell counts, each compressor's truth table against its published equations
written out here, golden == RTL on every input pair (Amaranth simulator at 4x4, the registry
harness on Icarus at 4x4 and on Verilator at 8x8), a one-gate mutation of a golden compressor
that the tests must catch, and the config checks and id compatibility of the new fields.
"""
from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from quantpe.golden.approx import ApproxMulConfig, exact_table, mul_table
from quantpe.golden.errors import ConfigError
from quantpe.golden.reduction import dadda_schedule, evaluate

from test_approx_rtl import all_pairs, check

# ------------------------------------------------------------------ the schedule, exact cells
PROFILES = [[5, 0, 7, 1, 3], [1, 1, 9], [0, 0, 4, 4, 4], [12], [3, 3, 3, 3], [2, 0, 2], [1, 2, 3, 4, 3, 2, 1]]


@pytest.mark.parametrize("heights", PROFILES)
def test_exact_schedule_is_the_sum_exhaustive(heights):
    n = sum(heights)
    x = np.arange(1 << n, dtype=np.int64)
    bits = [((x >> i) & 1).astype(np.uint8) for i in range(n)]
    weights = [c for c, h in enumerate(heights) for _ in range(h)]
    want = sum((b.astype(np.int64) << w) for b, w in zip(bits, weights))
    assert np.array_equal(evaluate(dadda_schedule(heights), bits), want), heights


@pytest.mark.parametrize("heights", [list(range(1, 9)) + list(range(7, 0, -1)), [16] * 3 + [2, 30], [8] * 9])
def test_exact_schedule_is_the_sum_random(heights, seed):
    rng = np.random.default_rng(seed)
    n = sum(heights)
    bits = rng.integers(0, 2, (4000, n), dtype=np.uint8)
    weights = np.array([c for c, h in enumerate(heights) for _ in range(h)], dtype=np.int64)
    want = (bits.astype(np.int64) << weights).sum(axis=1)
    got = evaluate(dadda_schedule(heights), bits)
    assert np.array_equal(got, want), f"seed={seed}"


def test_dadda_cell_counts_8x8():
    """The textbook n x n Dadda tree: n^2 - 4n + 3 full adders and n - 1 half adders, final
    two rows of 2n - 2 columns (n = 8: 35, 7, 14)."""
    s = dadda_schedule(list(range(1, 9)) + list(range(7, 0, -1)))
    kinds = [op.kind for op in s.ops]
    assert (kinds.count("fa"), kinds.count("ha")) == (35, 7)
    assert [len(c) for c in s.columns] == [1] + [2] * 14


# ------------------------------------------------------------------ compressor truth tables
def published(design, x1, x2, x3, x4):
    """The equations of the cited designs, written out independently of golden/."""
    NOT = lambda v: 1 - v  # noqa: E731
    if design == "momeni2":
        return NOT(x1 ^ x2) | NOT(x3 ^ x4), (x1 | x2) & (x3 | x4)
    if design == "xor_or":
        return (x1 ^ x2) | (x3 ^ x4), (x1 & x2) | (x3 & x4)
    if design == "fa_or":
        o = x3 | x4
        return x1 ^ x2 ^ o, (x1 & x2) | ((x1 ^ x2) & o)
    raise KeyError(design)


# (design, {input pattern x1x2x3x4: approximate value}) for the wrong rows the docstring lists
WRONG = {"momeni2": {"0000": 1, "1100": 1, "0011": 1, "1111": 3},
         "xor_or": {"1010": 1, "1001": 1, "0110": 1, "0101": 1, "1111": 2},
         "fa_or": {"0011": 1, "1011": 2, "0111": 2, "1111": 3}}


@pytest.mark.parametrize("design", sorted(WRONG))
def test_compressor_truth_table(design):
    from quantpe.golden.compressors import COMPRESSORS, compress42
    assert set(COMPRESSORS) == set(WRONG)
    for xs in itertools.product((0, 1), repeat=4):
        s, c = compress42(design, *(np.uint8(v) for v in xs))
        ps, pc = published(design, *xs)
        assert (int(s), int(c)) == (ps, pc), (design, xs)
        key = "".join(map(str, xs))
        assert int(s) + 2 * int(c) == WRONG[design].get(key, sum(xs)), (design, key)


def test_golden_compressor_mutation_is_caught(monkeypatch):
    """One gate of a golden compressor changed (OR -> AND in the carry): the truth-table test (the
    independent reference; the RTL builds its gates from the same golden rule) must fail, and the
    change must reach the multiplier's table."""
    import quantpe.golden.approx as ga
    import quantpe.golden.compressors as gc

    cfg = ApproxMulConfig(method="truncated", t=1, a_bits=4, b_bits=4, compressor="xor_or", approx_cols=4)
    before = ga.mul_table(cfg).copy()
    monkeypatch.setitem(gc.COMPRESSORS, "xor_or", lambda x1, x2, x3, x4: ((x1 ^ x2) | (x3 ^ x4),
                                                                          (x1 & x2) & (x3 & x4)))
    ga._array_table.cache_clear()
    ga.mul_table.cache_clear()
    with pytest.raises(AssertionError):
        test_compressor_truth_table("xor_or")
    assert not np.array_equal(ga.mul_table(cfg), before)
    monkeypatch.undo()
    ga._array_table.cache_clear()
    ga.mul_table.cache_clear()
    assert np.array_equal(ga.mul_table(cfg), before)


# ------------------------------------------------------------------ golden == RTL
def variants(na, nb, signed, bw):
    base = dict(a_bits=na, b_bits=nb, signed=signed, **({"signed_form": "baugh_wooley"} if bw else {}))
    P = na + nb
    out = []
    for design in sorted(WRONG):
        for kw in (dict(method="exact"), dict(method="truncated", t=1, compensate=True),
                   dict(method="truncated", t=2, or_cols=2), dict(method="broken_array", hbl=1, vbl=1),
                   dict(method="perforated", perf_rows=1, perf_start=nb - 1)):
            valid = []
            for ac in range(kw.get("or_cols", 0) + 1, P + 1):
                try:
                    valid.append(ApproxMulConfig(**base, **kw, compressor=design, approx_cols=ac))
                except ConfigError:            # places no compressor
                    continue
            out += valid[:1] + valid[-1:]      # the lowest and the highest valid approx_cols
    return list(dict.fromkeys(out))


@pytest.mark.parametrize("na,nb,signed,bw", [(4, 4, False, False), (4, 4, True, False), (4, 4, True, True),
                                             (3, 5, True, True)], ids=["u4x4", "sm4x4", "bw4x4", "bw3x5"])
def test_rtl_exhaustive_small(na, nb, signed, bw):
    cfgs = variants(na, nb, signed, bw)
    assert len({c.compressor for c in cfgs}) == len(WRONG) and len(cfgs) >= 9
    for cfg in cfgs:
        check(cfg, *all_pairs(cfg))
    # the compressors change the products (the test does not compare exact designs only)
    assert sum(not np.array_equal(mul_table(c), mul_table(c.replace(compressor="", approx_cols=0)))
               for c in cfgs) >= len(cfgs) // 2


def test_rtl_exhaustive_4x4_icarus():
    """The generated Verilog on Icarus through the registry harness, every input pair."""
    from quantpe.explore.characterize import rtl_characterize
    cfg = ApproxMulConfig(method="truncated", t=1, compensate=True, a_bits=4, b_bits=4, signed=True,
                          signed_form="baugh_wooley", compressor="momeni2", approx_cols=5)
    assert np.array_equal(rtl_characterize(cfg, "icarus").table, mul_table(cfg))


KW_8X8 = [
    pytest.param(dict(method="truncated", t=4, compensate=True, or_cols=7, compressor="fa_or", approx_cols=8),
                 id="trunc-fa_or-u", marks=pytest.mark.slow),
    pytest.param(dict(method="exact", compressor="xor_or", approx_cols=10), id="exact-xor_or-u",
                 marks=pytest.mark.slow),
    pytest.param(dict(method="truncated", t=3, compensate=True, signed=True, signed_form="baugh_wooley",
                      compressor="momeni2", approx_cols=8), id="trunc-momeni2-bw", marks=pytest.mark.slow),
    pytest.param(dict(method="broken_array", hbl=1, vbl=7, signed=True, compressor="xor_or", approx_cols=11),
                 id="bam-xor_or-sm", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("kw", [p.values[0] for p in KW_8X8], ids=[p.id for p in KW_8X8])
def test_rtl_sampled_8x8(kw, seed):
    """A seeded sample of pairs (with the corners) on the Amaranth simulator; --slow: every pair on
    Verilator (below)."""
    cfg = ApproxMulConfig(**kw)
    rng = np.random.default_rng(seed)
    pa = np.concatenate([[0, 255, 255, 128, 1], rng.integers(0, 256, 400)])
    pb = np.concatenate([[0, 255, 128, 128, 1], rng.integers(0, 256, 400)])
    check(cfg, pa, pb, f" (seed={seed})")


@pytest.mark.parametrize("kw", KW_8X8)
def test_rtl_exhaustive_8x8_verilator(kw):
    """Every input pair of the generated Verilog on Verilator (registry harness, about 30-60 s each)."""
    from quantpe.explore.characterize import rtl_characterize
    cfg = ApproxMulConfig(**kw)
    r = rtl_characterize(cfg, "verilator")
    assert np.array_equal(r.table, mul_table(cfg))
    assert not np.array_equal(r.table, exact_table(8, 8, cfg.signed))


# ------------------------------------------------------------------ config
def test_ids_unchanged_and_new_fields_in_the_name():
    assert ApproxMulConfig().config_id == "approxmul-exact-u8x8-c585d0d2"
    assert "compressor" not in ApproxMulConfig().to_dict() and "approx_cols" not in ApproxMulConfig().to_dict()
    c = ApproxMulConfig(method="truncated", t=4, compensate=True, or_cols=5, compressor="fa_or", approx_cols=9)
    assert c.short_name() == "approxmul-trunc-t4c-or5-fa_or-a9-u8x8"
    from quantpe.golden.approx_pe import mul_spec, parse_mul_spec
    from quantpe.core.kinds import config_from_dict
    assert config_from_dict(c.to_dict()) == c
    assert parse_mul_spec(mul_spec(c), 8, 8, False) == c


@pytest.mark.parametrize("kw,msg", [
    (dict(compressor="booth42", approx_cols=8), "compressor must be one of"),
    (dict(approx_cols=8), "approx_cols=8 needs a compressor"),
    (dict(compressor="xor_or"), "approx_cols must be in 1..16"),
    (dict(compressor="xor_or", approx_cols=17), "approx_cols must be in 1..16"),
    (dict(method="truncated", t=2, or_cols=6, compressor="xor_or", approx_cols=6), "approx_cols must be in 7..16"),
    (dict(compressor="xor_or", approx_cols=3), "places no xor_or compressor in column 2"),
    (dict(compressor="xor_or", approx_cols=16), "places no xor_or compressor in column 15"),
    (dict(method="drum", k=4, compressor="xor_or", approx_cols=8), "compressor is not a parameter of method 'drum'"),
])
def test_config_errors(kw, msg):
    with pytest.raises(ConfigError, match=re.escape(msg)):
        ApproxMulConfig(**kw)
