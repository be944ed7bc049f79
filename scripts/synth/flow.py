"""Synthesis, cached: the area of any design config or Verilog file, one entry per source.

Cache (under the build root: ``--build DIR``, ``$QUANTPE_BUILD`` or ``./build``):
    <kind>/<config-id>/manifest.json, <top>.v   generated once per config id and source digest
    <kind>/<config-id>/synth[-<lib>]/area.json   valid while its recorded Verilog SHA-256, liberty
                                                 SHA-256, Yosys version and ABC script match
    parts/<sha of the Verilog>/                  submodules synthesised on their own
A cache entry that does not parse or no longer matches is rebuilt (with a warning when it is
corrupt). Independent syntheses run through `quantpe.core.jobs.parallel_map`: a process
pool of ``jobs`` workers (``-j N``, default: the machine's cores), or a Dask cluster
(``--cluster``); long batches print a counted progress line (done/total, elapsed, remaining) on
stderr unless ``quiet``.
Imports: `quantpe.golden`, `quantpe.core`, `quantpe.rtl`, `quantpe.synth`.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from quantpe.core.build import build_root, design_dir
from quantpe.core.jobs import parallel_map
from quantpe.golden.atomic import write_text
from quantpe.golden.config import DesignConfig
from quantpe.golden.errors import warn
from quantpe.rtl.generate import ensure_generated, to_verilog
from quantpe.synth.area import ABC_SCRIPT, AREA_JSON, SCHEMA_VERSION, file_sha256, synthesize, verilog_digest
from quantpe.synth.liberty import DEFAULT_LIBERTY
from quantpe.synth.yosys import yosys_version

__all__ = ["synth_design", "synth_verilog", "synth_many", "SynthJob", "cached_area", "part_verilog"]


def cached_area(area_json: Path, verilog_files, liberty: Path | None = None) -> dict | None:
    """The area dict in `area_json` if it was made from exactly these Verilog sources with this
    liberty, Yosys and ABC script; None otherwise (a corrupt file is reported and ignored)."""
    area_json = Path(area_json)
    if not area_json.is_file():
        return None
    try:
        area = json.loads(area_json.read_text())
        if not isinstance(area, dict):
            raise ValueError("not an object")
    except (OSError, ValueError, UnicodeDecodeError) as e:
        warn(f"corrupt cache entry {area_json} ({e}); synthesising again")
        return None
    try:
        ok = (area.get("schema") == SCHEMA_VERSION
              and area.get("verilog_sha256") == verilog_digest(verilog_files)
              and area.get("liberty_sha256") == file_sha256(liberty or DEFAULT_LIBERTY)
              and area.get("yosys_version") == yosys_version()
              and area.get("abc_script") == ABC_SCRIPT[1:].replace(",", " "))
    except OSError:
        return None
    return area if ok else None


def synth_verilog(verilog, top: str, out: Path, liberty: Path | None = None) -> dict:
    """Area dict of `top` in `verilog` (a file or a list of files), cached in `out`."""
    files = [verilog] if isinstance(verilog, (str, Path)) else list(verilog)
    hit = cached_area(Path(out) / AREA_JSON, files, liberty)
    return hit if hit is not None else synthesize(files, top, out, liberty=liberty)


def _synth_dir(cfg: DesignConfig, liberty: Path | None) -> Path:
    return design_dir(cfg) / ("synth" if liberty is None else f"synth-{Path(liberty).name.split('.')[0]}")


def synth_design(cfg: DesignConfig, liberty: Path | None = None) -> dict:
    """Generate `cfg` (cached) and return its area dict (cached per config id and sources)."""
    manifest = ensure_generated(cfg)
    return synth_verilog(design_dir(cfg) / manifest["verilog"], manifest["top"], _synth_dir(cfg, liberty),
                         liberty)


@dataclass(frozen=True)
class SynthJob:
    """One synthesis for `synth_many`: a design config, or a Verilog file with its top."""

    cfg: DesignConfig | None = None
    verilog: Path | None = None
    top: str = ""
    out: Path | None = None
    liberty: Path | None = None


def _run_job(job: SynthJob) -> dict:
    if job.cfg is not None:
        return synth_design(job.cfg, job.liberty)
    return synth_verilog(job.verilog, job.top, job.out, job.liberty)


def synth_many(jobs_or_cfgs, desc: str = "synthesis", jobs: int | None = None) -> list[dict]:
    """Area dicts of many designs (configs or SynthJobs), in order, in parallel, cached."""
    items = [j if isinstance(j, SynthJob) else SynthJob(cfg=j) for j in jobs_or_cfgs]
    return parallel_map(_run_job, items, desc=desc, jobs=jobs)


def part_verilog(component, top: str = "part") -> SynthJob:
    """Write a submodule's Verilog once under <build>/parts/<sha>/ and return its SynthJob."""
    text = to_verilog(component, top)
    d = build_root() / "parts" / hashlib.sha256(text.encode()).hexdigest()[:16]
    v = d / f"{top}.v"
    if not v.is_file() or v.read_text() != text:
        write_text(v, text)
    return SynthJob(verilog=v, top=top, out=d / "synth")
