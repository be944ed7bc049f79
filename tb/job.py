"""The job file handed from the runner (pytest/CLI process) to a cocotb test module.

A job directory holds job.json (config, ports, cycles, seed, scoreboard mode), inputs.npz
(per-cycle input streams) and, after the run, result.json written by the cocotb test
(checked cycles, first mismatch, wall time).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from quantpe.core.kinds import config_from_dict
from quantpe.golden.config import DesignConfig
from quantpe.rtl.ports import Port
from quantpe.tb.scoreboard import Mismatch, compare

__all__ = ["Job", "load_job", "JOB_ENV"]

JOB_ENV = "QUANTPE_JOB"


@dataclass
class Job:
    dir: Path
    cfg: DesignConfig
    ports: list[Port]
    cycles: int
    seed: int
    scoreboard: str       # "memory" | "record" | "per-cycle"

    @property
    def inputs(self) -> dict:
        with np.load(self.dir / "inputs.npz") as z:
            return {k: z[k] for k in z.files}

    def write_result(self, **fields) -> None:
        (self.dir / "result.json").write_text(json.dumps(fields, indent=2) + "\n")

    def check(self, expected: dict, actual: dict, t0: float, run_s: float) -> None:
        """Compare every output on every cycle and record the outcome in result.json.

        sim_s, the time of record, counts the whole check (simulation, read-back, comparison)
        from `t0`; run_s is the simulation alone. Raises Mismatch on any difference.
        """
        try:
            checked = compare(expected, actual)
        except Mismatch as e:
            self.write_result(ok=False, cycle=e.cycle, count=e.count, details=e.details, sim_s=run_s)
            raise
        self.write_result(ok=True, checked=checked, sim_s=time.perf_counter() - t0, run_s=run_s)


def load_job(path: str | os.PathLike | None = None) -> Job:
    d = Path(path or os.environ[JOB_ENV])
    j = json.loads((d / "job.json").read_text())
    return Job(dir=d, cfg=config_from_dict(j["config"]), ports=[Port(**p) for p in j["ports"]],
               cycles=j["cycles"], seed=j["seed"], scoreboard=j["scoreboard"])
