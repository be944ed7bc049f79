"""The writer of quantpe's own cell library, `quantpe_cells.lib` (package data of quantpe.synth).

`write_quantpe_liberty(sky130_path, out_path)` writes INV, BUF, NAND2, NOR2, AND2, OR2, XOR2,
XNOR2, MUX2, AOI21, OAI21, MAJ3 and the flip-flops DFF (posedge D), DFFR (async active-low
reset, Q=0), DFFS (async active-low set, Q=1). Every cell's area is the published area of the
named sky130_fd_sc_hd cell (drive strength _1, typical corner) read from the sky130 liberty, and
every cell's function is checked against that sky130 cell by truth table before writing. Input
pin capacitances (capacitance, rise_ and fall_capacitance), cell_leakage_power and the internal
energy of every internal_power group are copied from the same sky130 cells (pins renamed by the
spec's pin map, in related_pin and `when`): an input pin's groups as scalars, the sky130 table at
input slew ENERGY_SLEW_NS; an output's groups as one-dimensional tables over the output load
(sky130's own load axis) at that input slew. The library has no timing tables (Yosys
`dfflibmap`/`stat` and ABC `read_lib`/`map` accept it as it is), so quantpe.power.energy sees
slew 0 everywhere and these tables stand for a typical slew.

Command:  quantpe liberty --sky130 PATH/sky130_fd_sc_hd__tt_025C_1v80.lib.gz [-o FILE]
Imports: `quantpe.golden`, `quantpe.synth.liberty`, `quantpe.synth.cell_power`.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from quantpe.golden.atomic import write_text
from quantpe.golden.errors import QuantpeError
from quantpe.synth.cell_power import cells_power_from_text
from quantpe.synth.liberty import (
    DEFAULT_LIBERTY,
    LibCell,
    parse_cells,
    read_liberty_bytes,
    same_function,
    unquote,
)

__all__ = ["CellSpec", "QUANTPE_CELLS", "ENERGY_SLEW_NS", "render_quantpe_liberty", "write_quantpe_liberty"]


#: Input slew (ns) at which the sky130 internal-energy tables are read for quantpe_cells.lib: the
#: median slew of the driven nets of the 16-lane int8 baseline PE mapped to sky130_fd_sc_hd
#: (0.088 ns; 10th / 90th percentile 0.047 / 0.199 ns; output loads median 7.0 fF).
ENERGY_SLEW_NS = 0.09


_ENERGY_TEMPLATE = "quantpe_energy_load"


@dataclass(frozen=True)
class CellSpec:
    """One cell of quantpe_cells.lib and the sky130_fd_sc_hd cell its area comes from.

    `pin_map` maps our pin names to the sky130 cell's pin names (inputs and the output).
    Combinational cells have `function` (of `inputs`) driving `output`; flip-flops have `ff`
    (clocked_on / next_state / clear / preset over our pin names) and output function "IQ".
    """
    name: str
    sky130: str
    inputs: tuple[str, ...]
    output: str
    pin_map: dict
    function: str | None = None
    ff: dict | None = None
    clock: str | None = None


_C = CellSpec

QUANTPE_CELLS: tuple[CellSpec, ...] = (
    _C("INV", "sky130_fd_sc_hd__inv_1", ("A",), "Y", {"A": "A", "Y": "Y"}, "!A"),
    _C("BUF", "sky130_fd_sc_hd__buf_1", ("A",), "Y", {"A": "A", "Y": "X"}, "A"),
    _C("NAND2", "sky130_fd_sc_hd__nand2_1", ("A", "B"), "Y", {"A": "A", "B": "B", "Y": "Y"}, "!(A&B)"),
    _C("NOR2", "sky130_fd_sc_hd__nor2_1", ("A", "B"), "Y", {"A": "A", "B": "B", "Y": "Y"}, "!(A|B)"),
    _C("AND2", "sky130_fd_sc_hd__and2_1", ("A", "B"), "Y", {"A": "A", "B": "B", "Y": "X"}, "(A&B)"),
    _C("OR2", "sky130_fd_sc_hd__or2_1", ("A", "B"), "Y", {"A": "A", "B": "B", "Y": "X"}, "(A|B)"),
    _C("XOR2", "sky130_fd_sc_hd__xor2_1", ("A", "B"), "Y", {"A": "A", "B": "B", "Y": "X"},
       "((A&!B)|(!A&B))"),
    _C("XNOR2", "sky130_fd_sc_hd__xnor2_1", ("A", "B"), "Y", {"A": "A", "B": "B", "Y": "Y"},
       "((A&B)|(!A&!B))"),
    _C("MUX2", "sky130_fd_sc_hd__mux2_1", ("A", "B", "S"), "Y", {"A": "A0", "B": "A1", "S": "S", "Y": "X"},
       "((A&!S)|(B&S))"),
    _C("AOI21", "sky130_fd_sc_hd__a21oi_1", ("A", "B", "C"), "Y", {"A": "A1", "B": "A2", "C": "B1", "Y": "Y"},
       "!((A&B)|C)"),
    _C("OAI21", "sky130_fd_sc_hd__o21ai_1", ("A", "B", "C"), "Y", {"A": "A1", "B": "A2", "C": "B1", "Y": "Y"},
       "!((A|B)&C)"),
    _C("MAJ3", "sky130_fd_sc_hd__maj3_1", ("A", "B", "C"), "Y", {"A": "A", "B": "B", "C": "C", "Y": "X"},
       "((A&B)|(A&C)|(B&C))"),
    _C("DFF", "sky130_fd_sc_hd__dfxtp_1", ("CLK", "D"), "Q", {"CLK": "CLK", "D": "D", "Q": "Q"},
       ff={"clocked_on": "CLK", "next_state": "D"}, clock="CLK"),
    _C("DFFR", "sky130_fd_sc_hd__dfrtp_1", ("CLK", "D", "RESET_B"), "Q",
       {"CLK": "CLK", "D": "D", "RESET_B": "RESET_B", "Q": "Q"},
       ff={"clocked_on": "CLK", "next_state": "D", "clear": "!RESET_B"}, clock="CLK"),
    _C("DFFS", "sky130_fd_sc_hd__dfstp_1", ("CLK", "D", "SET_B"), "Q",
       {"CLK": "CLK", "D": "D", "SET_B": "SET_B", "Q": "Q"},
       ff={"clocked_on": "CLK", "next_state": "D", "preset": "!SET_B"}, clock="CLK"),
)
del _C


_FF_KEYS = ("clocked_on", "next_state", "clear", "preset")


def _check_against_sky130(spec: CellSpec, cell: LibCell) -> None:
    """Raise QuantpeError unless `cell` (sky130) has the pins and the function of `spec`."""
    inv = {v: k for k, v in spec.pin_map.items()}
    sky_inputs = sorted(cell.inputs)
    ours = sorted(inv.get(p, "?") for p in sky_inputs)
    if ours != sorted(spec.inputs):
        raise QuantpeError(f"{spec.sky130}: inputs {sky_inputs} do not match {spec.name} {list(spec.inputs)}")
    sky_in = [spec.pin_map[p] for p in spec.inputs]
    out = cell.pins.get(spec.pin_map[spec.output])
    if out is None or out.direction != "output" or not out.function:
        raise QuantpeError(f"{spec.sky130}: no output pin {spec.pin_map[spec.output]} with a function")
    if spec.function is not None:
        if cell.is_sequential or not same_function(spec.function, list(spec.inputs), out.function, sky_in):
            raise QuantpeError(f"{spec.sky130}: function {out.function!r} differs from {spec.name} "
                               f"{spec.function!r}")
        return
    if cell.seq_kind != "ff" or cell.seq is None:
        raise QuantpeError(f"{spec.sky130}: not a flip-flop")
    state = cell.seq["_vars"].split(",")[0].strip()
    if unquote(out.function).strip() != state:
        raise QuantpeError(f"{spec.sky130}: output {out.name} is {out.function!r}, not the ff state {state}")
    for key in _FF_KEYS:
        ours_f, theirs = spec.ff.get(key), cell.seq.get(key)
        if (ours_f is None) != (theirs is None):
            raise QuantpeError(f"{spec.sky130}: ff {key} {theirs!r} differs from {spec.name} {ours_f!r}")
        if ours_f is not None and not same_function(ours_f, list(spec.inputs), theirs, sky_in):
            raise QuantpeError(f"{spec.sky130}: ff {key} {theirs!r} differs from {spec.name} {ours_f!r}")
    if cell.pins.get(spec.pin_map[spec.clock]) is None:
        raise QuantpeError(f"{spec.sky130}: no clock pin {spec.pin_map[spec.clock]}")


def _fmt(x: float) -> str:
    return repr(float(x))


def _fmt6(x: float) -> str:
    """An interpolated table value, 6 significant digits."""
    return repr(float(f"{x:.6g}"))


def _renamed(expr: str, names: dict) -> str:
    """`expr` with every pin name replaced by names[pin] (one pass, so swaps are safe)."""
    return re.sub(r"[A-Za-z_]\w*", lambda m: names.get(m.group(), m.group()), expr)


def _energy_lines(arc, names: dict, indent: str, over_load: bool) -> list[str]:
    """One internal_power group of quantpe_cells.lib from a sky130 PowerArc (module docstring)."""
    lines = [f"{indent}internal_power () {{"]
    if arc.related:
        lines.append(f'{indent}  related_pin : "{names.get(arc.related, arc.related)}" ;')
    if arc.when:
        lines.append(f'{indent}  when : "{_renamed(arc.when.strip().strip(chr(34)), names)}" ;')
    for kind, table in (("rise_power", arc.rise), ("fall_power", arc.fall)):
        if table is None:
            continue
        load_axis = [i for i, v in enumerate(table.variables) if "capacitance" in v]
        if over_load and load_axis:
            loads = table.axes[load_axis[0]]
            vals = [table.lookup(slew=ENERGY_SLEW_NS, load=x) for x in loads]
            lines += [f"{indent}  {kind} ({_ENERGY_TEMPLATE}) {{",
                      f'{indent}    index_1 ("{", ".join(_fmt(x) for x in loads)}") ;',
                      f'{indent}    values ("{", ".join(_fmt6(v) for v in vals)}") ;', f"{indent}  }}"]
        else:
            v = table.lookup(slew=ENERGY_SLEW_NS, load=0.0)
            lines += [f"{indent}  {kind} (scalar) {{", f'{indent}    values ("{_fmt6(v)}") ;', f"{indent}  }}"]
    return lines + [f"{indent}}}"]


def render_quantpe_liberty(sky130_text: str, source_name: str, source_sha256: str) -> str:
    """The text of quantpe_cells.lib: areas, input capacitances, leakage and internal energies
    from `sky130_text` (module docstring).
    Long: one liberty text block after another."""
    by_name = {c.name: c for c in parse_cells(sky130_text)}
    power = cells_power_from_text(sky130_text, [spec.sky130 for spec in QUANTPE_CELLS])
    rows = []
    body = []
    for spec in QUANTPE_CELLS:
        cell = by_name.get(spec.sky130)
        if cell is None:
            raise QuantpeError(f"sky130 liberty has no cell {spec.sky130}")
        if cell.area is None or cell.area <= 0:
            raise QuantpeError(f"sky130 cell {spec.sky130} has no positive area")
        _check_against_sky130(spec, cell)
        rows.append((spec.name, cell.area, spec.sky130))
        cp = power[spec.sky130]
        names = {v: k for k, v in spec.pin_map.items()}          # sky130 pin -> ours
        lines = [f"  cell ({spec.name}) {{", f"    area : {_fmt(cell.area)} ;",
                 f"    cell_leakage_power : {_fmt(cp.leakage)} ;"]
        if spec.ff is not None:
            lines.append('    ff ("IQ", "IQN") {')
            for key in _FF_KEYS:
                if key in spec.ff:
                    lines.append(f'      {key} : "{spec.ff[key]}" ;')
            lines.append("    }")
        for pin in spec.inputs:
            cap = cell.pins[spec.pin_map[pin]].capacitance
            lines.append(f"    pin ({pin}) {{")
            lines.append("      direction : input ;")
            if pin == spec.clock:
                lines.append("      clock : true ;")
            if cap is not None:
                lines.append(f"      capacitance : {_fmt(cap)} ;")
            sky_pin = spec.pin_map[pin]
            if sky_pin in cp.pin_cap_rf:
                r, f = cp.pin_cap_rf[sky_pin]
                lines += [f"      rise_capacitance : {_fmt(r)} ;", f"      fall_capacitance : {_fmt(f)} ;"]
            for arc in cp.in_power.get(sky_pin, []):
                lines += _energy_lines(arc, names, "      ", False)
            lines.append("    }")
        func = spec.function if spec.function is not None else "IQ"
        lines += [f"    pin ({spec.output}) {{", "      direction : output ;", f'      function : "{func}" ;']
        for arc in cp.out_arcs.get(spec.pin_map[spec.output], []):
            lines += _energy_lines(arc, names, "      ", True)
        lines += ["    }", "  }"]
        body.append("\n".join(lines))
    table = "\n".join(f"   {n:<6} {a:>10.4f}  {s}" for n, a, s in rows)
    header = f"""/*
 * quantpe_cells.lib -- quantpe's small standard-cell library for area and energy estimates.
 * GENERATED by `quantpe liberty --sky130 <sky130 liberty>`; do not edit by hand.
 *
 * Cell areas (um^2) are the published areas of the named cells of the open SkyWater
 * sky130_fd_sc_hd library (Apache-2.0), drive strength _1, read from
 *   {source_name}
 *   sha256 of that file as stored: {source_sha256}
 * Each cell's function (or ff description) was checked against the sky130 cell by truth table.
 * Input pin capacitances (pF), cell_leakage_power (nW) and internal energies (pJ) are copied
 * from the same cells: input-pin groups as scalars read at input slew {ENERGY_SLEW_NS} ns, output
 * groups as tables over the output load at that slew (quantpe.synth.cell_library.ENERGY_SLEW_NS). No timing
 * tables: Yosys and ABC accept the library as it is; quantpe's flow maps for area (ABC `map -a`).
 *
 *   cell         area  from sky130_fd_sc_hd
{table}
 */
"""
    lib = """library (quantpe_cells) {
  technology (cmos) ;
  delay_model : table_lookup ;
  time_unit : "1ns" ;
  voltage_unit : "1V" ;
  current_unit : "1mA" ;
  pulling_resistance_unit : "1kohm" ;
  leakage_power_unit : "1nW" ;
  capacitive_load_unit (1, pf) ;
  nom_process : 1.0 ;
  nom_temperature : 25.0 ;
  nom_voltage : 1.8 ;
  default_inout_pin_cap : 0.0 ;
  default_input_pin_cap : 0.0 ;
  default_output_pin_cap : 0.0 ;
  default_fanout_load : 1.0 ;
  power_lut_template (""" + _ENERGY_TEMPLATE + """) {
    variable_1 : total_output_net_capacitance ;
    index_1 ("0.001, 0.01") ;
  }

""" + "\n\n".join(body) + "\n}\n"
    return header + lib


def write_quantpe_liberty(sky130_path: Path | str, out_path: Path | str = DEFAULT_LIBERTY) -> Path:
    """Generate quantpe_cells.lib from the sky130_fd_sc_hd liberty at `sky130_path` (.lib or .gz).

    Written atomically (temporary name, then rename). Returns the output path.
    """
    sky130_path, out_path = Path(sky130_path), Path(out_path)
    raw, data = read_liberty_bytes(sky130_path)
    text = data.decode("utf-8", errors="replace")
    content = render_quantpe_liberty(text, sky130_path.name, hashlib.sha256(raw).hexdigest())
    return write_text(out_path, content)
