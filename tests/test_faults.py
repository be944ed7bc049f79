"""Signals and full disks against the installed command (seconds each).

Signals: SIGTERM to quantpe alone or SIGINT to its process group, in a process-pool build, in
synthesis while ABC runs and in a Verilator build: exit 130 within seconds, every process
quantpe started has ended, no traceback, no temporary folder left (quantpe runs with its own
TMPDIR, which must be empty afterwards). Full disk: a 256 KiB tmpfs in a private mount namespace
(`unshare -m`, root only; skipped with the reason otherwise): exit 3 with the path, earlier
files intact, no folder left.
"""
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from quantpe.golden.errors import ToolError
from quantpe.synth.yosys import run_yosys

QUANTPE = [sys.executable, "-m", "quantpe.cli"]
#: a run signalled must be gone within this many seconds (the watchdog's bound plus start-up slack)
EXIT_S = 20.0


def _env(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    return {**os.environ, "QUANTPE_BUILD": str(tmp_path / "build"), "TMPDIR": str(tmp)}


def _tree(pid):
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _cmd(p):
    try:
        return " ".join(p.cmdline())
    except psutil.Error:
        return ""


def _wait_for(p, needle, timeout=300.0):
    """The descendants of Popen `p` once one of them has `needle` in its command line."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if p.poll() is not None:
            pytest.fail(f"quantpe ended (exit {p.returncode}) before a {needle!r} process started: "
                        f"{p.stderr.read()[-500:]}")
        kids = _tree(p.pid)
        if any(needle in _cmd(k) for k in kids):
            time.sleep(0.3)
            return _tree(p.pid)
        time.sleep(0.1)
    p.kill()
    pytest.fail(f"no {needle!r} process within {timeout:.0f} s")


def _gone(procs):
    alive = []
    for k in procs:
        try:
            if k.is_running() and k.status() != psutil.STATUS_ZOMBIE:
                alive.append(_cmd(k))
        except psutil.Error:
            pass
    return alive


def _signal_run(tmp_path, args, needle, sig, group):
    env = _env(tmp_path)
    p = subprocess.Popen([*QUANTPE, *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    kids = _wait_for(p, needle)
    (os.killpg if group else os.kill)(p.pid, sig)
    t0 = time.monotonic()
    try:
        _, err = p.communicate(timeout=EXIT_S)
    except subprocess.TimeoutExpired:
        for k in [psutil.Process(p.pid)] + _tree(p.pid):
            k.kill()
        pytest.fail(f"quantpe still running {EXIT_S:.0f} s after {signal.Signals(sig).name}")
    took = time.monotonic() - t0
    time.sleep(0.5)
    assert p.returncode == 130, err
    assert "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == "quantpe: interrupted", err
    assert not _gone(kids), _gone(kids)
    left = sorted(str(q.relative_to(tmp_path)) for q in (tmp_path / "tmp").rglob("*"))
    assert not left, left
    hidden = [str(q) for q in tmp_path.rglob("*") if q.name.startswith((".synth-", ".stage-", ".yosys-tmp-"))]
    assert not hidden, hidden
    return took, err


def test_sigterm_to_the_process_alone_during_a_pool_build(tmp_path):
    """The hang of issue 31: SIGTERM (as `timeout` sends it) while the multiplier library is
    synthesised on the process pool."""
    took, _ = _signal_run(tmp_path, ["-j", "2", "plan", "mlp", "--method", "quantune", "-o", "p.json"],
                          "builtin_yosys", signal.SIGTERM, group=False)
    assert not (tmp_path / "p.json").exists()


def test_sigint_to_the_group_while_abc_runs(tmp_path):
    """Ctrl-C in a shell (SIGINT to the group) while Yosys runs ABC: ABC's work folder goes with
    the run's; no KeyboardInterrupt traceback from the built-in Yosys server."""
    _signal_run(tmp_path, ["synth", "baseline", "--lanes", "4", "-o", "s"], "abc", signal.SIGINT, group=True)
    assert not (tmp_path / "s").exists()


def test_sigterm_to_the_process_alone_during_a_verilator_build(tmp_path):
    _signal_run(tmp_path, ["sim", "baseline", "--lanes", "2", "--sim", "verilator", "--cycles", "20",
                           "--seed", "1"], "make", signal.SIGTERM, group=False)


def test_a_signal_while_the_yosys_server_starts_leaves_no_folder(tmp_path, monkeypatch):
    """The race of CI stop 34: SIGTERM after the server's folder exists and before the server
    does; `shutdown` (the worker's last step) still removes the folder."""
    from quantpe.core.interrupt import Interrupted
    from quantpe.rtl import builtin_yosys

    def signalled(*a, **k):
        raise Interrupted()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(builtin_yosys, "_server", None)
    monkeypatch.setattr(builtin_yosys, "_dirs", [])      # this worker's real server keeps its folder
    monkeypatch.setattr(builtin_yosys.subprocess, "Popen", signalled)
    with pytest.raises(Interrupted):
        builtin_yosys.run(["-V"])
    assert [q.name for q in tmp_path.iterdir()] != []
    builtin_yosys.shutdown()
    assert [q.name for q in tmp_path.iterdir()] == []


def test_yosys_timeout_kills_the_group_and_removes_its_tmpdir(tmp_path):
    """The one Yosys runner: a timeout kills Yosys and its children (ABC) and removes the
    TMPDIR it gave them; exit 3 (ToolError)."""
    fake = tmp_path / "yosys"
    fake.write_text("#!/bin/sh\nmkdir \"$TMPDIR/yosys-abc-XXXX\"\nsleep 60 &\necho $! > child.pid\nwait\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    (tmp_path / "s.ys").write_text("")
    t0 = time.monotonic()
    with pytest.raises(ToolError, match="timed out"):
        run_yosys(tmp_path / "s.ys", tmp_path, tmp_path / "y.log", timeout=1.0, yosys=str(fake))
    assert time.monotonic() - t0 < 10
    child = int((tmp_path / "child.pid").read_text())
    time.sleep(0.2)
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE
    assert not [q for q in tmp_path.iterdir() if q.name.startswith(".yosys-tmp-")]


# ------------------------------------------------------------------ full disk

def _can_unshare() -> str | None:
    """None when a private mount namespace with a tmpfs works here, else the reason it does not."""
    if os.geteuid() != 0:
        return "a private tmpfs needs root (unshare -m, mount)"
    if shutil.which("unshare") is None:
        return "no unshare command"
    r = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                       capture_output=True, text=True)
    return None if r.returncode == 0 else f"unshare -m / mount tmpfs refused here: {r.stderr.strip()[:100]}"


_NO_TMPFS = _can_unshare()
full_disk = pytest.mark.skipif(_NO_TMPFS is not None, reason=str(_NO_TMPFS))


def _on_full_disk(tmp_path, *args):
    """Run quantpe with FULL (in args) a 256 KiB tmpfs that holds FULL/earlier/a.txt and is
    otherwise full; returns (CompletedProcess, listing of FULL after the run, a.txt's text)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    argv = " ".join(f"'{a}'" for a in [*QUANTPE, *[str(a).replace("FULL", str(mnt)) for a in args]])
    script = (f"mount -t tmpfs -o size=256k tmpfs {mnt} && mkdir {mnt}/earlier && echo keep > {mnt}/earlier/a.txt"
              f" && (dd if=/dev/zero of={mnt}/fill bs=4k 2>/dev/null; true)"
              f" && {argv}; echo \"rc=$?\" >&2; find {mnt} -mindepth 1 >&2; cat {mnt}/earlier/a.txt >&2")
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                       env=_env(tmp_path), cwd=tmp_path, timeout=300)
    lines = r.stderr.strip().splitlines()
    rc_at = next(i for i, ln in enumerate(lines) if ln.startswith("rc="))
    listing = [ln for ln in lines[rc_at + 1:-1] if ln != f"{mnt}/fill"]
    return int(lines[rc_at][3:]), lines[:rc_at], listing, lines[-1], mnt


@full_disk
@pytest.mark.parametrize("args,out", [
    (["generate", "baseline", "--lanes", "2", "--no-lint", "-o", "FULL/g"], "g"),
    (["synth", "baseline", "--lanes", "2", "-o", "FULL/s"], "s"),
    (["characterize", "--method", "drum", "--k", "3", "--a-bits", "4", "--b-bits", "4", "-o", "FULL/c"], "c"),
    (["synth", "baseline", "--lanes", "2", "-o", "FULL/earlier"], "earlier"),
])
def test_full_disk_is_exit_3_with_the_path(tmp_path, args, out):
    rc, err, listing, kept, mnt = _on_full_disk(tmp_path, *args)
    assert rc == 3, err
    assert len(err) == 1 and err[0].startswith("quantpe: error: cannot write") and str(mnt / out) in err[0], err
    assert "No space left on device" in err[0]
    assert kept == "keep"
    assert listing == [f"{mnt}/earlier", f"{mnt}/earlier/a.txt"], listing


@full_disk
def test_model_import_on_a_full_disk_leaves_no_folder(tmp_path):
    import numpy as np

    from quantpe.golden.cnn import model_data, reference_graph
    from quantpe.golden.onnx_io import export_onnx
    export_onnx(reference_graph("mlp"), tmp_path / "mlp.onnx")
    np.save(tmp_path / "x.npy", model_data("mlp")[2][:40])
    rc, err, listing, kept, mnt = _on_full_disk(tmp_path, "model", "import", tmp_path / "mlp.onnx", "--inputs",
                                                tmp_path / "x.npy", "-o", "FULL/imp")
    assert rc == 3 and len(err) == 1 and f"{mnt}/imp" in err[0] and "No space left" in err[0], err
    assert listing == [f"{mnt}/earlier", f"{mnt}/earlier/a.txt"], listing


def test_output_below_a_file_is_refused_before_the_work(tmp_path):
    (tmp_path / "a_file").write_text("x")
    t0 = time.monotonic()
    r = subprocess.run([*QUANTPE, "plan", "mlp", "--method", "quantune", "-o", "a_file/p.json"], cwd=tmp_path,
                       env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == "quantpe: error: cannot write output a_file/p.json: a_file is not a directory"
    assert time.monotonic() - t0 < 30 and not (tmp_path / "build").exists()     # nothing computed
    assert Path(tmp_path / "a_file").read_text() == "x"
