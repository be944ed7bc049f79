"""Scoreboard benchmark (`quantpe bench sim`): checked cycles per second of the 16-lane int8
baseline PE on Verilator and Icarus, for the three scoreboards, measured in one run.

  per-cycle  cocotb drives and samples every cycle and compares each cycle as it is sampled
  record     cocotb drives and samples every cycle, one vectorised comparison at the end
  memory     HDL-memory harness: stimulus and capture memories in the simulation, the simulator
             runs free, one vectorised comparison of the whole capture at the end
All three compare every output on every cycle. Build time is excluded (reported separately);
the rate counts simulation plus read-back plus comparison.
"""
from __future__ import annotations

from quantpe.golden.baseline import BaselineConfig

__all__ = ["bench_sim"]


def bench_sim(cycles: int = 100000, seed: int = 1) -> list[dict]:
    from quantpe.sim.regression import regress
    cfg = BaselineConfig()
    rows = []
    print(f"design {cfg.config_id}, {cycles} cycles per run, seed {seed}")
    print(f"{'simulator':<10} {'scoreboard':<10} {'cycles':>8} {'seconds':>8} {'checked cycles/s':>17}"
          f" {'build s':>8}")
    for sim in ("verilator", "icarus"):
        for sb in ("per-cycle", "record", "memory"):
            r = regress(cfg, sim, cycles, seed, scoreboard=sb)
            rows.append({"sim": sim, "scoreboard": sb, "cycles": r.checked, "seconds": r.sim_s,
                         "cycles_per_s": r.cycles_per_s, "build_s": r.build_s})
            print(f"{sim:<10} {sb:<10} {r.checked:>8} {r.sim_s:>8.2f} {r.cycles_per_s:>17,.0f}"
                  f" {r.build_s:>8.1f}", flush=True)
    by = {(r["sim"], r["scoreboard"]): r["cycles_per_s"] for r in rows}
    for sim in ("verilator", "icarus"):
        print(f"{sim}: memory harness is {by[(sim, 'memory')] / by[(sim, 'per-cycle')]:.1f}x the "
              f"per-cycle scoreboard, {by[(sim, 'memory')] / by[(sim, 'record')]:.1f}x the recording one")
    return rows
