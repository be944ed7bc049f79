"""Capture-only simulation: any Verilog module + per-cycle input streams -> its outputs, every cycle.

No golden model (see `quantpe.sim.runner.run` for the golden-checked path of our own designs):
used to measure external modules, e.g. a user's combinational multiplier. The DUT is wrapped
in the HDL-memory harness (`quantpe.sim.harness`), so the timing contract is the harness one:
the inputs during cycle t are inputs[name][t], outputs[name][t] is what the DUT drives during
cycle t (for a combinational module: f(inputs[t])). The DUT's `clk`/`rst` are connected only
when its module header has them.

`verilog_ports(files, top)` reads the real port list (direction, width) with Yosys, which is
also the parse check: a file that does not parse or lacks the module gives one QuantpeError.

Builds live under <build root>/external/<hash of sources, top, ports, simulator, depth>/ and are
reused while the sources are unchanged; each call runs in a fresh folder under it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from quantpe.core.build import build_root, locked
from quantpe.golden.errors import QuantpeError
from quantpe.synth.ports import verilog_ports
from quantpe.tb.memfile import hex_to_streams, streams_to_hex

from .harness import HARNESS_TOP, harness_verilog, module_header_ports, verilator_harness_args
from .runner import check_sim, depth_for
from quantpe.core.tools import verilator_env

from .toolchain import VERILATOR_WAIVERS, check_make_path

__all__ = ["CaptureResult", "capture", "verilog_ports"]


@dataclass
class CaptureResult:
    outputs: dict          # name -> per-cycle values (signed per Port.signed), shape (T,) or (T, count)
    cycles: int
    sim: str
    run_s: float           # free-running simulation, reset release to the capture written
    wall_s: float          # the whole simulator run (start-up, simulation, capture file), seconds
    build_s: float         # simulator build (about 0 when the build was reused)
    run_dir: Path


def _digest(files, top, ports, sim, depth) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(Path(f).name.encode() + b"\0" + Path(f).read_bytes() + b"\0")
    h.update(json.dumps([top, [p.to_dict() for p in ports], sim, depth]).encode())
    return h.hexdigest()[:16]


def capture(files, top: str, ports, inputs: dict, sim: str = "verilator", *,
            build_dir: Path | None = None, quiet: bool = True) -> CaptureResult:
    """Simulate module `top` of the Verilog `files` with the per-cycle `inputs`; return its outputs.

    `ports`: the data ports as `quantpe.rtl.ports.Port` (inputs in stimulus-word order), which
    also give the signedness used to read the outputs back. Every input port needs a stream of
    the same length T (1 <= T); the outputs are captured for the same T cycles.
    Long: build, run and read back of one simulation, with its error handling."""
    from cocotb_tools.runner import get_runner
    check_sim(sim)
    files = [Path(f).resolve() for f in files]
    for f in files:
        if not f.is_file():
            raise QuantpeError(f"Verilog file {f} not found")
    ports = list(ports)
    ins = [p for p in ports if p.direction == "in"]
    outs = [p for p in ports if p.direction == "out"]
    if not ins or not outs:
        raise QuantpeError("capture needs at least one input and one output port")
    missing = [p.name for p in ins if p.name not in inputs]
    if missing:
        raise QuantpeError(f"no input stream for port(s) {', '.join(missing)}")
    lengths = {len(inputs[p.name]) for p in ins}
    if len(lengths) != 1 or 0 in lengths:
        raise QuantpeError(f"input streams must share one length >= 1, got {sorted(lengths)}")
    T = lengths.pop()
    depth = depth_for(T)
    names = set()
    for f in files:
        try:
            names |= module_header_ports(f.read_text(errors="replace"), top)
        except QuantpeError:
            continue
    clock = "clk" if "clk" in names else None
    reset = "rst" if "rst" in names else None

    root = Path(build_dir) if build_dir else build_root() / "external" / _digest(files, top, ports, sim, depth)
    root.mkdir(parents=True, exist_ok=True)
    bdir = root / sim
    runner = get_runner(sim)
    t0 = time.perf_counter()
    with locked(root):
        hv = root / "harness.v"
        text = harness_verilog(top, ports, depth, clock, reset)
        if not hv.exists() or hv.read_text() != text:
            hv.write_text(text)
        sources = [*files, hv]
        stamp = bdir / ".built"
        fresh = stamp.exists() and all(stamp.stat().st_mtime >= s.stat().st_mtime for s in sources)
        args = []
        if sim == "verilator":
            check_make_path(bdir)
            os.environ.update(verilator_env())
            args = [*VERILATOR_WAIVERS, "-Wno-fatal", "-O3", *verilator_harness_args(root)]
        if quiet:     # a reused build is the normal case, not a warning
            runner.log.setLevel(logging.ERROR)
        try:
            runner.build(sources=[str(s) for s in sources], hdl_toplevel=HARNESS_TOP, build_dir=str(bdir),
                         build_args=args, timescale=("1ns", "1ps"), always=not fresh,
                         log_file=str(root / f"build-{sim}.log") if quiet else None)
        except (SystemExit, RuntimeError) as e:
            code = e.code if isinstance(e, SystemExit) else str(e).rsplit(" ", 1)[-1]
            raise QuantpeError(f"{sim} build of {top} failed (exit {code}); log: {root / f'build-{sim}.log'}") from None
        stamp.touch()
    build_s = time.perf_counter() - t0

    runs = root / "runs"
    runs.mkdir(exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix=f"{sim}-c{T}-", dir=runs))
    (run_dir / "stim.hex").write_bytes(streams_to_hex(inputs, ins, T))
    # names relative to the run folder (the simulator's working folder): Icarus mangles non-ASCII
    # characters in plusargs, and the harness holds at most 1024 characters per path
    plusargs = ["+stim=stim.hex", "+cap=capture.hex", f"+cycles={T}"]
    t1 = time.perf_counter()
    try:
        runner.test(test_module="quantpe.tb.capture_test", hdl_toplevel=HARNESS_TOP, build_dir=str(bdir),
                    test_dir=str(run_dir), extra_env={"QUANTPE_CAPTURE_DIR": str(run_dir)},
                    plusargs=plusargs, results_xml=str(run_dir / "results.xml"),
                    timescale=("1ns", "1ps"), log_file=str(run_dir / "sim.log") if quiet else None)
    except (SystemExit, RuntimeError):     # a failed or crashed simulator: judged by its result file
        pass
    wall_s = time.perf_counter() - t1
    cap, timing = run_dir / "capture.hex", run_dir / "timing.json"
    if not cap.exists() or not timing.exists():
        raise QuantpeError(f"{sim} simulation of {top} did not complete; log: {run_dir / 'sim.log'}")
    outputs = hex_to_streams(cap.read_text(), outs, T)
    run_s = json.loads(timing.read_text())["run_s"]
    return CaptureResult(outputs, T, sim, run_s, wall_s, build_s, run_dir)
