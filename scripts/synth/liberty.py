"""Liberty (.lib) files: the reader, the bundled library and the one sky130 lookup.

`read_liberty_text(path)` returns the text of a `.lib` or gzip-compressed `.lib.gz` file.
`parse_cells(text)` returns one `LibCell` per `cell (...) { ... }` group of the library (name,
area, pins with direction and function, `ff`/`latch` attributes, `dont_use`, the span of the
group in the text). It is a structural scanner (braces matched outside comments and strings,
`brace_map`), fast enough for the 12 MB sky130_fd_sc_hd file; it never builds the timing
tables (`quantpe.synth.cell_power` does). `truth_table(expr, inputs)` evaluates a liberty
boolean `function` string.

`DEFAULT_LIBERTY` is the bundled `quantpe_cells.lib` (package data, `quantpe.synth.cell_library`
writes it). `sky130_liberty()` is the sky130_fd_sc_hd typical-corner liberty: $QUANTPE_SKY130_LIB,
else SKY130_IN_SHARED under $QUANTPE_SHARED, else under the `shared` folder beside the checkout
(or beside the working directory); None when absent. Imports: `quantpe.golden` only.
"""
from __future__ import annotations

import gzip
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from quantpe.golden.errors import QuantpeError

__all__ = ["LibCell", "LibPin", "DEFAULT_LIBERTY", "SKY130_IN_SHARED", "read_liberty_bytes", "read_liberty_text",
           "brace_map", "unquote", "parse_cells", "LibGroup", "group_tree", "library_group", "truth_table", "same_function",
           "sky130_path", "sky130_liberty"]

#: The committed library written by this module (inside the `quantpe` package, i.e. scripts/).
DEFAULT_LIBERTY = Path(str(resources.files("quantpe.synth") / "quantpe_cells.lib"))
#: where the sky130 liberty lies inside a shared folder
SKY130_IN_SHARED = Path("pdk") / "sky130hd" / "sky130_fd_sc_hd__tt_025C_1v80.lib.gz"

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


def brace_map(text: str) -> dict[int, int]:
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


def unquote(value: str) -> str:
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
        args = [unquote(a) for a in m.group(2).split(",")] if m.group(2).strip() else []
        groups.append(_Group(m.group(1), args, m.start(), brace + 1, close))
        flat.append(text[pos:m.start()])
        pos = close + 1
    return groups, re.sub(r"/\*.*?\*/", " ", "".join(flat), flags=re.S)


def _attrs(flat: str) -> dict[str, str]:
    return {m.group(1): unquote(m.group(2)) for m in _SIMPLE_ATTR.finditer(flat + "\n")}


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
    braces = brace_map(text)
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
    braces = brace_map(text) if braces is None else braces
    m = _GROUP_HEAD.match(text, span[0])
    if m is None or m.end() - 1 not in braces:
        raise QuantpeError(f"liberty: no group at offset {span[0]}")
    args = [unquote(a) for a in m.group(2).split(",")] if m.group(2).strip() else []
    return _tree(text, braces, _Group(m.group(1), args, m.start(), m.end(), braces[m.end() - 1]))


def _tree(text: str, braces: dict[int, int], g: _Group) -> LibGroup:
    children, flat = _children(text, braces, g.body_start, g.body_end)
    flat = flat.replace("\\\n", " ").replace("\\\r\n", " ")
    cplx = {m.group(1): [unquote(a) for a in re.findall(r'"[^"]*"|[^,\s][^,]*', m.group(2))]
            for m in _COMPLEX_ATTR.finditer(flat)}
    return LibGroup(g.kind, g.args, _attrs(flat), cplx, [_tree(text, braces, c) for c in children])


def library_group(text: str, braces: dict[int, int] | None = None) -> LibGroup:
    """The first library group with its attributes and its non-cell children (templates,
    operating conditions, ...); cells are left out (read them with `group_tree`)."""
    braces = brace_map(text) if braces is None else braces
    top, _ = _children(text, braces, 0, len(text))
    libs = [g for g in top if g.kind == "library"]
    if not libs:
        raise QuantpeError("liberty syntax error: no library(...) { } group")
    lib = libs[0]
    groups, flat = _children(text, braces, lib.body_start, lib.body_end)
    cplx = {m.group(1): [unquote(a) for a in re.findall(r'"[^"]*"|[^,\s][^,]*', m.group(2))]
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
    Long: a small recursive-descent parser of liberty boolean expressions."""
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


def sky130_path() -> Path:
    """Where the sky130 liberty is looked for (module docstring); the file may be absent."""
    if os.environ.get("QUANTPE_SKY130_LIB"):
        return Path(os.environ["QUANTPE_SKY130_LIB"])
    if os.environ.get("QUANTPE_SHARED"):
        return Path(os.environ["QUANTPE_SHARED"]) / SKY130_IN_SHARED
    checkout = Path(__file__).resolve().parents[2]
    candidates = [checkout.parent / "shared" / SKY130_IN_SHARED, Path.cwd().parent / "shared" / SKY130_IN_SHARED]
    return next((c for c in candidates if c.is_file()), candidates[0])


def sky130_liberty() -> Path | None:
    """The sky130 liberty (`sky130_path`) when it exists, else None."""
    p = sky130_path()
    return p if p.is_file() else None
