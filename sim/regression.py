"""One regression run of a design: seeded stimulus (tb.stimulus) -> simulation -> golden check."""
from __future__ import annotations

import random

from quantpe.golden.config import DesignConfig
from quantpe.golden.errors import QuantpeError

from .runner import SimResult, run

__all__ = ["stimulus_for", "regress", "new_seed"]


def new_seed() -> int:
    return random.SystemRandom().randrange(1 << 31)


def stimulus_for(cfg: DesignConfig, cycles: int, seed: int):
    """(inputs, coverage) of the standard constrained-random + corners stimulus for `cfg`."""
    if cycles < 1:
        raise QuantpeError(f"cycles must be >= 1, got {cycles}")
    if cfg.kind == "baseline":
        from quantpe.tb.stimulus import baseline_stimulus
        return baseline_stimulus(cfg, cycles, seed)
    if cfg.kind == "strum":
        from quantpe.tb.strum_stimulus import strum_stimulus
        return strum_stimulus(cfg, cycles, seed)
    if cfg.kind == "approxmul":
        # a combinational multiplier of <= 8x8 bits: always every input pair (`cycles` ignored)
        from quantpe.characterize import exhaustive_inputs
        inputs = exhaustive_inputs(cfg.a_bits, cfg.b_bits, cfg.signed)
        return inputs, {"input_pairs": len(inputs["a"])}
    if cfg.kind == "approxpe":
        from quantpe.tb.approx_pe_stimulus import approx_pe_stimulus
        return approx_pe_stimulus(cfg, cycles, seed)
    if cfg.kind == "stripes":
        from quantpe.tb.stripes_stimulus import stripes_stimulus
        return stripes_stimulus(cfg, cycles, seed)
    raise QuantpeError(f"no regression stimulus for design kind {cfg.kind!r}")


def regress(cfg: DesignConfig, sim: str, cycles: int, seed: int, scoreboard: str = "memory",
            waves: bool = False, quiet: bool = True) -> SimResult:
    inputs, coverage = stimulus_for(cfg, cycles, seed)
    return run(cfg, sim, inputs, seed=seed, scoreboard=scoreboard, waves=waves, coverage=coverage,
               quiet=quiet)
