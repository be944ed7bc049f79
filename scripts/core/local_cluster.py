"""A Dask cluster on this machine, started the way a user starts one (`dask scheduler`, `dask
worker`, each a separate process on the loopback interface, ports chosen free), for the cluster
tests and `quantpe bench cluster`.

    with LocalCluster(workers=2) as lc:      # lc.address: tcp://127.0.0.1:<port>
        lc.kill(0)                           # SIGKILL worker 0 (its job process follows it)

Each worker runs one job at a time (`--nthreads 1`, no nanny, so killing it ends it) and declares
the resource `verilator=1`. `env` overrides the environment of every worker, `worker_env[i]`
of worker i (e.g. a PATH without yosys, or a preload that changes what the worker reports).
Everything started is ended by `close()` (also on leaving the `with`).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from quantpe.golden.errors import ToolError

__all__ = ["LocalCluster", "free_port", "dask_command"]


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on (just now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dask_command() -> str:
    """The `dask` command beside this Python (a venv's), else the one on PATH."""
    here = Path(sys.executable).with_name("dask")
    exe = str(here) if here.is_file() else shutil.which("dask")
    if exe is None:
        raise ToolError("the `dask` command is missing (pip install 'dask[distributed]')")
    return exe


class LocalCluster:
    """A scheduler and `workers` worker processes on 127.0.0.1 (module docstring)."""

    def __init__(self, workers: int = 2, env: dict | None = None, worker_env: dict | None = None,
                 preload: dict | None = None, start_timeout: float = 60.0):
        self.dir = Path(tempfile.mkdtemp(prefix="quantpe-cluster-"))
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.scheduler_file = self.dir / "scheduler.json"
        self._env, self._worker_env, self._preload = env or {}, worker_env or {}, preload or {}
        self.workers: list[subprocess.Popen] = []
        self.scheduler = self._start([dask_command(), "scheduler", "--host", "127.0.0.1", "--port", str(self.port),
                                      "--no-dashboard", "--scheduler-file", str(self.scheduler_file)],
                                     self.dir / "scheduler.log", {})
        try:
            for i in range(workers):
                self.add_worker(i)
            self.wait_for_workers(workers, start_timeout)
        except BaseException:
            self.close()
            raise

    def _start(self, argv, log: Path, env: dict) -> subprocess.Popen:
        full = dict(os.environ, **self._env, **env)
        with open(log, "ab") as f:
            return subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, env=full, start_new_session=True)

    def add_worker(self, i: int) -> subprocess.Popen:
        """Start worker `i` (name w<i>, its own scratch folder)."""
        argv = [dask_command(), "worker", self.address, "--nthreads", "1", "--no-nanny", "--name", f"w{i}",
                "--local-directory", str(self.dir / f"w{i}"), "--resources", "verilator=1", "--no-dashboard",
                "--memory-limit", "0", "--death-timeout", "60"]
        if i in self._preload:
            argv += ["--preload", str(self._preload[i])]
        p = self._start(argv, self.dir / f"w{i}.log", self._worker_env.get(i, {}))
        self.workers.append(p)
        return p

    def wait_for_workers(self, n: int, timeout: float = 60.0) -> None:
        # distributed: only the cluster's users import it
        import distributed
        t0 = time.monotonic()
        while not self.scheduler_file.is_file():
            if self.scheduler.poll() is not None or time.monotonic() - t0 > timeout:
                raise ToolError(f"the Dask scheduler did not start (see {self.dir / 'scheduler.log'})")
            time.sleep(0.1)
        with distributed.Client(self.address, timeout=timeout, set_as_default=False) as c:
            c.wait_for_workers(n, timeout=max(1.0, timeout - (time.monotonic() - t0)))

    def clear_worker_caches(self) -> None:
        """Empty every worker's own build cache (`quantpe.core.executor` keeps one per worker), so the
        next jobs compute from scratch; call it while no job runs."""
        for d in self.dir.glob("w*/**/quantpe-build"):
            shutil.rmtree(d, ignore_errors=True)

    def kill(self, i: int) -> None:
        """SIGKILL worker i (the scheduler sees its connection drop)."""
        _signal(self.workers[i], signal.SIGKILL)

    def close(self) -> None:
        for p in self.workers + [self.scheduler]:
            _signal(p, signal.SIGTERM)
        deadline = time.monotonic() + 3
        for p in self.workers + [self.scheduler]:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(p, signal.SIGKILL)
                p.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _signal(p: subprocess.Popen, sig: int) -> None:
    """Send `sig` to the process group of `p` (it leads its own session)."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, sig)
        except OSError:
            pass
