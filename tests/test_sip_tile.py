"""The Stripes tile beyond the shared regression (tests/test_regression.py): bit-serial bricks
against dot products computed here, protocol errors, exhaustive widths, and one-rule changes of
the golden model that the RTL capture must reject."""
import itertools

import numpy as np
import pytest

from quantpe.golden.errors import ConfigError, QuantpeError
from quantpe.golden.intmath import wrap
from quantpe.golden.sip_tile import SipTileConfig, sip_tile_schedule, sip_tile_schedule_ports
from quantpe.core.kinds import stimulus_for
from quantpe.rtl.ports import Port
from quantpe.tb.memfile import hex_to_streams
from quantpe.sim.regression import regress
from quantpe.rtl.generate import ensure_generated
from quantpe.tb.scoreboard import Mismatch, compare
from quantpe.tb.sip_tile_stimulus import SIP_TILE_CORNERS, SIP_TILE_PLAN


def _planes(cfg, outputs, weights):
    """Port streams for `outputs` = [[(codes (W, L), p), ...] per output], one weight set per
    brick (weights[i] (F, L)), each loaded and flipped in on idle cycles before its brick."""
    rows = []

    def row(**kw):
        base = dict(valid=0, bfirst=0, bend=0, neg=0, first=0, last=0, abit=np.zeros(cfg.windows, np.int64),
                    w_load=0, flip=0, w=np.zeros(cfg.filters * cfg.lanes, np.int64))
        base.update(kw)
        rows.append(base)
    i = 0
    for out in outputs:
        for b, (codes, p) in enumerate(out):
            row(w_load=1, w=np.asarray(weights[i]).reshape(-1))
            row(flip=1)
            i += 1
            u = np.asarray(codes) & ((1 << p) - 1)
            for k in range(p - 1, -1, -1):
                row(valid=1, bfirst=int(k == p - 1), bend=int(k == 0), neg=int(k == p - 1),
                    first=int(b == 0), last=int(b == len(out) - 1),
                    abit=np.sum(((u >> k) & 1) << np.arange(cfg.lanes), axis=1))
    row()
    row()
    return {n: np.array([r[n] for r in rows], np.int64) for n in rows[0]}


def test_bricks_are_dot_products_of_the_codes(seed):
    rng = np.random.default_rng(seed)
    cfg = SipTileConfig(windows=2, filters=3, lanes=4, a_bits=6, w_bits=5, acc_bits=14)
    outputs, weights, expect = [], [], []
    for _ in range(6):
        out, total = [], np.zeros((2, 3), np.int64)
        for _ in range(int(rng.integers(1, 4))):
            p = int(rng.integers(1, 7))
            codes = rng.integers(-(1 << (p - 1)), 1 << (p - 1), (2, 4))
            w = rng.integers(-16, 16, (3, 4))
            out.append((codes, p))
            weights.append(w)
            total += codes @ w.T
        outputs.append(out)
        expect.append(wrap(total, 14).reshape(-1))
    x = _planes(cfg, outputs, weights)
    out_valid, out_sum = sip_tile_schedule(cfg, x)
    at = np.flatnonzero(out_valid)
    assert len(at) == len(outputs)
    assert all(x["bend"][t - 1] and x["last"][t - 1] for t in at)          # one cycle after
    assert np.array_equal(out_sum[at], np.array(expect))


@pytest.mark.parametrize("what", ["plane_before_flip", "no_bfirst", "neg_not_first", "too_long",
                                  "bad_weight"])
def test_protocol_errors(what):
    cfg = SipTileConfig(windows=1, filters=1, lanes=2, a_bits=3)
    x = _planes(cfg, [[(np.array([[3, -2]]), 3)]], [np.array([[5, -7]])])
    planes = np.flatnonzero(x["valid"])
    if what == "plane_before_flip":
        x["flip"][:] = 0
    elif what == "no_bfirst":
        x["bfirst"][planes[0]] = 0
    elif what == "neg_not_first":
        x["neg"][planes[1]] = 1
    elif what == "too_long":
        x["bend"][planes[-1]] = 0
        x["valid"][planes[-1] + 1] = 1
    else:
        x["w"][0, 0] = 128
    with pytest.raises(QuantpeError, match="sip_tile"):
        sip_tile_schedule(cfg, x)


def test_config_errors():
    for bad in (dict(windows=0), dict(lanes=65), dict(a_bits=1), dict(acc_bits=8)):
        with pytest.raises(ConfigError, match="sip_tile"):
            SipTileConfig(**bad)


def test_widths_hold_the_exhaustive_range_and_no_more():
    """plane_bits / brick_bits size the RTL's adder tree and brick register: check them against
    every code and weight of a small config, and that one bit fewer would not hold them."""
    cfg = SipTileConfig(windows=1, filters=1, lanes=2, a_bits=3, w_bits=3, acc_bits=9)
    ws = range(-4, 4)
    planes = [sum(b * w for b, w in zip(bits, wv)) for bits in itertools.product((0, 1), repeat=2)
              for wv in itertools.product(ws, repeat=2)]
    bricks = [sum(a * w for a, w in zip(av, wv)) for av in itertools.product(range(-4, 4), repeat=2)
              for wv in itertools.product(ws, repeat=2)]
    for vals, n in ((planes, cfg.plane_bits), (bricks, cfg.brick_bits)):
        lo, hi = min(vals), max(vals)
        assert -(1 << (n - 1)) <= lo and hi < (1 << (n - 1))
        assert not (-(1 << (n - 2)) <= lo and hi < (1 << (n - 2)))


def test_stimulus_drives_every_corner(seed):
    for name, cfg in SIP_TILE_PLAN.configs.items():
        _, cov = stimulus_for(cfg, SIP_TILE_PLAN.cycles["icarus"], seed)
        missed = [c for c in SIP_TILE_PLAN.corners(cfg) if not cov[c]]
        assert not missed, f"{name}: {missed}"
    assert set(SIP_TILE_PLAN.corners(SIP_TILE_PLAN.configs["3x2-l3-a4w4-acc-min"])) == set(SIP_TILE_CORNERS)


def _shift_earlier(v):
    out = np.zeros_like(v)
    out[:-1] = v[1:]
    return out


#: one-rule changes of the golden model, written as the equivalent change of its input
MUTANTS = {
    "sign_plane_added": lambda x: {**x, "neg": np.zeros_like(x["neg"])},
    "first_ignored": lambda x: {**x, "first": np.zeros_like(x["first"])},
    "flip_inclusive": lambda x: {**x, "flip": _shift_earlier(x["flip"])},
}


def test_flipped_golden_rules_fail_against_the_rtl(seed):
    cfg = SIP_TILE_PLAN.configs["2x2-l4-a8w8"]
    r = regress(cfg, "icarus", 600, seed)
    outs = [Port(**p) for p in ensure_generated(cfg)["ports"] if p["direction"] == "out"]
    cap = hex_to_streams((r.run_dir / "capture.hex").read_text(), outs, r.cycles)
    inputs = dict(np.load(r.run_dir / "inputs.npz"))
    compare(sip_tile_schedule_ports(cfg, inputs), cap)
    for mutate in MUTANTS.values():
        with pytest.raises(Mismatch):
            compare(sip_tile_schedule_ports(cfg, mutate(inputs)), cap)
    late = sip_tile_schedule_ports(cfg, inputs)
    late = {k: np.concatenate([v[:1] * 0, v[:-1]]) for k, v in late.items()}      # latency 2
    with pytest.raises(Mismatch):
        compare(late, cap)
