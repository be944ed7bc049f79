"""The shared cocotb regression over the registry: every point of every kind's RegressionPlan
(configs x simulators), every output on every cycle against the golden model, and the corners
each run must have driven (counted by the stimulus). One simulator build per config."""
import pytest

from quantpe.kinds import KINDS
from quantpe.sim.regression import regress

POINTS = [(kind.name, name, cfg, sim, cycles) for kind in KINDS.values() if kind.plan
          for name, cfg, sim, cycles in kind.load("plan").points()]


@pytest.mark.parametrize("kind, name, cfg, sim, cycles", POINTS,
                         ids=[f"{k}-{n}-{s}" for k, n, _, s, _ in POINTS])
def test_matches_golden(kind, name, cfg, sim, cycles, seed):
    r = regress(cfg, sim, cycles, seed)           # SimulationFailed at the first differing cycle
    print(f"{cfg.config_id} {sim}: {r.checked} cycles checked, coverage {r.coverage}")
    missed = [c for c in KINDS[kind].load("plan").corners(cfg) if not r.coverage.get(c)]
    assert not missed, f"corners not driven: {missed}"


def test_every_kind_with_a_testbench_has_a_plan():
    assert {k.name for k in KINDS.values() if k.plan} >= set(KINDS) - {"approxmul"}
    # approxmul: every input pair of every report variant is checked in tests/test_characterize.py
