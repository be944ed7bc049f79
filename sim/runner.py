"""Build and run cocotb simulations of generated PEs on Icarus or Verilator.

Layout under the build root (default ./build, or $QUANTPE_BUILD):
    <kind>/<config-id>/                 generated Verilog + manifest.json (one per config)
    <kind>/<config-id>/<sim>-<bench>/   one simulator build per config, simulator and bench
    <kind>/<config-id>/runs/<name>/     one folder per run: job, stimulus, capture, logs, waves
Builds are shared between runs and guarded by a file lock, so parallel pytest workers build
each config once. A failing run is repeated once with waveform tracing (a separate build), and
the error names the waveform file and the exact command that reruns it.
The harness connects the DUT's clk/rst only when its Verilog module has them
(`dut_clock_reset`), so combinational designs (kind "approxmul") run on the same harness.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from quantpe.core.build import build_root, design_dir, locked
from quantpe.core.jobs import progress
from quantpe.core.kinds import config_from_dict
from quantpe.core.settings import settings
from quantpe.golden.atomic import write_text
from quantpe.golden.config import DesignConfig
from quantpe.golden.errors import QuantpeError, ToolError, VerificationError, warn
from quantpe.rtl.generate import ensure_generated
from quantpe.rtl.ports import Port
from quantpe.synth.ports import verilog_ports
from quantpe.tb.memfile import streams_to_hex

from .harness import HARNESS_TOP, harness_verilog, module_header_ports, verilator_harness_args
from quantpe.core.tools import require, verilator_env

from .toolchain import SIMULATORS, VERILATOR_WAIVERS, check_make_path

__all__ = ["generated_folder", "run", "SimResult", "SimulationFailed", "SCOREBOARDS", "dut_clock_reset"]

SCOREBOARDS = {"memory": "harness", "record": "direct", "per-cycle": "direct"}


class SimulationFailed(VerificationError):
    """The RTL disagreed with the golden model (or the simulation did not finish)."""


@dataclass
class SimResult:
    config_id: str
    sim: str
    scoreboard: str
    cycles: int
    seed: int
    checked: int
    sim_s: float          # simulation plus the complete golden comparison, in seconds
    build_s: float
    run_dir: Path
    coverage: dict = field(default_factory=dict)

    @property
    def cycles_per_s(self) -> float:
        return self.checked / self.sim_s if self.sim_s > 0 else float("inf")


def generated_folder(folder: Path, cfg: DesignConfig | None = None) -> tuple[DesignConfig, dict]:
    """(config, manifest) of a folder written by `quantpe generate`; its Verilog is used as it is
    (a warning when it differs from what was generated). QuantpeError (one line) when the folder
    has no usable manifest or Verilog, or when `cfg` is given and the manifest is another design."""
    folder = Path(folder)
    if not folder.exists():
        raise QuantpeError(f"design folder {folder} not found")
    mf = folder / "manifest.json" if folder.is_dir() else folder
    try:
        manifest = json.loads(mf.read_bytes().decode("utf-8"))
        verilog = mf.parent / manifest["verilog"]
        text = verilog.read_bytes()
        _ = manifest["top"], manifest["ports"], manifest["config"]
    except FileNotFoundError as e:
        raise QuantpeError(f"{folder} is not a folder written by `quantpe generate` "
                           f"(no {Path(e.filename).name})") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise QuantpeError(f"{mf}: not a usable generate manifest ({type(e).__name__}: "
                           f"{str(e).splitlines()[0][:80] if str(e) else 'bad content'})") from None
    found = config_from_dict(manifest["config"])
    if cfg is not None and found != cfg:
        raise QuantpeError(f"{folder} holds {found.config_id}, not {cfg.config_id}")
    if manifest.get("verilog_sha256") != hashlib.sha256(text).hexdigest():
        warn(f"{verilog} differs from what was generated; using it as it is")
        # a user's edit: the one check of a user's Verilog (syntax, module, loops: exit 2)
        verilog_ports([verilog], manifest["top"])
    manifest = {**manifest, "verilog": str(verilog.resolve())}
    return found, manifest


def _work_dir(cfg: DesignConfig, manifest: dict, from_folder: bool) -> Path:
    """Where builds and runs go: the config's cache folder, or for a generate folder one cache
    folder per Verilog content (the user's folder is only read)."""
    if not from_folder:
        return design_dir(cfg)
    digest = hashlib.sha256(Path(manifest["verilog"]).read_bytes()).hexdigest()[:16]
    return build_root() / cfg.kind / f"{cfg.config_id}-from-{digest}"


def depth_for(cycles: int) -> int:
    return max(4096, 1 << (cycles - 1).bit_length())


def check_sim(sim: str) -> None:
    if sim not in SIMULATORS:
        raise QuantpeError(f"unknown simulator {sim!r} (choose from {', '.join(SIMULATORS)})")
    if sim == "icarus":
        require("iverilog")
        require("vvp")
    else:
        require("verilator", verilator_env())
        require("make")
        check_make_path(build_root())


def dut_clock_reset(verilog_path: Path, top: str, manifest: dict | None = None):
    """(clock, reset) port names of the DUT, each None when its Verilog module lacks it.

    The manifest names them ("clock", "reset"); a combinational Amaranth component has
    neither in its Verilog, so presence is checked on the module header itself.
    """
    manifest = manifest or {}
    clock = manifest.get("clock") or "clk"
    reset = (manifest.get("reset") or {}).get("name") or "rst"
    names = module_header_ports(Path(verilog_path).read_text(), top)
    return (clock if clock in names else None), (reset if reset in names else None)


def _build(cfg, manifest, sim, bench, depth, waves, log, d):
    from cocotb_tools.runner import get_runner
    sources = [Path(manifest["verilog"]) if Path(manifest["verilog"]).is_absolute() else d / manifest["verilog"]]
    top = manifest["top"]
    tag = f"{sim}-{bench}" + (f"-d{depth}" if bench == "harness" else "") + ("-waves" if waves else "")
    bdir = d / tag
    if bench == "harness":
        hv = d / f"harness_d{depth}.v"
        clock, reset = dut_clock_reset(sources[0], top, manifest)
        text = harness_verilog(top, [Port(**p) for p in manifest["ports"]], depth, clock, reset)
        with locked(d / ".harness"):
            if not hv.exists() or hv.read_text() != text:    # unchanged file keeps its mtime
                write_text(hv, text)
        sources.append(hv)
        top = HARNESS_TOP
    args = []
    if sim == "verilator":
        os.environ.update(verilator_env())
        args = [*VERILATOR_WAIVERS, "-Wno-fatal", "-O3"]
        if bench == "harness":
            args += verilator_harness_args(d)
    runner = get_runner(sim)
    runner.log.setLevel(logging.ERROR)      # "Skipping compilation" of a fresh build is the normal case
    t0 = time.perf_counter()
    with locked(bdir):
        stamp = bdir / ".built"
        fresh = stamp.exists() and all(stamp.stat().st_mtime >= Path(s).stat().st_mtime for s in sources)
        if not fresh and not settings.quiet:
            print(f"quantpe: building {cfg.config_id} for {sim} ({tag}) ...", file=sys.stderr, flush=True)
        try:
            runner.build(sources=[str(s) for s in sources], hdl_toplevel=top, build_dir=str(bdir),
                         build_args=args, timescale=("1ns", "1ps"), waves=waves,
                         always=not fresh, log_file=str(bdir / "build.log") if log else None)
        except (SystemExit, RuntimeError) as e:
            code = e.code if isinstance(e, SystemExit) else str(e).rsplit(" ", 1)[-1]
            raise ToolError(f"{sim} build of {cfg.config_id} failed (exit {code}); "
                            f"log: {bdir / 'build.log'}") from None
        stamp.touch()
    return runner, bdir, top, time.perf_counter() - t0


#: runs shorter than this are not worth a progress bar
PROGRESS_MIN_CYCLES = 100_000


@contextlib.contextmanager
def _progress_of(path: Path, cycles: int, desc: str, enabled: bool):
    """While the block runs, show the simulated cycles the harness writes to `path` as a counted
    progress bar on stderr (elapsed, remaining); nothing when quiet, not a terminal, or short."""
    if not enabled or settings.quiet or cycles < PROGRESS_MIN_CYCLES or not sys.stderr.isatty():
        yield
        return
    import threading
    stop = threading.Event()

    def watch():
        with progress(total=cycles, desc=desc, unit=" cycles") as bar:
            while not stop.wait(0.5):
                try:
                    at = int(path.read_text().strip() or 0)
                except (OSError, ValueError):
                    continue
                bar.update(max(0, at - bar.n))
    t = threading.Thread(target=watch, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join(timeout=2)


def rerun_command(kind: str, cfg_path: Path, sim: str, cycles: int, seed: int, scoreboard: str,
                  design: Path | None = None) -> str:
    src = f"--config {shlex.quote(str(cfg_path))}" if design is None else \
        f"--design {shlex.quote(str(Path(design).resolve()))}"
    return (f"quantpe sim {kind} {src} --sim {sim} --cycles {cycles} "
            f"--seed {seed} --scoreboard {scoreboard} --waves")


def run(cfg: DesignConfig, sim: str, inputs: dict, *, seed: int, scoreboard: str = "memory",
        waves: bool = False, name: str | None = None, coverage: dict | None = None,
        quiet: bool = True, retry_with_waves: bool = True,
        golden_cfg: DesignConfig | None = None, design: Path | None = None) -> SimResult:
    """Simulate `inputs` (per-cycle input streams) on `sim`; compare every cycle with golden.

    `design`: a folder written by `quantpe generate` for `cfg`, whose Verilog is simulated as it
    is instead of the cached generation (builds and runs still go to the build cache).

    `golden_cfg` (tests only) checks the RTL of `cfg` against the golden model of another
    config, to prove that a wrong golden rule makes the regression fail.
    Returns a SimResult; raises SimulationFailed with the first mismatching cycles, the waveform
    path and the rerun command when the RTL and the golden model disagree.
    Long: build, run, compare and the rerun with waveforms, with their error handling."""
    check_sim(sim)
    if scoreboard not in SCOREBOARDS:
        raise QuantpeError(f"unknown scoreboard {scoreboard!r} (choose from {', '.join(SCOREBOARDS)})")
    bench = SCOREBOARDS[scoreboard]
    manifest = ensure_generated(cfg) if design is None else generated_folder(design, cfg)[1]
    work = _work_dir(cfg, manifest, design is not None)
    ports = [Port(**p) for p in manifest["ports"]]
    T = len(inputs[next(p.name for p in ports if p.direction == "in")])
    depth = depth_for(T)
    runner, bdir, top, build_s = _build(cfg, manifest, sim, bench, depth, waves, quiet, work)
    runs = work / "runs"
    runs.mkdir(parents=True, exist_ok=True)       # one fresh folder per run: concurrent runs never share
    run_dir = Path(tempfile.mkdtemp(prefix=(name or f"{sim}-{scoreboard}-s{seed}-c{T}{'-waves' if waves else ''}")
                                    + "-", dir=runs))
    np.savez(run_dir / "inputs.npz", **inputs)
    (run_dir / "config.json").write_text(cfg.to_json() + "\n")
    (run_dir / "job.json").write_text(json.dumps({
        "config": (golden_cfg or cfg).to_dict(), "ports": manifest["ports"], "cycles": T, "seed": seed,
        "scoreboard": scoreboard}, indent=1))
    plusargs = ["+dumpfile_path=waves.fst"] if waves and sim == "icarus" else []
    if bench == "harness":
        (run_dir / "stim.hex").write_bytes(streams_to_hex(inputs, [p for p in ports if p.direction == "in"], T))
        # relative to the run folder (the simulator's working folder): Icarus mangles non-ASCII
        # characters in plusargs, and the harness holds at most 1024 characters per path
        plusargs += ["+stim=stim.hex", "+cap=capture.hex", f"+cycles={T}"]
    module = "quantpe.tb.harness_test" if bench == "harness" else "quantpe.tb.direct_test"
    try:
        with _progress_of(run_dir / "progress", T, f"{cfg.config_id} on {sim}", bench == "harness"):
            runner.test(test_module=module, hdl_toplevel=top, build_dir=str(bdir), test_dir=str(run_dir),
                        extra_env={"QUANTPE_JOB": str(run_dir)}, plusargs=plusargs, seed=seed,
                        results_xml=str(run_dir / "results.xml"), waves=waves, timescale=("1ns", "1ps"),
                        log_file=str(run_dir / "sim.log") if quiet else None)
    except (SystemExit, RuntimeError):     # a failed or crashed simulator: judged by its result file
        pass
    result_file = run_dir / "result.json"
    result = json.loads(result_file.read_text()) if result_file.exists() else None
    if result and result.get("ok"):
        return SimResult(cfg.config_id, sim, scoreboard, T, seed, result["checked"], result["sim_s"],
                         build_s, run_dir, coverage or {})
    # failure: keep everything, add a waveform, say how to rerun
    what = (f"first mismatch at cycle {result['cycle']} ({result['count']} cycles differ):"
            f"{result['details']}" if result else f"simulation did not complete; log: {run_dir / 'sim.log'}")
    wave = ""
    if retry_with_waves and not waves:
        try:
            run(cfg, sim, inputs, seed=seed, scoreboard=scoreboard, waves=True,
                name=(name or run_dir.name) + "-waves", quiet=True, retry_with_waves=False,
                golden_cfg=golden_cfg, design=design)
        except SimulationFailed as e:
            wave = e.wave
    elif waves:
        found = sorted(run_dir.glob("*.fst")) + sorted(run_dir.glob("*.vcd"))
        wave = str(found[0]) if found else ""
    err = SimulationFailed(
        f"{cfg.config_id} on {sim}, seed {seed}: {what}\n  waveform: {wave or 'not produced'}\n"
        f"  rerun: {rerun_command(cfg.kind, run_dir / 'config.json', sim, T, seed, scoreboard, design)}")
    err.wave = wave
    raise err
