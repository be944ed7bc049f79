"""The one executor under every parallel step: local processes (-j) by default, an existing Dask
cluster with `--cluster ADDRESS` ($QUANTPE_CLUSTER; a path names a Dask scheduler file).

Every parallel step of the flow (`quantpe.core.jobs.parallel_map`: regressions, `synth_many`, the
energy measurements and netlist builds, multiplier sweeps and RTL characterisation, the plans'
evaluations and the GA's population, the report sections' batches) runs through
`map_ordered(executor, fn, items)`, which returns [fn(x) for x in items] in order and cancels
everything still pending at the first failure, Ctrl-C or SIGTERM. The executor is a
`concurrent.futures.Executor`: a `ProcessPoolExecutor` of -j processes locally (unchanged), or a
`ClusterExecutor` over a `distributed.Client` (its futures as concurrent.futures ones, as
`Client.get_executor()` gives them, plus what follows).

A job on the cluster (`_run_on_worker`) needs no shared file system:
  - the client sends the job's cache entries with it: every file of the client's build root the
    job's arguments name, and the build folder of every design config in them (simulator builds
    and files over `SHIP_MAX` bytes stay behind); paths under the client's build root and package
    folders are rewritten to the worker's (in the arguments and in the text of those files);
  - the worker runs the job in a job process of its own (one per worker thread, started at
    connect and kept between jobs; QUANTPE_BUILD = a build root in the worker's scratch folder,
    which stays as the worker's own cache), killed with its process tree when the job exceeds
    `job_timeout` seconds (ToolError, exit 3), when the client cancels the task (the first
    failure, Ctrl-C, SIGTERM), or when the worker dies;
  - the job returns its result by value (JSON figures, area dicts) with every file it wrote or
    changed under the worker's build root (netlists, Verilog, area.json; same filter), paths
    rewritten back; the client writes those files into its own build root (atomic writer), so
    the content-addressed build cache stays on the client and a later local run reuses it.
A job whose worker dies is rescheduled by the scheduler (up to its `allowed-failures`, default 3;
then ToolError, exit 3); the results are the same because every job is deterministic. At connect
every worker must report this client's quantpe version and source digest, the tools the jobs
need (yosys, iverilog, vvp, verilator) and the liberties this client would use (same path, same
SHA-256); otherwise one line names the worker and what it lacks (ToolError, exit 3); any other
file outside the build root that a job names is checked the same way before its first job is
submitted. An unreachable scheduler is ToolError after `CONNECT_TIMEOUT` seconds.

Resources: a job may ask for dask resources (e.g. {"verilator": 1}: one Verilator build per worker
at a time); they apply when every worker declares them (`dask worker ... --resources
verilator=1`), and are dropped otherwise (a worker that declares none runs jobs `--nthreads` at a
time).
"""
from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import hashlib
import importlib
import multiprocessing
import os
import shutil
import threading
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from pathlib import Path

from quantpe.core import interrupt
from quantpe.core.build import build_root, design_dir, source_digest
from quantpe.core.settings import configure
from quantpe.core.tools import verilator_env
from quantpe.golden.atomic import write_bytes
from quantpe.golden.config import DesignConfig
from quantpe.golden.errors import QuantpeError, ToolError

__all__ = ["ClusterExecutor", "local_executor", "map_ordered", "connect", "use_cluster", "cluster",
           "close_cluster", "routed_to", "local_identity", "worker_facts", "warm_worker", "JOB_TOOLS", "CONNECT_TIMEOUT", "JOB_TIMEOUT",
           "SHIP_MAX", "relocate"]

#: external tools a job may run (checked on every worker at connect)
JOB_TOOLS = ("yosys", "iverilog", "vvp", "verilator")
#: seconds to wait for the scheduler at connect
CONNECT_TIMEOUT = 5.0
#: seconds one cluster job may run unless $QUANTPE_JOB_TIMEOUT says otherwise
JOB_TIMEOUT = 3 * 3600.0
#: files larger than this (bytes) are not sent between client and worker
SHIP_MAX = 8 << 20
#: folders of a build root that are never sent: simulator builds (<sim>-<bench>..., rebuilt where
#: they run) and caches of Python
_SKIP_DIRS = {"sim_build", "obj_dir", "__pycache__"}
_SKIP_PREFIXES = ("icarus-", "verilator-")
#: modules a worker's job process imports as it starts (generation, synthesis, simulation)
_PRELOAD = ("numpy", "amaranth", "amaranth.back.verilog", "quantpe.core.kinds", "quantpe.sim.runner", "quantpe.synth.area")
#: seconds a worker's job process may take to start (its imports)
_CHILD_START = 300.0
_PACKAGES = ("quantpe", "quantpe.golden", "quantpe.rtl", "quantpe.tb", "quantpe.sim")

_state: dict = {"cluster": None}


# ------------------------------------------------------------------ the one map

def local_executor(jobs: int) -> ProcessPoolExecutor:
    """The default executor: `jobs` local processes."""
    return ProcessPoolExecutor(jobs, initializer=interrupt.worker_init)


def map_ordered(executor: Executor, fn, items: list, progress=None, resources: dict | None = None) -> list:
    """[fn(x) for x in items] on `executor`, in order. `progress(iterable, total)` wraps the
    completion stream (a counted bar). The first failure (or KeyboardInterrupt) cancels every
    pending job and is raised."""
    items = list(items)
    results = [None] * len(items)
    kw = {"resources": resources} if isinstance(executor, ClusterExecutor) and resources else {}
    futures: dict = {}
    try:
        for i, x in enumerate(items):
            futures[executor.submit(fn, x, **kw)] = i
        done = as_completed(futures)
        for f in (progress(done, len(futures)) if progress else done):
            results[futures[f]] = f.result()
    except BaseException:
        for f in futures:
            f.cancel()
        if isinstance(executor, ClusterExecutor):
            executor.cancel_all()
        raise
    return results


# ------------------------------------------------------------------ identity and facts

def local_identity() -> tuple[str, str]:
    """(quantpe version, digest of every quantpe source file) of this process."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("quantpe")
    except PackageNotFoundError:
        v = "unknown"
    return v, source_digest(*_PACKAGES)


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _roots(build: Path | None = None) -> dict:
    """{name: absolute folder} of this process: the package folders and the build root (`build`,
    else this process's)."""
    roots = {name: str(Path(importlib.import_module(name).__file__).resolve().parent) for name in _PACKAGES}
    roots["build"] = str(build if build is not None else build_root())
    return roots


def worker_facts(liberties: tuple = (), client_roots: dict | None = None) -> dict:
    """What a worker has (run on each worker at connect): version, source digest, the path of each
    job tool (None when missing) and the SHA-256 of each of `liberties` (client paths, read at the
    worker's own package folders for those inside the client's; None when absent)."""
    v, digest = local_identity()
    pairs = _pairs(client_roots, _roots()) if client_roots else []
    tools = {}
    for t in JOB_TOOLS:
        env = verilator_env() if t == "verilator" else None
        tools[t] = shutil.which(t, path=(env or os.environ).get("PATH"))
    return {"version": v, "digest": digest, "tools": tools,
            "liberties": {str(p): _sha256(relocate(Path(p), pairs)) for p in liberties}}


def _check_workers(facts: dict, mine: tuple[str, str], liberties: dict, names: dict | None = None) -> None:
    """ToolError (one line) naming the first worker that differs or lacks something."""
    for addr, f in sorted(facts.items()):
        if names and names.get(addr) not in (None, addr):
            addr = f"{names[addr]} ({addr})"
        if isinstance(f, BaseException):
            raise ToolError(f"cluster worker {addr} cannot run quantpe ({type(f).__name__}: "
                            f"{str(f).splitlines()[0][:120] if str(f) else ''}): install it on every worker")
        if (f["version"], f["digest"]) != mine:
            raise ToolError(f"cluster worker {addr} runs quantpe {f['version']} (sources {f['digest']}), this "
                            f"client {mine[0]} (sources {mine[1]}): install the same quantpe on every worker")
        missing = [t for t, p in f["tools"].items() if p is None]
        for path, sha in liberties.items():
            theirs = f["liberties"].get(path)
            if theirs != sha:
                missing.append(f"the liberty {path}" + (" (different content)" if theirs else ""))
        if missing:
            raise ToolError(f"cluster worker {addr} lacks {', '.join(missing)} (install it on every worker)")


def _workers_info(client) -> dict:
    """{address: info} of every worker (scheduler_info lists only a few unless asked for all)."""
    import inspect
    kw = {"n_workers": -1} if "n_workers" in inspect.signature(client.scheduler_info).parameters else {}
    return client.scheduler_info(**kw)["workers"]


# ------------------------------------------------------------------ connecting

def connect(address: str, *, timeout: float = CONNECT_TIMEOUT, job_timeout: float | None = None,
            liberties=()) -> ClusterExecutor:
    """A ClusterExecutor on the Dask scheduler at `address` (tcp://host:port, host:port, or the path
    of a scheduler file), every worker checked (module docstring; `liberties`: the files the jobs
    may read, None entries skipped). ToolError (exit 3) when the scheduler is unreachable within
    `timeout` seconds, has no worker, or a worker differs."""
    # distributed is heavy (tornado, msgpack, its config): only a --cluster run imports it
    import distributed
    kw = {"scheduler_file": address} if Path(address).is_file() else {"address": address}
    try:
        client = distributed.Client(**kw, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, asyncio.TimeoutError, ValueError) as e:
        raise ToolError(f"cannot reach the Dask scheduler at {address} within {timeout:g} s "
                        f"({type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else 'no answer'})") from None
    try:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (TimeoutError, asyncio.TimeoutError, OSError):
            raise ToolError(f"the Dask scheduler at {address} has no worker (start one with "
                            f"`dask worker {address}`)") from None
        libs = [str(Path(p).resolve()) for p in liberties if p is not None]
        facts = client.run(worker_facts, tuple(libs), _roots(), on_error="return")
        info = _workers_info(client)
        _check_workers(facts, local_identity(), {p: _sha256(p) for p in libs},
                       {a: str(w.get("name", a)) for a, w in info.items()})
        client.run(warm_worker)
        declared = [set(w.get("resources") or {}) for w in info.values()]
        common = set.intersection(*declared) if declared else set()
    except BaseException:
        client.close()
        raise
    build_root().mkdir(parents=True, exist_ok=True)
    return ClusterExecutor(client, common, job_timeout)


def use_cluster(address: str | None, job_timeout: float | None = None, liberties=()) -> ClusterExecutor | None:
    """Route every later parallel step through the cluster at `address` (None: local processes).
    `job_timeout`: seconds one job may run [$QUANTPE_JOB_TIMEOUT or JOB_TIMEOUT]; `liberties`: as
    for `connect`. The client is closed at exit."""
    close_cluster()
    if address:
        if job_timeout is None:
            text = os.environ.get("QUANTPE_JOB_TIMEOUT", str(JOB_TIMEOUT))
            try:
                job_timeout = float(text)
                if not job_timeout > 0:
                    raise ValueError
            except ValueError:
                raise QuantpeError(f"QUANTPE_JOB_TIMEOUT must be a number of seconds > 0, got {text!r}") from None
        _state["cluster"] = connect(address, job_timeout=job_timeout, liberties=liberties)
    return _state["cluster"]


def cluster() -> ClusterExecutor | None:
    """The cluster executor in use, or None (local processes)."""
    return _state["cluster"]


@contextlib.contextmanager
def routed_to(ex: ClusterExecutor | None):
    """Within the block, parallel steps run on `ex` (None: local processes); the one in use before
    is restored after it (neither is closed)."""
    old, _state["cluster"] = _state["cluster"], ex
    try:
        yield ex
    finally:
        _state["cluster"] = old


def close_cluster() -> None:
    ex, _state["cluster"] = _state["cluster"], None
    if ex is not None:
        ex.shutdown(wait=False)


atexit.register(close_cluster)


# ------------------------------------------------------------------ the cluster executor

class ClusterExecutor(Executor):
    """`concurrent.futures.Executor` over a `distributed.Client`: submit(fn, *args) runs
    fn(*args) on a worker as the module docstring says and resolves to its result (paths the
    client's, files written into the client's build root)."""

    def __init__(self, client, resources: set, job_timeout: float | None = None):
        self.client = client
        self.resources = set(resources)
        self.job_timeout = job_timeout
        self._pending: set = set()
        self._lock = threading.Lock()
        self._checked: set = set()

    def check_files(self, paths) -> None:
        """ToolError (one line) naming the first worker that does not have each of `paths` (files
        outside the build root and the packages that a job names, e.g. a liberty) with this
        client's content; each path is checked once."""
        todo = sorted({str(p) for p in paths} - self._checked)
        if not todo:
            return
        mine = {p: _sha256(p) for p in todo}
        theirs = self.client.run(_file_digests, todo)
        names = {a: str(w.get("name", a)) for a, w in _workers_info(self.client).items()}
        for addr, got in sorted(theirs.items()):
            for p in todo:
                if got.get(p) != mine[p]:
                    who = names.get(addr, addr)
                    raise ToolError(f"cluster worker {who}" + (f" ({addr})" if who != addr else "")
                                    + f" lacks {p}" + (" (different content)" if got.get(p) else "")
                                    + ", which a job reads (install it at the same path on every worker)")
        self._checked |= set(todo)

    def submit(self, fn, /, *args, resources: dict | None = None, **kwargs) -> Future:
        roots = _roots()
        self.check_files(_external_files((args, kwargs), roots))
        files = _cache_entries((args, kwargs), roots["build"])
        res = {k: v for k, v in (resources or {}).items() if k in self.resources} or None
        inner = self.client.submit(_run_on_worker, fn, args, kwargs, files, roots, self.job_timeout,
                                   pure=False, resources=res)
        outer: Future = Future()
        with self._lock:
            self._pending.add(inner)

        def cancel_inner(f):
            if f.cancelled():
                inner.cancel()
        outer.add_done_callback(cancel_inner)

        def finish(f):
            with self._lock:
                self._pending.discard(inner)
            if outer.done():
                return
            try:
                out = f.result()
                _store(out["files"], roots["build"])
                outer.set_result(out["result"])
            except BaseException as e:       # noqa: B036 -- a job's failure, handed to the caller
                if not outer.done():
                    outer.set_exception(_as_quantpe_error(e, fn))
        inner.add_done_callback(finish)
        return outer

    def cancel_all(self) -> None:
        """Cancel every job of this client still on the cluster."""
        with self._lock:
            pending, self._pending = list(self._pending), set()
        if pending:
            try:
                self.client.cancel(pending, force=True)
            except Exception:          # noqa: BLE001 -- the client may already be closing
                pass

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures or not wait:
            self.cancel_all()
        try:
            self.client.close(timeout=2)
        except Exception:              # noqa: BLE001 -- closing a lost connection
            pass


def _as_quantpe_error(e: BaseException, fn) -> BaseException:
    """A worker death beyond the scheduler's retries, or a cancelled job, as a one-line error."""
    name = type(e).__name__
    if name == "KilledWorker":
        return ToolError(f"a {getattr(fn, '__name__', 'job')} job lost its worker too many times on the cluster "
                         f"({str(e).splitlines()[0][:120]})")
    if name in ("CancelledError", "FutureCancelledError") and not isinstance(e, KeyboardInterrupt):
        return ToolError(f"a {getattr(fn, '__name__', 'job')} job was cancelled on the cluster")
    return e


# ------------------------------------------------------------------ moving files and paths

def _pairs(src: dict, dst: dict) -> list[tuple[str, str]]:
    return sorted(((src[k], dst[k]) for k in src if k in dst and src[k] != dst[k]), key=lambda p: -len(p[0]))


def _sub(text: str, pairs) -> str:
    for a, b in pairs:
        text = text.replace(a, b)
    return text


def relocate(obj, pairs):
    """`obj` with every path and string prefix `a` of `pairs` [(a, b)] replaced by `b`, through
    tuples, lists, dicts and dataclass instances (others unchanged)."""
    if not pairs:
        return obj
    if isinstance(obj, Path):
        return Path(_sub(str(obj), pairs))
    if isinstance(obj, str):
        return _sub(obj, pairs)
    if isinstance(obj, tuple):
        items = [relocate(x, pairs) for x in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
    if isinstance(obj, list):
        return [relocate(x, pairs) for x in obj]
    if isinstance(obj, dict):
        return {relocate(k, pairs): relocate(v, pairs) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changed = {}
        for f in dataclasses.fields(obj):
            if f.init:
                v = getattr(obj, f.name)
                nv = relocate(v, pairs)
                if nv is not v and nv != v:
                    changed[f.name] = nv
        return dataclasses.replace(obj, **changed) if changed else obj
    return obj


def _walk(obj, seen=None):
    """Every Path and DesignConfig inside `obj` (tuples, lists, dicts, dataclasses)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, (Path, DesignConfig)):
        yield obj
    if isinstance(obj, (tuple, list)):
        for x in obj:
            yield from _walk(x, seen)
    elif isinstance(obj, dict):
        for x in obj.values():
            yield from _walk(x, seen)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from _walk(getattr(obj, f.name), seen)


def _files_under(path: Path):
    """The files of `path` (a file or a folder) that travel (not simulator builds, not too big)."""
    if path.is_file():
        if path.stat().st_size <= SHIP_MAX:
            yield path
        return
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS and not d.startswith(_SKIP_PREFIXES)]
        for n in filenames:
            p = Path(dirpath) / n
            if n != ".lock" and not n.startswith(".") and p.stat().st_size <= SHIP_MAX:
                yield p


def _cache_entries(args, build: str) -> dict:
    """{path relative to the build root: bytes} of the client cache entries a job's arguments name."""
    root = Path(build)
    out = {}
    for x in _walk(args):
        p = design_dir(x) if isinstance(x, DesignConfig) else Path(x)
        try:
            p.relative_to(root)
        except ValueError:
            continue
        if p.exists():
            for f in _files_under(p):
                out[str(f.relative_to(root))] = f.read_bytes()
    return out


def _external_files(args, roots: dict) -> list[Path]:
    """The existing files a job's arguments name outside the build root and the package folders
    (those travel or are the worker's own)."""
    inside = [Path(r) for r in roots.values()]
    out = []
    for x in _walk(args):
        if isinstance(x, Path) and x.is_absolute() and x.is_file() and not any(x.is_relative_to(r) for r in inside):
            out.append(x)
    return out


def _file_digests(paths) -> dict:
    """{path: SHA-256 or None} of files on this worker (run on every worker)."""
    return {p: _sha256(p) for p in paths}


def _is_text(data: bytes) -> bool:
    return b"\0" not in data[:8192]


def _store(files: dict, build: str, pairs=()) -> None:
    """Write {relative path: bytes} under the build root `build` (paths in text rewritten by
    `pairs`), leaving identical files untouched."""
    root = Path(build)
    for rel, data in files.items():
        if pairs and _is_text(data):
            data = _sub(data.decode("utf-8", "surrogateescape"), pairs).encode("utf-8", "surrogateescape")
        dst = root / rel
        if not (dst.is_file() and dst.read_bytes() == data):
            write_bytes(dst, data)


def _snapshot(root: Path) -> dict:
    if not root.is_dir():
        return {}
    out = {}
    for p in _files_under(root):
        st = p.stat()
        out[p] = (st.st_mtime_ns, st.st_size)
    return out


# ------------------------------------------------------------------ on the worker

_idle: list = []                 # this worker's job processes not running a job
_idle_lock = threading.Lock()


def _worker_build_root(worker=None) -> Path:
    try:
        import distributed
        base = Path((worker or distributed.get_worker()).local_directory)
    except (ImportError, ValueError):
        import tempfile
        base = Path(tempfile.gettempdir()) / f"quantpe-worker-{os.getpid()}"
    return base / "quantpe-build"


def _take_child(build: Path) -> _Child:
    with _idle_lock:
        while _idle:
            child = _idle.pop()
            if child.alive():
                return child
    return _Child(build)


def _give_back(child: _Child) -> None:
    if child.alive():
        with _idle_lock:
            _idle.append(child)


def warm_worker(dask_worker=None) -> int:
    """Start the job processes of this worker (one per thread) ahead of its first jobs (run on
    every worker at connect); returns how many are ready."""
    build = _worker_build_root(dask_worker)
    build.mkdir(parents=True, exist_ok=True)
    want = int(getattr(getattr(dask_worker, "state", dask_worker), "nthreads", 1) or 1)
    with _idle_lock:
        have = sum(c.alive() for c in _idle)
    for _ in range(max(0, want - have)):
        _give_back(_Child(build))
    return want


def _cancel_probe():
    """A function telling whether the client cancelled the task this worker thread runs (dask does
    not stop a running task: its job process is killed instead)."""
    try:
        import distributed
        worker = distributed.get_worker()
        key = worker.get_current_task()
    except (ImportError, ValueError, AttributeError):
        return lambda: False

    def cancelled() -> bool:
        ts = worker.state.tasks.get(key)
        return ts is None or ts.state in ("cancelled", "released", "forgotten")
    return cancelled


def _run_on_worker(fn, args, kwargs, files: dict, client_roots: dict, job_timeout: float | None) -> dict:
    """Run one job on this worker (module docstring): returns {result, files} (paths the client's;
    files: {path relative to the build root: bytes} the job wrote or changed)."""
    build = _worker_build_root()
    build.mkdir(parents=True, exist_ok=True)
    mine = _roots(build)
    to_worker, to_client = _pairs(client_roots, mine), _pairs(mine, client_roots)
    _store(files, str(build), to_worker)
    before = _snapshot(build)
    child = _take_child(build)
    try:
        result = child.call(fn, relocate(args, to_worker), relocate(kwargs, to_worker), job_timeout,
                            _cancel_probe())
    finally:
        _give_back(child)
    out = {}
    for p, st in _snapshot(build).items():
        if before.get(p) != st:
            data = p.read_bytes()
            if _is_text(data):
                data = _sub(data.decode("utf-8", "surrogateescape"), to_client).encode("utf-8", "surrogateescape")
            out[str(p.relative_to(build))] = data
    return {"result": relocate(result, to_client), "files": out}


class _Child:
    """One job process of a worker thread: runs fn(*args) sent over a pipe, one at a time."""

    def __init__(self, build: Path):
        ctx = multiprocessing.get_context("spawn")
        self.conn, theirs = ctx.Pipe()
        self.proc = ctx.Process(target=_child_main, args=(theirs, str(build), os.getpid()), name="quantpe-job")
        self.proc.start()
        theirs.close()
        try:                                   # the imports: not part of the first job's time
            ready = self.conn.poll(_CHILD_START) and self.conn.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.kill()
            raise ToolError(f"the job process of a cluster worker did not start within {_CHILD_START:g} s")

    def alive(self) -> bool:
        return self.proc.is_alive()

    def call(self, fn, args, kwargs, timeout: float | None, cancelled=lambda: False):
        self.conn.send((fn, args, kwargs))
        t0 = time.monotonic()
        while not self.conn.poll(1.0):
            if cancelled():
                self.kill()
                raise ToolError(f"a {getattr(fn, '__name__', 'job')} job was cancelled (its processes were killed)")
            if not self.proc.is_alive():
                raise ToolError(f"the job process of a cluster worker died running {getattr(fn, '__name__', 'a job')} "
                                f"(exit {self.proc.exitcode})")
            if timeout is not None and time.monotonic() - t0 > timeout:
                self.kill()
                raise ToolError(f"a {getattr(fn, '__name__', 'job')} job exceeded its timeout of {timeout:g} s "
                                f"on a cluster worker (its processes were killed)")
        status, value = self.conn.recv()
        if status == "ok":
            return value
        raise value

    def kill(self) -> None:
        _kill_tree(self.proc.pid)
        self.proc.join(5)


def _kill_tree(pid: int) -> None:
    import psutil  # a dependency of distributed
    try:
        proc = psutil.Process(pid)
        procs = proc.children(recursive=True) + [proc]
    except psutil.Error:
        return
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass


def _watch_parent(parent: int) -> None:
    """End this job process (and what it started) when the worker that owns it is gone."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            import psutil
            for p in psutil.Process().children(recursive=True):
                try:
                    p.kill()
                except psutil.Error:
                    pass
            os._exit(1)


def _child_main(conn, build: str, parent: int) -> None:
    os.environ["QUANTPE_BUILD"] = build
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    configure(jobs=1, quiet=True)              # a job does not start a pool of its own on a worker
    for name in _PRELOAD:                      # what most jobs import, before the first job
        importlib.import_module(name)
    conn.send("ready")
    while True:
        try:
            fn, args, kwargs = conn.recv()
        except (EOFError, OSError):
            return
        try:
            msg = ("ok", fn(*args, **kwargs))
        except BaseException as e:             # noqa: B036 -- every failure goes back to the client
            msg = ("err", e)
        try:
            conn.send(msg)
        except Exception as e:                 # noqa: BLE001 -- an unpicklable result or error
            conn.send(("err", QuantpeError(f"{type(e).__name__} sending a job's outcome back: {e}")))
