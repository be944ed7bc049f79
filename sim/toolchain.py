"""The RTL simulators' toolchain: the simulator names, Verilator's lint with its waivers for
Amaranth's Verilog, the make-path check and each tool's version line (tools are found by
`quantpe.core.tools`; Yosys's version is `quantpe.synth.yosys.yosys_version`).
Imports: `quantpe.golden`, `quantpe.core`, `quantpe.synth`.
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

from quantpe.core.tools import require, verilator_env
from quantpe.golden.errors import QuantpeError, ToolError
from quantpe.synth.yosys import yosys_version

__all__ = ["lint", "check_make_path", "tool_version", "SIMULATORS", "VERILATOR_WAIVERS"]

SIMULATORS = ("icarus", "verilator")

# The complete waiver list for `verilator --lint-only -Wall` on Amaranth's Verilog, and why:
#   WIDTHEXPAND/WIDTHTRUNC  Amaranth relies on Verilog's implicit extension in its operators
#   CASEINCOMPLETE          Amaranth emits default-less case statements
#   UNUSEDSIGNAL            Amaranth keeps named debug wires (e.g. per-lane views a[3]) unused
#   DECLFILENAME            submodules are named `top.sub`, one file holds them all
#   PROCASSINIT, VARHIDDEN  register init values and same-named signals in submodules
VERILATOR_WAIVERS = ["-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-CASEINCOMPLETE",
                     "-Wno-UNUSEDSIGNAL", "-Wno-DECLFILENAME", "-Wno-PROCASSINIT",
                     "-Wno-VARHIDDEN"]


def check_make_path(folder: Path) -> None:
    """Verilator builds with GNU make, which cannot build in a folder whose path has a space."""
    if " " in str(folder):
        raise QuantpeError(f"Verilator (GNU make) cannot build in {str(folder)!r}: its path contains a space; "
                           f"choose a build folder without one (--build DIR or $QUANTPE_BUILD), or use --sim icarus")


@functools.cache
def tool_version(tool: str) -> str:
    """First line of `tool --version` (or -V), '' when the tool is missing."""
    if tool == "yosys":                 # the one Yosys probe
        try:
            return re.sub(r"\s+", " ", yosys_version())
        except ToolError:
            return ""
    env = verilator_env() if tool == "verilator" else None
    exe = shutil.which(tool, path=(env or os.environ).get("PATH"))
    if exe is None:
        return ""
    flag = {"iverilog": "-V"}.get(tool, "--version")
    try:
        out = subprocess.run([exe, flag], capture_output=True, text=True, env=env, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    text = (out.stdout or out.stderr).strip().splitlines()
    line = text[0] if text else ""
    return re.sub(r"\s+", " ", line)


def lint(verilog_path: Path, top: str) -> None:
    """`verilator --lint-only -Wall` with the documented waivers; QuantpeError on any finding."""
    env = verilator_env()
    exe = require("verilator", env)
    out = subprocess.run([exe, "--lint-only", "-Wall", *VERILATOR_WAIVERS, "--top-module", top,
                          str(verilog_path)], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        first = next((ln for ln in out.stderr.splitlines() if ln.startswith("%")), out.stderr.strip())
        raise QuantpeError(f"verilator lint failed on {verilog_path}: {first}")
