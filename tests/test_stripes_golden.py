"""Golden model of the Stripes / Dynamic Stripes SIP PE: bit rules, cycles, schedule, totals.

Independent references used here (written straightforwardly, not from the implementation):
- `ref_window_value`: a python-int loop over the window's bits, top bit negative for signed;
- `ref_fits_precision`: smallest p whose p-bit range holds the value;
- `ref_min_window`: brute force over every window [msb..lsb] for the narrowest exact one;
- `quantpe.golden.dot.dot` for exact results.
Random cases use the session seed (conftest `seed` fixture: --seed N or $QUANTPE_SEED).
"""
import numpy as np
import pytest

from quantpe.core.kinds import config_from_dict
from quantpe.golden.dot import dot
from quantpe.golden.errors import ConfigError, QuantpeError
from quantpe.golden.intmath import int_range, wrap
from quantpe.golden.stripes import (BrickStream, StripesConfig, brick_cycles, brick_values,
                                    brick_windows, layer_cycles, model_cycles, stripes_schedule)
from quantpe.golden.stripes_precision import (covering_msb, detect_windows, lane_precision,
                                              profile_precisions, static_window, window_value)

@pytest.fixture
def rng(seed):
    return np.random.default_rng(seed)


# ----------------------------------------------------------------------------- references

def ref_window_value(a: int, msb: int, lsb: int, a_bits: int, signed: bool) -> int:
    pattern = a & ((1 << a_bits) - 1)
    v = 0
    for p in range(lsb, msb + 1):
        if (pattern >> p) & 1:
            v += -(1 << p) if (signed and p == msb) else (1 << p)
    return v


def ref_fits_precision(a: int, a_bits: int, signed: bool) -> int:
    for p in range(1, a_bits + 1):
        lo, hi = (-(1 << (p - 1)), (1 << (p - 1)) - 1) if signed else (0, (1 << p) - 1)
        if lo <= a <= hi:
            return p
    raise AssertionError(a)


def ref_min_window(values, a_bits, signed, trailing):
    """Narrowest (msb, lsb) with ref_window_value exact for every value (lsb = 0 if not trailing)."""
    best = None
    for lsb in range(a_bits) if trailing else [0]:
        for msb in range(lsb, a_bits):
            if all(ref_window_value(int(v), msb, lsb, a_bits, signed) == int(v) for v in values):
                if best is None or msb - lsb < best[0] - best[1]:
                    best = (msb, lsb)
                break
    return best


def corner_bricks(cfg):
    """Named corner bricks (lanes wide) for a config."""
    L, A = cfg.lanes, cfg.a_bits
    lo, hi = cfg.a_range()
    out = {"all_zero": np.zeros(L, np.int64), "all_max": np.full(L, hi),
           "one_max": np.eye(1, L, L // 2, dtype=np.int64)[0] * hi,
           "one_lsb": np.eye(1, L, 0, dtype=np.int64)[0]}
    if cfg.a_signed:
        out.update({"all_min": np.full(L, lo), "all_minus_one": np.full(L, -1),
                    "all_negative": -(np.arange(L) % (1 << (A - 1))) - 1,
                    "min_and_max": np.where(np.arange(L) % 2, lo, hi),
                    "one_min": np.eye(1, L, L - 1, dtype=np.int64)[0] * lo,
                    "neg_power": np.full(L, -(1 << (A - 2)))})
    else:
        out["top_bit_only"] = np.full(L, 1 << (A - 1))
    out["high_bits_only"] = np.full(L, (1 << (A - 2)) * (1 if cfg.a_signed else 2))
    return {k: np.asarray(v, np.int64) for k, v in out.items()}


def random_bricks(cfg, n, rng):
    lo, hi = cfg.a_range()
    a = rng.integers(lo, hi + 1, (n, cfg.lanes))
    a = a >> rng.integers(0, cfg.a_bits, (n, 1))                 # varied leading ones
    a = np.clip(a << rng.integers(0, 3, (n, 1)), lo, hi)          # some trailing zeros
    a = np.where(rng.random((n, cfg.lanes)) < 0.2, 0, a)
    return a


# ----------------------------------------------------------------------------- config

def test_config_defaults_and_roundtrip():
    cfg = StripesConfig()
    assert (cfg.lanes, cfg.group, cfg.a_bits, cfg.w_bits, cfg.mode) == (16, 16, 8, 8, "static")
    assert cfg.win_bits == 3 and cfg.max_cycles == 8 and cfg.n_groups == 1
    assert config_from_dict(cfg.to_dict()) == cfg
    d = StripesConfig(mode="dynamic", lanes=8, group=2, trailing=True)
    assert config_from_dict(d.to_dict()).config_id == d.config_id
    assert d.config_id != StripesConfig(mode="dynamic", lanes=8, group=4, trailing=True).config_id
    assert StripesConfig(lanes=8).group == 8
    assert StripesConfig(lanes=8, group=8) == StripesConfig(lanes=8)
    assert StripesConfig(a_bits=16, a_signed=False, lanes=4, acc_bits=40).win_bits == 4
    assert StripesConfig(mode="parallel").max_cycles == 1


@pytest.mark.parametrize("kw, msg", [
    (dict(a_bits=17), "a_bits must be in 2..16"),
    (dict(a_bits=1), "a_bits must be in 2..16"),
    (dict(w_bits=17), "w_bits must be in 2..16"),
    (dict(mode="dynamic", group=5), "group 5 must divide lanes 16"),
    (dict(group=4), "dynamic mode only"),
    (dict(trailing=True), "trailing-one detection applies to dynamic mode only"),
    (dict(mode="fast"), "mode must be one of"),
    (dict(acc_bits=19), "acc_bits must be in 20..62"),
    (dict(lanes=0), "lanes must be in 1..256"),
    (dict(trailing=1), "trailing must be true or false"),
])
def test_config_errors(kw, msg):
    with pytest.raises(ConfigError, match=msg) as e:
        StripesConfig(**kw)
    assert "\n" not in str(e.value)


# ----------------------------------------------------------------------------- bit rules

@pytest.mark.parametrize("signed", [False, True])
def test_lane_precision_every_value_every_width(signed):
    for bits in range(2, 17):
        lo, hi = int_range(bits, signed)
        vals = np.arange(lo, hi + 1)
        got = lane_precision(vals, bits, signed)
        # independent: smallest p whose range holds the value, vectorised over p
        exp = np.full(vals.shape, bits + 1)
        for p in range(bits, 0, -1):
            plo, phi = int_range(p, signed)
            exp = np.where((vals >= plo) & (vals <= phi), p, exp)
        np.testing.assert_array_equal(got, exp)
        assert set(np.unique(got)) == set(range(1, bits + 1))       # every precision reached
    for v in (-128, -65, -64, -1, 0, 1, 63, 64, 127) if signed else (0, 1, 2, 127, 128, 255):
        assert lane_precision(v, 8, signed) == ref_fits_precision(v, 8, signed)


@pytest.mark.parametrize("signed", [False, True])
def test_window_value_exhaustive_6bit(signed):
    bits = 6
    lo, hi = int_range(bits, signed)
    for msb in range(bits):
        for lsb in range(msb + 1):
            vals = np.arange(lo, hi + 1)
            got = window_value(vals, msb, lsb, bits, signed)
            exp = [ref_window_value(int(v), msb, lsb, bits, signed) for v in vals]
            np.testing.assert_array_equal(got, exp)
            # exact iff bits below lsb are zero and the value fits msb+1 bits
            fits_hi = np.array([ref_fits_precision(int(v), bits, signed) <= msb + 1 for v in vals])
            low_zero = (vals & ((1 << lsb) - 1)) == 0
            np.testing.assert_array_equal(got == vals, fits_hi & low_zero)


def test_window_value_16bit_random_and_errors(rng):
    for signed in (False, True):
        lo, hi = int_range(16, signed)
        vals = rng.integers(lo, hi + 1, 300)
        msb = rng.integers(0, 16, 300)
        lsb = (rng.random(300) * (msb + 1)).astype(np.int64)
        got = window_value(vals, msb, lsb, 16, signed)
        exp = [ref_window_value(int(v), int(m), int(l_), 16, signed) for v, m, l_ in zip(vals, msb, lsb)]
        np.testing.assert_array_equal(got, exp)
    with pytest.raises(QuantpeError, match="below lsb"):
        window_value(3, 1, 2, 8, False)
    with pytest.raises(QuantpeError, match="must be < a_bits"):
        window_value(3, 8, 0, 8, False)
    with pytest.raises(QuantpeError, match="outside"):
        window_value(128, 7, 0, 8, True)
    with pytest.raises(QuantpeError, match="integers"):
        window_value(np.array([1.0]), 7, 0, 8, True)


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("trailing", [False, True])
def test_detected_window_is_the_narrowest_exact_one(signed, trailing, rng):
    bits, L = 6, 4
    lo, hi = int_range(bits, signed)
    cases = [rng.integers(lo, hi + 1, L) >> rng.integers(0, bits) << rng.integers(0, 3)
             for _ in range(150)]
    cases = [np.clip(c, lo, hi) for c in cases]
    cases += [np.zeros(L, int), np.full(L, hi), np.full(L, lo), np.full(L, -1 if signed else 1),
              np.array([0, 0, 0, lo]), np.array([4, 0, 8, 0]), np.array([hi, 0, 0, 0])]
    for c in cases:
        msb, lsb = detect_windows(c[None], bits, signed, L, trailing)
        m, l_ = int(msb[0, 0]), int(lsb[0, 0])
        assert all(ref_window_value(int(v), m, l_, bits, signed) == v for v in c), (c, m, l_)
        em, el = ref_min_window(c, bits, signed, trailing)
        assert m - l_ == em - el, (c, (m, l_), (em, el))
        if not trailing:
            assert l_ == 0 and m + 1 == max(ref_fits_precision(int(v), bits, signed) for v in c)


def test_detection_groups_are_independent(rng):
    cfg = StripesConfig(mode="dynamic", lanes=8, group=2, trailing=True)
    a = random_bricks(cfg, 50, rng)
    msb, lsb = brick_windows(cfg, a)
    assert msb.shape == (50, 4)
    for j in range(4):
        m1, l1 = detect_windows(a[:, 2 * j:2 * j + 2], 8, True, 2, True)
        np.testing.assert_array_equal(msb[:, j], m1[:, 0])
        np.testing.assert_array_equal(lsb[:, j], l1[:, 0])
    with pytest.raises(QuantpeError, match="must divide"):
        detect_windows(a, 8, True, 3, False)


# ----------------------------------------------------------------------------- bricks

CFGS = [StripesConfig(), StripesConfig(a_signed=False),
        StripesConfig(mode="dynamic"), StripesConfig(mode="dynamic", a_signed=False),
        StripesConfig(mode="dynamic", trailing=True),
        StripesConfig(mode="dynamic", trailing=True, group=4),
        StripesConfig(mode="dynamic", trailing=True, lanes=4, a_bits=16, a_signed=False, acc_bits=40),
        StripesConfig(mode="dynamic", lanes=6, group=3, a_bits=5, w_bits=3, w_signed=False, acc_bits=12),
        StripesConfig(mode="parallel")]


def ref_brick_cycles(cfg, brick, msb=None, lsb=None):
    if cfg.mode == "parallel":
        return 1
    if cfg.mode == "static":
        return msb - lsb + 1
    widths = []
    for j in range(cfg.n_groups):
        m, l_ = ref_min_window(brick[j * cfg.group:(j + 1) * cfg.group], cfg.a_bits, cfg.a_signed,
                               cfg.trailing)
        widths.append(m - l_ + 1)
    return max(widths)


@pytest.mark.parametrize("cfg", CFGS, ids=lambda c: c.short_name())
def test_brick_cycles_and_values(cfg, rng):
    a = np.concatenate([random_bricks(cfg, 60, rng), np.stack(list(corner_bricks(cfg).values()))])
    n = len(a)
    w = rng.integers(*cfg.w_range(), (n, cfg.lanes), endpoint=True)
    if cfg.mode == "static":
        msb = rng.integers(0, cfg.a_bits, n)
        lsb = (rng.random(n) * (msb + 1)).astype(np.int64)
        msb[:10], lsb[:10] = cfg.a_bits - 1, 0
        kw = dict(msb=msb, lsb=lsb)
    else:
        kw = {}
    P = brick_cycles(cfg, a, **kw)
    V = brick_values(cfg, a, w, **kw)
    for i in range(n):
        if cfg.mode == "static":
            m, l_ = int(msb[i]), int(lsb[i])
            assert P[i] == ref_brick_cycles(cfg, a[i], m, l_)
            exp = sum(ref_window_value(int(x), m, l_, cfg.a_bits, cfg.a_signed) * int(y)
                      for x, y in zip(a[i], w[i]))
            assert V[i] == exp
            covers = all(ref_window_value(int(x), m, l_, cfg.a_bits, cfg.a_signed) == x for x in a[i])
            if covers:       # window covers every non-zero bit (and the sign): exact
                assert V[i] == int(np.dot(a[i], w[i]))
        else:
            assert P[i] == ref_brick_cycles(cfg, a[i])
    if cfg.mode != "static":     # dynamic and parallel are exact by construction
        np.testing.assert_array_equal(V, dot(a, w, acc_bits=62))
    else:                        # full window: exact; covering window: exact
        np.testing.assert_array_equal(V[:10], dot(a[:10], w[:10], acc_bits=62))
        cm = covering_msb(a, cfg.a_bits, cfg.a_signed)
        np.testing.assert_array_equal(brick_values(cfg, a, w, msb=cm, lsb=0), dot(a, w, acc_bits=62))


@pytest.mark.parametrize("cfg", [c for c in CFGS if c.mode != "parallel"], ids=lambda c: c.short_name())
def test_every_precision_reached(cfg):
    A, L = cfg.a_bits, cfg.lanes
    bricks = []
    for p in range(1, A + 1):
        b = np.zeros(L, np.int64)
        if cfg.a_signed:
            b[L - 1] = -(1 << (p - 1))               # needs exactly p bits (all ones above)
            if p >= 2:
                b[0] = (1 << (p - 2))                # needs exactly p bits
        else:
            b[L - 1] = (1 << (p - 1)) | 1            # leading one p-1, trailing one 0: width p
        bricks.append(b)
    a = np.stack(bricks)
    kw = dict(msb=np.arange(A), lsb=np.zeros(A, np.int64)) if cfg.mode == "static" else {}
    P = brick_cycles(cfg, a, **kw)
    if cfg.mode == "dynamic" and cfg.trailing and cfg.a_signed:
        # -2^(p-1) alone is the 1-bit window [p-1..p-1]; with 2^(p-2) (p >= 2) it spans p-1..p-2
        np.testing.assert_array_equal(P, [1] + [2] * (A - 1))
    else:
        np.testing.assert_array_equal(P, np.arange(1, A + 1))
    # one lane whose leading and trailing window is exactly p bits wide: every mode reaches p
    one = np.zeros((A, L), np.int64)
    for p in range(1, A + 1):
        if cfg.a_signed:        # -1 = [0..0]; 1 = [1..0]; 1 - 2^(p-1) = 10..01
            one[p - 1, p % L] = (-1, 1)[p - 1] if p <= 2 else 1 - (1 << (p - 1))
        else:
            one[p - 1, p % L] = (1 << (p - 1)) | 1
    np.testing.assert_array_equal(brick_cycles(cfg, one, **kw), np.arange(1, A + 1))


def test_signed_corners():
    cfg = StripesConfig(mode="dynamic", lanes=4, trailing=False)
    cases = {  # brick: (cycles, value with w = [1, 2, 3, 4])
        (0, 0, 0, 0): (1, 0),
        (-1, -1, -1, -1): (1, -10),
        (-128, 0, 0, 0): (8, -128),
        (-128, -128, -128, -128): (8, -1280),
        (0, 0, 127, 0): (8, 381),
        (-2, -3, -4, -1): (3, -2 - 6 - 12 - 4),
        (1, 0, 0, 0): (2, 1),
        (-64, 63, 0, 0): (7, -64 + 126),
    }
    w = np.array([[1, 2, 3, 4]])
    for brick, (cyc, val) in cases.items():
        a = np.array([brick])
        assert brick_cycles(cfg, a)[0] == cyc, brick
        assert brick_values(cfg, a, w)[0] == val, brick
    cfg_t = StripesConfig(mode="dynamic", lanes=4, trailing=True)
    assert brick_cycles(cfg_t, np.array([[-128, -128, 0, 0]]))[0] == 1      # window [7..7]
    assert brick_cycles(cfg_t, np.array([[-128, 64, 0, 0]]))[0] == 2        # [7..6]
    assert brick_cycles(cfg_t, np.array([[-4, 8, 0, 0]]))[0] == 3           # [4..2]
    assert brick_values(cfg_t, np.array([[-4, 8, 0, -128]]), w)[0] == -4 + 16 - 512


def test_static_truncation_is_modelled():
    cfg = StripesConfig(lanes=2, a_bits=8, a_signed=True)
    a = np.array([[100, -3]])          # 0b01100100, 0b11111101
    w = np.array([[1, 1]])
    # window [5..2]: 100 -> field 1001 -> -7 * 4 = -28 (top bit overflow); -3 -> 1111 -> -1*4 = -4
    assert brick_values(cfg, a, w, msb=5, lsb=2)[0] == -32
    assert brick_values(cfg, a, w, msb=7, lsb=2)[0] == 100 - 4      # floor toward -inf: -3 -> -4
    assert brick_values(cfg, a, w, msb=7, lsb=0)[0] == 97
    assert brick_cycles(cfg, a, msb=5, lsb=2)[0] == 4
    with pytest.raises(QuantpeError, match="below lsb"):
        brick_cycles(cfg, a, msb=1, lsb=2)
    with pytest.raises(QuantpeError, match="must be < a_bits"):
        brick_cycles(cfg, a, msb=8, lsb=0)
    with pytest.raises(QuantpeError, match="needs a window"):
        brick_cycles(cfg, a)
    with pytest.raises(QuantpeError, match="static mode only"):
        brick_cycles(StripesConfig(mode="dynamic", lanes=2), a, msb=7, lsb=0)
    with pytest.raises(QuantpeError, match="outside"):
        brick_values(cfg, np.array([[128, 0]]), w, msb=7, lsb=0)
    with pytest.raises(QuantpeError, match="shape"):
        brick_cycles(cfg, np.zeros((1, 3), int), msb=7, lsb=0)


# ----------------------------------------------------------------------------- schedule

def test_schedule_hand_derived_example():
    """Derived by hand from the protocol in golden/stripes.py (see the comments)."""
    cfg = StripesConfig(lanes=2, a_bits=4, a_signed=False, w_bits=4, acc_bits=12)
    bricks = BrickStream(a=np.array([[5, 3], [6, 2]]), w=np.array([[2, -3], [1, 1]]),
                         first=np.array([1, 1]), last=np.array([1, 1]),
                         msb=np.array([2, 1]), lsb=np.array([0, 1]))
    # b0: P=3, value 10-9 = 1; b1: P=1, window [1..1]: 6 -> 2, 2 -> 2, value 4
    T = 10
    s = stripes_schedule(cfg, bricks, np.ones(T, int), np.array([0] * 6 + [1] * 4))
    # t0 accept b0; steps t1,t2,t3 (final at t3 commits: output empty) and b1 accepted at t3;
    # t4,t5: b1's final step holds (out_valid=1, out_ready=0); t6: b0 taken, b1 commits and
    # loads; t7: b1 shown and taken; t8: empty.
    np.testing.assert_array_equal(s.cycles, [3, 1])
    np.testing.assert_array_equal(s.value, [1, 4])
    np.testing.assert_array_equal(s.accept, [0, 3])
    np.testing.assert_array_equal(s.finish, [3, 6])
    np.testing.assert_array_equal(s.emit, [4, 7])
    np.testing.assert_array_equal(s.taken, [6, 7])
    np.testing.assert_array_equal(s.in_ready, [1, 0, 0, 1, 0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(s.in_valid, [1, 1, 1, 1, 0, 0, 0, 0, 0, 0])   # b1 waits t1..t3
    np.testing.assert_array_equal(s.out_valid, [0, 0, 0, 0, 1, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(s.out_sum, [0, 0, 0, 0, 1, 1, 1, 4, 4, 4])
    np.testing.assert_array_equal(s.brick_at, [0, 1, 1, 1, -1, -1, -1, -1, -1, -1])


def check_schedule_properties(cfg, bricks, s, valid_pat, ready_pat):
    """Protocol properties, checked independently of the schedule's own loop."""
    T, N = len(s), len(bricks)
    done = s.finish >= 0
    for n in range(N):
        if s.accept[n] < 0:
            assert not done[n:].any()
            assert s.accept[n:].max() < 0
            break
        t0 = s.accept[n]
        assert valid_pat[t0] and s.in_ready[t0] and s.brick_at[t0] == n
        if n:
            assert t0 >= s.finish[n - 1] >= 0
        if not done[n]:
            assert not s.in_ready[t0 + 1:].any()
            break
        t1 = s.finish[n]
        assert t1 - t0 >= s.cycles[n]
        assert not s.in_ready[t0 + 1:t1].any()
        assert s.in_ready[t1]
        if t1 - t0 > s.cycles[n]:       # a stalled final step: output full and not read
            assert bricks.last[n]
            for t in range(t0 + s.cycles[n], t1):
                assert s.out_valid[t] and not ready_pat[t]
        if n + 1 < N:                   # idle from t1 on: the next offer is taken at once
            offered = [t for t in range(t1, T) if valid_pat[t]]
            assert s.accept[n + 1] == (offered[0] if offered else -1)
            nxt = s.accept[n + 1] if offered else T - 1
            assert s.in_ready[t1:nxt + 1].all()
    # results: running sums framed by first, wrapped
    acc = 0
    for n in np.flatnonzero(done):
        acc = int(wrap((0 if bricks.first[n] else acc) + int(s.value[n]), cfg.acc_bits))
        assert s.result[n] == acc
    # output channel: out_valid high exactly between emission and handshake
    shown = np.zeros(T, bool)
    for n in np.flatnonzero(done & (bricks.last == 1)):
        e, k = s.emit[n], s.taken[n]
        if e < 0:
            continue
        assert e == s.finish[n] + 1
        if k >= 0:
            assert ready_pat[k] and not np.any(ready_pat[e:k])
            shown[e:k + 1] = True
            assert (s.out_sum[e:k + 1] == s.result[n]).all()
        else:
            assert not np.any(ready_pat[e:])
            shown[e:] = True
    np.testing.assert_array_equal(s.out_valid.astype(bool), shown)


SCHED_CFGS = [StripesConfig(lanes=4), StripesConfig(mode="dynamic", lanes=4, trailing=True, group=2),
              StripesConfig(mode="dynamic", lanes=4, a_signed=False), StripesConfig(mode="parallel", lanes=4)]


@pytest.mark.parametrize("cfg", SCHED_CFGS, ids=lambda c: c.short_name())
@pytest.mark.parametrize("p_valid, p_ready", [(1.0, 1.0), (0.6, 1.0), (1.0, 0.3), (0.5, 0.5)])
def test_schedule_properties(cfg, p_valid, p_ready, rng):
    N, T = 40, 400
    a = random_bricks(cfg, N, rng)
    w = rng.integers(*cfg.w_range(), (N, cfg.lanes), endpoint=True)
    kw = {}
    if cfg.mode == "static":
        msb = rng.integers(0, 8, N)
        kw = dict(msb=msb, lsb=(rng.random(N) * (msb + 1)).astype(np.int64))
    bricks = BrickStream(a, w, rng.integers(0, 2, N), (rng.random(N) < 0.5).astype(int), **kw)
    valid = (rng.random(T) < p_valid).astype(int)
    ready = (rng.random(T) < p_ready).astype(int)
    s = stripes_schedule(cfg, bricks, valid, ready, fill_rng=rng)
    check_schedule_properties(cfg, bricks, s, valid, ready)
    assert (s.finish >= 0).sum() > 10
    if p_valid == 1.0 and p_ready == 1.0:       # back-to-back: accept[n+1] = accept[n] + P[n]
        np.testing.assert_array_equal(s.accept[1:], s.accept[:-1] + s.cycles[:-1])
        np.testing.assert_array_equal(s.finish, s.accept + s.cycles)


def test_schedule_offer_data_and_errors(rng):
    cfg = StripesConfig(lanes=2, a_bits=4, w_bits=4, acc_bits=12)
    b = BrickStream(np.array([[1, 2]]), np.array([[3, 4]]), np.array([1]), np.array([1]), msb=3, lsb=0)
    s = stripes_schedule(cfg, b, np.array([0, 1, 1, 0]), np.ones(4, int))
    np.testing.assert_array_equal(s.a, [[1, 2], [1, 2], [0, 0], [0, 0]])   # shown until taken
    np.testing.assert_array_equal(s.in_valid, [0, 1, 0, 0])
    with pytest.raises(QuantpeError, match="out_ready pattern"):
        stripes_schedule(cfg, b, np.ones(4, int), np.ones(3, int))
    with pytest.raises(QuantpeError, match="0/1"):
        stripes_schedule(cfg, b, np.full(4, 2), np.ones(4, int))
    with pytest.raises(QuantpeError, match="outside"):
        stripes_schedule(cfg, BrickStream(np.array([[8, 0]]), np.array([[0, 0]]), [1], [1], 3, 0),
                         np.ones(4, int), np.ones(4, int))
    with pytest.raises(QuantpeError, match="weight code"):
        stripes_schedule(cfg, BrickStream(np.array([[1, 0]]), np.array([[0, -9]]), [1], [1], 3, 0),
                         np.ones(4, int), np.ones(4, int))


# ----------------------------------------------------------------------------- layer totals

def test_layer_cycles_against_brute_force(rng):
    cfg = StripesConfig(mode="dynamic", lanes=4, group=2, a_bits=8, a_signed=False)
    N, K, M = 13, 10, 3
    x = rng.integers(0, 256, (N, K)) >> rng.integers(0, 8, (N, 1))
    x[rng.random((N, K)) < 0.3] = 0
    wt = rng.integers(-128, 128, (M, K))
    for lockstep in (1, 4):
        lc = layer_cycles(cfg, x, wt, window=(6, 1), lockstep=lockstep)
        nb = 3
        steps = -(-N // lockstep) * nb * M
        assert (lc.parallel, lc.serial_full, lc.stripes) == (steps, steps * 8, steps * 6)
        for trailing, got in ((False, lc.dynamic_lead), (True, lc.dynamic_trail)):
            total = 0
            for r0 in range(0, N, lockstep):
                for b in range(nb):
                    worst = 0
                    for r in range(r0, min(r0 + lockstep, N)):
                        brick = np.zeros(4, np.int64)
                        chunk = x[r, 4 * b:4 * b + 4]
                        brick[:len(chunk)] = chunk
                        worst = max(worst, max(
                            (lambda mw: mw[0] - mw[1] + 1)(ref_min_window(brick[2 * j:2 * j + 2], 8, False, trailing))
                            for j in range(2)))
                    total += worst
            assert got == total * M, (trailing, lockstep)
        exact = x @ wt.T
        win = np.array([[sum(ref_window_value(int(v), 6, 1, 8, False) * int(wv) for v, wv in zip(row, wr))
                         for wr in wt] for row in x])
        assert lc.stripes_mismatches == int(np.count_nonzero(exact != win))
    lc = layer_cycles(cfg, x, wt)                       # default: covering window, lossless
    assert lc.window == (covering_msb(x, 8, False), 0) and lc.stripes_mismatches == 0
    assert lc.dynamic_trail <= lc.dynamic_lead <= lc.stripes <= lc.serial_full


def test_layer_cycles_match_schedule(rng):
    """Sum of per-brick cycles = the schedule's busy time when bricks stream back to back."""
    cfg = StripesConfig(mode="dynamic", lanes=4, trailing=True)
    N, K = 6, 11
    x = random_bricks(StripesConfig(lanes=K), N, rng)
    wt = rng.integers(-128, 128, (1, K))
    lc = layer_cycles(cfg, x, wt)
    xp = np.zeros((N, 12), np.int64)
    xp[:, :K] = x
    a = xp.reshape(-1, 4)
    wb = np.tile(np.pad(wt[0], (0, 1)), N).reshape(-1, 4)
    first = np.tile([1, 0, 0], N)
    last = np.tile([0, 0, 1], N)
    T = 8 * len(a) + 4
    s = stripes_schedule(cfg, BrickStream(a, wb, first, last), np.ones(T, int), np.ones(T, int))
    assert s.finish[-1] == lc.dynamic_trail         # steps occupy cycles 1 .. sum(P)
    np.testing.assert_array_equal(s.result[last == 1], x @ wt[0])


def test_model_cycles_and_errors(rng):
    cfg = StripesConfig(lanes=4)
    xs = [rng.integers(0, 50, (5, 8)), rng.integers(-3, 4, (5, 6))]
    ws = [rng.integers(-10, 10, (6, 8)), rng.integers(-10, 10, (2, 6))]
    mc = model_cycles(cfg, xs, ws, windows=[(6, 0), None])
    assert len(mc.layers) == 2
    assert mc.totals["stripes"] == sum(lc.stripes for lc in mc.layers)
    assert mc.layers[1].window == (2, 0)
    assert mc.speedup("parallel") == 8.0
    with pytest.raises(QuantpeError, match="outside"):
        layer_cycles(cfg, np.array([[200]]), np.array([[1]]))
    with pytest.raises(QuantpeError, match="integers"):
        layer_cycles(cfg, np.array([[0.5]]), np.array([[1]]))
    with pytest.raises(QuantpeError, match="weights must have shape"):
        layer_cycles(cfg, np.zeros((2, 3), int), np.zeros((3, 2), int))
    with pytest.raises(QuantpeError, match="2 activation traces but 1"):
        model_cycles(cfg, xs, ws[:1])


# ----------------------------------------------------------------------------- profiler

def test_profiler_separable():
    thresholds = (3, 5, 1, 8)

    def acc(p):
        return 1.0 - 0.1 * sum(max(0, t - x) for t, x in zip(thresholds, p))

    prof = profile_precisions(acc, 4, 8, tolerance=0.0)
    assert prof.independent == thresholds and prof.precisions == thresholds
    assert prof.bumps == () and prof.accuracy == prof.reference == 1.0
    # reference + per layer (7..2: 6, 7..4: 4, 7..1: 7, 7: 1) + the joint vector
    assert prof.evaluations == 1 + 6 + 4 + 7 + 1 + 1


def test_profiler_joint_bumps_hand_derived():
    # each bit removed anywhere costs 0.004; tolerance 0.01 -> 2 bits alone, 2 bits in total
    def acc(p):
        return 1.0 - 0.004 * sum(8 - x for x in p)

    prof = profile_precisions(acc, 3, 8, tolerance=0.01, joint="greedy")
    assert prof.independent == (6, 6, 6)
    # (6,6,6) fails; ties go to the lowest layer: (7,6,6) (8,6,6) (8,7,6) (8,8,6)
    assert prof.bumps == (0, 0, 1, 1)
    assert prof.precisions == (8, 8, 6)
    assert prof.accuracy >= prof.threshold
    ranked = profile_precisions(acc, 3, 8, tolerance=0.01)
    # round 1 scores all ties -> order 0,1,2: (7,6,6) (7,7,6) (7,7,7) all fail; round 2: (8,7,7)
    # passes; the descent (raises 0,2,1,0 latest first) finds no one-bit drop that passes
    assert ranked.bumps == (0, 1, 2, 0) and ranked.drops == ()
    assert ranked.precisions == (8, 7, 7)
    rel = profile_precisions(lambda p: 0.5 - 0.004 * sum(8 - x for x in p), 1, 8,
                             tolerance=0.02, relative=True)
    assert rel.precisions == (6,)           # 0.492 >= 0.49, 0.488 < 0.49


def test_profiler_ranked_descent_undoes_an_over_raise():
    # pass iff p0 + p1 >= 14 (and every p >= 6): alone each layer reaches 6, jointly 12 < 14.
    # A failing vector scores 0.5 + 0.01 p2 + 0.001 (p0 + p1), so raising layer 2 ranks first.
    def acc(p):
        if min(p) >= 6 and p[0] + p[1] >= 14:
            return 1.0
        return 0.5 + 0.01 * p[2] + 0.001 * (p[0] + p[1])

    ranked = profile_precisions(acc, 3, 8)
    assert ranked.independent == (6, 6, 6)
    # order 2,0,1: (6,6,7) fails, (7,6,7) fails, (7,7,7) passes; descent: 1 -> (7,6,7) fails,
    # 0 -> (6,7,7) fails, 2 -> (7,7,6) passes
    assert ranked.bumps == (2, 0, 1) and ranked.drops == (2,)
    assert ranked.precisions == (7, 7, 6) and ranked.accuracy == 1.0
    # 1 reference + 3 x (7, 6, 5) + (6,6,6) + 3 scores + (7,6,7) (7,7,7) + (6,7,7) (7,7,6)
    assert ranked.evaluations == 1 + 9 + 1 + 3 + 2 + 2
    greedy = profile_precisions(acc, 3, 8, joint="greedy")
    # (6,6,7) then (6,6,8) (layer 2 keeps scoring best), then (8,6,8): ties go to layer 0
    assert greedy.bumps == (2, 2, 0, 0) and greedy.precisions == (8, 6, 8)
    with pytest.raises(QuantpeError, match="joint search must be one of ranked, greedy"):
        profile_precisions(acc, 3, 8, joint="exhaustive")


@pytest.mark.parametrize("joint", ["ranked", "greedy"])
def test_profiler_evaluation_counts_scale_as_documented(joint):
    # every bit removed anywhere costs 0.004, tolerance 0.01: 30 layers at 6 alone, total deficit <= 2
    n, top = 30, 8

    def acc(p):
        return 1.0 - 0.004 * sum(top - x for x in p)

    prof = profile_precisions(acc, n, top, tolerance=0.01, joint=joint)
    assert prof.independent == (6,) * n and sum(top - x for x in prof.precisions) <= 2
    assert prof.accuracy >= prof.threshold
    net = np.array(prof.independent)
    np.add.at(net, list(prof.bumps), 1)
    np.subtract.at(net, list(prof.drops), 1)
    assert tuple(net) == prof.precisions
    rounds = top - 1
    ranked_bound = 1 + n * 3 + 1 + rounds * 2 * n + len(prof.bumps)   # O(L), docstring
    if joint == "ranked":
        assert prof.evaluations <= ranked_bound
    else:                                                             # O(L) per raise
        assert len(prof.bumps) == 2 * n - 2 and prof.evaluations > ranked_bound


def test_profiler_with_truncated_activations(rng):
    """A tiny real-looking use: per-layer static windows truncate a 2-layer integer net."""
    x = rng.integers(0, 256, (200, 16))
    w1 = rng.integers(-20, 21, (16, 12))
    w2 = rng.integers(-20, 21, (12, 4))
    h_full = np.clip((x @ w1) >> 6, 0, 255)
    labels = np.argmax(h_full @ w2, axis=1)
    msbs = (covering_msb(x, 8, False), covering_msb(h_full, 8, False))

    def accuracy(p):
        x0 = window_value(x, *static_window(p[0], msbs[0], 8), 8, False)
        h = np.clip((x0 @ w1) >> 6, 0, 255)
        h = window_value(h, *static_window(p[1], msbs[1], 8), 8, False)
        return float(np.mean(np.argmax(h @ w2, axis=1) == labels))

    prof = profile_precisions(accuracy, 2, 8, tolerance=0.05)
    assert prof.reference == 1.0
    assert accuracy(prof.precisions) >= 0.95
    assert all(1 <= p <= 8 for p in prof.precisions) and sum(prof.precisions) < 16
    for layer in range(2):           # one bit less in a layer alone fails (minimality)
        if prof.independent[layer] > 1:
            trial = [8, 8]
            trial[layer] = prof.independent[layer] - 1
            assert accuracy(tuple(trial)) < 0.95
    with pytest.raises(QuantpeError, match="precision must be in 1..8"):
        static_window(0, 7, 8)
    with pytest.raises(QuantpeError, match="tolerance"):
        profile_precisions(accuracy, 2, 8, tolerance=-1)
