"""Gate netlists for simulation and STA: `build_gate_netlist` maps a design to a liberty with the
STA/simulation-ready recipe (one Yosys run through `quantpe.synth.yosys.run_yosys`), and
`GateNetlist` reads the mapped netlist's Yosys JSON (cells, their pin connections, the ports).

Recipe: synth -noabc -flatten; dfflibmap -liberty L; abc -script ABC_SCRIPT -liberty L;
opt_clean; setundef -zero; splitnets; opt_clean -purge; hilomap -singleton (tie cell);
insbuf -buf (smallest buffer); opt_clean -purge; write_verilog -noattr -noexpr -nohex -nodec
netlist.v; netlist.v is read back (the liberty cells as blackboxes) and written as netlist.json
(same names), and cells.v = the used cells' Verilog models written by Yosys from the liberty
(`read_liberty -ignore_miss_func`), for event-driven simulators and `sta`.
Imports: `quantpe.golden`, `quantpe.synth`.
"""
from __future__ import annotations

import functools
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from quantpe.golden.atomic import write_text
from quantpe.golden.errors import QuantpeError
from quantpe.synth.area import ABC_SCRIPT, file_sha256, prepare_liberty
from quantpe.synth.liberty import sky130_path
from quantpe.synth.yosys import run_yosys


@dataclass
class GateNetlist:
    """A flat mapped netlist: nets 0..n_nets-1 (net 0 = constant 0, net 1 = constant 1).

    cells: (instance name, cell type, {pin: net}); ports: name -> (direction, [net per bit,
    LSB first]); names: net -> a readable name (a port bit `a[3]`, else the Yosys net name).
    """
    top: str
    n_nets: int
    cells: list[tuple[str, str, dict[str, int]]]
    ports: dict[str, tuple[str, list[int]]]
    names: list[str]

    @classmethod
    def from_yosys_json(cls, path: Path | str, top: str) -> GateNetlist:
        data = json.loads(Path(path).read_text())
        mod = data.get("modules", {}).get(top)
        if mod is None:
            raise QuantpeError(f"netlist {path} has no module {top!r}")
        ids: dict = {"0": 0, "1": 1, "x": 0, "z": 0}
        names = ["1'b0", "1'b1"]

        def nid(bit) -> int:
            if bit not in ids:
                ids[bit] = len(names)
                names.append(f"n{bit}")
            return ids[bit]

        ports = {}
        for pname, p in mod["ports"].items():
            nets = [nid(b) for b in p["bits"]]
            ports[pname] = (p["direction"], nets)
            for i, n in enumerate(nets):
                names[n] = pname if len(nets) == 1 else f"{pname}[{i}]"
        port_named = {n for _, nets in ports.values() for n in nets}
        for nname, info in sorted(mod.get("netnames", {}).items(), key=lambda kv: kv[1].get("hide_name", 0)):
            bits = info["bits"]
            for i, b in enumerate(bits):
                if isinstance(b, int):
                    n = nid(b)
                    if n not in port_named and names[n].startswith("n"):
                        names[n] = nname if len(bits) == 1 else f"{nname}[{i}]"
                        port_named.add(n)
        cells = []
        for cname, c in mod["cells"].items():
            conns = {}
            for pin, bits in c["connections"].items():
                if len(bits) != 1:
                    raise QuantpeError(f"cell {cname}: pin {pin} has {len(bits)} bits (not a flat netlist)")
                conns[pin] = nid(bits[0])
            cells.append((cname, c["type"], conns))
        return cls(top, len(names), cells, ports, names)

    @property
    def cell_types(self) -> set[str]:
        return {t for _, t, _ in self.cells}


TIE_CELL = ("sky130_fd_sc_hd__conb_1", "HI", "LO")


BUF_CELL = ("sky130_fd_sc_hd__buf_2", "A", "X")


@functools.lru_cache(maxsize=8)
def _liberty_digest(path: str, mtime_ns: int, size: int) -> str:
    """The liberty's content SHA-256 (the netlist key: a copied or re-provisioned PDK keeps it)."""
    return file_sha256(Path(path))


def build_gate_netlist(verilog: Path, top: str, out_dir: Path, liberty: Path | None = None) -> dict:
    """Map `top` to `liberty` with the STA/simulation-ready recipe (module docstring).

    Writes out_dir/{netlist.v, netlist.json, cells.v, build.key} (the filtered liberty copy Yosys
    maps to is removed afterwards); returns their paths, the liberty, the top, the build time, the
    build key (`stamp`) and
    `cached` (True: an earlier build with the same Verilog, liberty and recipe was reused). The
    tie cell and buffer are sky130's above, or for another liberty (e.g. the built-in
    quantpe_cells.lib) its own (`_tie_and_buf`).
    """
    liberty = sky130_path() if liberty is None else liberty
    t0 = time.monotonic()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    liberty = Path(liberty).resolve()
    # the key ignores // comment lines (the generator header names the git revision and tools)
    body = "\n".join(ln for ln in Path(verilog).read_text().splitlines() if not ln.lstrip().startswith("//"))
    st = liberty.stat()
    key = hashlib.sha256("\0".join([body, _liberty_digest(str(liberty), st.st_mtime_ns, st.st_size),
                                     top, ABC_SCRIPT, repr(TIE_CELL), repr(BUF_CELL)]).encode()).hexdigest()
    paths = {"netlist_v": out_dir / "netlist.v", "netlist_json": out_dir / "netlist.json",
             "cells_v": out_dir / "cells.v", "liberty": liberty, "top": top}
    stamp = out_dir / "build.key"
    files = [paths[k] for k in ("netlist_v", "netlist_json", "cells_v")]
    if stamp.exists() and stamp.read_text() == key and all(f.exists() for f in files):
        return {**paths, "build_s": time.monotonic() - t0, "cached": True, "stamp": key}
    stamp.unlink(missing_ok=True)
    lib = prepare_liberty(liberty, out_dir)
    tie, buf = _tie_and_buf(lib["cells"], liberty)
    hilo = (f"hilomap -singleton -hicell {tie[0]} {tie[1]} -locell {tie[0]} {tie[2]}" if tie
            else "# no tie cell: constants stay constant nets")
    libn = lib["mapped_path"].name
    _yosys(f"""read_verilog -sv "{Path(verilog).resolve()}"
hierarchy -check -top {top}
synth -noabc -flatten -top {top}
dfflibmap -liberty {libn}
abc -script {ABC_SCRIPT} -liberty {libn}
opt_clean
setundef -zero
splitnets
opt_clean -purge
{hilo}
insbuf -buf {' '.join(buf)}
opt_clean -purge
write_verilog -noattr -noexpr -nohex -nodec netlist.v
design -reset
read_liberty -lib {libn}
read_verilog netlist.v
hierarchy -top {top}
write_json netlist.json
""", out_dir)
    nl = GateNetlist.from_yosys_json(out_dir / "netlist.json", top)
    sel = " ".join(sorted(nl.cell_types))
    _yosys(f"read_liberty -ignore_miss_func {libn}\nselect {sel}\nwrite_verilog -selected -noattr cells.v\n",
           out_dir)
    lib["mapped_path"].unlink(missing_ok=True)          # a 12 MB copy, only Yosys needs it
    write_text(stamp, key)
    return {**paths, "build_s": time.monotonic() - t0, "cached": False, "stamp": key}


def _tie_and_buf(cells: dict, liberty: Path) -> tuple[tuple | None, tuple]:
    """(tie cell, buffer) of the power recipe: sky130's TIE_CELL and BUF_CELL when the liberty has
    them; otherwise no tie cell (constants stay constant nets) unless a cell with no inputs drives
    1 and 0, and the smallest-area single-input cell whose output is its input."""
    if TIE_CELL[0] in cells and BUF_CELL[0] in cells:
        return TIE_CELL, BUF_CELL
    tie = buf = None
    for c in sorted(cells.values(), key=lambda c: (c.area or 0.0, c.name)):
        outs = c.outputs
        funcs = {(o.function or "").strip().strip('"'): o.name for o in outs}
        if tie is None and not c.inputs and not c.is_sequential and {"1", "0"} <= set(funcs):
            tie = (c.name, funcs["1"], funcs["0"])
        if (buf is None and len(c.inputs) == 1 and len(outs) == 1 and not c.is_sequential
                and (outs[0].function or "").strip().strip('"') == c.inputs[0]):
            buf = (c.name, c.inputs[0], outs[0].name)
    if buf is None:
        raise QuantpeError(f"liberty {liberty} has no usable buffer cell (needed by the power flow)")
    return tie, buf


def _yosys(script: str, cwd: Path, timeout: float = 1800.0) -> None:
    """Run a Yosys script in `cwd` through the synthesis flow's runner (`quantpe.synth.area.run_yosys`)."""
    (cwd / "power.ys").write_text(script)
    run_yosys(cwd / "power.ys", cwd, cwd / "yosys.log", timeout)
