"""Liberty (.lib) files: a small reader, and the writer of quantpe's own cell library.

Reader
    `read_liberty_text(path)` returns the text of a `.lib` or gzip-compressed `.lib.gz` file.
    `parse_cells(text)` returns one `LibCell` per `cell (...) { ... }` group of the library
    (name, area, pins with direction and function, `ff`/`latch` attributes, `dont_use`, the span
    of the group in the text). It is a structural scanner (braces matched outside comments and
    strings), fast enough for the 12 MB sky130_fd_sc_hd file; it never builds the timing tables.
    `truth_table(expr, inputs)` evaluates a liberty boolean `function` string.

Writer
    `write_quantpe_liberty(sky130_path, out_path)` writes the project's small library
    `scripts/quantpe_cells.lib`: INV, BUF, NAND2, NOR2, AND2, OR2, XOR2, XNOR2, MUX2, AOI21,
    OAI21, MAJ3 and the flip-flops DFF (posedge D), DFFR (async active-low reset, Q=0),
    DFFS (async active-low set, Q=1). Every cell's area is the published area of the named
    sky130_fd_sc_hd cell (drive strength _1, typical corner) read from the sky130 liberty, and
    every cell's function is checked against that sky130 cell by truth table before writing.
    Input pin capacitances (capacitance, rise_ and fall_capacitance), cell_leakage_power and the
    internal energy of every internal_power group are copied from the same sky130 cells (pins
    renamed by the spec's pin map, in related_pin and `when`): an input pin's groups as scalars,
    the sky130 table at input slew ENERGY_SLEW_NS; an output's groups as one-dimensional tables
    over the output load (sky130's own load axis) at that input slew. The library has no timing
    tables (Yosys `dfflibmap`/`stat` and ABC `read_lib`/`map` accept it as it is), so
    quantpe.energy sees slew 0 everywhere and these tables stand for a typical slew.

Command:  quantpe liberty --sky130 PATH/sky130_fd_sc_hd__tt_025C_1v80.lib.gz
                                     [-o scripts/quantpe_cells.lib]
"""
from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from quantpe.golden.errors import QuantpeError

__all__ = ["LibCell", "LibPin", "CellSpec", "QUANTPE_CELLS", "DEFAULT_LIBERTY", "read_liberty_bytes",
           "read_liberty_text", "parse_cells", "LibGroup", "group_tree", "library_group", "truth_table",
           "same_function", "render_quantpe_liberty", "write_quantpe_liberty"]

#: The committed library written by this module (inside the `quantpe` package, i.e. scripts/).
DEFAULT_LIBERTY = Path(__file__).resolve().with_name("quantpe_cells.lib")
#: Input slew (ns) at which the sky130 internal-energy tables are read for quantpe_cells.lib: the
#: median slew of the driven nets of the 16-lane int8 baseline PE mapped to sky130_fd_sc_hd
#: (0.088 ns; 10th / 90th percentile 0.047 / 0.199 ns; output loads median 7.0 fF).
ENERGY_SLEW_NS = 0.09
_ENERGY_TEMPLATE = "quantpe_energy_load"

# ----------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------


def read_liberty_bytes(path: Path | str) -> tuple[bytes, bytes]:
    """(file bytes as stored, liberty bytes) -- the second is gunzipped if the file is gzip."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise QuantpeError(f"liberty file not found: {path}") from None
    except OSError as exc:
        raise QuantpeError(f"cannot read liberty file {path}: {exc.strerror or exc}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return raw, gzip.decompress(raw)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise QuantpeError(f"cannot decompress liberty file {path}: {exc}") from None
    return raw, raw


def read_liberty_text(path: Path | str) -> str:
    """Text of a liberty file (`.lib`, or gzip-compressed whatever its suffix)."""
    _, data = read_liberty_bytes(path)
    text = data.decode("utf-8", errors="replace")
    if not re.search(r"\blibrary\s*\(", text):
        raise QuantpeError(f"not a liberty file (no library group): {path}")
    return text


# Tokens that matter for brace matching: comments and strings are skipped whole.
_BRACE_TOKENS = re.compile(r'/\*.*?\*/|"(?:[^"\\\n]|\\.)*"|[{}]', re.S)
_GROUP_HEAD = re.compile(r'([A-Za-z_][\w.]*)\s*\(([^(){};]*)\)\s*\{')
_SIMPLE_ATTR = re.compile(r'([A-Za-z_][\w.]*)\s*:\s*("(?:[^"\\]|\\.)*"|[^;\n]*?)\s*(?:;|\n)')


def _brace_map(text: str) -> dict[int, int]:
    """Offset of every '{' (outside comments/strings) -> offset of its matching '}'."""
    stack: list[int] = []
    match: dict[int, int] = {}
    for m in _BRACE_TOKENS.finditer(text):
        tok = m.group()
        if tok == "{":
            stack.append(m.start())
        elif tok == "}":
            if not stack:
                raise QuantpeError(f"liberty syntax error: unmatched '}}' at offset {m.start()}")
            match[stack.pop()] = m.start()
    if stack:
        raise QuantpeError(f"liberty syntax error: unclosed '{{' at offset {stack[-1]}")
    return match


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@dataclass
class _Group:
    """One liberty group: `kind (args) { ... }` spanning text[start:end] (end after '}')."""
    kind: str
    args: list[str]
    start: int
    body_start: int
    body_end: int

    @property
    def end(self) -> int:
        return self.body_end + 1


def _children(text: str, braces: dict[int, int], lo: int, hi: int) -> tuple[list[_Group], str]:
    """Groups directly inside text[lo:hi], and that text with the child groups cut out."""
    groups: list[_Group] = []
    flat: list[str] = []
    pos = lo
    while True:
        m = _GROUP_HEAD.search(text, pos, hi)
        if m is None:
            flat.append(text[pos:hi])
            break
        brace = m.end() - 1
        if brace not in braces:          # the '{' is inside a comment or a string
            flat.append(text[pos:m.end()])
            pos = m.end()
            continue
        close = braces[brace]
        args = [_unquote(a) for a in m.group(2).split(",")] if m.group(2).strip() else []
        groups.append(_Group(m.group(1), args, m.start(), brace + 1, close))
        flat.append(text[pos:m.start()])
        pos = close + 1
    return groups, re.sub(r"/\*.*?\*/", " ", "".join(flat), flags=re.S)


def _attrs(flat: str) -> dict[str, str]:
    return {m.group(1): _unquote(m.group(2)) for m in _SIMPLE_ATTR.finditer(flat + "\n")}


@dataclass
class LibPin:
    name: str
    direction: str
    function: str | None = None
    capacitance: float | None = None
    clock: bool = False


@dataclass
class LibCell:
    """A cell group of a liberty file (enough for mapping decisions and area accounting)."""
    name: str
    area: float | None
    pins: dict[str, LibPin]
    attrs: dict[str, str]
    seq: dict[str, str] | None = None        # attributes of the ff(...) / latch(...) group
    seq_kind: str | None = None              # "ff" | "latch" | "ff_bank" | ... | None
    span: tuple[int, int] = (0, 0)           # text[span[0]:span[1]] is the whole cell group
    other_groups: list[str] = field(default_factory=list)

    @property
    def dont_use(self) -> bool:
        return self.attrs.get("dont_use", "false").lower() == "true"

    @property
    def inputs(self) -> list[str]:
        return [p.name for p in self.pins.values() if p.direction == "input"]

    @property
    def outputs(self) -> list[LibPin]:
        return [p for p in self.pins.values() if p.direction == "output"]

    @property
    def is_sequential(self) -> bool:
        return self.seq_kind is not None


def _pins_of(text: str, braces: dict[int, int], group: _Group) -> list[tuple[str, dict[str, str]]]:
    """(pin name, attrs) of pin(...) groups, including pins inside bus(...)/bundle(...)."""
    out = []
    children, _ = _children(text, braces, group.body_start, group.body_end)
    for g in children:
        if g.kind == "pin":
            _, flat = _children(text, braces, g.body_start, g.body_end)
            for name in g.args:
                out.append((name, _attrs(flat)))
        elif g.kind in ("bus", "bundle"):
            out.extend(_pins_of(text, braces, g))
    return out


def parse_cells(text: str) -> list[LibCell]:
    """All `cell` groups of the first `library` group of `text`, in file order."""
    braces = _brace_map(text)
    top, _ = _children(text, braces, 0, len(text))
    libs = [g for g in top if g.kind == "library"]
    if not libs:
        raise QuantpeError("liberty syntax error: no library(...) { } group")
    lib = libs[0]
    groups, _ = _children(text, braces, lib.body_start, lib.body_end)
    cells = []
    for g in groups:
        if g.kind != "cell" or not g.args:
            continue
        sub, flat = _children(text, braces, g.body_start, g.body_end)
        attrs = _attrs(flat)
        try:
            area = float(attrs["area"]) if "area" in attrs else None
        except ValueError:
            raise QuantpeError(f"liberty: bad area {attrs['area']!r} in cell {g.args[0]}") from None
        pins: dict[str, LibPin] = {}
        for name, pa in _pins_of(text, braces, g):
            cap = pa.get("capacitance")
            try:
                capf = float(cap) if cap is not None else None
            except ValueError:
                capf = None
            pins[name] = LibPin(name, pa.get("direction", "").lower(), pa.get("function"), capf,
                                pa.get("clock", "false").lower() == "true")
        seq = seq_kind = None
        others = []
        for s in sub:
            if s.kind in ("ff", "latch", "ff_bank", "latch_bank", "statetable"):
                seq_kind = s.kind
                _, sflat = _children(text, braces, s.body_start, s.body_end)
                seq = _attrs(sflat)
                seq["_vars"] = ",".join(s.args)
            elif s.kind not in ("pin", "bus", "bundle"):
                others.append(s.kind)
        cells.append(LibCell(g.args[0], area, pins, attrs, seq, seq_kind, (g.start, g.end), others))
    return cells


_COMPLEX_ATTR = re.compile(r'([A-Za-z_][\w.]*)\s*\(((?:[^()";]|"[^"]*")*)\)\s*;')


@dataclass
class LibGroup:
    """A liberty group as a tree: simple attributes (`name : value ;`), complex attributes
    (`name ("a", "b") ;` -> list of unquoted strings, line continuations removed) and children."""
    kind: str
    args: list[str]
    attrs: dict[str, str]
    complex: dict[str, list[str]]
    children: list[LibGroup]

    def groups(self, kind: str) -> list[LibGroup]:
        return [g for g in self.children if g.kind == kind]


def group_tree(text: str, span: tuple[int, int], braces: dict[int, int] | None = None) -> LibGroup:
    """The group starting at text[span[0]] (e.g. a `LibCell.span`) with all its subgroups."""
    braces = _brace_map(text) if braces is None else braces
    m = _GROUP_HEAD.match(text, span[0])
    if m is None or m.end() - 1 not in braces:
        raise QuantpeError(f"liberty: no group at offset {span[0]}")
    args = [_unquote(a) for a in m.group(2).split(",")] if m.group(2).strip() else []
    return _tree(text, braces, _Group(m.group(1), args, m.start(), m.end(), braces[m.end() - 1]))


def _tree(text: str, braces: dict[int, int], g: _Group) -> LibGroup:
    children, flat = _children(text, braces, g.body_start, g.body_end)
    flat = flat.replace("\\\n", " ").replace("\\\r\n", " ")
    cplx = {m.group(1): [_unquote(a) for a in re.findall(r'"[^"]*"|[^,\s][^,]*', m.group(2))]
            for m in _COMPLEX_ATTR.finditer(flat)}
    return LibGroup(g.kind, g.args, _attrs(flat), cplx, [_tree(text, braces, c) for c in children])


def library_group(text: str, braces: dict[int, int] | None = None) -> LibGroup:
    """The first library group with its attributes and its non-cell children (templates,
    operating conditions, ...); cells are left out (read them with `group_tree`)."""
    braces = _brace_map(text) if braces is None else braces
    top, _ = _children(text, braces, 0, len(text))
    libs = [g for g in top if g.kind == "library"]
    if not libs:
        raise QuantpeError("liberty syntax error: no library(...) { } group")
    lib = libs[0]
    groups, flat = _children(text, braces, lib.body_start, lib.body_end)
    cplx = {m.group(1): [_unquote(a) for a in re.findall(r'"[^"]*"|[^,\s][^,]*', m.group(2))]
            for m in _COMPLEX_ATTR.finditer(flat)}
    kids = [_tree(text, braces, c) for c in groups if c.kind != "cell"]
    return LibGroup(lib.kind, lib.args, _attrs(flat), cplx, kids)


# ----------------------------------------------------------------------------------------------
# Boolean functions (liberty syntax)
# ----------------------------------------------------------------------------------------------

_EXPR_TOKEN = re.compile(r"\s*(?:([A-Za-z_][\w\[\].]*)|([01])|(.))")


def truth_table(expr: str, inputs: list[str] | tuple[str, ...]) -> int:
    """Truth table of a liberty `function` as an int of 2**n bits: bit k is the value for the
    assignment in which input i has the value (k >> i) & 1.

    Syntax: `!x` and `x'` negate, `^` xor, `&`, `*` and juxtaposition are AND, `|` and `+` OR
    (precedence in that order), parentheses, constants 0 and 1.
    """
    n = len(inputs)
    full = (1 << (1 << n)) - 1
    var = {}
    for i, name in enumerate(inputs):
        mask = 0
        for k in range(1 << n):
            if (k >> i) & 1:
                mask |= 1 << k
        var[name] = mask
    toks: list[tuple[str, str]] = []
    for m in _EXPR_TOKEN.finditer(expr):
        if m.group(1):
            toks.append(("id", m.group(1)))
        elif m.group(2):
            toks.append(("const", m.group(2)))
        elif m.group(3):
            toks.append(("op", m.group(3)))
    pos = 0

    def peek():
        return toks[pos] if pos < len(toks) else ("eof", "")

    def take():
        nonlocal pos
        pos += 1
        return toks[pos - 1]

    def or_expr():
        v = and_expr()
        while peek() in (("op", "|"), ("op", "+")):
            take()
            v |= and_expr()
        return v

    def and_expr():
        v = xor_expr()
        while True:
            t = peek()
            if t in (("op", "&"), ("op", "*")):
                take()
            elif not (t[0] in ("id", "const") or t in (("op", "!"), ("op", "("))):
                return v
            v &= xor_expr()

    def xor_expr():
        v = unary()
        while peek() == ("op", "^"):
            take()
            v ^= unary()
        return v

    def unary():
        if peek() == ("op", "!"):
            take()
            return full & ~unary()
        v = primary()
        while peek() == ("op", "'"):
            take()
            v = full & ~v
        return v

    def primary():
        kind, val = peek()
        if kind != "eof":
            take()
        if kind == "id":
            if val not in var:
                raise QuantpeError(f"liberty function {expr!r}: unknown pin {val!r}")
            return var[val]
        if kind == "const":
            return full if val == "1" else 0
        if (kind, val) == ("op", "("):
            v = or_expr()
            if peek() != ("op", ")"):
                raise QuantpeError(f"liberty function {expr!r}: missing ')'")
            take()
            return v
        raise QuantpeError(f"liberty function {expr!r}: unexpected {val or 'end'!r}")

    result = or_expr()
    if pos != len(toks):
        raise QuantpeError(f"liberty function {expr!r}: trailing {toks[pos][1]!r}")
    return result


def same_function(f: str, f_inputs: list[str], g: str, g_inputs: list[str]) -> bool:
    """True if `f` over `f_inputs` equals `g` over `g_inputs` (inputs matched by position)."""
    return truth_table(f, f_inputs) == truth_table(g, g_inputs)


# ----------------------------------------------------------------------------------------------
# The quantpe cell library
# ----------------------------------------------------------------------------------------------


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
    if _unquote(out.function).strip() != state:
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
    from `sky130_text` (module docstring)."""
    from quantpe.energy import cells_power_from_text
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
 * groups as tables over the output load at that slew (quantpe.liberty.ENERGY_SLEW_NS). No timing
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
    from quantpe.atomic import write_text
    return write_text(out_path, content)
