"""The CLI probe: `make probe` (not part of `make test`) runs a few hundred bad-input, fault and
control cases against the installed `quantpe` command, each in a fresh working folder, and checks
the README's contract on every one:

- the exit status is the expected one (0, 1, 2, 3 ...) and no output holds a Python traceback;
- for 2 and 3, stderr is exactly one line starting with `quantpe: error:`;
- nothing is left outside the output folder the case names and the build cache (no stray files,
  no hidden `.quantpe-*` / `.stage-*` / `.synth-*` folders, no empty output folder after a failure);
- files that existed before a failing case are unchanged after it.

Cases are generated from the registry (every kind, every config field, malformed values) plus
named cases for files, folders, tools and interrupts. A `signal` case sends SIGTERM or SIGINT
(to quantpe alone or to its group) once a descendant with a given command line runs, and also
checks that every descendant has ended, that quantpe's own TMPDIR (inside the case folder) is
empty and that it exits within a few seconds. A `full` case runs quantpe in a private mount
namespace (`unshare -m`, root) where `full/` is a full 256 KiB tmpfs holding `full/earlier/a.txt`:
that file must be intact and nothing else left there (skipped where the machine refuses). Prints one line per failing case and a
summary; exits 1 if any case breaks the contract. `python tests/probe.py -k TEXT` runs the cases
whose name contains TEXT; `-j N` runs N at a time.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import hashlib
import os
import shlex
import shutil
import signal as signals
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

QUANTPE = [sys.executable, "-m", "quantpe.cli"]
HIDDEN = (".quantpe-", ".stage-", ".synth-", ".tmp")


@dataclass
class Case:
    name: str
    args: list
    codes: tuple = (2,)                  # acceptable exit statuses
    setup: object = None                 # fn(folder) -> None, prepares files before the run
    env: dict = field(default_factory=dict)
    out: str | None = None               # the output folder the case may write (relative)
    timeout: float = 120.0
    signal: tuple | None = None          # (command-line text of a descendant, signal, to the group)
    full: bool = False                   # "full/" is a full tmpfs (module docstring)


@dataclass
class Outcome:
    case: Case
    code: int | None
    problems: list
    seconds: float


def _snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


def check(case: Case, code: int | None, stdout: str, stderr: str, before: dict, after: dict) -> list:
    """The contract's violations for one finished case (empty list: it held)."""
    problems = []
    if code not in case.codes:
        problems.append(f"exit {code}, expected {'/'.join(map(str, case.codes))}")
    if "Traceback (most recent call last)" in stdout + stderr:
        problems.append("traceback")
    if code in (2, 3):
        lines = [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("quantpe: warning:")]
        if len(lines) != 1 or not lines[0].startswith("quantpe: error:"):
            problems.append(f"stderr is not one error line: {stderr.strip()[:200]!r}")
    if code == 4:
        problems.append("internal error")
    allowed = ("build", "in", "tmp", case.out) if case.out else ("build", "in", "tmp")
    for rel in after:
        top = rel.split("/")[0]
        if any(part.startswith(HIDDEN) for part in Path(rel).parts):
            problems.append(f"hidden temporary left: {rel}")
        elif top not in allowed and rel not in before:
            problems.append(f"stray file: {rel}")
    if code not in (0, None):
        if case.out and case.out not in before and case.out in after and not any(
                r.startswith(case.out + "/") for r in after):
            problems.append(f"empty output folder left: {case.out}")
        for rel, digest in before.items():
            if rel.startswith("in/") and after.get(rel) != digest:
                problems.append(f"earlier file changed or removed: {rel}")
    return problems


#: a signalled run must have ended this many seconds after the signal
SIGNAL_EXIT_S = 15.0


def _tree(pid: int) -> list:
    import psutil
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _cmdline(proc) -> str:
    import psutil
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def _alive(procs) -> list:
    import psutil
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(_cmdline(p)[:80])
        except psutil.Error:
            pass
    return out


def _signalled(case: Case, cmd: list, folder: Path, env: dict) -> tuple:
    """(exit status, stdout, stderr, problems) of a run that gets case.signal."""
    needle, sig, group = case.signal
    p = subprocess.Popen(cmd, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         errors="replace", start_new_session=True)
    t0, kids = time.monotonic(), None
    while time.monotonic() - t0 < case.timeout and p.poll() is None:
        now = _tree(p.pid)
        if any(needle in _cmdline(k) for k in now):
            time.sleep(0.3)
            kids = _tree(p.pid)
            break
        time.sleep(0.1)
    if kids is None:
        out, err = p.communicate() if p.poll() is not None else ("", "")
        if p.poll() is None:
            os.killpg(p.pid, signals.SIGKILL)
            p.wait()
        return p.returncode, out, err, [f"no {needle!r} process to signal"]
    (os.killpg if group else os.kill)(p.pid, sig)
    problems = []
    try:
        out, err = p.communicate(timeout=SIGNAL_EXIT_S)
    except subprocess.TimeoutExpired:
        problems.append(f"still running {SIGNAL_EXIT_S:.0f} s after the signal")
        for k in _tree(p.pid):
            k.kill()
        p.kill()
        out, err = p.communicate()
    time.sleep(0.5)
    left = _alive(kids)
    if left:
        problems.append(f"descendants left: {left[:3]}")
    tmp = sorted(str(q.relative_to(folder)) for q in (folder / "tmp").rglob("*"))
    if tmp:
        problems.append(f"temporary files left: {tmp[:3]}")
    if err.strip().splitlines()[-1:] != ["quantpe: interrupted"]:
        problems.append(f"last stderr line is not 'quantpe: interrupted': {err.strip()[-120:]!r}")
    return p.returncode, out, err, problems


def _tmpfs_refused() -> str | None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return "needs root and unshare"
    r = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True)
    return None if r.returncode == 0 else "unshare -m / mount refused"


def _on_full_disk(cmd: list, folder: Path) -> list:
    """`cmd` wrapped: in a private mount namespace, folder/full is a full 256 KiB tmpfs."""
    full = folder / "full"
    full.mkdir()
    script = (f"mount -t tmpfs -o size=256k tmpfs {full} && mkdir {full}/earlier && echo keep > {full}/earlier/a.txt"
              f" && (dd if=/dev/zero of={full}/fill bs=4k 2>/dev/null; true) && {shlex.join(cmd)}; rc=$?; "
              f"find {full} -mindepth 1 | sort > {folder}/full.list; cat {full}/earlier/a.txt > {folder}/full.kept; "
              f"exit $rc")
    return ["unshare", "-m", "sh", "-c", script]


def run_case(case: Case, root: Path) -> Outcome:
    folder = Path(tempfile.mkdtemp(prefix="case-", dir=root))
    (folder / "in").mkdir()
    (folder / "tmp").mkdir()
    if case.setup is not None:
        case.setup(folder)
    before = _snapshot(folder)
    env = {**os.environ, "QUANTPE_BUILD": str(folder / "build"), "TMPDIR": str(folder / "tmp"),
           **{k: v.replace("{dir}", str(folder)) for k, v in case.env.items()}}
    args = [str(a).replace("{dir}", str(folder)) for a in case.args]
    cmd = [*QUANTPE, *args]
    extra = []
    t0 = time.monotonic()
    if case.full:
        if _tmpfs_refused():
            shutil.rmtree(folder, ignore_errors=True)
            return Outcome(case, 0, [], 0.0)
        cmd = _on_full_disk(cmd, folder)
    if case.signal is not None:
        code, out, err, extra = _signalled(case, cmd, folder, env)
    else:
        try:
            r = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True,
                               timeout=case.timeout, errors="replace")
            code, out, err = r.returncode, r.stdout, r.stderr
        except subprocess.TimeoutExpired:
            code, out, err = None, "", "timeout"
    if case.full:
        listing = (folder / "full.list").read_text().split()
        want = [str(folder / "full" / n) for n in ("earlier", "earlier/a.txt", "fill")]
        cache = str(folder / "full" / "build")        # a build cache on the full disk keeps its folders
        listing = [x for x in listing if not (x.startswith(cache) and not any(
            part.startswith(HIDDEN) for part in Path(x).parts))]
        if listing != want:
            extra.append(f"left on the full disk: {[x for x in listing if x not in want][:3]}")
        if (folder / "full.kept").read_text().strip() != "keep":
            extra.append("earlier file on the full disk changed")
        for n in ("full.list", "full.kept"):
            (folder / n).unlink()
        (folder / "full").rmdir()
        if code == 3 and "No space left on device" not in err:
            extra.append("the error does not say the disk is full")
    after = _snapshot(folder)
    problems = check(case, code, out, err, before, after) + extra
    if code is None:
        problems.append(f"no answer within {case.timeout:.0f} s")
    shutil.rmtree(folder, ignore_errors=True)
    return Outcome(case, code, problems, time.monotonic() - t0)


# ----------------------------------------------------------------------------- the cases
BAD_INTS = ("-1", "x", "1e3", "9" * 5000, "")
BAD_STRS = ("nonsense", "", "\u00e9\u00e8", "a" * 300)


def _write(name: str, data: bytes | str):
    def setup(folder: Path):
        p = folder / "in" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return setup


def _setups(*fns):
    def setup(folder: Path):
        for f in fns:
            f(folder)
    return setup


def field_cases() -> list[Case]:
    from quantpe.core.kinds import KINDS, config_class
    cases = []
    for kind in sorted(KINDS):
        cls = config_class(kind)
        for f in dataclasses.fields(cls):
            if not f.repr:
                continue
            flag = "--" + f.name.replace("_", "-")
            if f.type in (bool, "bool"):
                cases.append(Case(f"{kind} {flag}=value", ["generate", kind, f"{flag}=1", "--no-lint", "-o", "out"],
                                  out="out"))
                continue
            values = BAD_INTS if f.type in (int, "int") else BAD_STRS
            for v in values:
                # "" may be the field's own default (an empty path or hash): then it must simply work
                cases.append(Case(f"{kind} {flag} {v[:12]!r}", ["generate", kind, f"{flag}={v}", "--no-lint",
                                                                 "-o", "out"],
                                  codes=(0, 2) if v == "" else (2,), out="out"))
    return cases


NESTED = "[" * 200_000
LOOP_V = "module lp (input [2:0] a, input [2:0] b, output [5:0] y);\n  wire [5:0] t;\n" \
         "  assign t = ~t ^ a;\n  assign y = t;\nendmodule\n"
GOOD_V = "module m (input [2:0] a, input [2:0] b, output [5:0] y);\n  assign y = a * b;\nendmodule\n"


def _mlp_plan(folder: Path, drop: int | None = None, name: str = "plan.json"):
    """in/plan.json: an all-exact plan of the reference MLP (layer `drop` deleted)."""
    import json

    from quantpe.golden.cnn import reference_graph
    from quantpe.golden.plan import make_plan
    graph = reference_graph("mlp")
    plan = make_plan("mlp", graph, "uniform", {}, [(8, 8, "exact")] * len(graph.weight_layers))
    if drop is not None:
        del plan["layers"][drop]
    (folder / "in" / name).write_text(json.dumps(plan))


def _mlp_onnx(folder: Path):
    """in/mlp.onnx (the reference MLP) and in/x.npy (40 of its samples)."""
    import numpy as np

    from quantpe.golden.cnn import model_data, reference_graph
    from quantpe.golden.onnx_io import export_onnx
    export_onnx(reference_graph("mlp"), folder / "in" / "mlp.onnx")
    np.save(folder / "in" / "x.npy", model_data("mlp")[2][:40])


def _edited_design(text: str | None = None, append: str = ""):
    """in/d: a `quantpe generate` folder whose Verilog the user replaced (`text`) or extended."""
    def setup(folder: Path):
        from quantpe.golden.baseline import BaselineConfig
        from quantpe.rtl.generate import generate
        d = folder / "in" / "d"
        manifest = generate(BaselineConfig(lanes=2, a_bits=3, w_bits=3), d)
        v = d / manifest["verilog"]
        v.write_text((v.read_text() if text is None else text) + append)
    return setup


def named_cases() -> list[Case]:
    import numpy as np
    good = np.arange(16).reshape(4, 4)

    def npy(folder: Path):
        np.save(folder / "in" / "good.npy", good)
        (folder / "in" / "empty.npy").write_bytes(b"")

    def readonly(folder: Path):
        d = folder / "in" / "ro"
        d.mkdir()
        d.chmod(0o555)

    def earlier_synth(folder: Path):
        d = folder / "in" / "synth"
        d.mkdir()
        (d / "area.json").write_text('{"area_um2": 1}\n')
        (d / "netlist.v").write_text("// earlier\n")

    c = Case
    cases = [
        # controls: the contract's positive side
        c("control: generate", ["generate", "baseline", "--lanes", "2", "--no-lint", "-o", "out"], (0,), out="out"),
        c("control: characterize golden", ["characterize", "--method", "drum", "--k", "3", "--a-bits", "4",
                                           "--b-bits", "4", "-o", "out"], (0,), out="out"),
        c("control: --version", ["--version"], (0,)),
        c("control: sim icarus", ["sim", "baseline", "--lanes", "2", "--a-bits", "3", "--w-bits", "3", "--sim",
                                  "icarus", "--cycles", "50", "--seed", "1"], (0,)),
        # config documents
        c("config: non-UTF-8", ["generate", "baseline", "--config", "in/bin.json"], setup=_write("bin.json", b"\xff\xfe\x00")),
        c("config: nested", ["generate", "baseline", "--config", "in/n.json"], setup=_write("n.json", NESTED)),
        c("config: 5000-digit lanes", ["generate", "baseline", "--config", "in/d.json"],
          setup=_write("d.json", '{"kind": "baseline", "lanes": ' + "9" * 5000 + "}")),
        c("config: other kind", ["generate", "baseline", "--config", "in/k.json"],
          setup=_write("k.json", '{"kind": "strum"}')),
        c("config: list", ["generate", "baseline", "--config", "in/l.json"], setup=_write("l.json", "[1, 2]")),
        c("config: unknown field", ["generate", "baseline", "--config", "in/u.json"],
          setup=_write("u.json", '{"kind": "baseline", "lanez": 4}')),
        c("config: missing", ["generate", "baseline", "--config", "in/none.json"]),
        c("config: a folder", ["generate", "baseline", "--config", "in"]),
        c("config: huge", ["generate", "baseline", "--config", "in/h.json"],
          setup=_write("h.json", '{"kind": "baseline", "x": "' + "a" * (2 << 20) + '"}')),
        c("config: truncated", ["generate", "baseline", "--config", "in/t.json"], setup=_write("t.json", '{"kind": "bas')),
        # LUT files
        c("lut: empty .npy", ["characterize", "--method", "lut", "--lut-path", "in/empty.npy", "--a-bits", "2",
                              "--b-bits", "2", "-o", "out"], setup=npy, out="out"),
        c("lut: wrong shape", ["characterize", "--method", "lut", "--lut-path", "in/good.npy", "--a-bits", "3",
                               "--b-bits", "3", "-o", "out"], setup=npy, out="out"),
        c("lut: missing", ["characterize", "--method", "lut", "--lut-path", "in/none.npy", "-o", "out"], out="out"),
        c("lut: .txt", ["characterize", "--method", "lut", "--lut-path", "in/x.txt", "-o", "out"],
          setup=_write("x.txt", "1 2 3"), out="out"),
        c("lut: short .bin", ["characterize", "--method", "lut", "--lut-path", "in/s.bin", "-o", "out"],
          setup=_write("s.bin", b"\0" * 7), out="out"),
        c("lut: bad .h", ["characterize", "--method", "lut", "--lut-path", "in/x.h", "-o", "out"],
          setup=_write("x.h", "int x;"), out="out"),
        c("lut: generate relative", ["generate", "approxmul", "--method", "lut", "--lut-path", "in/good.npy",
                                     "--a-bits", "2", "--b-bits", "2", "--no-lint", "-o", "out"], (0,),
          setup=npy, out="out"),
        c("method: truncated without t", ["characterize", "--method", "truncated", "-o", "out"], out="out"),
        c("method: drum without k", ["characterize", "--method", "drum", "-o", "out"], out="out"),
        c("method: unknown", ["characterize", "--method", "wallace", "-o", "out"], out="out"),
        c("method: parameter of another", ["characterize", "--method", "drum", "--k", "3", "--t", "2", "-o", "out"],
          out="out"),
        # external Verilog
        c("verilog: loop", ["characterize", "--verilog", "in/lp.v", "--top", "lp", "--a-bits", "3", "--b-bits", "3",
                            "--sim", "icarus", "--no-area", "-o", "out"], setup=_write("lp.v", LOOP_V), out="out"),
        c("verilog: syntax", ["characterize", "--verilog", "in/s.v", "--top", "s", "--sim", "icarus", "-o", "out"],
          setup=_write("s.v", "module s(; endmodule"), out="out"),
        c("verilog: missing", ["characterize", "--verilog", "in/none.v", "--top", "m", "-o", "out"], out="out"),
        c("verilog: wrong widths", ["characterize", "--verilog", "in/m.v", "--top", "m", "--sim", "icarus",
                                    "-o", "out"], setup=_write("m.v", GOOD_V), out="out"),
        c("verilog: no top", ["characterize", "--verilog", "in/m.v", "-o", "out"], setup=_write("m.v", GOOD_V),
          out="out"),
        c("verilog: good", ["characterize", "--verilog", "in/m.v", "--top", "m", "--a-bits", "3", "--b-bits", "3",
                            "--sim", "icarus", "-o", "out"], (0, 3), setup=_write("m.v", GOOD_V), out="out"),
        # numbers and names
        c("seed -1", ["sim", "baseline", "--seed", "-1"]),
        c("seed 2^32", ["sim", "baseline", "--seed", str(1 << 32)]),
        c("cycles 0", ["sim", "baseline", "--cycles", "0"]),
        c("cycles 2e8", ["sim", "baseline", "--cycles", "200000000"]),
        c("report seed -1", ["report", "--seed", "-1", "-o", "out"], out="out"),
        c("bench seed -1", ["bench", "sim", "--seed", "-1"]),
        c("jobs 0", ["-j", "0", "generate", "baseline", "-o", "out"], out="out"),
        c("jobs x", ["-j", "x", "generate", "baseline", "-o", "out"], out="out"),
        c("unknown simulator", ["sim", "baseline", "--sim", "modelsim"]),
        c("unknown scoreboard", ["sim", "baseline", "--scoreboard", "x", "--sim", "icarus"]),
        c("unknown kind", ["generate", "wallace"]),
        c("unknown option", ["generate", "baseline", "--lanse", "4"]),
        c("no command", [], (2,)),
        c("report: unknown section", ["report", "--only", "nothing", "-o", "out"], out="out"),
        c("report: --all with --only", ["report", "--all", "--only", "strum", "-o", "out"], out="out"),
        c("report: missing liberty", ["report", "--liberty", "in/none.lib", "-o", "out"], out="out"),
        c("synth: missing liberty", ["synth", "baseline", "--lanes", "2", "--liberty", "in/none.lib", "-o", "out"],
          out="out"),
        c("synth: typo liberty keeps results", ["synth", "baseline", "--lanes", "2", "--liberty", "in/typo.lib",
                                                "-o", "in/synth"], (2, 3),
          setup=_setups(earlier_synth, _write("typo.lib", "library (x) { cell (A) { area : 1 ; } }"))),
        c("synth: read-only output", ["synth", "baseline", "--lanes", "2", "-o", "in/ro/x"], (3,), setup=readonly),
        c("generate: read-only output", ["generate", "baseline", "-o", "in/ro/x"], (3,), setup=readonly),
        c("build: read-only", ["sim", "baseline", "--lanes", "2", "--sim", "icarus", "--cycles", "5"], (2, 3),
          setup=readonly, env={"QUANTPE_BUILD": "{dir}/in/ro"}),
        c("build: double quote", ["sim", "baseline", "--lanes", "2", "--sim", "icarus", "--cycles", "5"],
          env={"QUANTPE_BUILD": '{dir}/a"b'}),
        c("build: space with verilator", ["sim", "baseline", "--lanes", "2", "--sim", "verilator", "--cycles", "5"],
          env={"QUANTPE_BUILD": "{dir}/build/my build"}),
        c("design: missing folder", ["sim", "baseline", "--design", "in/none"]),
        c("design: not a generate folder", ["synth", "baseline", "--design", "in"]),
        c("design: with options", ["sim", "baseline", "--design", "in", "--lanes", "2"]),
        c("plan-free model: unknown", ["model", "eval", "nosuchmodel"]),
        c("model import: missing", ["model", "import", "in/none.onnx", "-o", "out"], out="out"),
        c("model import: not onnx", ["model", "import", "in/x.onnx", "-o", "out"],
          setup=_write("x.onnx", b"\x00\x01garbage"), out="out"),
        # plans
        c("plan: bad JSON", ["report", "--plan", "in/p.json", "-o", "out"], setup=_write("p.json", "{x"), out="out"),
        c("plan: not a plan", ["synth", "--plan", "in/p.json"], setup=_write("p.json", "[]")),
        c("plan: wrong schema", ["generate", "--plan", "in/p.json", "-o", "out"],
          setup=_write("p.json", '{"schema": "quantpe.plan/9"}'), out="out"),
        c("plan: missing", ["generate", "--plan", "in/none.json"]),
        c("plan: with a design", ["generate", "--plan", "in/p.json", "baseline"], setup=_write("p.json", "{}")),
        c("plan: unknown model", ["plan", "vgg", "--method", "quantune", "-o", "out.json"]),
        c("plan: unknown method", ["plan", "mlp", "--method", "magic", "-o", "out.json"]),
        c("plan: negative budget", ["plan", "mlp", "--method", "quantune", "--budget", "-1", "-o", "out.json"]),
        c("plan: bad precisions", ["plan", "mlp", "--method", "quantune", "--precisions", "9x9", "-o", "out.json"]),
        c("plan: no output", ["plan", "mlp", "--method", "quantune"]),
        c("report: model without labels", ["report", "--only", "models", "--model", "in/x.onnx", "--model-inputs",
                                           "in/x.npy", "-o", "out"], setup=_write("x.onnx", b"\0"), out="out"),
    ]
    cases += issue31_cases()
    if os.geteuid() == 0:          # root writes into read-only folders: those cases say nothing
        cases = [k for k in cases if "read-only" not in k.name]
    return cases


def issue31_cases() -> list[Case]:
    """The second bad-input probe's reproducers and their classes (numbers, plans, missing
    inputs, a user's Verilog, signals, full disks, output paths, messages)."""
    c = Case
    term, intr = signals.SIGTERM, signals.SIGINT
    plan3 = lambda f: _mlp_plan(f)                       # noqa: E731
    plan2 = lambda f: _mlp_plan(f, drop=1)               # noqa: E731
    q = ["plan", "mlp", "--method"]
    return [
        # numbers: finite, in range, the same bound for the same quantity; no empty list items
        c("31: precisions empty item", [*q, "quantune", "--precisions", "8x8,,", "-o", "p.json"]),
        c("31: precisions empty", [*q, "quantune", "--precisions", "", "-o", "p.json"]),
        c("31: budget nan", [*q, "fames", "--budget", "nan", "--base", "in/plan.json", "-o", "p.json"], setup=plan3),
        c("31: budget inf", [*q, "fames", "--budget", "inf", "-o", "p.json"]),
        c("31: budget -0.5", [*q, "nsga2", "--budget", "-0.5", "-o", "p.json"]),
        c("31: budget 2 for quantune", [*q, "quantune", "--budget", "2", "-o", "p.json"]),
        c("31: precision-budget nan", [*q, "fames", "--precision-budget", "nan", "-o", "p.json"]),
        c("31: pop-size 10^9", [*q, "nsga2", "--pop-size", "1000000000", "-o", "p.json"]),
        c("31: plan seed -1", [*q, "nsga2", "--seed", "-1", "-o", "p.json"]),
        c("31: report --only empty item", ["report", "--only", "strum,,", "-o", "out"], out="out"),
        c("31: approxpe --mul empty item", ["generate", "approxpe", "--mul", "drum:k=3,,", "--no-lint", "-o", "out"],
          out="out"),
        c("31: power cycles 10^12", ["power", "baseline", "--lanes", "2", "--stimulus", "random", "--cycles",
                                     "1000000000000", "-o", "out"], out="out"),
        c("31: power clock nan", ["power", "baseline", "--lanes", "2", "--clock-mhz", "nan", "-o", "out"], out="out"),
        c("31: power seed 2^32", ["power", "baseline", "--seed", str(1 << 32), "-o", "out"], out="out"),
        c("31: bench power cycles 10^6", ["bench", "power", "--cycles", "1000000"]),
        c("31: bench profile scale nan", ["bench", "profile", "--scale", "nan"]),
        c("31: model import a-bits 99", ["model", "import", "in/x.onnx", "--inputs", "in/x.npy", "--a-bits", "99",
                                         "-o", "out"], setup=_write("x.onnx", b"\0"), out="out"),
        c("31: model train epochs -1", ["model", "train", "--epochs", "-1", "-o", "out.npz"]),
        # one plan validator for every command that takes a plan
        c("31: synth --plan, layer deleted", ["synth", "--plan", "in/plan.json"], setup=plan2),
        c("31: generate --plan, layer deleted", ["generate", "--plan", "in/plan.json", "-o", "out"], setup=plan2,
          out="out"),
        c("31: report --plan, layer deleted", ["report", "--plan", "in/plan.json", "-o", "out"], setup=plan2,
          out="out"),
        c("31: plan --base, layer deleted", [*q, "fames", "--base", "in/plan.json", "-o", "p.json"], setup=plan2),
        c("31: synth --plan of another model", ["synth", "--plan", "in/plan.json", "--model", "cnn"], setup=plan3),
        c("31: base for a precision method", [*q, "quantune", "--base", "in/plan.json", "-o", "p.json"],
          setup=plan3),
        # a missing input file: exit 2 with its path, no output folder
        c("31: power missing liberty", ["power", "baseline", "--lanes", "2", "--stimulus", "random", "--cycles", "50",
                                        "--liberty", "in/missing.lib.gz", "-o", "out"], out="out"),
        c("31: plan --base missing", [*q, "fames", "--base", "in/none.json", "-o", "p.json"]),
        c("31: report --plan missing", ["report", "--plan", "in/none.json", "-o", "out"], out="out"),
        c("31: model import inputs missing", ["model", "import", "in/x.onnx", "--inputs", "in/none.npy", "-o", "out"],
          setup=_write("x.onnx", b"\0garbage"), out="out"),
        c("31: characterize liberty missing", ["characterize", "--verilog", "in/m.v", "--top", "m", "--a-bits", "3",
                                               "--b-bits", "3", "--liberty", "in/none.lib", "-o", "out"],
          setup=_write("m.v", GOOD_V), out="out"),
        # a user's broken Verilog: exit 2, one line about the file
        c("31: sim --design syntax error", ["sim", "baseline", "--design", "in/d", "--sim", "verilator",
                                            "--cycles", "20"], setup=_edited_design(append="module junk(; endmodule\n")),
        c("31: sim --design icarus syntax error", ["sim", "baseline", "--design", "in/d", "--sim", "icarus",
                                                   "--cycles", "20"],
          setup=_edited_design(append="module junk(; endmodule\n")),
        c("31: synth --design syntax error", ["synth", "baseline", "--design", "in/d"],
          setup=_edited_design(append="module junk(; endmodule\n")),
        c("31: synth --design emptied", ["synth", "baseline", "--design", "in/d"], setup=_edited_design(text="")),
        c("31: sim --design binary", ["sim", "baseline", "--design", "in/d", "--sim", "icarus"],
          setup=_edited_design(text="\x00\x01\x02")),
        c("31: verilog empty", ["characterize", "--verilog", "in/e.v", "--top", "e", "-o", "out"],
          setup=_write("e.v", ""), out="out"),
        c("31: verilog binary", ["characterize", "--verilog", "in/b.v", "--top", "b", "-o", "out"],
          setup=_write("b.v", b"\x7fELF\x00\x01"), out="out"),
        c("31: verilog not UTF-8", ["characterize", "--verilog", "in/b.v", "--top", "b", "-o", "out"],
          setup=_write("b.v", b"module \xff\xfe"), out="out"),
        c("31: verilog missing module", ["characterize", "--verilog", "in/m.v", "--top", "other", "--a-bits", "3",
                                         "--b-bits", "3", "-o", "out"], setup=_write("m.v", GOOD_V), out="out"),
        c("31: external mults with a loop", ["report", "--only", "approxmul", "--external-mults", "in/x", "-o", "out"],
          setup=_write("x/lp.v", LOOP_V), out="out"),
        c("31: model import empty onnx", ["model", "import", "in/e.onnx", "--inputs", "in/x.npy", "-o", "out"],
          setup=_setups(_write("e.onnx", b""), _write("x.npy", b"")), out="out"),
        # output paths: checked before the work
        c("31: plan -o below a file", [*q, "quantune", "-o", "in/a_file/p.json"], setup=_write("a_file", "x")),
        c("31: plan -o into /proc", [*q, "quantune", "-o", "/proc/quantpe-probe/p.json"], (3,)),
        c("31: plan -o a folder", [*q, "quantune", "-o", "in"]),
        c("31: synth -o below a file", ["synth", "baseline", "--lanes", "2", "-o", "in/a_file/s"],
          setup=_write("a_file", "x")),
        c("31: power -o below a file", ["power", "baseline", "--lanes", "2", "-o", "in/a_file/p"],
          setup=_write("a_file", "x")),
        c("31: model import -o below a file", ["model", "import", "in/x.onnx", "--inputs", "in/x.npy", "-o",
                                               "in/a_file/imp"], setup=_setups(_write("a_file", "x"),
                                                                                _write("x.onnx", b"\0"))),
        c("31: report -o below a file", ["report", "--plan", "in/plan.json", "-o", "in/a_file/r"],
          setup=_setups(_write("a_file", "x"), plan3)),
        # signals: exit 130 within seconds, every descendant ended, no traceback, TMPDIR empty
        c("31: SIGTERM pid in a pool build", ["-j", "2", "plan", "mlp", "--method", "quantune", "-o", "p.json"],
          (130,), signal=("builtin_yosys", term, False), timeout=300),
        c("31: SIGINT group in a pool build", ["-j", "2", "plan", "mlp", "--method", "quantune", "-o", "p.json"],
          (130,), signal=("builtin_yosys", intr, True), timeout=300),
        c("31: SIGTERM pid in a fames build", [*q, "fames", "--base", "in/plan.json", "-o", "p.json"], (130,),
          setup=plan3, signal=("builtin_yosys", term, False), timeout=300),
        c("31: SIGINT group while ABC runs", ["synth", "baseline", "--lanes", "4", "-o", "out"], (130,),
          signal=("abc", intr, True), out="out", timeout=300),
        c("31: SIGTERM pid while ABC runs", ["synth", "baseline", "--lanes", "4", "-o", "out"], (130,),
          signal=("abc", term, False), out="out", timeout=300),
        c("31: SIGINT group in a Verilator build", ["sim", "baseline", "--lanes", "2", "--sim", "verilator",
                                                    "--cycles", "20"], (130,), signal=("make", intr, True),
          timeout=300),
        c("31: SIGTERM pid in a Verilator build", ["sim", "baseline", "--lanes", "2", "--sim", "verilator",
                                                   "--cycles", "20"], (130,), signal=("make", term, False),
          timeout=300),
        c("31: SIGINT group in an Icarus run", ["sim", "baseline", "--lanes", "2", "--sim", "icarus", "--cycles",
                                                "200000"], (130,), signal=("vvp", intr, True), timeout=300),
        c("31: SIGTERM pid in an Icarus run", ["sim", "baseline", "--lanes", "2", "--sim", "icarus", "--cycles",
                                               "200000"], (130,), signal=("vvp", term, False), timeout=300),
        c("31: SIGTERM pid in power's Yosys", ["power", "baseline", "--lanes", "4", "--stimulus", "random",
                                               "--cycles", "50", "-o", "out"], (130,), signal=("yosys -q", term, False),
          out="out", timeout=300),
        # a full disk: exit 3 with the path, earlier results intact, nothing left
        c("31: full disk synth", ["synth", "baseline", "--lanes", "2", "-o", "full/s"], (3,), full=True),
        c("31: full disk synth over earlier", ["synth", "baseline", "--lanes", "2", "-o", "full/earlier"], (3,),
          full=True),
        c("31: full disk generate", ["generate", "baseline", "--lanes", "2", "--no-lint", "-o", "full/g"], (3,),
          full=True),
        c("31: full disk characterize", ["characterize", "--method", "drum", "--k", "3", "--a-bits", "4",
                                         "--b-bits", "4", "-o", "full/c"], (3,), full=True),
        c("31: full disk plan", [*q, "uniform", "--precisions", "8x8", "-o", "full/p.json"], (3,), full=True,
          timeout=300),
        c("31: full disk report --plan", ["report", "--plan", "in/plan.json", "-o", "full/r"], (3,), full=True,
          setup=plan3, timeout=300),
        c("31: full disk build cache", ["sim", "baseline", "--lanes", "2", "--sim", "icarus", "--cycles", "10"],
          (3,), full=True, env={"QUANTPE_BUILD": "{dir}/full/build"}),
        c("31: full disk model import", ["model", "import", "in/mlp.onnx", "--inputs", "in/x.npy", "-o", "full/imp"],
          (3,), full=True, setup=_mlp_onnx),
        c("31: full disk power", ["power", "baseline", "--lanes", "2", "--stimulus", "random", "--cycles", "20",
                                  "-o", "full/p"], (3,), full=True, timeout=300),
    ]


def all_cases() -> list[Case]:
    return named_cases() + field_cases()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", default="", help="run only cases whose name contains this text")
    ap.add_argument("-j", type=int, default=os.cpu_count() or 1, help="cases at a time")
    args = ap.parse_args(argv)
    cases = [c for c in all_cases() if args.k in c.name]
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="quantpe-probe-") as tmp, \
            concurrent.futures.ThreadPoolExecutor(max_workers=args.j) as pool:
        outcomes = list(pool.map(lambda c: run_case(c, Path(tmp)), cases))
    bad = [o for o in outcomes if o.problems]
    for o in bad:
        print(f"FAIL {o.case.name}: exit {o.code}: {'; '.join(o.problems)}")
    by_code: dict = {}
    for o in outcomes:
        by_code[o.code] = by_code.get(o.code, 0) + 1
    print(f"{len(outcomes) - len(bad)}/{len(outcomes)} cases keep the contract "
          f"(exit statuses: {', '.join(f'{k}: {v}' for k, v in sorted(by_code.items(), key=str))}) "
          f"in {time.monotonic() - t0:.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
