"""The job file handed from the runner (pytest/CLI process) to a cocotb test module.

A job directory holds job.json (config, ports, cycles, seed, scoreboard mode), inputs.npz
(per-cycle input streams) and, after the run, result.json written by the cocotb test
(checked cycles, first mismatch, wall time).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quantpe.golden.config import DesignConfig, config_from_dict
from quantpe.rtl.ports import Port

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


def load_job(path: str | os.PathLike | None = None) -> Job:
    d = Path(path or os.environ[JOB_ENV])
    j = json.loads((d / "job.json").read_text())
    return Job(dir=d, cfg=config_from_dict(j["config"]), ports=[Port(**p) for p in j["ports"]],
               cycles=j["cycles"], seed=j["seed"], scoreboard=j["scoreboard"])
