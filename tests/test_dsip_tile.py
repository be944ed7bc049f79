"""The Dynamic Stripes tile beyond the shared regression (tests/test_regression.py): detected
precisions and brick sums against references written from the contract, the detector RTL
exhaustively, config and stimulus errors, and one-rule changes of the golden model that the
RTL capture must reject."""
import itertools

import numpy as np
import pytest

import quantpe.golden.dsip_tile as dsip
from quantpe.core.kinds import stimulus_for
from quantpe.golden.dsip_tile import DSipTileConfig, brick_precision, dsip_tile_schedule, dsip_tile_schedule_ports
from quantpe.golden.errors import ConfigError, QuantpeError
from quantpe.golden.intmath import wrap
from quantpe.rtl.dsip_tile import PrecisionDetector
from quantpe.rtl.generate import ensure_generated
from quantpe.rtl.ports import Port
from quantpe.sim.regression import regress
from quantpe.tb.amaranth_sim import run_comb
from quantpe.tb.dsip_tile_stimulus import DSIP_TILE_CORNERS, DSIP_TILE_PLAN
from quantpe.tb.memfile import hex_to_streams
from quantpe.tb.scoreboard import Mismatch, compare


def _fits(a: int) -> int:
    """Fewest two's-complement bits holding a (the definition, not the detector formula)."""
    return next(p for p in range(1, 64) if -(1 << (p - 1)) <= a < (1 << (p - 1)))


def test_brick_precision_is_the_slowest_windows_fewest_bits(seed):
    rng = np.random.default_rng(seed)
    cfg = DSipTileConfig(windows=3, filters=2, lanes=4, a_bits=8)
    for _ in range(300):
        p = rng.integers(1, 9, 3)
        codes = np.stack([rng.integers(-(1 << (q - 1)), 1 << (q - 1), 4) for q in p])
        assert brick_precision(cfg, codes) == max(_fits(int(c)) for c in codes.reshape(-1))
    assert brick_precision(cfg, np.zeros((3, 4), np.int64)) == 1
    assert brick_precision(cfg, np.full((3, 4), -1)) == 1
    assert brick_precision(cfg, np.full((3, 4), -128)) == 8
    assert brick_precision(cfg, np.array([[0] * 4, [0] * 4, [0, 0, 2, 0]])) == 3


def _feed(cfg, outputs):
    """Bricks [[(codes (W, L), weights (F, L)), ...] per output] taken back to back from cycle 0
    (the contract's schedule: the next brick on the last plane of the previous one)."""
    rows, t = [], 0
    for out in outputs:
        for b, (codes, w) in enumerate(out):
            rows.append((t, codes, w, b == 0, b == len(out) - 1))
            t += max(_fits(int(c)) for c in np.asarray(codes).reshape(-1))
    T = t + 3
    W, F, L = cfg.windows, cfg.filters, cfg.lanes
    x = {"valid": np.zeros(T, np.int64), "first": np.zeros(T, np.int64), "last": np.zeros(T, np.int64),
         "a": np.zeros((T, W * L), np.int64), "w": np.zeros((T, F * L), np.int64)}
    for c, codes, w, first, last in rows:
        x["valid"][c], x["first"][c], x["last"][c] = 1, first, last
        x["a"][c], x["w"][c] = np.asarray(codes).reshape(-1), np.asarray(w).reshape(-1)
    return x, [c for c, *_ in rows], t


def test_bricks_are_dot_products_at_the_detected_cycles(seed):
    rng = np.random.default_rng(seed)
    cfg = DSipTileConfig(windows=2, filters=3, lanes=4, a_bits=6, w_bits=5, acc_bits=14)
    outputs, expect = [], []
    for _ in range(6):
        out, total = [], np.zeros((2, 3), np.int64)
        for _ in range(int(rng.integers(1, 4))):
            p = rng.integers(1, 7, 2)
            codes = np.stack([rng.integers(-(1 << (q - 1)), 1 << (q - 1), 4) for q in p])
            w = rng.integers(-16, 16, (3, 4))
            out.append((codes, w))
            total += codes @ w.T
        outputs.append(out)
        expect.append(wrap(total, 14).reshape(-1))
    x, takes, end = _feed(cfg, outputs)
    ready, out_valid, out_sum = dsip_tile_schedule(cfg, x)
    assert all(ready[t] for t in takes)
    at = np.flatnonzero(out_valid)
    assert at[-1] == end + 1 and len(at) == len(outputs)        # the last plane is on cycle `end`
    assert np.array_equal(out_sum[at], np.array(expect))
    busy = np.zeros(len(ready), bool)                   # planes on t+1 .. next take (or end)
    for t, nxt in zip(takes, takes[1:] + [end]):
        busy[t + 1:nxt] = True
    assert np.array_equal(ready, (~busy).astype(np.int64))


def test_valid_while_busy_is_ignored():
    cfg = DSipTileConfig(windows=1, filters=1, lanes=2, a_bits=4)
    x, takes, _ = _feed(cfg, [[(np.array([[5, -3]]), np.array([[2, 3]]))]])
    ref = dsip_tile_schedule_ports(cfg, x)
    x["valid"][1:4], x["a"][1:4], x["first"][1:4] = 1, 7, 1        # planes 1..3 of 4: ready = 0
    got = dsip_tile_schedule_ports(cfg, x)
    assert all(np.array_equal(ref[k], got[k]) for k in ref)
    assert ref["out_sum"][5][0] == 5 * 2 - 3 * 3


def test_detector_rtl_exhaustive():
    dut = PrecisionDetector(2, 4)
    vecs = [{"a": np.array(v)} for v in itertools.product(range(-8, 8), repeat=2)]
    got = run_comb(dut, vecs, ["p"])
    assert [g["p"] for g in got] == [max(_fits(int(c)) for c in v["a"]) for v in vecs]


def test_config_and_stimulus_errors():
    with pytest.raises(ConfigError, match="dsip_tile: detect"):
        DSipTileConfig(detect="lane")
    with pytest.raises(ConfigError, match="sip_tile: lanes"):
        DSipTileConfig(lanes=0)
    cfg = DSipTileConfig(windows=1, filters=1, lanes=2, a_bits=4)
    assert (cfg.detectors, DSipTileConfig(windows=3, filters=2, detect="sip").detectors) == (1, 6)
    x, _, _ = _feed(cfg, [[(np.array([[5, -3]]), np.array([[2, 3]]))]])
    x["a"][0, 0] = 8
    with pytest.raises(QuantpeError, match="dsip_tile: brick at cycle 0"):
        dsip_tile_schedule(cfg, x)
    with pytest.raises(QuantpeError, match="missing port 'w'"):
        dsip_tile_schedule(cfg, {k: v for k, v in x.items() if k != "w"})


def test_stimulus_drives_every_corner(seed):
    for name, cfg in DSIP_TILE_PLAN.configs.items():
        _, cov = stimulus_for(cfg, DSIP_TILE_PLAN.cycles["icarus"], seed)
        missed = [c for c in DSIP_TILE_PLAN.corners(cfg) if not cov[c]]
        assert not missed, f"{name}: {missed}"
    assert set(DSIP_TILE_PLAN.corners(DSIP_TILE_PLAN.configs["3x2-l3-a4w4-acc-min-sip"])) == set(DSIP_TILE_CORNERS)


#: one-rule changes of the golden detector / lockstep rule
DETECTOR_MUTANTS = {
    "fastest_window": lambda cfg, c: dsip.window_precisions(cfg, c).min(axis=-1),
    "one_plane_more": lambda cfg, c: np.minimum(dsip.window_precisions(cfg, c).max(axis=-1) + 1, cfg.a_bits),
    "full_precision": lambda cfg, c: np.full(np.shape(c)[:-2], cfg.a_bits),
}


@pytest.mark.parametrize("name", ["2x2-l4-a8w8-window", "3x2-l3-a4w4-acc-min-sip"])
def test_flipped_golden_rules_fail_against_the_rtl(name, seed, monkeypatch):
    cfg = DSIP_TILE_PLAN.configs[name]
    r = regress(cfg, "icarus", 600, seed)
    outs = [Port(**p) for p in ensure_generated(cfg)["ports"] if p["direction"] == "out"]
    cap = hex_to_streams((r.run_dir / "capture.hex").read_text(), outs, r.cycles)
    inputs = dict(np.load(r.run_dir / "inputs.npz"))
    compare(dsip_tile_schedule_ports(cfg, inputs), cap)
    with pytest.raises(Mismatch):
        compare(dsip_tile_schedule_ports(cfg, {**inputs, "first": np.zeros_like(inputs["first"])}), cap)
    for mutant in DETECTOR_MUTANTS.values():
        with monkeypatch.context() as mp:
            mp.setattr(dsip, "brick_precision", mutant)
            with pytest.raises(Mismatch):
                compare(dsip_tile_schedule_ports(cfg, inputs), cap)
    late = dsip_tile_schedule_ports(cfg, inputs)
    late = {k: np.concatenate([v[:1] * 0, v[:-1]]) for k, v in late.items()}      # latency 2
    with pytest.raises(Mismatch):
        compare(late, cap)
