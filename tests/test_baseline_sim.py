"""cocotb regression of the baseline PE on Icarus and Verilator, every cycle against golden."""
import pytest

from quantpe.golden.baseline import BaselineConfig
from quantpe.kinds import stimulus_for
from quantpe.sim.regression import regress
from quantpe.sim.runner import SimulationFailed, run
from quantpe.tb.stimulus import BASELINE_CORNERS

CONFIGS = {
    "l16-int8": BaselineConfig(),                                        # the reference PE
    "l4-int4xuint4": BaselineConfig(lanes=4, a_bits=4, w_bits=4, w_signed=False, acc_bits=12,
                                    pipeline=2),
    "l8-int2-sat": BaselineConfig(lanes=8, a_bits=2, w_bits=2, acc_bits=7, pipeline=0,
                                  saturate=True),
}
CYCLES = {"verilator": 20000, "icarus": 4000}


@pytest.mark.parametrize("sim", ["icarus", "verilator"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_baseline_matches_golden(name, sim, seed):
    cfg = CONFIGS[name]
    r = regress(cfg, sim, CYCLES[sim], seed)
    print(f"{cfg.config_id} {sim}: {r.checked} cycles checked, coverage {r.coverage}")
    missed = [c for c in BASELINE_CORNERS if r.coverage[c] == 0 and c != "acc_wrap_or_saturate"]
    assert not missed, f"corners not driven: {missed}"


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
