"""Approximate-multiplier PE: config, golden (vs baseline and a scalar reference), cocotb regression."""
import numpy as np
import pytest

from quantpe.golden.approx import ApproxMulConfig, approx_mul
from quantpe.golden.approx_pe import (ApproxPEConfig, approx_pe_lane_sums, approx_pe_schedule_ports,
                                      parse_mul_spec)
from quantpe.golden.baseline import BaselineConfig, Stimulus, baseline_schedule
from quantpe.core.kinds import config_from_dict
from quantpe.golden.errors import ConfigError
from quantpe.tb.approx_pe_stimulus import APPROX_PE_PLAN, approx_pe_stimulus
from quantpe.tb.stimulus import baseline_stimulus

CONFIGS = APPROX_PE_PLAN.configs
CYCLES = APPROX_PE_PLAN.cycles


def test_wrap_and_saturation_corner_driven(seed):
    _, cov = approx_pe_stimulus(CONFIGS["l4-u4-mix-sat"], CYCLES["icarus"], seed)
    assert cov["acc_wrap_or_saturate"] == 1


@pytest.mark.parametrize("signed,bits,pipeline,saturate", [(True, 8, 1, False), (False, 4, 2, True),
                                                           (True, 3, 0, True)])
def test_all_exact_equals_baseline_golden(signed, bits, pipeline, saturate, seed):
    lanes, acc = 6, 2 * bits + 5
    pe = ApproxPEConfig(lanes=lanes, a_bits=bits, w_bits=bits, signed=signed, acc_bits=acc,
                        pipeline=pipeline, saturate=saturate)
    base = BaselineConfig(lanes=lanes, a_bits=bits, w_bits=bits, a_signed=signed, w_signed=signed,
                          acc_bits=acc, pipeline=pipeline, saturate=saturate)
    assert pe.sum_bits == base.sum_bits and pe.latency == base.latency
    inputs, _ = baseline_stimulus(base, 3000, seed)
    exp_b = baseline_schedule(base, Stimulus(**inputs))
    exp_p = approx_pe_schedule_ports(pe, inputs)
    assert exp_b.out_valid.sum() > 100
    np.testing.assert_array_equal(exp_p["out_valid"], exp_b.out_valid)
    np.testing.assert_array_equal(exp_p["out_sum"], exp_b.out_sum)


def test_lane_sums_match_scalar_reference(seed):
    """Lane sums vs a per-element loop over each lane's own multiplier rule."""
    cfg = CONFIGS["l4-i8-mix"]
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, size=(200, 4))
    w = rng.integers(-128, 128, size=(200, 4))
    rules = [approx_mul(parse_mul_spec(s, 8, 8, True)) for s in cfg.lane_muls]
    want = [sum(int(rules[i](a[t, i], w[t, i])) for i in range(4)) for t in range(200)]
    np.testing.assert_array_equal(approx_pe_lane_sums(cfg, a, w), want)
    # and the lanes are genuinely approximate: differs from the exact sum somewhere
    assert np.any(approx_pe_lane_sums(cfg, a, w) != np.sum(a * w, axis=1))


def test_config_roundtrip_and_canonical_specs():
    cfg = CONFIGS["l4-i8-mix"]
    back = config_from_dict(cfg.to_dict())
    assert back == cfg and hash(back) == hash(cfg) and back.config_id == cfg.config_id
    a = ApproxPEConfig(lanes=2, mul="truncated: compensate=1, t=6")
    b = ApproxPEConfig(lanes=2, mul="truncated:t=6,compensate=1")
    assert a == b and a.mul == "truncated:compensate=1,t=6"
    assert ApproxPEConfig(lanes=2, mul="exact").config_id != a.config_id
    assert [c.method for c in cfg.lane_configs()] == ["truncated", "drum", "mitchell", "broken_array"]
    assert cfg.lane_configs()[1] == ApproxMulConfig(method="drum", k=3, signed=True)


@pytest.mark.parametrize("kw,msg", [
    (dict(lanes=2, lane_muls=("exact",)), "one spec per lane"),
    (dict(mul="wallace"), "method must be one of"),
    (dict(mul="truncated:t=99"), "t must be in"),
    (dict(mul="truncated:q=1"), "bad multiplier parameter"),
    (dict(mul="truncated:compensate=2"), "must be 0 or 1"),
    (dict(mul="drum:t=3"), "not a parameter of method"),
    (dict(mul="lut"), "not supported"),
    (dict(a_bits=9), "a_bits must be in 2..8"),
    (dict(acc_bits=10), "acc_bits must be in"),
    (dict(lane_muls=7), "lane_muls must be"),
    (dict(lanes=2, mul="drum:k=4", lane_muls=("exact", "mitchell")), "not both"),
])
def test_bad_configs(kw, msg):
    with pytest.raises(ConfigError, match=msg):
        ApproxPEConfig(**kw)


def test_signed_drum_overshoot_widens_sum():
    """DRUM k=2 signed 6x3 has a product outside 9 bits: the lane terms must be 10 bits."""
    cfg = CONFIGS["l5-i6x3-drum"]
    assert cfg.lane_configs()[0].y_bits == 10
    assert cfg.product_bits == 10 and cfg.sum_bits == 13


def test_exact_golden_against_approximate_rtl_fails(seed):
    """Scoring the approximate RTL with an all-exact golden must fail: the check sees the lanes."""
    from quantpe.sim.runner import SimulationFailed, run
    cfg = CONFIGS["l4-i8-mix"]
    inputs, _ = approx_pe_stimulus(cfg, 300, seed)
    with pytest.raises(SimulationFailed, match="first mismatch at cycle"):
        run(cfg, "icarus", inputs, seed=seed, name="fault-injection",
            golden_cfg=cfg.replace(lane_muls=("exact",) * 4))
