"""The one Yosys runner and the one Yosys version probe.

`run_yosys(script, cwd, log)` runs ``yosys -q -l LOG -s SCRIPT`` in its own process group (killed
with its ABC children on a timeout or an interrupt), with a private TMPDIR inside `cwd`;
failures are `ToolError` (exit 3), a timeout `YosysTimeout` (a ToolError).
`yosys_version()` is the first line of ``yosys -V``. Imports: `quantpe.golden` only.
"""
from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from quantpe.golden.errors import ToolError

__all__ = ["run_yosys", "yosys_version", "YosysTimeout"]


class YosysTimeout(ToolError):
    """Yosys did not finish within its time limit (its process group was killed)."""


def yosys_version(yosys: str = "yosys") -> str:
    """First line of `yosys -V`, e.g. 'Yosys 0.23 (git sha1 7ce5011c24b)'."""
    exe = shutil.which(yosys)
    return _yosys_version_of(exe, yosys)


@functools.lru_cache(maxsize=8)
def _yosys_version_of(exe: str | None, yosys: str) -> str:
    if exe is None:
        raise ToolError(f"yosys executable not found: {yosys!r} (apt-get install yosys, or run `make tools`)")
    try:
        out = subprocess.run([exe, "-V"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(f"cannot run {exe} -V: {exc}") from None
    line = (out.stdout.strip().splitlines() or [""])[0]
    if out.returncode != 0 or not line.startswith("Yosys"):
        raise ToolError(f"{exe} -V did not print a Yosys version (exit {out.returncode})")
    return line


def run_yosys(script: Path, cwd: Path, log: Path, timeout: float = 1800.0, yosys: str = "yosys",
              on: str = "", check: bool = True) -> tuple[int, str]:
    """Run `yosys -q -l LOG -s SCRIPT` in `cwd`, the one way this project runs Yosys.

    Yosys runs in its own process group, killed (ABC children too) on a timeout or an interrupt;
    its TMPDIR is a fresh folder inside `cwd`, removed afterwards, so ABC's yosys-abc-XXXXXX work
    folders go with it. ToolError (exit 3, one line naming the log) when yosys is missing, cannot
    start, fails or times out (`on`: the module named in the message). With `check=False` a
    failing run is returned, not raised: (exit status, stderr), for a caller that turns a failure
    on a user's Verilog into bad input (`quantpe.synth.ports.verilog_ports`)."""
    exe = shutil.which(yosys)
    if exe is None:
        raise ToolError(f"yosys executable not found: {yosys!r} (apt-get install yosys, or run `make tools`)")
    try:
        tmp = Path(tempfile.mkdtemp(prefix=".yosys-tmp-", dir=cwd))
    except OSError as exc:
        raise ToolError(f"cannot write to {cwd}: {exc.strerror or exc}") from None
    try:
        try:
            proc = subprocess.Popen([exe, "-q", "-l", str(log), "-s", str(script)], cwd=cwd,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                                    start_new_session=True, env={**os.environ, "TMPDIR": str(tmp)})
        except OSError as exc:
            raise ToolError(f"cannot run {exe}: {exc.strerror or exc}") from None
        try:
            _, err = proc.communicate(timeout=timeout)
        except BaseException:                   # a timeout or an interrupt: the whole group goes
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.communicate()
            if isinstance(sys.exc_info()[1], subprocess.TimeoutExpired):
                raise YosysTimeout(f"yosys timed out{' on ' + on if on else ''} after {timeout:g} s "
                                   f"(log: {log})") from None
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if proc.returncode != 0 and check:
        detail = (next((ln.strip() for ln in err.splitlines() if "ERROR" in ln), "") or _last_error(log)
                  or (err.strip().splitlines() or [""])[-1] or f"exit status {proc.returncode}")
        raise ToolError(f"yosys failed{' on ' + on if on else ''}: {detail} (log: {log})")
    return proc.returncode, err


def _last_error(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        if "ERROR" in line:
            return line.strip()
    return ""
