"""Exact references: the approximate-multiplier PE with every lane exact is no larger than the
baseline PE, and its exact / Baugh-Wooley / Booth lanes pass the registry regression on both simulators.

Areas are measured here (Yosys, built-in liberty, `quantpe.synth.flow`, cached), not hard-coded.
"""

from __future__ import annotations

import pytest

from quantpe.synth.flow import synth_many
from quantpe.golden.approx_pe import ApproxPEConfig
from quantpe.golden.baseline import BaselineConfig
from quantpe.rtl.approx_pe import exact_lane_form


def _pe_pair(lanes, a, w, s):
    return (
        BaselineConfig(lanes=lanes, a_bits=a, w_bits=w, a_signed=s, w_signed=s),
        ApproxPEConfig(lanes=lanes, a_bits=a, w_bits=w, signed=s),
    )


@pytest.mark.parametrize(
    "lanes,a,w,s",
    [
        (4, 4, 4, True),
        (4, 4, 4, False),
        pytest.param(4, 8, 4, True, marks=pytest.mark.slow),
        pytest.param(4, 8, 4, False, marks=pytest.mark.slow),
        pytest.param(16, 8, 8, True, marks=pytest.mark.slow),
        pytest.param(16, 8, 8, False, marks=pytest.mark.slow),
    ],
)
def test_all_exact_approx_pe_no_larger_than_baseline(lanes, a, w, s):
    base, pe = _pe_pair(lanes, a, w, s)
    r_base, r_pe = synth_many([base, pe], desc="PE areas")
    print(
        f"{lanes} lanes {a}x{w} {'signed' if s else 'unsigned'} ({exact_lane_form(a, w, s)}): "
        f"approxpe {r_pe['area_um2']:.1f} baseline {r_base['area_um2']:.1f}"
    )
    assert r_pe["area_um2"] <= r_base["area_um2"]


def test_exact_lane_forms():
    assert exact_lane_form(8, 8, True) == exact_lane_form(8, 4, True) == "booth"
    assert exact_lane_form(4, 4, True) == exact_lane_form(6, 5, True) == "baugh_wooley"
    assert exact_lane_form(8, 8, False) == "array" and exact_lane_form(8, 4, False) == "mul"


MIXED = ApproxPEConfig(
    lanes=4,
    a_bits=5,
    w_bits=4,
    signed=True,
    acc_bits=14,
    lane_muls=(
        "exact",
        "truncated:compensate=1,signed_form=baugh_wooley,t=3",
        "broken_array:hbl=1,or_cols=2,signed_form=baugh_wooley,vbl=3",
        "truncated:compensate=1,signed_form=booth,t=3",
    ),
)


@pytest.mark.parametrize(
    "sim", ["icarus", pytest.param("verilator", marks=pytest.mark.slow)]
)  # 2 builds: ~90 s
def test_regression_with_exact_baugh_wooley_and_booth_lanes(sim, seed):
    from quantpe.sim.regression import regress

    regress(MIXED, sim, 200, seed)    # unsigned exact lanes ("mul" form): the approxpe plan's l4-u4-mix-sat


def test_regression_catches_a_wrong_lane(seed):
    """Golden with the Baugh-Wooley truncated lane replaced by its sign-magnitude twin must fail."""
    from quantpe.sim.runner import SimulationFailed, run
    from quantpe.sim.regression import stimulus_for

    inputs, _ = stimulus_for(MIXED, 200, seed)
    wrong = MIXED.replace(lane_muls=(MIXED.lane_muls[0], "truncated:compensate=1,t=3", *MIXED.lane_muls[2:]))
    with pytest.raises(SimulationFailed, match="first mismatch at cycle"):
        run(MIXED, "icarus", inputs, seed=seed, name="fault-injection", golden_cfg=wrong)
