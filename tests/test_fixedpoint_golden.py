"""Golden fixed point, rounding modes and LFSR: hand-computed values, exhaustive identities,
an independent maximal-length check of the built-in polynomials, bad input, statistics."""
from fractions import Fraction
from math import floor

import numpy as np
import pytest

from quantpe.golden.errors import ConfigError, QuantpeError
from quantpe.golden.fixedpoint import FixedFormat, fixed_dot, quantize, requantize, round_shift, to_fixed
from quantpe.golden.lfsr import (MAXIMAL_POLYS, MAXIMAL_TAPS, check_lfsr, is_maximal, lane_seeds, lfsr_jump,
                                 lfsr_states, lfsr_step, step_int)
from quantpe.golden.requant import RequantConfig, requant_schedule, rounding_statistics

# -- format --------------------------------------------------------------------------------------


def test_format_range_and_step():
    f = FixedFormat(2, 14)
    assert (f.wl, f.eps, f.code_min, f.code_max) == (16, 2.0 ** -14, -32768, 32767)
    assert (f.min_value, f.max_value) == (-2.0, 2.0 - 2.0 ** -14)
    assert FixedFormat.from_wl(8, 4) == FixedFormat(4, 4)
    assert str(FixedFormat(4, 4)) == "<4,4>"


@pytest.mark.parametrize("il, fl, msg", [(0, 8, "IL must be >= 1"), (-3, 8, "IL must be >= 1"),
                                         (4, -1, "FL must be >= 0"), (8, 25, r"WL = IL \+ FL must be <= 32")])
def test_bad_format_is_one_line(il, fl, msg):
    with pytest.raises(ConfigError, match=msg) as e:
        FixedFormat(il, fl)
    assert "\n" not in str(e.value)


# -- rounding rules: hand-computed table (k = 2, values in quarters) ------------------------------

# Z, x = Z/4, truncate = floor(x), nearest (ties toward -inf)
HAND = [(-7, -1.75, -2, -2), (-6, -1.5, -2, -2), (-5, -1.25, -2, -1), (-3, -0.75, -1, -1),
        (-2, -0.5, -1, -1), (-1, -0.25, -1, 0), (0, 0.0, 0, 0), (1, 0.25, 0, 0), (2, 0.5, 0, 0),
        (3, 0.75, 0, 1), (5, 1.25, 1, 1), (6, 1.5, 1, 1), (7, 1.75, 1, 2)]


@pytest.mark.parametrize("z, x, trunc, near", HAND)
def test_hand_table(z, x, trunc, near):
    assert round_shift(z, 2, "truncate") == trunc
    assert round_shift(z, 2, "nearest") == near
    f = FixedFormat(4, 0)
    assert to_fixed(x, f, "truncate") == trunc and to_fixed(x, f, "nearest") == near


def test_exact_ties_round_toward_minus_infinity():
    """The paper's rule x - floor(x) <= eps/2 -> floor(x): +0.5 -> 0, -0.5 -> -1, 2.5 -> 2."""
    for k in range(1, 12):
        half = 1 << (k - 1)
        for y in range(-5, 6):
            assert round_shift(y * (1 << k) + half, k, "nearest") == y
    f = FixedFormat(8, 4)
    assert list(to_fixed(np.array([0.5, -0.5, 2.5]) / 16, f, "nearest")) == [0, -1, 2]


def test_nearest_matches_fraction_reference(seed):
    """Random Z, k against an independent rule written with exact fractions."""
    rng = np.random.default_rng(seed)
    for _ in range(2000):
        k = int(rng.integers(0, 20))
        z = int(rng.integers(-(1 << 40), 1 << 40))
        x = Fraction(z, 1 << k)
        fl = floor(x)
        want = fl if x - fl <= Fraction(1, 2) else fl + 1
        assert round_shift(z, k, "nearest") == want
        assert round_shift(z, k, "truncate") == fl


@pytest.mark.parametrize("k", range(0, 7))
def test_stochastic_rounding_is_exact_over_all_draws(k):
    """Exhaustive over R in [0, 2^k - 1]: round-ups = Z mod 2^k exactly, so the mean is Z / 2^k."""
    z = np.arange(-300, 300)
    r = np.arange(1 << k)
    y = round_shift(z[:, None] * np.ones_like(r), k, "stochastic", np.broadcast_to(r, (len(z), len(r))))
    ups = (y > (z >> k)[:, None]).sum(axis=1)
    assert np.array_equal(ups, z % (1 << k))
    assert np.array_equal(y.sum(axis=1), z)             # sum_R floor((Z + R) / 2^k) = Z (Hermite)


def test_requantize_saturates_both_ways_and_k_zero():
    f = FixedFormat(2, 2)                       # codes -8..7, values -2..1.75
    z = np.array([1000, 29, 28, 27, -32, -33, -1000])   # f_acc = 4 (k = 2)
    assert list(requantize(z, 4, f, "nearest")) == [7, 7, 7, 7, -8, -8, -8]
    assert list(requantize(z, 4, f, "truncate")) == [7, 7, 7, 6, -8, -8, -8]
    assert list(requantize(np.array([7, 8, -8, -9]), 2, f, "nearest")) == [7, 7, -8, -8]   # k = 0
    with pytest.raises(QuantpeError, match="fewer than FL"):
        requantize(z, 1, f, "nearest")


def test_dot_product_is_rounded_once():
    """<4,1> operands: 0.5*0.5 + 0.5*0.5 = 0.5 exactly; rounding each product (0.25 -> 0) first
    would give 0."""
    f = FixedFormat(4, 1)
    assert fixed_dot([1, 1], [1, 1], f, f, f, "nearest") == 1
    assert fixed_dot([1], [1], f, f, f, "nearest") + fixed_dot([1], [1], f, f, f, "nearest") == 0


def test_to_fixed_matches_requantize_on_dyadic_values(seed):
    rng = np.random.default_rng(seed)
    f = FixedFormat(6, 8)
    z = rng.integers(-(1 << 20), 1 << 20, size=5000)        # 16 fractional bits
    x = z / 2.0 ** 16
    for mode in ("truncate", "nearest"):
        assert np.array_equal(to_fixed(x, f, mode), requantize(z, 16, f, mode))
    q = quantize(x, f, "stochastic", np.random.default_rng(seed))
    assert np.all(np.abs(q - x) < f.eps) and np.all((q / f.eps) == np.round(q / f.eps))


def test_nan_or_inf_is_one_line_error():
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(QuantpeError, match="NaN or infinite") as e:
            to_fixed(np.array([0.0, bad]), FixedFormat(4, 4), "nearest", what="training data")
        assert "\n" not in str(e.value)


# -- LFSR ----------------------------------------------------------------------------------------

def test_lfsr_hand_sequences():
    """x^4 + x^3 + 1, seed 1, worked by hand: fibonacci (shift up, parity of bits 3,2 enters bit 0)
    and galois (shift down, bit 0 toggles bits 3,2)."""
    p = 0b11001
    assert list(lfsr_states(1, 9, 4, p, "fibonacci")) == [1, 2, 4, 9, 3, 6, 13, 10, 5]
    assert list(lfsr_states(1, 9, 4, p, "galois")) == [1, 12, 6, 3, 13, 10, 5, 14, 7]
    assert list(lfsr_states(1, 3, 4, p, "fibonacci", steps=3)) == [1, 9, 13]
    assert lfsr_step(np.array([1, 2, 4]), 4, p, "fibonacci").tolist() == [2, 4, 9]


def test_builtin_taps_are_the_published_table():
    """Spot values of Xilinx XAPP052 typed independently of golden.lfsr."""
    assert MAXIMAL_POLYS[16] == (1 << 16) | (1 << 15) | (1 << 13) | (1 << 4) | 1
    assert MAXIMAL_POLYS[32] == (1 << 32) | (1 << 22) | (1 << 2) | (1 << 1) | 1
    assert set(MAXIMAL_TAPS) == set(range(8, 33))


def _period(width, poly, kind):
    s0 = s = 1
    for n in range(1, 1 << width):
        s = step_int(s, width, poly, kind)
        if s == s0:
            return n
    return None


@pytest.mark.parametrize("kind", ["fibonacci", "galois"])
@pytest.mark.parametrize("width", range(8, 17))
def test_builtin_polys_have_full_period(width, kind):
    assert _period(width, MAXIMAL_POLYS[width], kind) == (1 << width) - 1


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["fibonacci", "galois"])
@pytest.mark.parametrize("width", range(17, 23))
def test_builtin_polys_have_full_period_slow(width, kind):
    assert _period(width, MAXIMAL_POLYS[width], kind) == (1 << width) - 1


def _matvec(rows, v):
    out = 0
    for i, r in enumerate(rows):
        out |= ((r & v).bit_count() & 1) << i
    return out


def _matmul(a, b, n):
    """(a b) over GF(2); a matrix is a list of n row bit masks."""
    cols = [sum(((b[r] >> c) & 1) << r for r in range(n)) for c in range(n)]
    return [sum((((a[i] & cols[c]).bit_count()) & 1) << c for c in range(n)) for i in range(n)]


def _matpow_apply(m, e, v, n):
    while e:
        if e & 1:
            v = _matvec(m, v)
        m = _matmul(m, m, n)
        e >>= 1
    return v


@pytest.mark.parametrize("kind", ["fibonacci", "galois"])
def test_builtin_polys_are_maximal_by_matrix_order(kind):
    """Independent of golden.lfsr.is_maximal: the step map M (read off the step function on basis
    vectors) satisfies M^(2^n-1) s = s and M^((2^n-1)/q) s != s for every prime q | 2^n - 1, so
    the state s = 1 has period exactly 2^n - 1 (every non-zero state is on its cycle)."""
    for n in range(8, 33):
        cols = [step_int(1 << j, n, MAXIMAL_POLYS[n], kind) for j in range(n)]
        rows = [sum(((cols[j] >> i) & 1) << j for j in range(n)) for i in range(n)]
        order = (1 << n) - 1
        primes, m, d = [], order, 2
        while d * d <= m:
            if m % d == 0:
                primes.append(d)
                while m % d == 0:
                    m //= d
            d += 1
        primes += [m] if m > 1 else []
        assert _matpow_apply(rows, order, 1, n) == 1
        for q in primes:
            assert _matpow_apply(rows, order // q, 1, n) != 1, (n, q)


@pytest.mark.parametrize("kind", ["fibonacci", "galois"])
def test_jump_and_lane_seeds_match_stepping(kind, seed):
    rng = np.random.default_rng(seed)
    p = MAXIMAL_POLYS[10]
    s = lfsr_states(5, 1023, 10, p, kind)
    for n in [0, 1, 2, 7, 500, 1022, *rng.integers(0, 1023, size=5)]:
        assert lfsr_jump(5, int(n), 10, p, kind) == s[n]
    assert lfsr_jump(5, 1023, 10, p, kind) == 5                     # full period
    assert lane_seeds(5, 4, 10, p, kind) == [s[0], s[255], s[510], s[765]]
    w = 32                                                         # wide: only the algebra
    a = lfsr_jump(1, 12345, w, MAXIMAL_POLYS[w], kind)
    assert lfsr_jump(a, 54321, w, MAXIMAL_POLYS[w], kind) == lfsr_jump(1, 66666, w, MAXIMAL_POLYS[w], kind)
    assert lfsr_jump(1, 3, w, MAXIMAL_POLYS[w], kind) == lfsr_step(1, w, MAXIMAL_POLYS[w], kind, steps=3)


def test_column_reset_seeds_are_spaced_phases():
    cfg = RequantConfig(columns=28)
    seeds = cfg.reset_seeds()
    assert len(set(seeds)) == 28 and seeds[0] == cfg.lfsr_seed
    assert seeds[1] == lfsr_jump(1, 65535 // 28, 16, MAXIMAL_POLYS[16], "fibonacci")
    assert RequantConfig(columns=28, lfsr_shared=True).reset_seeds() == [1]


def test_non_maximal_polynomials_are_detected():
    assert not is_maximal(0b11111, 4)                  # x^4+x^3+x^2+x+1: irreducible, order 5
    assert _period(4, 0b11111, "fibonacci") == 5
    for n, p in MAXIMAL_POLYS.items():     # one flipped coefficient: an even number of terms,
        flipped = p ^ (1 << (n // 2))       # so x = 1 is a root and x + 1 divides it
        assert bin(flipped).count("1") % 2 == 0 and not is_maximal(flipped, n)


@pytest.mark.parametrize("kw, msg", [
    (dict(lfsr_seed=0), "seed 0 locks"),
    (dict(lfsr_poly=(1 << 16) | (1 << 15) | (1 << 14) | 1), "not maximal-length"),
    (dict(lfsr_poly=(1 << 15) | 1), "degree 16"),
    (dict(lfsr_bits=33), "no built-in maximal polynomial"),
    (dict(lfsr_bits=40, lfsr_poly=(1 << 40) | 1), "LFSR width must be in 2..32"),
    (dict(il=0), "IL must be >= 1"), (dict(fl=-1), "FL must be >= 0"),
    (dict(il=8, fl=25, f_acc=40), "WL = IL \\+ FL must be <= 32"),
    (dict(mode="round"), "rounding mode must be one of"),
    (dict(f_acc=10), "bits to drop k"), (dict(f_acc=62), "bits to drop k"),
    (dict(lfsr_bits=12), "drops k = 14 bits but the LFSR has only 12"),
    (dict(lfsr_steps=0), "lfsr_steps"), (dict(lfsr_kind="ring"), "lfsr_kind"),
    (dict(lfsr_seed=1 << 16), "fit in 16 bits"), (dict(columns=0), "columns"),
])
def test_bad_requant_config_is_one_line(kw, msg):
    with pytest.raises(ConfigError, match=msg) as e:
        RequantConfig(**kw)
    assert "\n" not in str(e.value)


def test_non_maximal_allowed_when_not_asked():
    RequantConfig(lfsr_poly=(1 << 16) | (1 << 15) | (1 << 14) | 1, lfsr_maximal=False)
    check_lfsr(4, 0b11111, "galois", 3, maximal=False)


# -- golden schedule ------------------------------------------------------------------------------

def test_schedule_latency_hold_and_reseed():
    cfg = RequantConfig(acc_bits=12, f_acc=4, il=4, fl=2, lfsr_bits=8)      # k = 2
    T = 8
    inputs = {"valid": np.array([1, 1, 0, 1, 1, 0, 1, 0]),
              "acc": np.array([5, 6, 99, 7, 5, 0, 5, 0]).reshape(T, 1),
              "seed_load": np.array([0, 0, 0, 1, 0, 0, 0, 0]),
              "seed": np.array([0, 0, 0, 0, 0, 0, 0, 0]).reshape(T, 1)}   # loads 0 -> 1
    e = requant_schedule(cfg, inputs)
    s = lfsr_states(1, 4, 8, MAXIMAL_POLYS[8], "fibonacci")
    assert e["lfsr"][:, 0].tolist() == [s[0], s[1], s[2], s[2], 1, s[1], s[1], s[2]]
    r = [s[0] & 3, s[1] & 3, None, s[2] & 3, 1 & 3, None, s[1] & 3]
    y = [(a + rr) >> 2 for a, rr in zip([5, 6, 0, 7, 5, 0, 5], r) if rr is not None]
    assert e["out_valid"].tolist() == [0, 1, 1, 0, 1, 1, 0, 1]
    assert e["out"][:, 0].tolist() == [0, y[0], y[1], y[1], y[2], y[3], y[3], y[4]]


# -- statistics (on the golden = RTL LFSR stream) ------------------------------------------------

def test_statistics_sr_unbiased_nearest_tie_bias(seed):
    n = 100_000
    for cfg in (RequantConfig(), RequantConfig(lfsr_bits=32, lfsr_kind="galois"),
                RequantConfig(columns=4)):
        st = rounding_statistics(cfg, n, seed)
        print(cfg.short_name(), st)
        for name in ("uniform", "ties"):
            assert st[name]["samples"] >= n
            assert abs(st[name]["z"]) < 3, (cfg.short_name(), name, st[name])
    rn = rounding_statistics(RequantConfig(mode="nearest"), n, seed)
    assert rn["ties"]["mean_eps"] == -0.5               # every tie goes down: bias -eps/2
    tr = rounding_statistics(RequantConfig(mode="truncate"), n, seed)
    assert abs(tr["uniform"]["mean_eps"] + 0.5) < 0.01   # floor: -eps/2 on average


def test_shared_lfsr_correlates_lanes(seed):
    shared = rounding_statistics(RequantConfig(columns=4, lfsr_shared=True), 20_000, seed)
    indep = rounding_statistics(RequantConfig(columns=4), 20_000, seed)
    print("lane error correlation: shared", shared["uniform"]["lane_corr"], "independent",
          indep["uniform"]["lane_corr"])
    assert shared["ties"]["lane_corr"] == pytest.approx(1.0)
    assert shared["uniform"]["lane_corr"] > 0.4
    assert abs(indep["uniform"]["lane_corr"]) < 0.05
