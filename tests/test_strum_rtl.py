"""StruM PE RTL (Amaranth simulator) against the golden schedule, every cycle.

Seeds: the session seed of tests/conftest.py (fresh per run unless `--seed N` or QUANTPE_SEED is
given), printed and named in every failure message: pytest tests/test_strum_rtl.py --seed <seed>
"""
import itertools

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.hdl import Fragment

from quantpe.golden.strum import StrumConfig, input_ports, strum_schedule_ports
from quantpe.tb.strum_stimulus import strum_corners, strum_stimulus
from quantpe.rtl.ports import ports_of
from quantpe.tb.amaranth_sim import run_clocked, run_comb
from quantpe.rtl.strum import StrumDynamicPE, StrumStaticPE, strum_parts, strum_pe
from quantpe.rtl.strum_select import StrumScatter, StrumSelect
from quantpe.rtl.strum_units import DliqShift, DynamicLane, Mip2qLowUnit

def _cfg(variant, structure, small_acc=False, **kw):
    cfg = StrumConfig(variant=variant, structure=structure, acc_bits=62, **kw)
    return cfg.replace(acc_bits=cfg.sum_bits + 2 if small_acc else 32)


# DLIQ/MIP2Q x static/dynamic x two (B, K) points; the other parameters are spread over them.
CASES = [
    _cfg("dliq", "static", block=16, k=8, pipeline=1),
    _cfg("dliq", "static", True, block=8, k=3, hb=6, lb=3, pipeline=0, shift="layer", saturate=True),
    _cfg("dliq", "dynamic", True, block=16, k=8, pipeline=2),
    _cfg("dliq", "dynamic", True, block=8, k=5, a_signed=False, pipeline=1, shift="layer", saturate=True),
    _cfg("mip2q", "static", True, block=16, k=8, pipeline=2),
    _cfg("mip2q", "static", True, block=8, k=3, hb=7, lb=3, a_signed=False, pipeline=0, saturate=True),
    _cfg("mip2q", "dynamic", True, block=16, k=8, pipeline=0, saturate=True),
    _cfg("mip2q", "dynamic", block=8, k=5, lb=5, a_bits=6, pipeline=1),
    # select="group": K/G high lanes in each group of B/G lanes
    _cfg("dliq", "static", True, block=16, k=8, pipeline=1, select="group"),
    _cfg("mip2q", "static", True, block=16, k=12, pipeline=2, select="group"),
    _cfg("mip2q", "dynamic", True, block=8, k=4, pipeline=1, select="group", groups=2),
    _cfg("dliq", "dynamic", True, block=16, k=8, pipeline=0, select="group", shift="layer"),
]
IDS = [c.short_name() for c in CASES]


def simulate(dut, inputs: dict, T: int, reset_at=()):
    """Outputs of the PE during every cycle of `inputs` (rst held high during `reset_at`)."""
    return run_clocked(dut, {n: v[:T] for n, v in inputs.items()}, ["out_valid", "out_sum"], reset_at)


def _first_mismatch(exp, got):
    bad = (exp["out_valid"] != got["out_valid"]) | (exp["out_sum"] != got["out_sum"])
    if not bad.any():
        return None
    t = int(np.flatnonzero(bad)[0])
    return (f"{int(bad.sum())} bad cycles, first {t}: rtl valid={got['out_valid'][t]} "
            f"sum={got['out_sum'][t]}, golden valid={exp['out_valid'][t]} sum={exp['out_sum'][t]}")


@pytest.mark.parametrize("cfg", CASES, ids=IDS)
def test_pe_matches_golden_every_cycle(cfg, seed):
    T = 300
    inputs, cov = strum_stimulus(cfg, T, seed)
    assert tuple(inputs) == input_ports(cfg)
    missed = [n for n, c in cov.items() if c == 0]
    if cfg.acc_bits > cfg.sum_bits + 2:       # a 32-bit accumulator needs thousands of cycles
        missed.remove("acc_wrap_or_saturate")
    assert not missed, f"corners not driven: {missed}"
    exp = strum_schedule_ports(cfg, inputs)
    assert exp["out_valid"].sum() > 20
    got = simulate(strum_pe(cfg), inputs, T)
    err = _first_mismatch(exp, got)
    assert err is None, f"{cfg.short_name()} seed {seed}: {err} (rerun: --seed {seed})"


def test_corner_list_is_complete_for_each_case():
    for cfg in CASES:
        names = strum_corners(cfg)
        assert ("j_max" in names) == (cfg.variant == "dliq")
        assert ("plain_mode" in names) == cfg.dynamic


@pytest.mark.parametrize("cfg", [CASES[0], CASES[6]], ids=[IDS[0], IDS[6]])
def test_synchronous_reset_clears_state(cfg, seed):
    """Reset mid-stream: afterwards the PE behaves as if freshly reset at that point."""
    T, R = 120, 60
    inputs, _ = strum_stimulus(cfg, T, seed + 1)
    got = simulate(strum_pe(cfg), inputs, T, reset_at=(R,))
    tail = {n: v[R + 1:] for n, v in inputs.items()}
    exp_tail = strum_schedule_ports(cfg, tail)
    assert got["out_valid"][R + 1] == 0 and got["out_sum"][R + 1] == 0
    for n in ("out_valid", "out_sum"):
        assert np.array_equal(got[n][R + 1:], exp_tail[n]), f"seed {seed}"
    head = strum_schedule_ports(cfg, {n: v[:R + 1] for n, v in inputs.items()})
    for n in ("out_valid", "out_sum"):
        assert np.array_equal(got[n][:R + 1], head[n]), f"seed {seed}"


def test_a_mutated_golden_is_caught(seed):
    """The comparison can fail: an off-by-one latency in the expectation must mismatch."""
    cfg = CASES[0]
    inputs, _ = strum_stimulus(cfg, 120, seed)
    got = simulate(strum_pe(cfg), inputs, 120)
    wrong = strum_schedule_ports(cfg.replace(pipeline=0), inputs)
    assert _first_mismatch(wrong, got) is not None


@pytest.mark.parametrize("cfg", CASES, ids=IDS)
def test_structure_and_verilog(cfg):
    """Unit counts (K full multipliers + B-K low units / B lanes) and Verilog conversion."""
    B, K = cfg.block, cfg.k
    dut = strum_pe(cfg)
    assert isinstance(dut, StrumDynamicPE if cfg.dynamic else StrumStaticPE)
    frag = Fragment.get(dut, None)
    subs = {name: sub.origins[0] for sub, name, *_ in frag.subfragments}
    kinds = {}
    for sub in subs.values():
        kinds[type(sub).__name__] = kinds.get(type(sub).__name__, 0) + 1
    groups = cfg.groups if cfg.select == "group" else 1
    if cfg.dynamic:
        assert kinds.get("DynamicLane") == B and kinds.get("StrumScatter") == 1 and "LaneMul" not in kinds
        assert subs["scatter"].groups == groups
    else:
        if cfg.variant == "dliq":      # K high multipliers + B-K low multipliers of lb bits
            assert kinds.get("LaneMul") == B and "Mip2qLowUnit" not in kinds
            assert sorted({subs[f"lmul{i}"].signature.members["w"].shape.width for i in range(B - K)}) == [cfg.lb]
        else:
            assert kinds.get("LaneMul") == K and kinds.get("Mip2qLowUnit") == B - K
        assert {subs[f"hmul{i}"].signature.members["w"].shape.width for i in range(K)} == {cfg.hb}
        assert kinds.get("StrumSelect") == 1 and subs["select"].groups == groups
        assert ("DliqShift" in kinds) == (cfg.variant == "dliq")
    expect = set()
    for name, _, count in strum_parts(cfg):
        expect |= {name} if count == 1 else {f"{name}{i}" for i in range(count)}
    assert set(subs) == expect
    ports = {p.name: p for p in ports_of(dut)}
    assert tuple(n for n, p in ports.items() if p.direction == "in") == input_ports(cfg)
    assert ports["out_sum"].bits == cfg.acc_bits and ports["out_sum"].signed
    assert ports["mask"].bits == B and ports["hi"].count == K and ports["lo"].count == B - K
    text = verilog.convert(strum_pe(cfg), name="strum_pe_top", emit_src=False)
    assert "module strum_pe_top" in text
    for n in input_ports(cfg) + ("out_valid", "out_sum"):
        assert f" {n}" in text


# ---------------------------------------------------------------- selection networks alone

def _run_comb(dut, vectors, outs):
    """Apply each input vector (dict port -> int) and read the named outputs (raw ints)."""
    return run_comb(dut, vectors, outs, raw=True)


def _legal_masks(B, K):
    for ones in itertools.combinations(range(B), K):
        yield sum(1 << lane for lane in ones), ones


@pytest.mark.parametrize("B", [4, 8])
def test_select_and_scatter_exhaustive_masks(B, seed):
    """Every legal mask of B = 4 and 8 for every K, against a plain Python routing reference."""
    rng = np.random.default_rng(seed)
    for K in range(1, B):
        w, hb, lb = 5, 6, 3
        sel, sc = StrumSelect(B, K, w), StrumScatter(B, K, hb, lb)
        vec_sel, vec_sc, refs = [], [], []
        for mask, ones in _legal_masks(B, K):
            lanes = [int(x) for x in rng.integers(0, 1 << w, B)]
            his = [int(x) for x in rng.integers(0, 1 << hb, K)]
            los = [int(x) for x in rng.integers(0, 1 << lb, B - K)]
            zeros = [lane for lane in range(B) if lane not in ones]
            vec_sel.append({"mask": mask, "lanes": sum(v << (i * w) for i, v in enumerate(lanes))})
            vec_sc.append({"mask": mask, "hi": sum(v << (i * hb) for i, v in enumerate(his)),
                           "lo": sum(v << (i * lb) for i, v in enumerate(los))})
            high = [lanes[lane] for lane in ones]
            low = [lanes[lane] for lane in zeros]
            lane_hi = {lane: his[i] for i, lane in enumerate(ones)}
            lane_lo = {lane: los[i] for i, lane in enumerate(zeros)}
            refs.append((high, low, lane_hi, lane_lo))
        got_sel = _run_comb(sel, vec_sel, ("high", "low"))
        got_sc = _run_comb(sc, vec_sc, ("lane_hi", "lane_lo"))
        for (high, low, lane_hi, lane_lo), gs, gc in zip(refs, got_sel, got_sc):
            assert [(gs["high"] >> (i * w)) & ((1 << w) - 1) for i in range(K)] == high
            assert [(gs["low"] >> (i * w)) & ((1 << w) - 1) for i in range(B - K)] == low
            for lane, v in lane_hi.items():
                assert (gc["lane_hi"] >> (lane * hb)) & ((1 << hb) - 1) == v
            for lane, v in lane_lo.items():
                assert (gc["lane_lo"] >> (lane * lb)) & ((1 << lb) - 1) == v


def test_adder_tree_carries():
    """Sum of terms plus carry-ins, every carry pattern, with extreme and random terms."""
    from quantpe.rtl.adder_tree import AdderTree
    rng = np.random.default_rng(1)
    for n, carries in ((2, 1), (5, 4), (8, 7), (3, 0)):
        tree = AdderTree(n, 6, 6 + n.bit_length() + 1, carries)
        vec = []
        for c in range(1 << carries):
            for terms in ([-32] * n, [31] * n, list(rng.integers(-32, 32, n))):
                d = {f"term_{i}": int(t) & 63 for i, t in enumerate(terms)}
                d.update({f"carry_{i}": (c >> i) & 1 for i in range(carries)})
                vec.append((d, sum(int(t) for t in terms) + bin(c).count("1")))
        got = _run_comb(tree, [d for d, _ in vec], ("total",))
        w = tree.out_bits
        for (d, want), g in zip(vec, got):
            assert g["total"] - ((g["total"] >> (w - 1)) << w) == want, (n, carries, d)
    with pytest.raises(ValueError, match="0..2 carries"):
        AdderTree.check_carries(3, 3)          # what AdderTree(3, 6, 9, carries=3) raises


def test_units_exhaustive_small():
    """Low units and the lane against scalar formulas over all codes x all 6-bit activations."""
    from amaranth import signed
    lb, a_bits = 4, 6
    acts = list(range(-(1 << (a_bits - 1)), 1 << (a_bits - 1)))
    mip = Mip2qLowUnit(lb, signed(a_bits), 20)
    vec = [{"code": c, "a": a & ((1 << a_bits) - 1)} for c in range(1 << lb) for a in acts]
    got = _run_comb(mip, vec, ("p", "neg"))
    for v, g in zip(vec, got):
        sign, e = v["code"] >> 3, v["code"] & 7
        a = v["a"] - (1 << a_bits) if v["a"] >> (a_bits - 1) else v["a"]
        want = 0 if (sign, e) == (1, 0) else (-a if sign else a) * (1 << e)
        p = g["p"] - ((g["p"] >> 19) << 20)
        assert g["neg"] == int(sign == 1 and e != 0), v          # the +1 is owed exactly for negatives
        assert p + g["neg"] == want, v
        if g["neg"]:
            assert p == ~(a << e), v                               # ones' complement, no negator
    shift = DliqShift(10, 17)
    vec = [{"x": x & 0x3FF, "j": j} for x in (-512, -1, 0, 1, 511, -300, 77) for j in range(8)]
    got = _run_comb(shift, vec, ("y",))
    for v, g in zip(vec, got):
        x = v["x"] - 1024 if v["x"] >> 9 else v["x"]
        assert g["y"] - ((g["y"] >> 16) << 17) == x << v["j"]
    lane = DynamicLane("dliq", 8, 4, signed(8), 19)
    vec = []
    for mode, is_high in ((0, 0), (0, 1), (1, 1), (1, 0)):
        for w, hi, lo, j, a in ((-128, 5, 7, 7, -128), (127, -127 & 255, 8, 7, -128),
                                (3, 127, 15, 0, 127), (-7, 1, 0, 3, -1)):
            vec.append({"mode": mode, "is_high": is_high, "w": w & 255, "hi": hi, "lo": lo,
                        "j": j, "a": a & 255})
    got = _run_comb(lane, vec, ("p",))
    for v, g in zip(vec, got):
        s8 = lambda x, b: x - (1 << b) if x >> (b - 1) else x  # noqa: E731
        a = s8(v["a"], 8)
        if v["mode"] == 0:
            want = s8(v["w"], 8) * a
        elif v["is_high"]:
            want = s8(v["hi"], 8) * a
        else:
            want = (s8(v["lo"], 4) * a) << v["j"]
        assert s8(g["p"], 19) == want, v


@pytest.mark.parametrize("B,K,G", [(8, 4, 4), (8, 4, 2), (8, 6, 2), (16, 8, 8), (16, 12, 4)])
def test_group_select_and_scatter_exhaustive_masks(B, K, G, seed):
    """Every mask with exactly K/G ones per group (all of them: at most 4^4 = 256 masks here)
    against the plain Python routing reference (i-th set bit -> high slot i, lane order)."""
    rng = np.random.default_rng(seed + B * 100 + K * 10 + G)
    L, KG = B // G, K // G
    w, hb, lb = 5, 6, 3
    sel, sc = StrumSelect(B, K, w, groups=G), StrumScatter(B, K, hb, lb, groups=G)
    per_group = list(itertools.combinations(range(L), KG))
    vec_sel, vec_sc, refs = [], [], []
    for choice in itertools.product(per_group, repeat=G):
        ones = [g * L + i for g, c in enumerate(choice) for i in c]
        mask = sum(1 << lane for lane in ones)
        lanes = [int(x) for x in rng.integers(0, 1 << w, B)]
        his = [int(x) for x in rng.integers(0, 1 << hb, K)]
        los = [int(x) for x in rng.integers(0, 1 << lb, B - K)]
        zeros = [lane for lane in range(B) if lane not in ones]
        vec_sel.append({"mask": mask, "lanes": sum(v << (i * w) for i, v in enumerate(lanes))})
        vec_sc.append({"mask": mask, "hi": sum(v << (i * hb) for i, v in enumerate(his)),
                       "lo": sum(v << (i * lb) for i, v in enumerate(los))})
        refs.append(([lanes[x] for x in ones], [lanes[x] for x in zeros],
                     {x: his[i] for i, x in enumerate(ones)}, {x: los[i] for i, x in enumerate(zeros)}))
    assert len(refs) == len(per_group) ** G
    got_sel = _run_comb(sel, vec_sel, ("high", "low"))
    got_sc = _run_comb(sc, vec_sc, ("lane_hi", "lane_lo"))
    for (high, low, lane_hi, lane_lo), gs, gc in zip(refs, got_sel, got_sc):
        assert [(gs["high"] >> (i * w)) & ((1 << w) - 1) for i in range(K)] == high
        assert [(gs["low"] >> (i * w)) & ((1 << w) - 1) for i in range(B - K)] == low
        for lane, v in lane_hi.items():
            assert (gc["lane_hi"] >> (lane * hb)) & ((1 << hb) - 1) == v
        for lane, v in lane_lo.items():
            assert (gc["lane_lo"] >> (lane * lb)) & ((1 << lb) - 1) == v
