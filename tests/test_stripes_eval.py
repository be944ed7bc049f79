"""Stripes on the digits model (golden/stripes_eval.py): precision rule, profile, cycle totals."""
import numpy as np
import pytest

from quantpe.golden.digits import load_digits_split
from quantpe.golden.errors import QuantpeError
from quantpe.golden.qmodel import build_qmodel
from quantpe.golden.stripes import StripesConfig, brick_cycles
from quantpe.golden.stripes_eval import (accuracy_with_precisions, check_nonnegative, evaluate_stripes,
                                         layer_windows, precision_histogram, run_windowed)
from quantpe.golden.stripes_precision import covering_msb, lane_precision, static_window, window_value


def scalar_window(a: int, msb: int, lsb: int, a_bits: int) -> int:
    """Straightforward reference: take bits msb..lsb of the a_bits-bit two's complement pattern,
    bit msb weighs -2^msb, the others +2^i; bits outside the window contribute nothing."""
    pattern = a % (1 << a_bits)
    v = 0
    for i in range(lsb, msb + 1):
        if (pattern >> i) & 1:
            v += -(1 << i) if i == msb else (1 << i)
    return v


def scalar_window_unsigned(a: int, msb: int, lsb: int) -> int:
    """Unsigned reference: bits msb..lsb of the code, bit i weighs +2^i."""
    return sum(1 << i for i in range(lsb, msb + 1) if (a >> i) & 1)


@pytest.fixture(scope="module")
def q8():
    return build_qmodel(a_bits=8)


@pytest.fixture(scope="module")
def data():
    return load_digits_split()


def test_scalar_reference_matches_window_value_exhaustive():
    a = np.arange(-128, 128)
    for msb in range(8):
        for lsb in range(msb + 1):
            got = window_value(a, msb, lsb, 8, True)
            want = [scalar_window(int(x), msb, lsb, 8) for x in a]
            assert got.tolist() == want, (msb, lsb)


def test_unsigned_window_is_signed_window_with_one_more_bit_exhaustive():
    """Derivation behind the unsigned profile: for codes in [0, 2^msb_s), the unsigned window of p
    bits below msb_s - 1 equals the signed window of p + 1 bits below msb_s (same lsb); codes with
    bit msb_s set (outside the signed covering window) differ, so the condition is needed."""
    a = np.arange(0, 256)
    for msb_s in range(1, 8):
        for p in range(1, 9):
            mu, lu = static_window(p, msb_s - 1, 8)
            ms, ls = static_window(min(p + 1, 8), msb_s, 8)
            assert lu == ls and mu == msb_s - 1 and ms == msb_s
            u = window_value(a, mu, lu, 8, False)
            assert u.tolist() == [scalar_window_unsigned(int(x), mu, lu) for x in a]
            inside = a < (1 << msb_s)
            sv = window_value(a[a < 128], ms, ls, 8, True)
            assert np.array_equal(u[inside], sv[inside[a < 128]]), (msb_s, p)
            assert np.array_equal(u[inside], (a[inside] >> lu) << lu)
            if msb_s < 7:                      # a code with bit msb_s set exists below 128
                assert not np.array_equal(u[a < 128], sv)


def test_covering_msb_is_the_largest_lane_precision_less_one(seed):
    """covering_msb from the extreme codes == max lane_precision - 1 over every code (the
    per-code definition), signed and unsigned, with the same refusals."""
    rng = np.random.default_rng(seed)
    for bits in (2, 3, 8, 16):
        for signed in (True, False):
            lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
            cases = [rng.integers(lo, hi + 1, (3, 7)), np.array([lo]), np.array([hi]), np.array([0]),
                     np.array([0, 0]), np.array([lo, hi])]
            if signed:
                cases += [np.array([-1]), np.array([-1, 0]), rng.integers(lo, 0, 9), rng.integers(0, hi + 1, 9),
                          np.array([-(1 << (bits - 2)) - 1, 1 << (bits - 2)]) if bits > 2 else np.array([-2, 1])]
            for a in cases:
                want = int(lane_precision(a, bits, signed).max()) - 1
                assert covering_msb(a, bits, signed) == want, (bits, signed, a)
                assert covering_msb(a.astype(np.int32), bits, signed) == want
    assert covering_msb(np.zeros((0, 3), np.int64), 8, True) == 0
    with pytest.raises(QuantpeError, match="code 128 is outside"):
        covering_msb(np.array([3, 128, 200]), 8, True)
    with pytest.raises(QuantpeError, match="code -1 is outside"):
        covering_msb(np.array([5, -1]), 8, False)
    with pytest.raises(QuantpeError, match="must be integers"):
        covering_msb(np.array([0.5]), 8, True)


def test_model_codes_are_nonnegative_and_unsigned_msb_is_one_lower(data):
    for ab in (8, 16):
        q = build_qmodel(a_bits=ab)
        for x in (data.x_train, data.x_test):
            tr = q.capture(x)
            assert all(int(t.min()) >= 0 and int(t.max()) <= 2 ** (ab - 1) - 1 for t in tr)
            check_nonnegative(tr)
            for t in tr:                          # independent of covering_msb: max bit length
                bl = int(t.max()).bit_length()
                assert covering_msb(t, ab, False) == max(bl, 1) - 1
                assert covering_msb(t, ab, True) == bl
    with pytest.raises(QuantpeError, match="negative code -1"):
        check_nonnegative([np.zeros((2, 3), np.int64), np.array([[0, -1]])])


def test_unsigned_accuracy_equals_signed_with_one_more_bit(q8, data):
    """accuracy_unsigned(p) == accuracy_signed(min(p + 1, 8)) (module docstring), all msbs = 7/6."""
    seed = 11
    print("seed", seed)
    rng = np.random.default_rng(seed)
    x, y = data.x_test[:200], data.y_test[:200]
    ms = [covering_msb(c, 8, True) for c in q8.capture(data.x_train)]
    mu = [covering_msb(c, 8, False) for c in q8.capture(data.x_train)]
    assert ms == [7, 7, 7] and mu == [6, 6, 6]
    vecs = [(8, 8, 8), (7, 7, 7), (1, 1, 1), (5, 7, 6)] + \
        [tuple(int(v) for v in rng.integers(1, 9, 3)) for _ in range(6)]
    for p in vecs:
        ps = tuple(min(v + 1, 8) for v in p)
        lu, su = run_windowed(q8, x, layer_windows(q8, p, mu), a_signed=False)
        ls_, ss = run_windowed(q8, x, layer_windows(q8, ps, ms), a_signed=True)
        assert np.array_equal(lu, ls_), p                   # bit-identical logits, not just accuracy
        assert all(np.array_equal(a[1], b[1]) for a, b in zip(su, ss))
        assert accuracy_with_precisions(q8, p, x, y, mu, a_signed=False) == \
            accuracy_with_precisions(q8, ps, x, y, ms, a_signed=True)
    assert accuracy_with_precisions(q8, (8, 8, 8), x, y, mu, a_signed=False) == q8.accuracy(x, y)
    # at the same precision they differ: signed 1-bit windows keep only the 0 sign bit
    _, s1 = run_windowed(q8, x, layer_windows(q8, (1, 1, 1), ms), a_signed=True)
    _, u1 = run_windowed(q8, x, layer_windows(q8, (1, 1, 1), mu), a_signed=False)
    assert not s1[0][1].any() and u1[0][1].any()
    assert np.array_equal(u1[0][1], (u1[0][0] >> 6) << 6)


@pytest.mark.parametrize("a_bits", [8, 16])
def test_unsigned_profile_is_signed_profile_minus_one_bit(a_bits):
    es, eu = evaluate_stripes(a_bits), evaluate_stripes(a_bits, a_signed=False)
    assert es.a_signed and not eu.a_signed
    assert [m - 1 for m in es.msbs] == list(eu.msbs)
    assert [w[1] for w in es.windows] == [w[1] for w in eu.windows]        # same dropped bits
    assert [p - 1 for p in es.profile.precisions] == list(eu.profile.precisions)
    assert eu.test_accuracy_profiled == es.test_accuracy_profiled
    assert eu.test_accuracy_full == es.test_accuracy_full
    assert all(l_["min_code"] >= 0 for l_ in eu.layers)


def test_reduced_model_uses_window_rule(q8, data):
    """run_windowed feeds each layer exactly scalar_window(codes) and the model's own layer math."""
    rng = np.random.default_rng(5)
    x = data.x_test[:40]
    msbs = [7, 6, 7]                      # 6 < covering msb: bits above the window are ignored too
    prec = [int(rng.integers(1, 9)) for _ in range(3)]
    windows = layer_windows(q8, prec, msbs)
    logits, seen = run_windowed(q8, x, windows)
    a = q8.quantize_input(x)
    for layer, (msb, lsb), (codes, vals) in zip(q8.layers, windows, seen):
        assert np.array_equal(codes, a)
        ref = np.array([[scalar_window(int(v), msb, lsb, 8) for v in row] for row in a])
        assert np.array_equal(vals, ref)
        acc = layer.accumulators(ref, q8.acc_bits)
        a = acc if layer.is_last else layer.outputs(acc)
    assert np.array_equal(logits, a)


def test_full_precision_is_the_plain_model(q8, data):
    msbs = [covering_msb(c, 8, True) for c in q8.capture(data.x_train)]
    assert accuracy_with_precisions(q8, (8, 8, 8), data.x_test, data.y_test, msbs) == \
        q8.accuracy(data.x_test, data.y_test)
    # 1-bit windows at msb 7 keep only the (always 0) sign bit of ReLU codes: all inputs become 0
    logits, seen = run_windowed(q8, data.x_test[:10], layer_windows(q8, (1, 1, 1), [7, 7, 7]))
    assert all(not v.any() for _, v in seen)


def test_bad_precision_vectors(q8):
    with pytest.raises(QuantpeError):
        layer_windows(q8, (8, 8), [7, 7, 7])
    with pytest.raises(QuantpeError):
        layer_windows(q8, (0, 8, 8), [7, 7, 7])
    with pytest.raises(QuantpeError):
        layer_windows(q8, (9, 8, 8), [7, 7, 7])


@pytest.mark.parametrize("a_bits,signed", [(8, True), (16, True), (8, False), (16, False)])
def test_profile_meets_tolerance(a_bits, signed, data):
    ev = evaluate_stripes(a_bits, a_signed=signed)
    q = build_qmodel(a_bits=a_bits)
    ref = q.accuracy(data.x_train, data.y_train)           # independent of the profiler
    p = ev.profile
    assert p.reference == ref and p.threshold == ref - ev.tolerance
    msbs = [covering_msb(c, a_bits, signed) for c in q.capture(data.x_train)]
    assert list(ev.msbs) == msbs

    def acc(prec, x=data.x_train, y=data.y_train):
        return accuracy_with_precisions(q, prec, x, y, msbs, a_signed=signed)
    got = acc(p.precisions)
    assert got == p.accuracy and got >= ref - ev.tolerance
    assert all(1 <= x <= a_bits for x in p.precisions)
    # the per-layer phase is minimal: one bit fewer (other layers full) fails the threshold
    for i, pi in enumerate(p.independent):
        if pi > 1:
            trial = [a_bits] * 3
            trial[i] = pi - 1
            assert acc(trial) < ref - ev.tolerance
    assert ev.test_accuracy_profiled == acc(p.precisions, data.x_test, data.y_test)


def _bricks(t, lanes):
    n, k = t.shape
    nb = -(-k // lanes)
    xp = np.zeros((n, nb * lanes), np.int64)
    xp[:, :k] = t
    return xp.reshape(-1, lanes)


@pytest.mark.parametrize("a_bits,lanes,signed", [(8, 16, True), (16, 16, True), (8, 4, True),
                                                 (8, 16, False), (16, 16, False), (8, 4, False)])
def test_cycle_totals_match_brick_cycles(a_bits, lanes, signed, data):
    ev = evaluate_stripes(a_bits, lanes=lanes, group=lanes, a_signed=signed)
    assert ev.a_signed == signed
    q = build_qmodel(a_bits=a_bits)
    full = q.capture(data.x_test)
    _, seen = run_windowed(q, data.x_test, ev.windows, a_signed=signed)
    base = dict(lanes=lanes, a_bits=a_bits, w_bits=8, a_signed=signed)
    cfgs = {"static": StripesConfig(**base), "parallel": StripesConfig(mode="parallel", **base),
            "lead": StripesConfig(mode="dynamic", **base),
            "trail": StripesConfig(mode="dynamic", trailing=True, **base)}
    n_groups = 0
    for i, (layer, lc) in enumerate(zip(q.layers, ev.layers)):
        M = layer.out_features
        msb, lsb = ev.windows[i]
        p = msb - lsb + 1
        fields = _bricks(seen[i][1] >> lsb, lanes)
        raw = _bricks(full[i], lanes)
        n_groups += len(fields)
        assert lc["precision"] == p
        assert lc["parallel"] == M * int(brick_cycles(cfgs["parallel"], raw).sum()) == M * len(raw)
        assert lc["serial_full"] == M * len(raw) * a_bits
        assert lc["stripes"] == M * int(brick_cycles(cfgs["static"], fields, p - 1, 0).sum())
        assert lc["stripes"] == M * int(brick_cycles(cfgs["static"], raw, msb, lsb).sum())
        assert lc["dyn_lead"] == M * int(brick_cycles(cfgs["lead"], fields).sum())
        assert lc["dyn_trail"] == M * int(brick_cycles(cfgs["trail"], fields).sum())
        assert lc["dyn_lead_lossless"] == M * int(brick_cycles(cfgs["lead"], raw).sum())
        assert lc["dyn_trail_lossless"] == M * int(brick_cycles(cfgs["trail"], raw).sum())
        # profiled fields are what the static window computes, shifted down by lsb
        assert np.array_equal(fields << lsb, _bricks(window_value(seen[i][0], msb, lsb,
                                                                  a_bits, signed), lanes))
        assert lc["min_code"] == min(int(full[i].min()), int(seen[i][0].min())) >= 0
        assert lc["nonzero_bricks"] == int(np.count_nonzero(fields.any(axis=1)))
    for k, v in ev.totals.items():
        assert v == sum(lc[k] for lc in ev.layers)
    assert sum(ev.hist_lead) == sum(ev.hist_trail) == n_groups
    assert ev.hist_lead[0] == ev.hist_trail[0] == 0


@pytest.mark.parametrize("a_bits,lanes", [(8, 16), (16, 16), (8, 4)])
def test_unsigned_saves_one_cycle_per_nonzero_brick(a_bits, lanes, data):
    """Signed minus unsigned cycles: dynamic (lead, lead+trail, profiled or not) = M x bricks that
    are not all zero; static (profiled window one bit narrower) = M x all bricks."""
    es = evaluate_stripes(a_bits, lanes=lanes, group=lanes)
    eu = evaluate_stripes(a_bits, lanes=lanes, group=lanes, a_signed=False)
    q = build_qmodel(a_bits=a_bits)
    full = q.capture(data.x_test)
    for layer, ls_, lu, raw in zip(q.layers, es.layers, eu.layers, full):
        M = layer.out_features
        nz_raw = int(np.count_nonzero(_bricks(raw, lanes).any(axis=1)))
        assert ls_["nonzero_bricks"] == lu["nonzero_bricks"]
        nz = lu["nonzero_bricks"]
        for c in ("dyn_lead", "dyn_trail"):
            assert ls_[c] - lu[c] == M * nz
            assert ls_[c + "_lossless"] - lu[c + "_lossless"] == M * nz_raw
        assert ls_["stripes"] - lu["stripes"] == M * ls_["rows"] * ls_["bricks"]
        assert ls_["parallel"] == lu["parallel"] and ls_["serial_full"] == lu["serial_full"]


def test_histogram_small_case():
    cfg = StripesConfig(lanes=4, a_bits=8, mode="dynamic", group=2)
    t = np.array([[0, 0, 1, 0, 3, 0, 64, 4]])        # two bricks, four groups
    # signed precisions: {0,0} -> 1, {1,0} -> 2, {3,0} -> 3, {64,4} -> 8
    assert precision_histogram(cfg, [t], False).tolist() == [0, 1, 1, 1, 0, 0, 0, 0, 1]
    # trailing: {64, 4} -> window [7..2] -> 6
    assert precision_histogram(cfg, [t], True).tolist() == [0, 1, 1, 1, 0, 0, 1, 0, 0]
    u = StripesConfig(lanes=4, a_bits=8, a_signed=False, mode="dynamic", group=2)
    # unsigned: highest set bit + 1: {0,0} -> 1, {1,0} -> 1, {3,0} -> 2, {64,4} -> 7
    assert precision_histogram(u, [t], False).tolist() == [0, 2, 1, 0, 0, 0, 0, 1, 0]
    # trailing: {64, 4} -> window [6..2] -> 5
    assert precision_histogram(u, [t], True).tolist() == [0, 2, 1, 0, 0, 1, 0, 0, 0]
    with pytest.raises(QuantpeError):
        precision_histogram(u, [np.array([[0, -1, 0, 0]])], False)


def test_report_headline_and_target_verdicts(tmp_path, monkeypatch):
    """stripes_report with fake areas (no synthesis): unsigned rows first, verdicts follow the areas,
    files hold the golden totals."""
    import csv
    import json
    from quantpe.report import stripes as sr
    from quantpe.golden.baseline import BaselineConfig
    lead = {(False, 8): 1049.0, (False, 16): 1050.0, (True, 8): 1051.0, (True, 16): 1100.0}

    def fake_area(cfg):
        if isinstance(cfg, BaselineConfig):
            return {"area_um2": 50000.0}
        if cfg.mode == "static":
            return {"area_um2": 1000.0}
        if cfg.mode == "parallel":
            return {"area_um2": 3000.0}
        return {"area_um2": 1200.0 if cfg.trailing else lead[(cfg.a_signed, cfg.a_bits)]}
    def fake_all_areas(keys):
        out = {BaselineConfig().config_id: 50000.0}
        for sip, ab in keys:
            for c in sr.sip_configs(ab, dict(sr.SIPS)[sip]).values():
                out[c.config_id] = fake_area(c)["area_um2"]
                out[("detector", c.config_id)] = 10.0
        return out
    monkeypatch.setattr(sr, "_all_areas", fake_all_areas)
    md = "\n".join(sr.stripes_report(tmp_path))
    assert (tmp_path / "stripes" / "stripes.md").read_text() == md + "\n"
    assert ("met by unsigned 8-bit lead, unsigned 16-bit lead; NOT met by unsigned 8-bit lead+trail, "
            "unsigned 16-bit lead+trail, signed 8-bit lead, signed 8-bit lead+trail, signed 16-bit lead, "
            "signed 16-bit lead+trail.") in md
    assert "smallest code 0 " in md
    assert md.index("| unsigned | 8 |") < md.index("| unsigned | 16 |") < md.index("| signed | 8 |")
    assert md.index("### Unsigned SIP, 8-bit") < md.index("### Signed SIP, 8-bit")
    rows = list(csv.DictReader(open(tmp_path / "stripes" / "cycles.csv")))
    area_rows = list(csv.DictReader(open(tmp_path / "stripes" / "area.csv")))
    for sip, signed in (("unsigned", False), ("signed", True)):
        for ab in (8, 16):
            ev = evaluate_stripes(ab, a_signed=signed)
            tot = [r for r in rows if r["sip"] == sip and r["a_bits"] == str(ab) and r["layer"] == "total"]
            assert len(tot) == 1 and all(int(tot[0][c]) == v for c, v in ev.totals.items())
            st = [r for r in area_rows if r["sip"] == sip and r["a_bits"] == str(ab)
                  and r["variant"] == "Stripes SIP (profiled)"][0]
            assert st["cycles"] == str(ev.totals["stripes"])
            assert float(st["rel_to_parallel"]) == pytest.approx(
                1000 * ev.totals["stripes"] / (3000 * ev.totals["parallel"]), abs=1e-3)
    js = json.loads((tmp_path / "stripes" / "area.json").read_text())
    assert js["headline"] == "unsigned"
    assert js["by_sip"]["unsigned"]["8"]["overhead"]["dyn_lead"]["in_situ_pct"] == pytest.approx(4.9)
