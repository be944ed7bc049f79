"""The baseline golden schedule against a plain cycle-by-cycle model written independently."""
import numpy as np
from hypothesis import given, settings, strategies as st

from quantpe.golden.baseline import BaselineConfig, Stimulus, baseline_schedule
from quantpe.golden.dot import dot
from quantpe.golden.intmath import int_range


def reference(cfg, stim):
    """Registers stepped one clock at a time, Python ints only."""
    T = len(stim)
    lo, hi = -(1 << (cfg.acc_bits - 1)), (1 << (cfg.acc_bits - 1)) - 1
    acc, out_sum, out_valid = 0, 0, 0
    pipe = [(0, 0, 0, 0)] * cfg.pipeline          # (valid, first, last, lane sum) in flight
    ov, os_ = [], []
    for t in range(T):
        ov.append(out_valid)
        os_.append(out_sum)
        s = sum(int(a) * int(w) for a, w in zip(stim.a[t], stim.w[t]))
        pipe.append((int(stim.valid[t]), int(stim.first[t]), int(stim.last[t]), s))
        v, f, l, s = pipe.pop(0)
        out_valid = 0
        if v:
            x = (0 if f else acc) + s
            if cfg.saturate:
                x = min(max(x, lo), hi)
            else:
                x = ((x - lo) % (1 << cfg.acc_bits)) + lo
            acc = x
            if l:
                out_sum, out_valid = x, 1
    return np.array(ov), np.array(os_)


@st.composite
def cases(draw):
    cfg = BaselineConfig(lanes=draw(st.integers(1, 5)), a_bits=draw(st.integers(2, 5)),
                         w_bits=draw(st.integers(2, 5)), a_signed=draw(st.booleans()),
                         w_signed=draw(st.booleans()), pipeline=draw(st.integers(0, 2)),
                         saturate=draw(st.booleans()), acc_bits=draw(st.integers(14, 16)))
    T = draw(st.integers(1, 60))
    (alo, ahi), (wlo, whi) = int_range(cfg.a_bits, cfg.a_signed), int_range(cfg.w_bits, cfg.w_signed)
    bits = st.lists(st.integers(0, 1), min_size=T, max_size=T)
    a = draw(st.lists(st.lists(st.integers(alo, ahi), min_size=cfg.lanes, max_size=cfg.lanes), min_size=T, max_size=T))
    w = draw(st.lists(st.lists(st.integers(wlo, whi), min_size=cfg.lanes, max_size=cfg.lanes), min_size=T, max_size=T))
    stim = Stimulus(np.array(draw(bits)), np.array(draw(bits)), np.array(draw(bits)), np.array(a), np.array(w))
    return cfg, stim


@settings(max_examples=300, deadline=None)
@given(cases())
def test_schedule_equals_cycle_reference(case):
    cfg, stim = case
    exp = baseline_schedule(cfg, stim)
    ov, os_ = reference(cfg, stim)
    assert exp.out_valid.tolist() == ov.tolist()
    assert exp.out_sum.tolist() == os_.tolist()


def test_dot_wraps_like_repeated_addition():
    a = np.full(1000, 127)
    w = np.full(1000, 127)
    assert dot(a, w, acc_bits=16) == ((127 * 127 * 1000 + 2**15) % 2**16) - 2**15


def test_wrap_hand_computed():
    """Modulo 2^bits by hand, with bit `bits` and above set: 8-bit 261 = 256 + 5 -> 5, 300 -> 44,
    383 -> 127, 384 -> -128, -129 -> 127; unsigned -1 -> 255, 513 -> 1; 16-bit 3 * 2^16 + 7 -> 7."""
    from quantpe.golden.intmath import wrap
    assert wrap([261, 300, 383, 384, -129, -256], 8).tolist() == [5, 44, 127, -128, 127, 0]
    assert wrap([-1, 513, 256], 8, signed=False).tolist() == [255, 1, 0]
    assert wrap(3 * 65536 + 7, 16).tolist() == 7


def test_quantize_rounds_exact_halves_away_from_zero():
    """The contract is round half away from zero (not to even): every .5 below is a tie."""
    from quantpe.golden.quantize import quantize
    q = quantize([0.5, 1.5, 2.5, -0.5, -2.5, 126.5, -126.5], 8, scale=1.0)
    assert q.codes.tolist() == [1, 2, 3, -1, -3, 127, -127]


def test_accumulator_bounds_hand_computed():
    """acc_bits = 8: the signed range is -128..127 exactly (wrap and saturation bounds)."""
    from quantpe.golden.dot import accumulate
    assert accumulate(127, 1, 8).tolist() == -128 and accumulate(-128, -1, 8).tolist() == 127
    assert accumulate(127, 1, 8, saturating=True).tolist() == 127
    assert accumulate(-128, -1, 8, saturating=True).tolist() == -128
    assert accumulate(126, 1, 8, saturating=True).tolist() == 127
    assert accumulate(100, 100, 8).tolist() == 200 - 256


def test_product_bits_is_the_smallest_signed_width_of_every_product():
    """Independent reference for a width the RTL takes from golden: enumerate every product of
    small operands and find the smallest two's-complement width that holds them all."""
    from quantpe.golden.dot import product_bits
    from quantpe.golden.intmath import int_range
    for a_bits in range(2, 6):
        for w_bits in range(2, 6):
            for a_s in (True, False):
                for w_s in (True, False):
                    alo, ahi = int_range(a_bits, a_s)
                    wlo, whi = int_range(w_bits, w_s)
                    ps = [a * w for a in (alo, ahi) for w in (wlo, whi)]
                    need = next(n for n in range(1, 64) if -(1 << (n - 1)) <= min(ps) and max(ps) < (1 << (n - 1)))
                    assert product_bits(a_bits, w_bits, a_s, w_s) == need, (a_bits, w_bits, a_s, w_s)
    assert product_bits(8, 8, True, True) == 16 and product_bits(8, 8, False, False) == 17
