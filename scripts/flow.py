"""The one flow for any design: generate -> lint -> simulate -> synthesize, cached and parallel.

Cache (under the build root: ``--build DIR``, ``$QUANTPE_BUILD`` or ``./build``):
    <kind>/<config-id>/manifest.json, <top>.v   generated once per config id and source digest
    <kind>/<config-id>/synth[-<lib>]/area.json   valid while its recorded Verilog SHA-256, liberty
                                                 SHA-256, Yosys version and ABC script match
    parts/<sha of the Verilog>/                  submodules synthesised on their own
A cache entry that does not parse or no longer matches is rebuilt (with a warning when it is
corrupt). Independent syntheses run through the one executor (`quantpe.executor`): a process
pool of ``jobs`` workers (``-j N``, default: the machine's cores), or a Dask cluster
(``--cluster``); long batches print a counted progress line (done/total, elapsed, remaining) on
stderr unless ``quiet``.
"""
from __future__ import annotations

import functools
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from quantpe import executor, interrupt
from quantpe.atomic import write_text
from quantpe.golden.config import DesignConfig
from quantpe.golden.errors import warn

__all__ = ["settings", "configure", "synth_design", "synth_verilog", "synth_many", "SynthJob",
           "cached_area", "progress", "parallel_map", "part_verilog"]


@dataclass
class _Settings:
    jobs: int = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quiet: bool = False


settings = _Settings()


def configure(jobs: int | None = None, quiet: bool | None = None) -> None:
    """Set the worker count and progress output for this process (the CLI's -j and -q)."""
    if jobs is not None:
        settings.jobs = max(1, int(jobs))
    if quiet is not None:
        settings.quiet = bool(quiet)


def progress(iterable=None, total: int | None = None, desc: str = "", unit: str = "it"):
    """A counted progress bar on stderr (done/total, elapsed, remaining); silent when quiet."""
    from tqdm import tqdm
    return tqdm(iterable, total=total, desc=desc, disable=settings.quiet or None, file=sys.stderr,
                leave=False, dynamic_ncols=True, mininterval=1.0, unit=unit)


def parallel_map(fn, items: list, desc: str = "", jobs: int | None = None, resources: dict | None = None) -> list:
    """[fn(x) for x in items] through the one executor (`quantpe.executor`): a pool of `jobs`
    local processes, or the cluster of --cluster; in order, with progress.

    `fn` and the items must be picklable (module-level functions, configs). The first failure
    is raised after the pending work is cancelled; on SIGINT or SIGTERM the local workers end at
    once (`quantpe.interrupt`) and nothing waits for them. `resources`: what one job needs of a
    cluster worker (e.g. {"verilator": 1}); ignored locally."""
    items = list(items)
    bar = lambda done, total: progress(done, total=total, desc=desc)     # noqa: E731
    if executor.cluster() is not None:
        return executor.map_ordered(executor.cluster(), fn, items, bar, resources)
    jobs = min(jobs or settings.jobs, len(items))
    if jobs <= 1:
        return [fn(x) for x in progress(items, desc=desc)]
    ex = executor.local_executor(jobs)
    try:
        results = executor.map_ordered(ex, functools.partial(interrupt.in_worker, fn), items, bar)
    except KeyboardInterrupt:          # the workers are being ended (quantpe.interrupt): no wait
        ex.shutdown(wait=False, cancel_futures=True)
        raise
    except BaseException:
        ex.shutdown(wait=True, cancel_futures=True)
        raise
    ex.shutdown(wait=True)
    return results


# ------------------------------------------------------------------ synthesis, cached

def cached_area(area_json: Path, verilog_files, liberty: Path | None = None) -> dict | None:
    """The area dict in `area_json` if it was made from exactly these Verilog sources with this
    liberty, Yosys and ABC script; None otherwise (a corrupt file is reported and ignored)."""
    from quantpe.liberty import DEFAULT_LIBERTY
    from quantpe.synth import ABC_SCRIPT, SCHEMA_VERSION, file_sha256, verilog_digest, yosys_version
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
    from quantpe.synth import AREA_JSON, synthesize
    files = [verilog] if isinstance(verilog, (str, Path)) else list(verilog)
    hit = cached_area(Path(out) / AREA_JSON, files, liberty)
    return hit if hit is not None else synthesize(files, top, out, liberty=liberty)


def _synth_dir(cfg: DesignConfig, liberty: Path | None) -> Path:
    from quantpe.sim.runner import design_dir
    return design_dir(cfg) / ("synth" if liberty is None else f"synth-{Path(liberty).name.split('.')[0]}")


def synth_design(cfg: DesignConfig, liberty: Path | None = None) -> dict:
    """Generate `cfg` (cached) and return its area dict (cached per config id and sources)."""
    from quantpe.sim.runner import design_dir, ensure_generated
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
    import hashlib

    from amaranth.back import verilog

    from quantpe.sim.runner import build_root
    text = verilog.convert(component, name=top, emit_src=False)
    d = build_root() / "parts" / hashlib.sha256(text.encode()).hexdigest()[:16]
    v = d / f"{top}.v"
    if not v.is_file() or v.read_text() != text:
        write_text(v, text)
    return SynthJob(verilog=v, top=top, out=d / "synth")
