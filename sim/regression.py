"""One regression run of a design: seeded stimulus (tb.stimulus) -> simulation -> golden check."""
from __future__ import annotations

import random

from quantpe.core.kinds import stimulus_for
from quantpe.golden.config import DesignConfig

from .runner import SimResult, run

__all__ = ["regress", "new_seed"]


def new_seed() -> int:
    return random.SystemRandom().randrange(1 << 31)


def regress(cfg: DesignConfig, sim: str, cycles: int, seed: int, scoreboard: str = "memory",
            waves: bool = False, quiet: bool = True, design=None) -> SimResult:
    inputs, coverage = stimulus_for(cfg, cycles, seed)
    return run(cfg, sim, inputs, seed=seed, scoreboard=scoreboard, waves=waves, coverage=coverage,
               quiet=quiet, design=design)
