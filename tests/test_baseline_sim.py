"""The baseline PE beyond the shared regression (tests/test_regression.py): the per-cycle driver,
the wrap/saturation corners, and a wrong golden rule that must fail."""
import pytest

from quantpe.core.kinds import stimulus_for
from quantpe.sim.regression import regress
from quantpe.sim.runner import SimulationFailed, run
from quantpe.tb.stimulus import BASELINE_PLAN

CONFIGS = BASELINE_PLAN.configs
CYCLES = BASELINE_PLAN.cycles


@pytest.mark.parametrize("name", list(CONFIGS))
def test_direct_driver_agrees(name, seed):
    """The per-cycle cocotb driver/monitor sees the same as the golden model (it raises
    SimulationFailed at the first differing cycle, as the memory harness does)."""
    regress(CONFIGS[name], "icarus", 600, seed, scoreboard="record")


def test_wrap_and_saturation_corners_are_driven(seed):
    for cfg in (CONFIGS["l4-int4xuint4"], CONFIGS["l8-int2-sat"]):
        _, cov = stimulus_for(cfg, CYCLES["icarus"], seed)
        assert cov["acc_wrap_or_saturate"] == 1
    _, cov = stimulus_for(CONFIGS["l16-int8"], CYCLES["verilator"], seed)
    assert cov["acc_wrap_or_saturate"] == 1


def test_wrong_golden_rule_fails_with_waves_and_rerun(seed):
    """A one-rule change in the golden model (wrap -> saturate) must fail the regression."""
    cfg = CONFIGS["l4-int4xuint4"]
    inputs, _ = stimulus_for(cfg, 800, seed)
    with pytest.raises(SimulationFailed) as e:
        run(cfg, "icarus", inputs, seed=seed, name="fault-injection",
            golden_cfg=cfg.replace(saturate=True))
    msg = str(e.value)
    assert "first mismatch at cycle" in msg and "rerun: quantpe sim baseline --config" in msg
    assert e.value.wave.endswith(".fst")
    import os
    assert os.path.getsize(e.value.wave) > 0
