"""StruM golden model: config, wire format, encoder, decoder, error figures, cycle schedule.

Expected values come from hand-built bit strings or from straightforward scalar brute-force
references written here, never from the implementation's own output.
Seeds: the session seed of tests/conftest.py (`--seed N` / QUANTPE_SEED; named in failures).
"""
import itertools
import json

import numpy as np
import pytest

from quantpe.core.kinds import config_from_dict
from quantpe.golden.errors import ConfigError, QuantpeError
from quantpe.golden.intmath import int_range
from quantpe.golden.quantize import quantize
from quantpe.golden.strum import (StrumConfig, block_bits, block_layout, block_values, encode,
                                  encode_int, error_figures, input_ports, pack_block,
                                  pack_blocks, ports_from_words, storage_figures, strum_dot,
                                  strum_error_table, strum_schedule, strum_schedule_ports,
                                  unpack_block, unpack_blocks)
from quantpe.golden.strum_codec import BlockFields, bits_to_mask, mask_to_bits
from quantpe.golden.strum_config import signed_width
from quantpe.tb.strum_stimulus import strum_stimulus

def rng(seed, extra=0):
    return np.random.default_rng(seed + extra)


# ---------------------------------------------------------------- scalar references

def ref_decode_lane_values(cfg, mask_bits, hi, lo, j):
    """Walk the lanes: i-th set mask bit takes hi[i], i-th clear bit takes lo[i], decoded."""
    out, h, lw = [], 0, 0
    for bit in mask_bits:
        if bit:
            out.append(int(hi[h]))
            h += 1
        else:
            code = int(lo[lw])
            lw += 1
            if cfg.variant == "dliq":
                out.append(code * 2 ** int(j))
            else:
                sign, e = code >> (cfg.lb - 1), code & ((1 << (cfg.lb - 1)) - 1)
                out.append(0 if (sign, e) == (1, 0) else (-1) ** sign * 2 ** e)
    return out


def ref_block_sum(cfg, mask_bits, hi, lo, j, a):
    """Block dot product with the hardware formulas: hi*a, (q*a) << j, +-(a << e)."""
    s, h, lw = 0, 0, 0
    for lane, bit in enumerate(mask_bits):
        x = int(a[lane])
        if bit:
            s += int(hi[h]) * x
            h += 1
        else:
            code = int(lo[lw])
            lw += 1
            if cfg.variant == "dliq":
                s += (code * x) << int(j)
            else:
                sign, e = code >> (cfg.lb - 1), code & ((1 << (cfg.lb - 1)) - 1)
                if (sign, e) != (1, 0):
                    s += -(x << e) if sign else (x << e)
    return s


def ref_wrap(x, bits):
    x &= (1 << bits) - 1
    return x - (1 << bits) if x >> (bits - 1) else x


def ref_schedule(cfg, inputs):
    """Per-cycle Python-int model of the PE (accumulate, emit after latency, hold)."""
    T = len(inputs["valid"])
    lo_, hi_ = -(1 << (cfg.acc_bits - 1)), (1 << (cfg.acc_bits - 1)) - 1
    acc, emits = 0, {}
    for t in range(T):
        if not inputs["valid"][t]:
            continue
        a = inputs["a"][t]
        if cfg.dynamic and inputs["mode"][t] == 0:
            s = sum(int(x) * int(w) for x, w in zip(a, inputs["w"][t]))
        else:
            mask = [(int(inputs["mask"][t]) >> i) & 1 for i in range(cfg.block)]
            j = inputs["j"][t] if cfg.has_j else 0
            s = ref_block_sum(cfg, mask, inputs["hi"][t], inputs["lo"][t], j, a)
        base = 0 if inputs["first"][t] else acc
        acc = min(max(base + s, lo_), hi_) if cfg.saturate else ref_wrap(base + s, cfg.acc_bits)
        if inputs["last"][t]:
            emits[t + cfg.latency] = acc
    ov, osum, held = [], [], 0
    for t in range(T):
        if t in emits:
            held = emits[t]
        ov.append(int(t in emits))
        osum.append(held)
    return np.array(ov), np.array(osum)


def ref_topk(block, K):
    return sorted(range(len(block)), key=lambda i: (-abs(block[i]), i))[:K]


def ref_dliq(cfg, xs):
    """(codes, j) by brute force over every q and every j; ties: larger |q|, then smaller j."""
    qlo, qhi = int_range(cfg.lb, True)
    best = None
    for j in range(8):
        codes, err = [], 0
        for x in xs:
            q = min(range(qlo, qhi + 1), key=lambda q: ((x - q * 2 ** j) ** 2, -abs(q)))
            codes.append(q)
            err += (x - q * 2 ** j) ** 2
        if best is None or err < best[0]:
            best = (err, codes, j)
    return best[1], best[2]


def ref_mip2q(cfg, x):
    """Best MIP2Q code by brute force over all 2^lb codes; ties: larger magnitude."""
    def val(c):
        return ref_decode_lane_values(cfg, [0], [], [c], 0)[0]
    return min(range(1 << cfg.lb), key=lambda c: ((x - val(c)) ** 2, -abs(val(c))))


# ---------------------------------------------------------------- config

def test_config_defaults_roundtrip_and_name():
    c = StrumConfig()
    assert (c.variant, c.block, c.k, c.hb, c.lb, c.a_bits, c.acc_bits) == ("dliq", 16, 8, 8, 4, 8, 32)
    assert StrumConfig(block=8).k == 4 and StrumConfig(block=32).k == 16
    assert StrumConfig(block=16, k=8) == c and StrumConfig(k=0) == c
    d = json.loads(c.to_json())
    assert d["kind"] == "strum"
    assert config_from_dict(d) == c and config_from_dict(d).config_id == c.config_id
    assert c.short_name() == "strum-dliq-static-b16k8-h8l4-ai8-acc32-p1"
    n = StrumConfig(variant="mip2q", structure="dynamic", block=8, k=3, a_signed=False,
                    saturate=True).short_name()
    assert n == "strum-mip2q-dynamic-b8k3-h8l4-au8-acc32-p1-sat"
    assert "jlayer" in StrumConfig(shift="layer").short_name()
    assert StrumConfig(shift="layer").config_id != c.config_id


@pytest.mark.parametrize("kw,needle", [
    (dict(k=16), "k (high slots per block) must be in 1..15"),
    (dict(k=-1), "k (high slots"),
    (dict(block=12), "block must be one of 4, 8, 16, 32"),
    (dict(lb=8), "2 <= lb < hb <= 8"),
    (dict(hb=9), "2 <= lb < hb"),
    (dict(lb=1), "2 <= lb"),
    (dict(variant="int4"), "variant must be one of dliq, mip2q"),
    (dict(structure="hybrid"), "structure must be"),
    (dict(shift="channel"), "shift must be"),
    (dict(variant="mip2q", shift="layer"), "applies to DLIQ only"),
    (dict(pipeline=3), "pipeline must be 0, 1 or 2"),
    (dict(acc_bits=21), "acc_bits must be in 22..62"),
    (dict(acc_bits=63), "acc_bits must be in"),
    (dict(k="8"), "k must be an integer"),
    (dict(a_bits=1), "a_bits must be in"),
    (dict(variant="mip2q", lb=7), "acc_bits must be in"),
])
def test_config_errors_are_one_line(kw, needle):
    with pytest.raises(ConfigError) as e:
        StrumConfig(**kw)
    assert needle in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("variant", ["dliq", "mip2q"])
@pytest.mark.parametrize("structure", ["static", "dynamic"])
def test_sum_bits_equal_brute_force_extremes(variant, structure):
    """Exact block-sum range of a tiny config by enumerating every block (any hb-bit high code,
    since the port carries them) at the extreme activations (the sum is linear in a)."""
    cfg = StrumConfig(variant=variant, structure=structure, block=4, k=1, hb=3, lb=2, a_bits=2,
                      acc_bits=40)
    alo, ahi = cfg.a_range()
    sums = []
    for ones in range(4):
        mask = [int(i == ones) for i in range(4)]
        for h in range(-4, 4):
            for lo in itertools.product(range(*(np.array(cfg.lo_range()) + [0, 1])), repeat=3):
                for j in (range(8) if variant == "dliq" else [0]):
                    for a in itertools.product((alo, ahi), repeat=4):
                        sums.append(ref_block_sum(cfg, mask, [h], lo, j, a))
    if structure == "dynamic":
        for w in itertools.product((-4, 3), repeat=4):
            for a in itertools.product((alo, ahi), repeat=4):
                sums.append(sum(x * y for x, y in zip(w, a)))
    assert cfg.sum_range() == (min(sums), max(sums))
    assert cfg.sum_bits == signed_width(min(sums), max(sums))
    assert signed_width(-4, 3) == 3 and signed_width(-5, 0) == 4 and signed_width(0, 4) == 4


# ---------------------------------------------------------------- wire format

def test_layout_and_storage_figures():
    c = StrumConfig()
    assert [(f.name, f.offset, f.bits, f.count) for f in block_layout(c)] == \
        [("mask", 0, 1, 16), ("hi", 16, 8, 8), ("lo", 80, 4, 8), ("j", 112, 3, 1)]
    assert block_bits(c) == 115
    assert block_bits(StrumConfig(variant="mip2q")) == 112
    assert block_bits(StrumConfig(shift="layer")) == 112
    s = storage_figures(c)
    assert (s["block_bits"], s["plain_block_bits"], s["header_bits"]) == (115, 128, 3)
    assert s["bits_per_weight"] == 115 / 16
    s = storage_figures(StrumConfig(shift="layer"))
    assert (s["block_bits"], s["per_layer_bits"]) == (112, 3)
    assert block_bits(StrumConfig(block=32, k=4, lb=2)) == 32 + 4 * 8 + 28 * 2 + 3


def test_pack_matches_hand_built_bits():
    """B=4, K=2, hb=4, lb=2, DLIQ: mask lanes 1 and 3, hi (-3, 5), lo (1, -2), j = 6."""
    cfg = StrumConfig(block=4, k=2, hb=4, lb=2, a_bits=8, acc_bits=32)
    #           j     lo1  lo0  hi1     hi0     mask(lane3..0)
    bits = "110" + "10" + "01" + "0101" + "1101" + "1010"
    word = int(bits, 2)
    assert pack_block(cfg, 0b1010, [-3, 5], [1, -2], 6) == word
    assert pack_block(cfg, [0, 1, 0, 1], [-3, 5], [1, -2], 6) == word
    for w in (word, bits, "0b" + bits):
        f = unpack_block(cfg, w)
        assert f.mask.tolist() == [0, 1, 0, 1] and f.hi.tolist() == [-3, 5]
        assert f.lo.tolist() == [1, -2] and int(f.j) == 6
        assert block_values(cfg, f).tolist() == [64, -3, -128, 5]
    m = StrumConfig(variant="mip2q", block=4, k=2, hb=4, lb=2)
    #         lo1(sign=1,e=0 -> 0) lo0(sign=1,e=1 -> -2) hi1 hi0 mask
    bits = "10" + "11" + "0011" + "1001" + "0011"
    f = unpack_block(m, bits)
    assert block_values(m, f).tolist() == [-7, 3, -2, 0]
    assert pack_block(m, f.mask, f.hi, f.lo) == int(bits, 2)


@pytest.mark.parametrize("cfg", [
    StrumConfig(), StrumConfig(variant="mip2q"), StrumConfig(shift="layer"),
    StrumConfig(block=4, k=1, hb=3, lb=2), StrumConfig(block=8, k=7, lb=3),
    StrumConfig(block=32, k=16), StrumConfig(variant="mip2q", block=32, k=5, lb=5),
], ids=lambda c: c.short_name())
def test_pack_unpack_roundtrip_random(cfg, seed):
    r = rng(seed, 1)
    n, B, K = 200, cfg.block, cfg.k
    mask = np.zeros((n, B), np.int64)
    for i in range(n):
        mask[i, r.choice(B, K, replace=False)] = 1
    hi = r.integers(cfg.hi_range()[0], cfg.hi_range()[1] + 1, (n, K))
    lo = r.integers(cfg.lo_range()[0], cfg.lo_range()[1] + 1, (n, B - K))
    j = r.integers(0, 8, n) if cfg.j_in_block else None
    words = pack_blocks(cfg, BlockFields(mask, hi, lo, j))
    assert all(0 <= int(w) < 1 << block_bits(cfg) for w in words)
    f = unpack_blocks(cfg, words)
    assert np.array_equal(f.mask, mask) and np.array_equal(f.hi, hi) and np.array_equal(f.lo, lo)
    assert (f.j is None) == (j is None) and (j is None or np.array_equal(f.j, j))
    # the word really is the documented field concatenation (a bit-string reference)
    for i in range(3):
        s = ""
        for b in mask[i]:
            s = str(b) + s
        for v in hi[i]:
            s = format(int(v) & ((1 << cfg.hb) - 1), f"0{cfg.hb}b") + s
        for v in lo[i]:
            s = format(int(v) & ((1 << cfg.lb) - 1), f"0{cfg.lb}b") + s
        if j is not None:
            s = format(int(j[i]), "03b") + s
        assert int(s, 2) == words[i] and len(s) == block_bits(cfg)
    jj = j if j is not None else np.full(n, 3)
    vals = block_values(cfg, BlockFields(mask, hi, lo, jj if cfg.variant == "dliq" else None))
    for i in range(20):
        assert vals[i].tolist() == ref_decode_lane_values(cfg, mask[i], hi[i], lo[i], jj[i])


def test_unpack_rejects_bad_words():
    c = StrumConfig(block=4, k=2, hb=4, lb=2)
    nb = block_bits(c)
    good = pack_block(c, 0b0011, [1, 2], [0, 1], 3)
    for bad, needle in [(1 << nb, "does not fit in 19 bits"), (-1, "non-negative"),
                        ("0" * (nb - 1), "has 18 bits, expected 19"), ("01x" + "0" * 16, "0/1 bits"),
                        (3.0, "integer or a bit string"), (True, "integer or a bit string"),
                        (good & ~0b1111 | 0b0111, "mask has 3 high lanes, expected exactly K=2"),
                        (good & ~(0b1111 << 4) | (0b1000 << 4), "hi code -8 outside -7..7")]:
        with pytest.raises(QuantpeError, match=needle.replace(".", r"\.")):
            unpack_block(c, bad)
    unpack_block(c, good)
    with pytest.raises(QuantpeError, match="does not fit"):
        unpack_blocks(c, [good, 1 << nb])


def test_pack_rejects_bad_fields():
    c = StrumConfig(block=4, k=2, hb=4, lb=2)
    with pytest.raises(QuantpeError, match="hi code 8 outside"):
        pack_block(c, 0b11, [8, 0], [0, 0], 0)
    with pytest.raises(QuantpeError, match="lo code 2 outside -2..1"):
        pack_block(c, 0b11, [0, 0], [2, 0], 0)
    with pytest.raises(QuantpeError, match="j must be in 0..7"):
        pack_block(c, 0b11, [0, 0], [0, 0], 8)
    with pytest.raises(QuantpeError, match="mask has 1 high lanes"):
        pack_block(c, 0b1, [0, 0], [0, 0], 0)
    with pytest.raises(QuantpeError, match="needs j"):
        pack_block(c, 0b11, [0, 0], [0, 0])
    with pytest.raises(QuantpeError, match="hi must have shape"):
        pack_block(c, 0b11, [0, 0, 0], [0, 0], 0)
    m = StrumConfig(variant="mip2q", block=4, k=2, hb=4, lb=2)
    with pytest.raises(QuantpeError, match="lo code -1 outside 0..3"):
        pack_block(m, 0b11, [0, 0], [-1, 0])


def test_mip2q_code_table():
    c = StrumConfig(variant="mip2q")
    lo = np.arange(16)
    vals = block_values(c, BlockFields(mask_to_bits(0xFF00, 16), np.zeros(8, np.int64), lo[:8], None))
    assert vals[:8].tolist() == [1, 2, 4, 8, 16, 32, 64, 128]
    vals = block_values(c, BlockFields(mask_to_bits(0xFF00, 16), np.zeros(8, np.int64), lo[8:], None))
    assert vals[:8].tolist() == [0, -2, -4, -8, -16, -32, -64, -128]
    assert bits_to_mask(mask_to_bits(0xA5C3, 16)) == 0xA5C3


# ---------------------------------------------------------------- encoder / decoder

CODERS = [StrumConfig(), StrumConfig(variant="mip2q"), StrumConfig(block=8, k=3, lb=3, hb=6),
          StrumConfig(variant="mip2q", block=4, k=1, lb=2, hb=5), StrumConfig(shift="layer")]


@pytest.mark.parametrize("cfg", CODERS, ids=lambda c: c.short_name())
def test_encode_int_matches_brute_force(cfg, seed):
    """Integer weights (exact ties everywhere) against scalar brute force, every code."""
    r = rng(seed, 2)
    hmax = cfg.hi_range()[1]
    w = r.integers(-hmax, hmax + 1, (6, 4 * cfg.block))
    w[0, :cfg.block] = 5                      # all-tie block
    w[1, :cfg.block] = 0                      # zero block
    t = encode_int(w, cfg)
    B, K = cfg.block, cfg.k
    vals = t.values()
    layer_j = None
    if cfg.shift == "layer":                  # brute-force the one layer j
        lows = []
        for c in range(w.shape[0]):
            for b in range(w.shape[1] // B):
                blk = w[c, b * B:(b + 1) * B].tolist()
                top = ref_topk(blk, K)
                lows += [blk[i] for i in range(B) if i not in top]
        qlo, qhi = int_range(cfg.lb, True)
        errs = [sum(min((x - q * 2 ** j) ** 2 for q in range(qlo, qhi + 1)) for x in lows) for j in range(8)]
        layer_j = errs.index(min(errs))
        assert t.layer_j == layer_j
    for c in range(w.shape[0]):
        for b in range(w.shape[1] // B):
            blk = w[c, b * B:(b + 1) * B].tolist()
            top = sorted(ref_topk(blk, K))
            assert np.flatnonzero(t.fields.mask[c, b]).tolist() == top
            assert t.fields.hi[c, b].tolist() == [blk[i] for i in top]
            lows = [blk[i] for i in range(B) if i not in top]
            if cfg.variant == "dliq":
                if layer_j is None:
                    codes, j = ref_dliq(cfg, lows)
                else:
                    j = layer_j
                    qlo, qhi = int_range(cfg.lb, True)
                    codes = [min(range(qlo, qhi + 1), key=lambda q: ((x - q * 2 ** j) ** 2, -abs(q)))
                             for x in lows]
                assert int(t.fields.j[c, b]) == j
            else:
                codes, j = [ref_mip2q(cfg, x) for x in lows], 0
            assert t.fields.lo[c, b].tolist() == codes, (c, b, lows)
            want = ref_decode_lane_values(cfg, t.fields.mask[c, b], t.fields.hi[c, b], codes, j)
            assert vals[c, b * B:(b + 1) * B].tolist() == want
    assert t.fields.mask[0, 0].tolist() == [1] * K + [0] * (B - K)     # ties -> lower index


@pytest.mark.parametrize("cfg", CODERS[:3], ids=lambda c: c.short_name())
def test_encode_float_matches_brute_force(cfg, seed):
    r = rng(seed, 3)
    w = r.standard_normal((4, 2 * cfg.block)) * r.uniform(0.01, 3, (4, 1))
    t = encode(w, cfg)
    q = quantize(w, cfg.hb, signed=True, axis=0)
    assert np.array_equal(t.scale, np.broadcast_to(q.scale, (4, 1)))
    B, K = cfg.block, cfg.k
    for c in range(4):
        s = float(t.scale[c, 0])
        assert s == np.max(np.abs(w[c])) / cfg.hi_range()[1]
        for b in range(2):
            blk = w[c, b * B:(b + 1) * B]
            top = sorted(ref_topk(blk.tolist(), K))
            assert np.flatnonzero(t.fields.mask[c, b]).tolist() == top
            assert t.fields.hi[c, b].tolist() == [int(q.codes[c, b * B + i]) for i in top]
            lows = [float(blk[i]) / s for i in range(B) if i not in top]
            if cfg.variant == "dliq":
                codes, j = ref_dliq(cfg, lows)
                assert int(t.fields.j[c, b]) == j
            else:
                codes = [ref_mip2q(cfg, x) for x in lows]
            assert t.fields.lo[c, b].tolist() == codes
    assert np.allclose(t.dequantize(), t.values() * t.scale)


def test_tie_rules_on_examples():
    c = StrumConfig(block=4, k=1, hb=8, lb=4)
    t = encode_int([[1, -3, 3, 2]], c)
    assert t.fields.mask[0, 0].tolist() == [0, 1, 0, 0]          # |-3| == |3|: lower index
    m = StrumConfig(variant="mip2q", block=4, k=1)
    t = encode_int([[100, 3, -1, 6]], m)                        # 3: 2|4 tie, -1: 0|-2 tie, 6: 4|8
    assert t.values()[0].tolist() == [100, 4, -2, 8]
    t = encode_int([[100, 1, 0, -3]], c.replace(shift="layer"), j=1)   # 1/2, -3/2: halves away
    assert t.values()[0].tolist() == [100, 2, 0, -4]


def test_decode_is_not_clipped():
    c = StrumConfig(block=4, k=1, shift="layer")
    t = encode_int([[127, 120, -120, 100]], c, j=5)
    assert t.values()[0].tolist() == [127, 128, -128, 96]
    f = BlockFields(np.array([1, 0, 0, 0]), np.array([127]), np.array([-8, 7, -8]), np.array(7))
    assert block_values(StrumConfig(block=4, k=1), f).tolist() == [127, -1024, 896, -1024]


def test_layer_shift_j_handling(seed):
    c = StrumConfig(shift="layer")
    w = rng(seed, 4).standard_normal((4, 32))
    t = encode(w, c, j=3)
    assert t.layer_j == 3 and np.all(t.fields.j == 3)
    assert t.storage_bits == 4 * 2 * 112 + 3
    with pytest.raises(QuantpeError, match="layer shift j must be an integer in 0..7"):
        encode(w, c, j=8)
    with pytest.raises(QuantpeError, match="pass j only with shift='layer'"):
        encode(w, StrumConfig(), j=3)
    with pytest.raises(QuantpeError, match="MIP2Q has no shift"):
        encode(w, StrumConfig(variant="mip2q"), j=3)
    words = t.words()
    with pytest.raises(QuantpeError, match="pass the layer shift"):
        ports_from_words(c, words[0])
    p = ports_from_words(c, words[0], j=3)
    assert p["j"].tolist() == [3, 3]


def test_encoder_input_errors():
    c = StrumConfig()
    with pytest.raises(QuantpeError, match="NaN or infinite"):
        encode(np.array([[np.nan] + [0.0] * 15]), c)
    with pytest.raises(QuantpeError, match="NaN or infinite"):
        encode_int(np.array([[np.inf] + [0.0] * 15]), c)
    with pytest.raises(QuantpeError, match="reduction length 20 is not a multiple of the StruM block size 16"):
        encode(np.ones((2, 20)), c)
    with pytest.raises(QuantpeError, match="matrix"):
        encode(np.ones((2, 2, 16)), c)
    with pytest.raises(QuantpeError, match=r"must lie in -127\.\.127"):
        encode_int(np.full((1, 16), -128), c)
    with pytest.raises(QuantpeError, match="whole numbers"):
        encode_int(np.full((1, 16), 1.5), c)
    t = encode(np.arange(16.0) - 8, c)                  # 1-D: one channel
    assert t.shape == (1, 16)
    z = encode(np.zeros((1, 16)), c)
    assert np.all(z.values() == 0) and z.scale[0, 0] == 1.0


@pytest.mark.parametrize("cfg", CODERS, ids=lambda c: c.short_name())
def test_strum_dot_equals_hardware_formulas(cfg, seed):
    r = rng(seed, 5)
    w = r.standard_normal((5, 3 * cfg.block))
    t = encode(w, cfg)
    alo, ahi = cfg.a_range()
    a = r.integers(alo, ahi + 1, (7, w.shape[1]))
    got = strum_dot(t, a, acc_bits=cfg.acc_bits)
    B = cfg.block
    for n in range(7):
        for c in range(5):
            s = 0
            for b in range(3):
                f = t.fields[c, b]
                s += ref_block_sum(cfg, f.mask, f.hi, f.lo, 0 if f.j is None else f.j, a[n, b * B:(b + 1) * B])
            assert got[n, c] == ref_wrap(s, cfg.acc_bits)
    with pytest.raises(QuantpeError, match="activations have length"):
        strum_dot(t, a[:, :-1])


# ---------------------------------------------------------------- error figures

def test_error_figures_and_table(seed):
    r = rng(seed, 6)
    w = r.standard_normal((16, 64)) * np.geomspace(0.01, 1, 16)[:, None]
    e = error_figures([3.0, 4.0], [3.0, 3.0])
    assert e["mse"] == 0.5 and e["sqnr_db"] == pytest.approx(10 * np.log10(25.0))
    assert error_figures([1.0], [1.0])["sqnr_db"] == np.inf
    tab = strum_error_table(w)
    assert list(tab) == ["int8", "dliq", "mip2q", "int4"]
    ref8 = quantize(w, 8, True, axis=0).dequantize()
    assert tab["int8"]["mse"] == pytest.approx(np.mean((w - ref8) ** 2), rel=1e-12)
    ref4 = quantize(w, 4, True, axis=0).dequantize()
    assert tab["int4"]["sqnr_db"] == pytest.approx(10 * np.log10(np.sum(w ** 2) / np.sum((w - ref4) ** 2)))
    d = encode(w, StrumConfig()).dequantize()
    assert tab["dliq"]["mse"] == pytest.approx(np.mean((w - d) ** 2), rel=1e-12)
    assert tab["int8"]["sqnr_db"] > tab["dliq"]["sqnr_db"] > tab["int4"]["sqnr_db"]
    assert tab["int8"]["sqnr_db"] > tab["mip2q"]["sqnr_db"] > tab["int4"]["sqnr_db"]
    assert tab["dliq"]["bits_per_weight"] == 115 / 16 and tab["mip2q"]["bits_per_weight"] == 7.0
    tab = strum_error_table(w, StrumConfig(hb=7, lb=3, shift="layer"), j=2)
    assert list(tab) == ["int7", "dliq", "mip2q", "int3"]


# ---------------------------------------------------------------- cycle schedule

SCHED = [StrumConfig(), StrumConfig(variant="mip2q", structure="dynamic", pipeline=0),
         StrumConfig(structure="dynamic", pipeline=2, shift="layer", saturate=True, acc_bits=23),
         StrumConfig(variant="mip2q", block=8, k=3, a_signed=False, saturate=True, acc_bits=20),
         StrumConfig(block=4, k=1, hb=5, lb=2, acc_bits=18)]


@pytest.mark.parametrize("cfg", SCHED, ids=lambda c: c.short_name())
def test_schedule_matches_scalar_reference(cfg, seed):
    inputs, cov = strum_stimulus(cfg, 400, seed)
    got = strum_schedule_ports(cfg, inputs)
    ov, osum = ref_schedule(cfg, inputs)
    assert np.array_equal(got["out_valid"], ov) and np.array_equal(got["out_sum"], osum), f"seed {seed}"
    assert ov.sum() > 30
    e = strum_schedule(cfg, inputs)
    assert np.array_equal(e.out_sum, osum)


def test_schedule_streams_a_whole_channel(seed):
    """Blocks of encoded channels streamed first..last emit exactly strum_dot."""
    for cfg in (StrumConfig(pipeline=2), StrumConfig(variant="mip2q", structure="dynamic")):
        r = rng(seed, 7)
        w = r.standard_normal((3, 64))
        t = encode(w, cfg)
        a = r.integers(-128, 128, 64)
        want = strum_dot(t, a, cfg.acc_bits)
        words = t.words().reshape(-1)                      # channel-major: 4 blocks per channel
        T = len(words) + cfg.latency
        ports = ports_from_words(cfg, words)
        inputs = {"valid": np.r_[np.ones(len(words)), np.zeros(cfg.latency)].astype(int),
                  "first": np.r_[np.tile([1, 0, 0, 0], 3), np.zeros(cfg.latency)].astype(int),
                  "last": np.r_[np.tile([0, 0, 0, 1], 3), np.zeros(cfg.latency)].astype(int),
                  "a": np.vstack([np.tile(a.reshape(4, 16), (3, 1)), np.zeros((cfg.latency, 16))])}
        for n, v in ports.items():
            inputs[n] = np.concatenate([v, np.zeros((cfg.latency,) + v.shape[1:], np.int64)])
        if cfg.dynamic:
            inputs["mode"] = np.ones(T, np.int64)
            inputs["w"] = np.zeros((T, 16), np.int64)
        e = strum_schedule_ports(cfg, inputs)
        emitted = e["out_sum"][np.flatnonzero(e["out_valid"])]
        assert emitted.tolist() == want.tolist()


def test_schedule_rejects_illegal_valid_blocks_only(seed):
    cfg = StrumConfig(structure="dynamic")
    inputs, _ = strum_stimulus(cfg, 60, seed)
    strum_schedule(cfg, inputs)               # idle and plain rows already carry garbage fields
    t = int(np.flatnonzero((inputs["valid"] == 1) & (inputs["mode"] == 1))[0])
    bad = {k: v.copy() for k, v in inputs.items()}
    bad["mask"][t] = 0xFFFF
    with pytest.raises(QuantpeError, match="mask has 16 high lanes"):
        strum_schedule(cfg, bad)
    bad["mode"][t] = 0                        # the same garbage in plain mode is ignored
    strum_schedule(cfg, bad)
    bad = {k: v.copy() for k, v in inputs.items()}
    bad["a"][t, 0] = 128
    with pytest.raises(QuantpeError, match="activation codes must be in -128..127"):
        strum_schedule(cfg, bad)
    bad = {k: v.copy() for k, v in inputs.items()}
    p = int(np.flatnonzero((inputs["valid"] == 1) & (inputs["mode"] == 0))[0])
    bad["w"][p, 3] = 200
    with pytest.raises(QuantpeError, match="plain weight codes"):
        strum_schedule(cfg, bad)
    bad = {k: v for k, v in inputs.items() if k != "j"}
    with pytest.raises(QuantpeError, match="missing port 'j'"):
        strum_schedule(cfg, bad)
    assert input_ports(cfg) == ("valid", "first", "last", "a", "mode", "w", "mask", "hi", "lo", "j")
    assert input_ports(StrumConfig(variant="mip2q")) == ("valid", "first", "last", "a", "mask", "hi", "lo")


# ---------------------------------------------------------------- digits model

def test_model_accuracy_uses_the_decoded_weights_exactly():
    from quantpe.golden.dot import accumulate
    from quantpe.golden.digits import load_digits_split
    from quantpe.golden.qmodel import build_qmodel
    from quantpe.golden.strum_eval import strum_model_accuracy

    r = strum_model_accuracy()
    acc = r["accuracy"]
    assert list(acc) == ["float", "int8", "dliq", "mip2q", "int4"]
    assert all(0.0 <= v <= 1.0 for v in acc.values()) and acc["float"] > 0.9
    data = load_digits_split()
    q8 = build_qmodel(w_bits=8, a_bits=8)
    assert acc["int8"] == q8.accuracy(data.x_test, data.y_test)
    assert acc["int4"] == build_qmodel(w_bits=4, a_bits=8).accuracy(data.x_test, data.y_test)
    assert r["n_test"] == 360 and r["strum_layers"] == [0, 1, 2]
    # the model hook computes exactly strum_dot (+ bias) on the layer's input codes
    layer0 = q8.layers[0]
    t = encode(layer0.float_weight, StrumConfig())
    qs = q8.with_weights(0, t.values())
    a = q8.capture(data.x_test[:50])[0]
    want = accumulate(strum_dot(t, a, 32), layer0.bias, 32)
    assert np.array_equal(qs.layers[0].accumulators(a, 32), want)
    # per-layer SQNR equals the error table of that layer's float weights
    for row in r["layers"]:
        tab = strum_error_table(q8.layers[row["layer"]].float_weight)
        for name in ("int8", "dliq", "mip2q", "int4"):
            assert row["sqnr_db"][name] == pytest.approx(tab[name]["sqnr_db"], abs=1e-9)
    one = strum_model_accuracy(layers=[1], source="int8")
    assert one["strum_layers"] == [1] and [row["layer"] for row in one["layers"]] == [1]
    with pytest.raises(QuantpeError, match="hb=8"):
        strum_model_accuracy(StrumConfig(hb=7, lb=4))
    with pytest.raises(QuantpeError, match="source"):
        strum_model_accuracy(source="fp16")
    with pytest.raises(QuantpeError, match="layer index"):
        strum_model_accuracy(layers=[3])


# ---------------------------------------------------------------- select="group"

def ref_topk_grouped(block, K, G):
    """High lanes of a grouped block: the K/G largest |w| of each group (ties: lower index)."""
    L = len(block) // G
    out = []
    for g in range(G):
        out += [g * L + i for i in ref_topk(block[g * L:(g + 1) * L], K // G)]
    return sorted(out)


GROUPED = [StrumConfig(select="group"), StrumConfig(variant="mip2q", select="group"),
           StrumConfig(select="group", k=12), StrumConfig(select="group", k=8, groups=2),
           StrumConfig(variant="mip2q", block=8, k=6, lb=3, hb=6, select="group"),
           StrumConfig(select="group", shift="layer", k=4)]


def test_group_config_ids_and_errors():
    c = StrumConfig(select="group")
    assert c.groups == 8 and (c.n_groups, c.group_lanes, c.group_k) == (8, 2, 1)
    assert StrumConfig(select="group", k=6).groups == 2 and StrumConfig(select="group", k=7).groups == 1
    assert StrumConfig().n_groups == 1 and StrumConfig().group_k == 8
    # the prefix default keeps the id it had before the select field existed
    d = StrumConfig().to_dict()
    assert "select" not in d and "groups" not in d
    old = {"kind": "strum", **{k: v for k, v in d.items() if k != "kind"}}
    assert d == old and config_from_dict(d) == StrumConfig()
    assert config_from_dict(c.to_dict()) == c and c.config_id != StrumConfig().config_id
    assert c.short_name().endswith("-g8")
    for kw, needle in [(dict(select="group", groups=3), "groups must divide both block (16) and k (8)"),
                       (dict(select="group", k=6, groups=4), "groups must divide"),
                       (dict(groups=2), "groups applies to select='group' only"),
                       (dict(select="mux"), "select must be one of prefix, group")]:
        with pytest.raises(ConfigError) as e:
            StrumConfig(**kw)
        assert needle in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("cfg", GROUPED[:5], ids=lambda c: c.short_name())
def test_group_codec_roundtrip_and_validity(cfg, seed):
    r = rng(seed, 11)
    n, B, K, G = 100, cfg.block, cfg.k, cfg.groups
    L = B // G
    mask = np.zeros((n, B), np.int64)
    for i in range(n):
        for g in range(G):
            mask[i, g * L + r.choice(L, K // G, replace=False)] = 1
    hi = r.integers(cfg.hi_range()[0], cfg.hi_range()[1] + 1, (n, K))
    lo = r.integers(cfg.lo_range()[0], cfg.lo_range()[1] + 1, (n, B - K))
    j = r.integers(0, 8, n) if cfg.j_in_block else None
    words = pack_blocks(cfg, BlockFields(mask, hi, lo, j))
    # the word layout is the block-wide one: the prefix config packs the same fields identically
    flat = cfg.replace(select="prefix", groups=0)
    assert list(words) == list(pack_blocks(flat, BlockFields(mask, hi, lo, j)))
    f = unpack_blocks(cfg, words)
    assert np.array_equal(f.mask, mask) and np.array_equal(f.hi, hi) and np.array_equal(f.lo, lo)
    jj = j if j is not None else np.full(n, 2)
    vals = block_values(cfg, BlockFields(mask, hi, lo, jj if cfg.variant == "dliq" else None))
    for i in range(20):
        assert vals[i].tolist() == ref_decode_lane_values(cfg, mask[i], hi[i], lo[i], jj[i])
    # every mask with K ones in total but a wrong count in some group is rejected,
    # every mask with exactly K/G ones per group is accepted (exhaustive for B <= 8)
    if B <= 8:
        for ones in itertools.combinations(range(B), K):
            bits = np.zeros(B, np.int64)
            bits[list(ones)] = 1
            legal = all(bits[g * L:(g + 1) * L].sum() == K // G for g in range(G))
            args = (cfg, bits, hi[0], lo[0], None if j is None else j[0])
            if legal:
                pack_block(*args)
            else:
                with pytest.raises(QuantpeError, match=r"mask group \d+ \(lanes"):
                    pack_block(*args)
    bad = mask[0].copy()
    g0 = np.flatnonzero(bad[:L])[0]                  # move a high lane of group 0 into group 1
    g1 = L + np.flatnonzero(bad[L:2 * L] == 0)[0]
    bad[g0], bad[g1] = 0, 1
    with pytest.raises(QuantpeError, match=f"mask group 0 \\(lanes 0..{L - 1}\\) has {K // G - 1} high"):
        pack_block(cfg, bad, hi[0], lo[0], None if j is None else j[0])


@pytest.mark.parametrize("cfg", GROUPED, ids=lambda c: c.short_name())
def test_group_encode_int_matches_brute_force(cfg, seed):
    r = rng(seed, 12)
    hmax = cfg.hi_range()[1]
    w = r.integers(-hmax, hmax + 1, (5, 3 * cfg.block))
    w[0, :cfg.block] = 5                      # all-tie block
    w[1, :cfg.block] = 0
    w[2, :cfg.block // 2] = hmax              # every large weight in the first half
    t = encode_int(w, cfg)
    B, K, G = cfg.block, cfg.k, cfg.groups
    vals = t.values()
    for c in range(w.shape[0]):
        for b in range(w.shape[1] // B):
            blk = w[c, b * B:(b + 1) * B].tolist()
            top = ref_topk_grouped(blk, K, G)
            assert np.flatnonzero(t.fields.mask[c, b]).tolist() == top
            assert t.fields.hi[c, b].tolist() == [blk[i] for i in top]
            lows = [blk[i] for i in range(B) if i not in top]
            if cfg.variant == "dliq" and cfg.shift == "block":
                codes, j = ref_dliq(cfg, lows)
                assert int(t.fields.j[c, b]) == j
            elif cfg.variant == "dliq":
                j = t.layer_j
                qlo, qhi = int_range(cfg.lb, True)
                codes = [min(range(qlo, qhi + 1), key=lambda q: ((x - q * 2 ** j) ** 2, -abs(q)))
                         for x in lows]
            else:
                codes, j = [ref_mip2q(cfg, x) for x in lows], 0
            assert t.fields.lo[c, b].tolist() == codes
            assert vals[c, b * B:(b + 1) * B].tolist() == ref_decode_lane_values(
                cfg, t.fields.mask[c, b], t.fields.hi[c, b], codes, j)
    L = B // G
    assert t.fields.mask[0, 0].tolist() == ([1] * (K // G) + [0] * (L - K // G)) * G   # ties


@pytest.mark.parametrize("cfg", GROUPED[:2], ids=lambda c: c.short_name())
def test_group_encode_float_matches_brute_force(cfg, seed):
    r = rng(seed, 13)
    w = r.standard_normal((3, 2 * cfg.block)) * r.uniform(0.01, 3, (3, 1))
    t = encode(w, cfg)
    B, K, G = cfg.block, cfg.k, cfg.groups
    for c in range(3):
        for b in range(2):
            blk = w[c, b * B:(b + 1) * B].tolist()
            assert np.flatnonzero(t.fields.mask[c, b]).tolist() == ref_topk_grouped(blk, K, G)
    words = t.words()
    assert np.array_equal(unpack_blocks(cfg, words).mask, t.fields.mask)


@pytest.mark.parametrize("cfg", [StrumConfig(select="group", pipeline=2),
                                 StrumConfig(variant="mip2q", structure="dynamic", select="group",
                                             k=4, acc_bits=22, saturate=True)],
                         ids=lambda c: c.short_name())
def test_group_schedule_matches_scalar_reference(cfg, seed):
    inputs, cov = strum_stimulus(cfg, 300, seed)
    G, L = cfg.groups, cfg.block // cfg.groups
    on = (inputs["valid"] == 1) & ((inputs["mode"] == 1) if cfg.dynamic else True)
    for m in inputs["mask"][on]:                       # every valid mask is grouped-legal
        bits = [(int(m) >> i) & 1 for i in range(cfg.block)]
        assert all(sum(bits[g * L:(g + 1) * L]) == cfg.group_k for g in range(G))
    got = strum_schedule_ports(cfg, inputs)
    ov, osum = ref_schedule(cfg, inputs)
    assert np.array_equal(got["out_valid"], ov) and np.array_equal(got["out_sum"], osum), f"seed {seed}"
    assert ov.sum() > 20


@pytest.mark.parametrize("shift", ["block", "layer"])
def test_dliq_encoder_reaches_the_largest_shift(shift):
    """lb=2 codes q in -2..1: [120, 127, 126] as low weights are best coded as q=1 at j=7 (value
    128, errors 8, 1, 2); any j <= 6 gives at most 64. The search must include j = 7."""
    from quantpe.golden.strum_encode import encode_int
    cfg = StrumConfig(block=4, k=1, lb=2, shift=shift, acc_bits=62)
    t = encode_int(np.array([[127, 120, 127, 126]]), cfg)
    assert t.fields.j.tolist() == [[7]]
    assert t.values().tolist() == [[127, 128, 128, 128]]
