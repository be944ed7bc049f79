"""The port list of a Verilog module, read by Yosys, which is also the check of a user's Verilog.

`verilog_ports(files, top)` -> {port: (direction "in" | "out" | "inout", width)}: QuantpeError
(exit 2, one line saying what is wrong) for a missing, empty, binary or unparsable file, a
missing module or a combinational loop; ToolError (exit 3) when Yosys itself fails.
Imports: `quantpe.golden`, `quantpe.core`, `quantpe.synth.yosys`.
"""
from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from quantpe.core.tools import require
from quantpe.golden.errors import QuantpeError, ToolError
from quantpe.synth.yosys import YosysTimeout, run_yosys

__all__ = ["verilog_ports"]


def _text_problem(f: Path) -> str | None:
    """Why the bytes of `f` cannot be Verilog source, or None."""
    try:
        raw = f.read_bytes()
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if not raw.strip():
        return "is empty, not Verilog"
    if b"\0" in raw:
        return "is not Verilog (binary content)"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "is not Verilog (not UTF-8 text)"
    if not re.search(r"\bmodule\b", text):
        return "is not Verilog (no module in it)"
    return None


def _yosys_problem(lines: list, files: list, top: str) -> str:
    """One line saying what Yosys found wrong with the user's Verilog."""
    names = ", ".join(map(str, files))
    loop = next((i for i, ln in enumerate(lines) if "found logic loop" in ln), None)
    if loop is not None:
        m = re.search(r"in module \\?(\S+?):?$", lines[loop].strip())
        where = []
        for ln in lines[loop + 1:]:
            if not ln.startswith((" ", "\t")):
                break
            where += [w for w in re.findall(r"\$([^$\s]+:\d+)\$", ln) if w not in where]
        return (f"{names}: combinational loop in module {m.group(1) if m else top}"
                + (f" (logic at {', '.join(where[:4])})" if where else "")
                + ": a multiplier must be loop-free combinational logic")
    missing = next((re.search(r"Module `\\?([^']+)' not found", ln) for ln in lines if "not found!" in ln), None)
    if missing:
        return f"module {missing.group(1)} is not defined in {names}"
    err = next((ln.strip() for ln in lines if "ERROR" in ln), "") or next(
        (ln.strip() for ln in lines if ln.strip()), "")
    err = re.sub(r"^ERROR: ", "", err)
    if "ERROR: " in err:                       # "file:line: ERROR: msg"
        loc, _, msg = err.partition("ERROR: ")
        err = f"{loc.strip().rstrip(':')}: {msg}"
    return f"{names} is not valid Verilog: {err}" if err else f"cannot read Verilog module {top} from {names}"


def verilog_ports(files, top: str, signed_too: bool = False) -> dict[str, tuple]:
    """{port name: (direction "in" | "out" | "inout", width)} of module `top`, read by Yosys
    (with `signed_too`: (direction, width, declared signed)).

    This is also the check of a user's Verilog: QuantpeError (bad input, exit 2, one line saying
    what is wrong with the file) when a file is missing, empty, binary, does not parse, lacks
    `top`, or has a combinational loop; ToolError (exit 3) when Yosys itself fails.
    """
    files = [Path(f) for f in files]
    for f in files:
        if not f.is_file():
            raise QuantpeError(f"Verilog file {f} not found")
        if any(c in str(f.resolve()) for c in '"\n'):
            raise QuantpeError(f"Verilog path {str(f)!r} contains a double quote or a newline (rename it)")
        problem = _text_problem(f)
        if problem:
            raise QuantpeError(f"{f} {problem}")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", top or ""):
        raise QuantpeError(f"bad top module name: {top!r}")
    with tempfile.TemporaryDirectory(prefix="quantpe-ports-") as tmp:
        out = Path(tmp) / "ports.json"
        # proc: processes (always blocks) are fine; flatten + check -assert: a combinational loop
        # (which would hang or not converge in simulation) is refused here, with its name
        script = Path(tmp) / "ports.ys"
        script.write_text("\n".join([*(f'read_verilog -sv "{f.resolve()}"' for f in files),
                                     f"hierarchy -check -top {top}", "proc", f'write_json "{out}"',
                                     "flatten", "check -assert"]) + "\n")
        log = Path(tmp) / "ports.log"
        try:
            code, err = run_yosys(script, Path(tmp), log, timeout=120, yosys=require("yosys"), check=False)
        except YosysTimeout:
            raise QuantpeError(f"yosys took too long to read {', '.join(map(str, files))}") from None
        if code != 0 or not out.exists():
            if code < 0:
                raise ToolError(f"yosys ended by signal {-code} reading {', '.join(map(str, files))}")
            text = err + "\n" + (log.read_text(errors="replace") if log.exists() else "")
            raise QuantpeError(_yosys_problem(text.splitlines(), files, top))
        mods = json.loads(out.read_text())["modules"]
    if top not in mods:
        raise QuantpeError(f"module {top!r} not found in {', '.join(map(str, files))}")
    ports = mods[top]["ports"]
    if signed_too:
        return {name: ({"input": "in", "output": "out"}.get(p["direction"], p["direction"]), len(p["bits"]),
                       bool(p.get("signed", 0))) for name, p in ports.items()}
    return {name: ({"input": "in", "output": "out"}.get(p["direction"], p["direction"]), len(p["bits"]))
            for name, p in ports.items()}
