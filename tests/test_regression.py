"""The shared cocotb regression over the registry: every point of every kind's RegressionPlan
(configs x simulators), every output on every cycle against the golden model, and the corners
each run must have driven (counted by the stimulus). One simulator build per config."""
import pytest

from quantpe.core.kinds import KINDS
from quantpe.sim.regression import regress

POINTS = [(kind.name, name, cfg, sim, cycles) for kind in KINDS.values() if kind.plan
          for name, cfg, sim, cycles in kind.load("plan").points()]

#: Icarus points over 60 s: --slow
SLOW_ICARUS = {("strum", "mip2q-dynamic-b32k16")}


def _params():
    """Every point on Icarus; on Verilator each kind's first Verilator point (every kind is
    checked on both simulators); the other Verilator points (20-35 s builds each) with --slow."""
    first_verilator: dict[str, str] = {}
    out = []
    for k, n, cfg, s, cycles in POINTS:
        if s == "verilator":
            first_verilator.setdefault(k, n)
        slow = (s == "verilator" and first_verilator[k] != n) or (s == "icarus" and (k, n) in SLOW_ICARUS)
        out.append(pytest.param(k, n, cfg, s, cycles, id=f"{k}-{n}-{s}",
                                marks=[pytest.mark.slow] if slow else []))
    return out


@pytest.mark.parametrize("kind, name, cfg, sim, cycles", _params())
def test_matches_golden(kind, name, cfg, sim, cycles, seed):
    r = regress(cfg, sim, cycles, seed)           # SimulationFailed at the first differing cycle
    print(f"{cfg.config_id} {sim}: {r.checked} cycles checked, coverage {r.coverage}")
    missed = [c for c in KINDS[kind].load("plan").corners(cfg) if not r.coverage.get(c)]
    assert not missed, f"corners not driven: {missed}"


def test_every_kind_runs_on_both_simulators_by_default():
    default = {(p.values[0], p.values[3]) for p in _params() if not p.marks}
    kinds = {k for k, *_ in POINTS}
    assert default == {(k, s) for k in kinds for s in ("icarus", "verilator")}


def test_every_kind_with_a_testbench_has_a_plan():
    assert {k.name for k in KINDS.values() if k.plan} >= set(KINDS) - {"approxmul"}
    # approxmul: every input pair of every report variant is checked in tests/test_characterize.py
