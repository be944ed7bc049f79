"""Radix-4 Booth multipliers (signed_form="booth", golden/approx.py, rtl/approx.py).

The recoding rule against the digit table written out here, the exact array against a * b at
every width pair, the array constant against a hand value, the compensation constant against
the mean dropped value measured from the tables, golden == RTL on every input pair (Amaranth
simulator at small widths, odd b_bits included; the registry harness on Icarus; every 8x8 pair on
Verilator with --slow), a mutated recoding rule that the tests must catch, and the config checks.
"""
from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from quantpe.golden.approx import ApproxMulConfig, booth_constant, exact_table, mul_table
from quantpe.golden.errors import ConfigError

from test_approx_rtl import all_pairs, check

BOOTH = dict(signed=True, signed_form="booth")


def digit(b_hi, b_mid, b_lo):
    """The radix-4 Booth digit of (b_{2i+1}, b_{2i}, b_{2i-1}), written out independently."""
    return {(0, 0, 0): 0, (0, 0, 1): 1, (0, 1, 0): 1, (0, 1, 1): 2,
            (1, 0, 0): -2, (1, 0, 1): -1, (1, 1, 0): -1, (1, 1, 1): 0}[b_hi, b_mid, b_lo]


def test_booth_digit_table():
    from quantpe.golden.approx import booth_digit
    for bits in itertools.product((0, 1), repeat=3):
        one, two, neg = booth_digit(*bits)
        assert one & two == 0, bits
        magnitude = one + 2 * two
        assert (-magnitude if neg else magnitude) == digit(*bits), bits


@pytest.mark.parametrize("na,nb", list(itertools.product(range(2, 9), repeat=2)))
def test_exact_booth_is_the_product(na, nb):
    cfg = ApproxMulConfig(a_bits=na, b_bits=nb, **BOOTH)
    assert np.array_equal(mul_table(cfg), exact_table(na, nb, True))


def test_booth_constant_by_hand():
    # rows at columns 0, 2, 4, 6 of an 8x8 array: -(2^8 + 2^10 + 2^12 + 2^14) mod 2^16
    assert booth_constant(8, 8) == 65536 - 21760 == 0xAB00
    assert booth_constant(4, 3) == (128 - (16 + 64)) == 48     # 2 rows for 3 bits of b
    assert booth_constant(2, 2) == 16 - 4 == 12


@pytest.mark.parametrize("t", [1, 2, 3, 5, 7, 10])
def test_compensation_is_the_mean_dropped_value(t):
    """C = round-half-up of the mean of (exact - uncompensated) mod 2^P over all pairs."""
    from quantpe.golden.approx import truncation_compensation
    plain = ApproxMulConfig(method="truncated", t=t, **BOOTH)
    comp = plain.replace(compensate=True)
    dropped = (exact_table(8, 8, True) - mul_table(plain)) % (1 << 16)
    mean2 = 2 * int(dropped.sum())
    n = dropped.size
    assert truncation_compensation(comp) == (mean2 + n) // (2 * n)
    bias = (mul_table(comp) - exact_table(8, 8, True)).mean()
    assert abs(bias) <= 0.5 + 1e-9


def variants(na, nb):
    rows = (nb + 1) // 2
    out = [dict(method="exact"), dict(method="truncated", t=1), dict(method="truncated", t=2, compensate=True),
           dict(method="truncated", t=3, compensate=True, or_cols=4), dict(method="broken_array", hbl=1, vbl=2),
           dict(method="perforated", perf_rows=1, perf_start=rows - 1),
           dict(method="truncated", t=1, compensate=True, compressor="fa_or", approx_cols=4),
           dict(method="exact", compressor="xor_or", approx_cols=na + nb - 2)]
    cfgs = []
    for kw in out:
        try:
            cfgs.append(ApproxMulConfig(a_bits=na, b_bits=nb, **BOOTH, **kw))
        except ConfigError:        # a compressor the schedule does not place at this width
            continue
    return cfgs


@pytest.mark.parametrize("na,nb", [(4, 4), (3, 5), (5, 3), (2, 2), (6, 4)])
def test_rtl_exhaustive_small(na, nb):
    cfgs = variants(na, nb)
    assert len(cfgs) >= 6
    for cfg in cfgs:
        check(cfg, *all_pairs(cfg))
    assert sum(not np.array_equal(mul_table(c), exact_table(na, nb, True)) for c in cfgs) >= len(cfgs) - 2


def test_rtl_exhaustive_icarus():
    """The generated Verilog on Icarus through the registry harness, every input pair."""
    from quantpe.explore.characterize import rtl_characterize
    cfg = ApproxMulConfig(method="truncated", t=3, compensate=True, or_cols=4, a_bits=5, b_bits=5, **BOOTH)
    assert np.array_equal(rtl_characterize(cfg, "icarus").table, mul_table(cfg))


KW_8X8 = [dict(method="exact"), dict(method="truncated", t=5, compensate=True),
          dict(method="truncated", t=3, compensate=True, or_cols=4, compressor="fa_or", approx_cols=5)]


@pytest.mark.parametrize("kw", KW_8X8)
def test_rtl_sampled_8x8(kw, seed):
    cfg = ApproxMulConfig(**kw, **BOOTH)
    rng = np.random.default_rng(seed)
    pa = np.concatenate([[0, 255, 128, 128, 127, 1], rng.integers(0, 256, 400)])
    pb = np.concatenate([[0, 255, 128, 127, 128, 1], rng.integers(0, 256, 400)])
    check(cfg, pa, pb, f" (seed={seed})")


@pytest.mark.slow
@pytest.mark.parametrize("kw", KW_8X8)
def test_rtl_exhaustive_8x8_verilator(kw):
    from quantpe.explore.characterize import rtl_characterize
    cfg = ApproxMulConfig(**kw, **BOOTH)
    assert np.array_equal(rtl_characterize(cfg, "verilator").table, mul_table(cfg))


def test_mutated_recoding_is_caught(monkeypatch):
    """`two` without its ~one term: the digit-table test must fail and the exact array must break."""
    import quantpe.golden.approx as ga
    monkeypatch.setattr(ga, "booth_digit", lambda hi, mid, lo: (mid ^ lo, hi ^ mid, hi))
    ga._array_table.cache_clear()
    ga.mul_table.cache_clear()
    with pytest.raises(AssertionError):
        test_booth_digit_table()
    cfg = ApproxMulConfig(a_bits=4, b_bits=4, **BOOTH)
    assert not np.array_equal(ga.mul_table(cfg), exact_table(4, 4, True))
    monkeypatch.undo()
    ga._array_table.cache_clear()
    ga.mul_table.cache_clear()


def test_names_and_spec_round_trip():
    c = ApproxMulConfig(method="truncated", t=5, compensate=True, **BOOTH)
    assert c.short_name() == "approxmul-trunc-t5c-booth-i8x8"
    from quantpe.golden.approx_pe import mul_spec, parse_mul_spec
    from quantpe.core.kinds import config_from_dict
    assert config_from_dict(c.to_dict()) == c
    assert parse_mul_spec(mul_spec(c), 8, 8, True) == c


@pytest.mark.parametrize("kw,msg", [
    (dict(signed=False, signed_form="booth"), "signed_form 'booth' needs signed=True"),
    (dict(signed=True, signed_form="booth", method="drum", k=4), "needs signed=True and an array method"),
    (dict(signed=True, signed_form="booth", method="broken_array", hbl=5), "hbl must be in 0..4 (Booth rows)"),
    (dict(signed=True, signed_form="booth", method="perforated", perf_rows=1, perf_start=4),
     "perf_start must be in 0..3 (Booth rows)"),
    (dict(signed=True, signed_form="booth", b_bits=5, method="perforated", perf_rows=4),
     "perf_rows must be in 0..3"),
])
def test_config_errors(kw, msg):
    with pytest.raises(ConfigError, match=re.escape(msg)):
        ApproxMulConfig(**kw)


def test_cli_signed_form_booth(tmp_path):
    from quantpe.cli import main
    rc = main(["characterize", "--kind", "truncated", "--a-bits", "4", "--b-bits", "4", "--signed",
               "--signed-form", "booth", "--t", "2", "-o", str(tmp_path)])
    assert rc in (0, None)
    assert list(tmp_path.rglob("*booth*.npy"))
