"""Ending a run on SIGINT or SIGTERM: exit 130 within seconds, every descendant ended, no traceback.

Main process (`install`, called by the CLI): the first SIGINT or SIGTERM, whether it is sent to
quantpe alone or to its process group, sends SIGTERM to every process quantpe started, directly
or not (pool workers, the built-in Yosys servers, Yosys and ABC, simulators and compilers; the
tree is read before any of them ends, so none is orphaned), then raises `Interrupted` (a
KeyboardInterrupt) so that every `finally` removes its temporary folders. `end_children` (the
CLI's last step) kills what did not end within GRACE_S. A watchdog ends the process with status
130 if the cleanup itself has not finished after WATCHDOG_S. Later signals are ignored.

Pool workers (`worker_init` as the pool's initializer, jobs run through `in_worker`) ignore
SIGINT (the main process ends them); on SIGTERM a worker ends its own children, lets the running
job's `finally` blocks run and exits with status 130 without a traceback; an idle worker exits
at once.
"""
from __future__ import annotations

import os
import signal
import sys
import threading

import psutil

__all__ = ["Interrupted", "install", "uninstall", "end_children", "report", "descendants", "terminate",
           "worker_init", "in_worker", "on_end", "GRACE_S", "WATCHDOG_S"]

#: seconds a descendant has to end after SIGTERM before it is killed (SIGKILL)
GRACE_S = 3.0
#: seconds after the first signal at which the process exits (status 130) whatever it is doing
WATCHDOG_S = 10.0


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM, as an exception, so that every `finally` runs."""


_seen: list = []            # the processes signalled so far (psutil.Process)
_on_end: list = []          # callables run first when this process ends its children (`on_end`)
_signalled = False
_in_job = False
_worker_signalled = False


def on_end(fn) -> None:
    """Run `fn()` first whenever this process ends its children (e.g. the built-in Yosys server,
    `quantpe.rtl.builtin_yosys`, registers its shutdown); registered once per function."""
    if fn not in _on_end:
        _on_end.append(fn)


def _run_on_end() -> None:
    for fn in list(_on_end):
        fn()


def descendants() -> list:
    """Every living process started by this one, directly or not (children before grandchildren)."""
    try:
        return psutil.Process().children(recursive=True)
    except psutil.Error:
        return []


def terminate(procs, grace: float = GRACE_S) -> None:
    """SIGTERM to `procs`, then SIGKILL to those still there after `grace` seconds."""
    procs = [p for p in procs if p.pid != os.getpid()]
    for p in procs:
        try:
            p.terminate()
        except psutil.Error:
            pass
    if grace <= 0:
        return
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=1.0)


_reported = False


def report() -> None:
    """`quantpe: interrupted` on stderr (once: the CLI's last line, or the watchdog's)."""
    global _reported
    if not _reported:
        _reported = True
        try:
            sys.stderr.write("quantpe: interrupted\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


def _watchdog() -> None:
    terminate(descendants() + _seen, grace=1.0)
    report()
    os._exit(130)


def _on_signal(signum, frame):
    global _signalled
    if _signalled:                     # the cleanup of the first one is running: let it finish
        return
    _signalled = True
    procs = descendants()
    _seen.extend(procs)
    terminate(procs, grace=0)
    timer = threading.Timer(WATCHDOG_S, _watchdog)
    timer.daemon = True
    timer.start()
    raise Interrupted()


def install() -> None:
    """SIGINT and SIGTERM handlers of the main process (module docstring)."""
    global _signalled, _reported
    _signalled = _reported = False
    _seen.clear()
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)


def uninstall() -> None:
    """The default handlers again (the watchdog of a signal already received keeps running)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def end_children(grace: float = GRACE_S) -> None:
    """End every descendant still there (those signalled and any started since)."""
    _run_on_end()
    seen = {p.pid: p for p in _seen}
    for p in descendants():
        seen.setdefault(p.pid, p)
    terminate([p for p in seen.values() if p.is_running()], grace)


# ------------------------------------------------------------------ pool workers

def _worker_on_sigterm(signum, frame):
    global _worker_signalled
    if _worker_signalled:              # the cleanup of the first one is running: let it finish
        return
    _worker_signalled = True
    terminate(descendants(), grace=0)
    if _in_job:
        raise Interrupted()
    _run_on_end()
    os._exit(130)


def worker_init() -> None:
    """A pool worker's initializer: SIGINT ignored, SIGTERM ends the worker (module docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_on_sigterm)


def in_worker(fn, item):
    """fn(item) in a pool worker; on SIGTERM the job's `finally` blocks run, then the worker
    ends its children and exits with status 130."""
    global _in_job
    _in_job = True
    try:
        return fn(item)
    except KeyboardInterrupt:
        _run_on_end()
        terminate(descendants(), grace=1.0)
        os._exit(130)
    finally:
        _in_job = False
