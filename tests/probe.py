"""The CLI probe: `make probe` (not part of `make test`) runs a few hundred bad-input, fault and
control cases against the installed `quantpe` command, each in a fresh working folder, and checks
the README's contract on every one:

- the exit status is the expected one (0, 1, 2, 3 ...) and no output holds a Python traceback;
- for 2 and 3, stderr is exactly one line starting with `quantpe: error:`;
- nothing is left outside the output folder the case names and the build cache (no stray files,
  no hidden `.quantpe-*` / `.stage-*` / `.synth-*` folders, no empty output folder after a failure);
- files that existed before a failing case are unchanged after it.

Cases are generated from the registry (every kind, every config field, malformed values) plus
named cases for files, folders, tools and interrupts. Prints one line per failing case and a
summary; exits 1 if any case breaks the contract. `python tests/probe.py -k TEXT` runs the cases
whose name contains TEXT; `-j N` runs N at a time.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import hashlib
import os
import shutil
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
    allowed = ("build", "in", case.out) if case.out else ("build", "in")
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


def run_case(case: Case, root: Path) -> Outcome:
    folder = Path(tempfile.mkdtemp(prefix="case-", dir=root))
    (folder / "in").mkdir()
    if case.setup is not None:
        case.setup(folder)
    before = _snapshot(folder)
    env = {**os.environ, "QUANTPE_BUILD": str(folder / "build"), **case.env}
    args = [str(a).replace("{dir}", str(folder)) for a in case.args]
    t0 = time.monotonic()
    try:
        r = subprocess.run([*QUANTPE, *args], cwd=folder, env=env, capture_output=True, text=True,
                           timeout=case.timeout, errors="replace")
        code, out, err = r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired:
        code, out, err = None, "", "timeout"
    problems = check(case, code, out, err, before, _snapshot(folder))
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
    from quantpe.kinds import KINDS, config_class
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
        c("synth: read-only output", ["synth", "baseline", "--lanes", "2", "-o", "in/ro/x"], setup=readonly),
        c("generate: read-only output", ["generate", "baseline", "-o", "in/ro/x"], setup=readonly),
        c("build: read-only", ["sim", "baseline", "--lanes", "2", "--sim", "icarus", "--cycles", "5"],
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
        c("plan: unknown model", ["plan", "resnet", "--method", "quantune", "-o", "out.json"]),
        c("plan: unknown method", ["plan", "mlp", "--method", "magic", "-o", "out.json"]),
        c("plan: negative budget", ["plan", "mlp", "--method", "quantune", "--budget", "-1", "-o", "out.json"]),
        c("plan: bad precisions", ["plan", "mlp", "--method", "quantune", "--precisions", "9x9", "-o", "out.json"]),
        c("plan: no output", ["plan", "mlp", "--method", "quantune"]),
        c("report: model without labels", ["report", "--only", "models", "--model", "in/x.onnx", "--model-inputs",
                                           "in/x.npy", "-o", "out"], setup=_write("x.onnx", b"\0"), out="out"),
    ]
    if os.geteuid() == 0:          # root writes into read-only folders: those cases say nothing
        cases = [k for k in cases if "read-only" not in k.name]
    return cases


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
