"""cocotb regression of the requantiser (column) on Icarus and Verilator, every cycle against golden:
out, out_valid and the LFSR state register(s), from reset through re-seeding."""
import os

import pytest

from quantpe.core.kinds import build_component, stimulus_for
from quantpe.sim.regression import regress
from quantpe.sim.runner import SimulationFailed, run
from quantpe.tb.requant_stimulus import REQUANT_CONFIGS, REQUANT_PLAN, applicable_corners

CONFIGS = REQUANT_CONFIGS
CYCLES = REQUANT_PLAN.cycles
# the default pairs run in tests/test_regression.py (REQUANT_PLAN); every other pair here, --slow
DEFAULT = {(n, s) for n, _, s, _ in REQUANT_PLAN.points()}
SLOW_PAIRS = [(n, s) for n in CONFIGS for s in ("icarus", "verilator") if (n, s) not in DEFAULT]


@pytest.mark.slow
@pytest.mark.parametrize("name, sim", SLOW_PAIRS)
def test_requant_matches_golden_slow(name, sim, seed):
    cfg = CONFIGS[name]
    r = regress(cfg, sim, CYCLES[sim], seed)
    missed = [c for c in applicable_corners(cfg) if r.coverage[c] == 0]
    assert not missed, f"corners not driven: {missed}"


def test_corner_coverage_of_every_config(seed):
    """Every config reaches its named corners (ties, extremes, saturation both ways, k = 0,
    k = acc_bits - 1, the stream after reset and re-seeding), counted on the golden draws."""
    need = {"nearest-k0": {"k_zero", "sat_high", "sat_low"}, "sr-kmax": {"k_max"},
            "nearest-kmax": {"k_max"}, "sr-default": {"tie_positive", "tie_negative", "sat_high",
                                                      "sat_low", "seed_load_zero", "stream_after_reset"}}
    for name, cfg in CONFIGS.items():
        _, cov = stimulus_for(cfg, CYCLES["icarus"], seed)
        corners = applicable_corners(cfg)
        assert need.get(name, set()) <= set(corners), name
        assert all(cov[c] > 0 for c in corners), (name, {c: cov[c] for c in corners})
        if cfg.stochastic:
            assert cov["stream_after_reset"] >= 40 and cov["seed_load"] >= 5


def test_flipped_polynomial_bit_in_golden_fails(seed):
    """Fault injection: the golden LFSR with one polynomial coefficient flipped must make the
    regression fail (the LFSR state is compared every cycle)."""
    cfg = CONFIGS["sr-default"]
    bad = cfg.replace(lfsr_poly=cfg.poly ^ (1 << 8), lfsr_maximal=False)
    inputs, _ = stimulus_for(cfg, 600, seed)
    with pytest.raises(SimulationFailed) as e:
        run(cfg, "icarus", inputs, seed=seed, name="fault-poly", golden_cfg=bad)
    msg = str(e.value)
    assert "first mismatch at cycle" in msg and "lfsr=" in msg and "rerun: quantpe sim requant" in msg
    assert e.value.wave and os.path.getsize(e.value.wave) > 0


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_lfsr_only_in_stochastic_mode():
    """Nearest/truncate requantisers have no LFSR and no seed ports (their area has none)."""
    sr = build_component(CONFIGS["sr-default"]).signature.members
    rn = build_component(CONFIGS["nearest"]).signature.members
    assert {"seed_load", "seed", "lfsr"} <= set(sr) and not {"seed_load", "seed", "lfsr"} & set(rn)
    col = build_component(CONFIGS["col4-indep-gal32"]).signature.members
    assert col["lfsr"].shape.length == 4
    assert build_component(CONFIGS["col3-shared-fib24"]).signature.members["lfsr"].shape.length == 1


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sr-default", "nearest-k0", "sr-kmax"])
def test_direct_driver_agrees(name, seed):
    """The per-cycle cocotb driver/monitor sees the same as the memory harness (single-lane
    configs: tb/direct_test.py packs scalar output ports only)."""
    regress(CONFIGS[name], "icarus", 600, seed, scoreboard="record")     # SimulationFailed otherwise
