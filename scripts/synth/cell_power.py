"""A liberty's power and timing tables per cell (`PowerLibrary.read(path, cell_types)`), with the
units of the library header (time_unit, capacitive_load_unit, voltage_unit, leakage_power_unit;
internal-power tables are energies in capacitive_load_unit * voltage_unit^2, i.e. pJ for sky130).
Tables are interpolated bilinearly and extrapolated linearly beyond their axes (OpenSTA's rule).
`liberty_without_wire_load` writes a copy without `default_wire_load` (for `sta`).
Imports: `quantpe.golden`, `quantpe.synth.liberty`.
"""
from __future__ import annotations

import bisect
import functools
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from quantpe.golden.errors import QuantpeError
from quantpe.synth.liberty import (
    LibGroup,
    brace_map,
    group_tree,
    library_group,
    parse_cells,
    read_liberty_text,
)

__all__ = ["Table", "PowerArc", "TimingArc", "CellPower", "PowerLibrary", "cells_power_from_text",
           "liberty_without_wire_load"]


_UNIT = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "ps": 1e-12, "fs": 1e-15,
         "w": 1.0, "mw": 1e-3, "uw": 1e-6, "nw": 1e-9, "pw": 1e-12, "fw": 1e-15,
         "f": 1.0, "mf": 1e-3, "uf": 1e-6, "nf": 1e-9, "pf": 1e-12, "ff": 1e-15,
         "v": 1.0, "mv": 1e-3}


def _unit(text: str | None, default: float) -> float:
    """'1ns' -> 1e-9, '1nW' -> 1e-9 (SI value of one library unit)."""
    if not text:
        return default
    import re
    m = re.fullmatch(r"\s*([0-9.eE+-]*)\s*([A-Za-z]+)\s*", text)
    if m is None or m.group(2).lower() not in _UNIT:
        raise QuantpeError(f"liberty: unknown unit {text!r}")
    return float(m.group(1) or 1) * _UNIT[m.group(2).lower()]


def _floats(items: list[str]) -> list[float]:
    out = []
    for s in items:
        out += [float(x) for x in s.replace(",", " ").split()]
    return out


@dataclass
class Table:
    """A liberty lookup table: values over up to two axes named by the template's variables."""
    variables: tuple[str, ...]
    axes: tuple[tuple[float, ...], ...]
    values: np.ndarray

    @staticmethod
    def _seg(axis, x):
        n = len(axis)
        if n == 1:
            return 0, 0.0
        if x <= axis[0]:
            i = 0
        elif x >= axis[-1]:
            i = n - 2
        else:
            i = bisect.bisect_right(axis, x) - 1
        return i, (x - axis[i]) / (axis[i + 1] - axis[i])

    def lookup(self, **point: float) -> float:
        """Value at `point` (variable name -> value); linear inter- and extrapolation."""
        xs = [point[_canon(v)] for v in self.variables]
        if not self.axes:
            return float(self.values.reshape(-1)[0])
        if len(self.axes) == 1:
            i, f = self._seg(self.axes[0], xs[0])
            v = self.values.reshape(-1)
            return float(v[i] if len(v) == 1 else (1 - f) * v[i] + f * v[i + 1])
        (i, f), (j, g) = self._seg(self.axes[0], xs[0]), self._seg(self.axes[1], xs[1])
        v = self.values
        if v.shape[0] == 1:
            i, f = 0, 0.0
        if v.shape[1] == 1:
            j, g = 0, 0.0
        i1, j1 = min(i + 1, v.shape[0] - 1), min(j + 1, v.shape[1] - 1)
        return float((1 - f) * (1 - g) * v[i, j] + f * (1 - g) * v[i1, j] + f * g * v[i1, j1]
                     + (1 - f) * g * v[i, j1])


def _canon(variable: str) -> str:
    """Template variable -> 'slew' | 'load'."""
    if "transition" in variable:
        return "slew"
    if "capacitance" in variable:
        return "load"
    raise QuantpeError(f"liberty: table variable {variable!r} not supported")


@dataclass
class PowerArc:
    """One internal_power group: `related` input pin (None on input pins), `when` condition."""
    related: str | None
    when: str | None
    rise: Table | None
    fall: Table | None

    def energy(self, slew_rise: float, slew_fall: float, load_rise: float = 0.0,
               load_fall: float | None = None) -> float:
        """(rise + fall) / 2, each table at its own slew and load (energy units of the library)."""
        load_fall = load_rise if load_fall is None else load_fall
        vals = [t.lookup(slew=s, load=c) for t, s, c in ((self.rise, slew_rise, load_rise),
                                                          (self.fall, slew_fall, load_fall)) if t is not None]
        return sum(vals) / len(vals) if vals else 0.0


@dataclass
class TimingArc:
    related: str
    sense: str            # positive_unate | negative_unate | non_unate
    kind: str             # timing_type (combinational, rising_edge, ...)
    rise_transition: Table | None
    fall_transition: Table | None
    cell_rise: Table | None = None
    cell_fall: Table | None = None


@dataclass
class CellPower:
    """The power-relevant part of one liberty cell."""
    name: str
    leakage: float                                     # cell_leakage_power, library units
    pin_cap: dict[str, float]                          # input pin -> capacitance (library units)
    pin_cap_rf: dict[str, tuple[float, float]]         # input pin -> (rise_, fall_capacitance)
    directions: dict[str, str]
    functions: dict[str, str]                          # output pin -> function
    clock_pins: set[str]
    out_arcs: dict[str, list[PowerArc]] = field(default_factory=dict)
    in_power: dict[str, list[PowerArc]] = field(default_factory=dict)
    timing: dict[str, list[TimingArc]] = field(default_factory=dict)
    ff: dict | None = None                             # clocked_on, next_state, clear, preset, vars

    @property
    def inputs(self) -> list[str]:
        return [p for p, d in self.directions.items() if d == "input"]

    @property
    def outputs(self) -> list[str]:
        return [p for p, d in self.directions.items() if d == "output"]


class PowerLibrary:
    """Cells of a liberty with their energy tables, timing transition tables and leakage."""

    def __init__(self, path: Path, voltage: float, time_unit: float, cap_unit: float, leak_unit: float,
                 cells: dict[str, CellPower]):
        self.path, self.voltage, self.cells = path, voltage, cells
        self.time_unit, self.cap_unit, self.leak_unit = time_unit, cap_unit, leak_unit
        self.energy_unit = cap_unit * 1.0 ** 2          # cap_unit * volt_unit^2 (volt_unit = 1 V)

    @classmethod
    def read(cls, path: Path | str, cells=None) -> PowerLibrary:
        """Read `path` (.lib or .lib.gz); `cells` limits the cells parsed (names), None = all."""
        path = Path(path)
        text, braces, lib, all_cells = _parsed(str(path.resolve()), path.stat().st_mtime_ns)
        templates = _templates(lib)
        volt_unit = _unit(lib.attrs.get("voltage_unit"), 1.0)
        cu = lib.complex.get("capacitive_load_unit")
        cap_unit = float(cu[0]) * _UNIT[cu[1].lower()] if cu else 1e-12
        voltage = None
        default_oc = lib.attrs.get("default_operating_conditions")
        for g in lib.groups("operating_conditions"):
            if default_oc is None or g.args == [default_oc]:
                voltage = float(g.attrs["voltage"]) if "voltage" in g.attrs else None
                break
        if voltage is None:
            voltage = float(lib.attrs.get("nom_voltage", "nan"))
        if not math.isfinite(voltage):
            raise QuantpeError(f"liberty {path.name}: no supply voltage "
                               "(operating_conditions or nom_voltage)")
        want = None if cells is None else set(cells)
        out = {}
        for c in all_cells:
            if want is not None and c.name not in want:
                continue
            out[c.name] = _cell_power(group_tree(text, c.span, braces), templates, c)
        if want is not None and want - set(out):
            raise QuantpeError(f"liberty {path.name} has no cell(s) {', '.join(sorted(want - set(out)))}")
        return cls(path, voltage * volt_unit, _unit(lib.attrs.get("time_unit"), 1e-9), cap_unit,
                   _unit(lib.attrs.get("leakage_power_unit"), 1e-9), out)


def _templates(lib: LibGroup) -> dict[str, tuple[str, ...]]:
    """Table template name -> its variable names, from the library group."""
    return {g.args[0]: tuple(g.attrs[k] for k in ("variable_1", "variable_2", "variable_3") if k in g.attrs)
            for g in lib.children if g.kind.endswith("template") and g.args}


def cells_power_from_text(text: str, names) -> dict[str, CellPower]:
    """CellPower of the cells `names` of the liberty `text` (what PowerLibrary.read parses)."""
    braces = brace_map(text)
    templates = _templates(library_group(text, braces))
    want = set(names)
    return {c.name: _cell_power(group_tree(text, c.span, braces), templates, c)
            for c in parse_cells(text) if c.name in want}


@functools.lru_cache(maxsize=4)
def _parsed(path: str, mtime_ns: int):
    """(text, brace map, library group, cells) of a liberty file, cached per path and mtime."""
    text = read_liberty_text(path)
    braces = brace_map(text)
    return text, braces, library_group(text, braces), parse_cells(text)


def _table(g: LibGroup, templates) -> Table:
    var = templates.get(g.args[0], ()) if g.args else ()
    axes = tuple(tuple(_floats(g.complex[k])) for k in ("index_1", "index_2") if k in g.complex)
    vals = np.array(_floats(g.complex.get("values", ["0"])), dtype=float)
    if not axes and g.args and g.args[0] != "scalar":
        raise QuantpeError(f"liberty: table {g.kind} without index (template {g.args[0]})")
    if axes:
        shape = tuple(len(a) for a in axes)
        if vals.size != int(np.prod(shape)):
            raise QuantpeError(f"liberty: table {g.kind} has {vals.size} values for axes {shape}")
        vals = vals.reshape(shape)
    return Table(tuple(var[:len(axes)]), axes, vals)


def _power_arc(g: LibGroup, templates) -> PowerArc:
    rise = [_table(t, templates) for t in g.groups("rise_power")]
    fall = [_table(t, templates) for t in g.groups("fall_power")]
    return PowerArc(g.attrs.get("related_pin"), g.attrs.get("when"), rise[0] if rise else None,
                    fall[0] if fall else None)


def _cell_power(g: LibGroup, templates, cell) -> CellPower:
    cp = CellPower(cell.name, float(g.attrs.get("cell_leakage_power", 0.0)), {}, {}, {}, {}, set())
    for pin in [p for p in g.children if p.kind == "pin"] + [p for b in g.children if b.kind == "bus"
                                                              for p in b.groups("pin")]:
        for name in pin.args:
            d = pin.attrs.get("direction", "").lower()
            cp.directions[name] = d
            if "capacitance" in pin.attrs:
                c = cp.pin_cap[name] = float(pin.attrs["capacitance"])
                cp.pin_cap_rf[name] = (float(pin.attrs.get("rise_capacitance", c)),
                                       float(pin.attrs.get("fall_capacitance", c)))
            if pin.attrs.get("clock", "false").lower() == "true":
                cp.clock_pins.add(name)
            if "function" in pin.attrs:
                cp.functions[name] = pin.attrs["function"]
            arcs = [_power_arc(ip, templates) for ip in pin.groups("internal_power")]
            if d == "output":
                cp.out_arcs[name] = [a for a in arcs if a.related]
                tims = []
                for t in pin.groups("timing"):
                    rt, ft = t.groups("rise_transition"), t.groups("fall_transition")
                    cr, cf = t.groups("cell_rise"), t.groups("cell_fall")
                    for rel in t.attrs.get("related_pin", "").split():
                        tims.append(TimingArc(rel, t.attrs.get("timing_sense", "non_unate"),
                                              t.attrs.get("timing_type", "combinational"),
                                              _table(rt[0], templates) if rt else None,
                                              _table(ft[0], templates) if ft else None,
                                              _table(cr[0], templates) if cr else None,
                                              _table(cf[0], templates) if cf else None))
                cp.timing[name] = tims
            elif arcs:
                cp.in_power[name] = arcs
    for s in g.children:
        if s.kind in ("ff", "latch"):
            cp.ff = dict(s.attrs, kind=s.kind, vars=tuple(s.args))
        elif s.kind in ("ff_bank", "latch_bank", "statetable"):
            cp.ff = dict(s.attrs, kind=s.kind, vars=tuple(s.args))
    return cp


def liberty_without_wire_load(src: Path | str, dst: Path | str) -> Path:
    """Copy a liberty (.lib or .gz) as plain text without its `default_wire_load` attribute, so
    that OpenSTA uses the same zero-wire loads as this model (for the replay validation)."""
    import re
    text = read_liberty_text(src)
    dst = Path(dst)
    tmp = dst.with_name(dst.name + ".tmp")
    tmp.write_text(re.sub(r"^\s*default_wire_load\s*:[^;]*;", "", text, flags=re.M))
    tmp.replace(dst)
    return dst
