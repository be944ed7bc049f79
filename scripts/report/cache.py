"""Result cache of the report's deterministic steps (a warm `make report` reuses them).

A step is cached under <build>/report-cache/<step>-<key>/ with key = SHA-256 of: the step name
and its arguments, the sources of every quantpe package (golden, rtl, tb, sim, the CLI package),
the committed model data (golden/data), the tool versions (yosys, iverilog, verilator), the
real liberty's content (SHA-256) when one is present, and the environment knobs that change a
section (QUANTPE_APPROX_WIDE, QUANTPE_APPROX_CHECK, QUANTPE_ENERGY_MULTIPLIERS,
QUANTPE_SKY130_LIB). An entry holds the step's result (JSON)
and a copy of every file the step wrote into the report folder (found by comparing the folder's
(mtime, size) before and after the step). A hit restores any of those files that is missing or
differs, and returns the result; anything else runs the step and stores a new entry.
QUANTPE_REPORT_CACHE=0 turns the cache off. Entries are written through the atomic writer,
the result last, so an interrupted store is a miss, never a half entry.
"""
from __future__ import annotations

import hashlib
import json
import os
from importlib import resources
from pathlib import Path

from quantpe.core.build import build_root, source_digest
from quantpe.golden.atomic import write_bytes, write_text
from quantpe.sim.toolchain import tool_version
from quantpe.synth.liberty import sky130_liberty

__all__ = ["cached_step", "enabled", "inputs_digest", "knobs"]

_PACKAGES = ("quantpe", "quantpe.golden", "quantpe.rtl", "quantpe.tb", "quantpe.sim")
_ENV = ("QUANTPE_APPROX_WIDE", "QUANTPE_APPROX_CHECK", "QUANTPE_ENERGY_MULTIPLIERS", "QUANTPE_SKY130_LIB")
_digest_memo: dict = {}


def enabled() -> bool:
    return os.environ.get("QUANTPE_REPORT_CACHE", "1") != "0"


def knobs() -> dict:
    """The environment knobs that change a section and are set here (name -> value)."""
    return {k: os.environ[k] for k in _ENV if os.environ.get(k)}


def inputs_digest(with_knobs: bool = True) -> str:
    """Digest of everything but the step's own arguments (module docstring); once per process.
    `with_knobs=False`: the same without the environment knobs (a study's stamp records those)."""
    if "s" not in _digest_memo:
        h = hashlib.sha256(source_digest(*_PACKAGES).encode())
        data = Path(str(resources.files("quantpe.golden") / "data"))
        for f in sorted(p for p in data.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(data)).encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
        for tool in ("yosys", "iverilog", "verilator"):
            h.update(f"{tool}={tool_version(tool)}".encode())
        lib = sky130_liberty()
        if lib is not None:
            h.update(b"liberty=" + hashlib.sha256(lib.read_bytes()).digest())
        _digest_memo["s"] = h.hexdigest()
    if not with_knobs:
        return _digest_memo["s"]
    if "d" not in _digest_memo:
        h = hashlib.sha256(_digest_memo["s"].encode())
        for k in _ENV:
            h.update(f"{k}={os.environ.get(k, '')}".encode())
        _digest_memo["d"] = h.hexdigest()
    return _digest_memo["d"]


def _snapshot(out: Path) -> dict:
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in out.rglob("*")
            if p.is_file() and not p.name.startswith(".")}


def cached_step(step: str, args, out: Path | None, run):
    """`run()` (a JSON-able result; it may write files under `out`, if given), or the stored
    result of an identical earlier call with its files restored under `out`. Returns (result, hit)."""
    if not enabled():
        return run(), False
    key = hashlib.sha256(json.dumps([step, args, inputs_digest()], sort_keys=True, default=str).encode())
    entry = build_root() / "report-cache" / f"{step}-{key.hexdigest()[:20]}"
    result_file = entry / "result.json"
    out = Path(out) if out is not None else None
    if result_file.is_file():
        try:
            stored = json.loads(result_file.read_text())
            for rel in stored["files"]:
                src, dst = entry / "files" / rel, out / rel
                data = src.read_bytes()
                if not dst.is_file() or dst.read_bytes() != data:
                    write_bytes(dst, data)
            return stored["result"], True
        except (OSError, ValueError, KeyError):
            pass                                   # a damaged entry is a miss
    before = _snapshot(out) if out is not None else {}
    result = run()
    after = _snapshot(out) if out is not None else {}
    written = sorted(str(p.relative_to(out)) for p, st in after.items() if before.get(p) != st)
    for rel in written:
        write_bytes(entry / "files" / rel, (out / rel).read_bytes())
    write_text(result_file, json.dumps({"result": result, "files": written}))
    return result, False
