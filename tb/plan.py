"""Regression plans: which configs of a kind the shared cocotb regression runs, on which
simulators, for how many cycles, and which named corners each run must have driven.

A kind's tb module defines one `RegressionPlan`; the registry names it (`Kind.plan`) and
tests/test_regression.py runs every point of every plan, every output on every cycle against
the golden model, one simulator build per config.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from quantpe.golden.config import DesignConfig

__all__ = ["RegressionPlan", "BOTH"]

BOTH = ("icarus", "verilator")


@dataclass(frozen=True)
class RegressionPlan:
    configs: dict[str, DesignConfig]
    cycles: dict[str, int]                                   # per simulator
    corners: Callable[[DesignConfig], Iterable[str]]         # corners a run of cfg must drive
    sims: dict[str, tuple[str, ...]] = field(default_factory=dict)   # per config; default BOTH

    def points(self) -> list[tuple[str, DesignConfig, str, int]]:
        """(name, config, simulator, cycles) of every run of the plan."""
        return [(name, cfg, sim, self.cycles[sim]) for name, cfg in self.configs.items()
                for sim in self.sims.get(name, BOTH)]
