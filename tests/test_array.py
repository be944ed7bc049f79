"""The weight-stationary array beyond the shared regression (tests/test_regression.py): the golden
schedule against hand-computed sums, its protocol errors, an independent check of the widths the
RTL takes from golden/, and flipped golden rules that the RTL capture must reject."""
import itertools

import numpy as np
import pytest

from quantpe.golden import array as garray
from quantpe.golden.array import ArrayConfig, array_schedule, array_schedule_ports
from quantpe.golden.errors import ConfigError, QuantpeError
from quantpe.golden.strum_codec import BlockFields, block_values
from quantpe.core.kinds import stimulus_for
from quantpe.tb.memfile import hex_to_streams
from quantpe.sim.regression import regress
from quantpe.rtl.generate import ensure_generated
from quantpe.rtl.ports import Port
from quantpe.tb.array_stimulus import ARRAY_PLAN, array_corners
from quantpe.tb.scoreboard import Mismatch, compare


def _trace(cfg, T):
    z = {"valid": np.zeros(T, np.int64), "flip": np.zeros(T, np.int64),
         "a": np.zeros((T, cfg.rows * cfg.lanes), np.int64), "w_load": np.zeros(T, np.int64),
         "w": np.zeros((T, cfg.cols * cfg.lanes), np.int64)}
    return z


def test_hand_computed_sums_and_timing():
    """2 x 2 array of 1-lane PEs: out_sum[c] = a0 * W[0][c] + a1 * W[1][c], R + C - 1 cycles later."""
    cfg = ArrayConfig(rows=2, cols=2, lanes=1)
    x = _trace(cfg, 20)
    W1 = [[3, -4], [5, 7]]            # W1[row][col]
    W2 = [[-128, 127], [1, -1]]
    x["w_load"][[0, 1]] = 1
    x["w"][0], x["w"][1] = W1[1], W1[0]          # row R-1 first
    x["flip"][2] = 1
    x["valid"][[3, 4]] = 1
    x["a"][3], x["a"][4] = [2, -1], [-128, 127]
    x["w_load"][[6, 7]] = 1                       # 6 = 4 + guard: during nothing in flight
    x["w"][6], x["w"][7] = W2[1], W2[0]
    x["flip"][8] = 1
    x["valid"][8] = 1                             # window on the flip cycle: still the old set
    x["a"][8] = [1, 1]
    x["valid"][9] = 1
    x["a"][9] = [-128, -128]
    out_valid, out_sum = array_schedule(cfg, x)
    lat = 3
    assert list(np.flatnonzero(out_valid)) == [3 + lat, 4 + lat, 8 + lat, 9 + lat]

    def col_sums(a, W):
        return [sum(a[r] * W[r][c] for r in range(2)) for c in range(2)]
    assert out_sum[3 + lat].tolist() == col_sums([2, -1], W1)
    assert out_sum[4 + lat].tolist() == col_sums([-128, 127], W1)
    assert out_sum[8 + lat].tolist() == col_sums([1, 1], W1)
    assert out_sum[9 + lat].tolist() == col_sums([-128, -128], W2)
    assert out_sum[:3 + lat].tolist() == [[0, 0]] * (3 + lat)            # 0 after reset
    assert out_sum[5 + lat].tolist() == out_sum[4 + lat].tolist()        # held between windows


@pytest.mark.parametrize("what", ["window_before_flip", "flip_without_rows", "load_in_guard",
                                  "bad_weight", "bad_activation"])
def test_protocol_errors(what):
    cfg = ArrayConfig(rows=2, cols=2, lanes=1)
    x = _trace(cfg, 16)
    x["w_load"][[0, 1]] = 1
    x["flip"][2] = 1
    x["valid"][3] = 1
    if what == "window_before_flip":
        x["valid"][1] = 1
    elif what == "flip_without_rows":
        x["w_load"][0] = 0
    elif what == "load_in_guard":
        x["w_load"][3] = 1                        # cycles 2..3 are the guard of a 2 x 2 array
    elif what == "bad_weight":
        x["w"][1, 0] = 128
    else:
        x["a"][3, 0] = -129
    with pytest.raises(QuantpeError, match="array"):
        array_schedule(cfg, x)


def test_load_right_after_the_guard_is_legal():
    cfg = ArrayConfig(rows=2, cols=2, lanes=1)
    x = _trace(cfg, 16)
    x["w_load"][[0, 1, 4]] = 1
    x["flip"][2] = 1
    array_schedule(cfg, x)


def test_config_errors():
    for bad in (dict(rows=0), dict(cols=33), dict(pe="fp8"), dict(pe="strum", lanes=5),
                dict(pe="strum", k=4), dict(k=2), dict(pe="strum", hb=4, lb=4)):
        with pytest.raises(ConfigError, match="array"):
            ArrayConfig(**bad)


def _exhaustive_dot_range(cfg):
    """(min, max) of one PE's dot product over every weight word the ports can carry (StruM:
    every legal mask, every high/low code and shift) and every activation vector: for fixed
    weights the extremes are per-lane, so each lane takes its own extreme activation."""
    L = cfg.lanes
    alo, ahi = cfg.a_range()
    if cfg.pe == "int":
        v = np.arange(cfg.w_range()[0], cfg.w_range()[1] + 1)[:, None].repeat(L, axis=1)
    else:
        lane = cfg.lane_cfg
        K = lane.k
        hi_vals = range(-(2 ** (lane.hb - 1)), 2 ** (lane.hb - 1))       # the whole hb-bit port
        lo_vals = (range(-(2 ** (lane.lb - 1)), 2 ** (lane.lb - 1)) if lane.variant == "dliq"
                   else range(2 ** lane.lb))
        blocks = []
        for mask in itertools.combinations(range(L), K):
            bits = np.zeros(L, np.int64)
            bits[list(mask)] = 1
            for hi in itertools.product(hi_vals, repeat=K):
                for lo in itertools.product(lo_vals, repeat=L - K):
                    for j in (range(8) if lane.j_in_block else [None]):
                        blocks.append((bits, hi, lo, j))
        f = BlockFields(np.array([b[0] for b in blocks]), np.array([b[1] for b in blocks]),
                        np.array([b[2] for b in blocks]),
                        np.array([b[3] for b in blocks]) if lane.j_in_block else None)
        v = block_values(lane, f, check=False)
    lo = np.minimum(alo * v, ahi * v).sum(axis=1).min()
    hi = np.maximum(alo * v, ahi * v).sum(axis=1).max()
    return int(lo), int(hi)


@pytest.mark.parametrize("cfg", [ArrayConfig(rows=3, cols=1, lanes=2, a_bits=3, w_bits=3),
                                 ArrayConfig(rows=2, cols=1, lanes=4, pe="strum", variant="mip2q",
                                             k=2, hb=3, lb=2, a_bits=3),
                                 ArrayConfig(rows=2, cols=1, lanes=4, pe="strum", variant="dliq",
                                             k=2, hb=3, lb=2, a_bits=3)],
                         ids=["int", "mip2q", "dliq"])
def test_sum_widths_hold_the_exhaustive_range_and_no_more(cfg):
    """The RTL's partial-sum widths come from `ArrayConfig.psum_bits`: check them against sums
    enumerated here, and that one bit fewer would not hold them."""
    lo, hi = _exhaustive_dot_range(cfg)
    assert (lo, hi) == cfg.dot_range()
    for r in range(cfg.rows):
        n = cfg.psum_bits(r)
        rlo, rhi = lo * (r + 1), hi * (r + 1)
        assert -(1 << (n - 1)) <= rlo and rhi < (1 << (n - 1))
        assert not (-(1 << (n - 2)) <= rlo and rhi < (1 << (n - 2)))


def test_stimulus_drives_every_corner(seed):
    for name, cfg in ARRAY_PLAN.configs.items():
        _, cov = stimulus_for(cfg, ARRAY_PLAN.cycles["icarus"], seed)
        missed = [c for c in array_corners(cfg) if not cov[c]]
        assert not missed, f"{name}: {missed}"


def _capture(cfg, r):
    outs = [Port(**p) for p in ensure_generated(cfg)["ports"] if p["direction"] == "out"]
    cap = hex_to_streams((r.run_dir / "capture.hex").read_text(), outs, r.cycles)
    inputs = dict(np.load(r.run_dir / "inputs.npz"))
    return inputs, cap


MUTANTS = {
    "rows_oldest_first": ("_row_loads", lambda before, rows: before - rows + np.arange(rows)),
    "flip_inclusive": ("_set_in_use", lambda flips, windows: np.searchsorted(flips, windows, "right") - 1),
}


@pytest.mark.parametrize("name", ["2x3-l4-strum-dliq", "2x2-l4-int8"])
def test_flipped_golden_rules_fail_against_the_rtl(name, seed, monkeypatch):
    """The RTL capture matches the golden schedule, and each one-rule change of the golden
    model (row order of the shift chain, flip boundary, latency) is a mismatch."""
    cfg = ARRAY_PLAN.configs[name]
    r = regress(cfg, "icarus", 600, seed)
    inputs, cap = _capture(cfg, r)
    compare(array_schedule_ports(cfg, inputs), cap)
    for rule, mutant in MUTANTS.values():
        with monkeypatch.context() as mp:
            mp.setattr(garray, rule, mutant)
            with pytest.raises(Mismatch):
                compare(array_schedule_ports(cfg, inputs), cap)
    with monkeypatch.context() as mp:
        mp.setattr(ArrayConfig, "latency", property(lambda c: c.rows + c.cols))
        with pytest.raises(Mismatch):
            compare(array_schedule_ports(cfg, inputs), cap)
