"""Yosys area flow: Verilog -> mapped netlist -> area.json (um^2, gate equivalents, transistors).

`synthesize(verilog, top, out_dir, liberty=None, yosys="yosys")` runs one Yosys process:

  read_verilog -sv FILES; hierarchy -check -top TOP; synth -noabc -flatten -top TOP
  (saved as the generic netlist)
  pass 1, cell library:    dfflibmap -liberty LIB; abc -script ABC_SCRIPT -liberty LIB;
                           opt_clean; stat -liberty LIB  -> area, cells per type, flip-flops
  pass 2, technology-free: dfflegalize -cell $_DFF_P_ 01 (-cell $_DFF_PP0_/$_DFF_PP1_ 01 for
                           async reset/set flops); abc -script ABC_SCRIPT -g cmos2; opt_clean;
                           stat -tech cmos    -> estimated transistor count
Yosys has no transistor figure for async set/reset flip-flops: for such designs `transistors`
is None and `transistors_lower_bound` holds Yosys' partial count ("N+").
ABC_SCRIPT is "strash; dretime; map -a": Yosys' `abc -fast` script with area-oriented mapping.

LIB is the library to map to with every cell a designer never maps to removed (see
`excluded_cell_reason`): a filtered copy is written into a private work directory inside
out_dir (decompressed if the library is gzip), never next to the library. `liberty=None` uses
the project's own `quantpe_cells.lib` (sky130_fd_sc_hd _1 areas, see quantpe.synth.liberty).

Outputs in out_dir, replaced only when the run succeeded (earlier results are kept otherwise;
area.json records the SHA-256 of the Verilog it was made from, so a stale one is recognised):
  area.json          the dict returned (fields documented in `synthesize`)
  netlist.v          the mapped netlist of pass 1
  yosys.log          the full Yosys log
  yosys-failed.log   the log of a failed run (removed by the next successful one)

`delta_table(rows, baseline_key)` turns several area dicts into an area delta table against one
baseline row; `format_delta_markdown` / `format_delta_csv` render it.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from quantpe.core.tables import csv_rows, signed
from quantpe.golden.atomic import write_error, write_text
from quantpe.golden.errors import QuantpeError, ToolError
from quantpe.synth.liberty import DEFAULT_LIBERTY, LibCell, parse_cells, read_liberty_bytes, truth_table
from quantpe.synth.yosys import run_yosys, yosys_version

__all__ = ["synthesize", "yosys_version", "excluded_cell_reason", "prepare_liberty", "delta_table",
           "format_delta_markdown", "format_delta_csv", "AREA_JSON", "SCHEMA_VERSION", "verilog_digest",
           "file_sha256"]

AREA_JSON = "area.json"
#: ABC script of both mapping passes: Yosys' `abc -fast` script ("strash; dretime; map") with
#: area-oriented mapping (`map -a`). Area, not delay, is what this flow reports; the built-in
#: library has no timing, and delay-driven mapping to a real library without a clock target
#: inflates its area by ~40 % on a MAC (min-delay mapping). Avoids the default script's long
#: runtimes on multiplier-heavy logic.
ABC_SCRIPT = "+strash;dretime;map,-a"
LIB_NAME = "liberty_mapped.lib"
LIBERTY_SHA256_OF = "file bytes as stored (the compressed bytes for a .gz)"
SCHEMA_VERSION = 1

# Name fragments of cells that are never targets of logic mapping: power management (lpflow:
# isolation, level shifters, keep-alive buffers), probe, antenna diode, fill, tap, decap,
# end-cap, spare-cell macros and clock gates (dlclkp, sdlclkp: integrated clock gating).
_EXCLUDED_NAME_PARTS = ("lpflow", "probe", "diode", "fill", "tap", "decap", "endcap", "antenna",
                        "sparecell", "dlclkp", "sdlclkp")
# Liberty attributes with the same meaning.
_EXCLUDED_ATTRS = ("clock_gating_integrated_cell", "is_filler_cell", "is_tap_cell", "is_decap_cell",
                   "antenna_diode_type", "is_isolation_cell", "is_level_shifter", "always_on",
                   "retention_cell", "switch_cell_type", "is_clock_isolation_cell")
_TOP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


def excluded_cell_reason(cell: LibCell) -> str | None:
    """Why a designer never maps logic to `cell` (None: the cell is usable)."""
    low = cell.name.lower()
    for part in _EXCLUDED_NAME_PARTS:
        if part in low:
            return f"name contains {part!r}"
    if cell.dont_use:
        return "dont_use"
    for attr in _EXCLUDED_ATTRS:
        value = cell.attrs.get(attr)
        if value is not None and value.lower() not in ("false", "none", ""):
            return f"attribute {attr}"
    return None


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes as stored (for a liberty: `liberty_sha256`)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def prepare_liberty(liberty: Path | str | None, work_dir: Path) -> dict:
    """Read `liberty` (None: quantpe_cells.lib), drop excluded cells, write the mapping copy.

    Returns path (as given, resolved), mapped_path (the filtered copy in work_dir), sha256 of the
    file bytes as stored, cells (usable LibCell by name), excluded (name -> reason), nand2 (the
    smallest-area usable 2-input NAND cell, or None).
    """
    path = Path(DEFAULT_LIBERTY if liberty is None else liberty).expanduser().resolve()
    raw, data = read_liberty_bytes(path)
    text = data.decode("utf-8", errors="replace")
    if not re.search(r"\blibrary\s*\(", text):
        raise QuantpeError(f"not a liberty file (no library group): {path}")
    cells = parse_cells(text)
    if not cells:
        raise QuantpeError(f"liberty has no cells: {path}")
    keep: dict[str, LibCell] = {}
    excluded: dict[str, str] = {}
    for c in cells:
        reason = excluded_cell_reason(c)
        if reason is None:
            keep[c.name] = c
        else:
            excluded[c.name] = reason
    # Cut the excluded cell groups out of the text (spans are disjoint, in file order).
    parts, pos = [], 0
    for c in cells:
        if c.name in excluded:
            parts.append(text[pos:c.span[0]])
            parts.append(f"/* quantpe: excluded cell {c.name} ({excluded[c.name]}) */")
            pos = c.span[1]
    parts.append(text[pos:])
    mapped = work_dir / LIB_NAME
    mapped.write_text("".join(parts))
    nand2 = None
    nand_tt = truth_table("!(A&B)", ["A", "B"])
    for c in keep.values():
        outs = c.outputs
        if (c.is_sequential or len(c.inputs) != 2 or len(outs) != 1 or not outs[0].function
                or c.area is None or c.area <= 0):
            continue
        try:
            if truth_table(outs[0].function, c.inputs) != nand_tt:
                continue
        except QuantpeError:
            continue
        if nand2 is None or c.area < nand2.area:
            nand2 = c
    return {"path": path, "mapped_path": mapped, "sha256": hashlib.sha256(raw).hexdigest(),
            "cells": keep, "excluded": excluded, "nand2": nand2}


def _q(path: Path) -> str:
    """A path quoted for a Yosys script."""
    s = str(path)
    if '"' in s or "\n" in s:
        raise QuantpeError(f"path not usable in a Yosys script (quote or newline): {s!r}")
    return f'"{s}"'


def _script(files: list[Path], top: str) -> str:
    """The Yosys script; it runs with the work directory as cwd, which holds the filtered
    liberty (liberty_mapped.lib) and receives the stat files and the netlist (plain relative
    names: Yosys 0.23 `tee -o` does not strip quotes)."""
    reads = "\n".join(f"read_verilog -sv {_q(f)}" for f in files)
    lib = LIB_NAME
    return f"""# quantpe area flow (generated by quantpe.synth.area)
{reads}
hierarchy -check -top {top}
synth -noabc -flatten -top {top}
design -save quantpe_generic

# pass 1: the cell library
dfflibmap -liberty {lib}
abc -script {ABC_SCRIPT} -liberty {lib}
opt_clean
tee -q -o stat_lib.json stat -json -liberty {lib}
tee -q -o stat_lib.txt stat -liberty {lib}
write_verilog -noattr netlist.v

# pass 2: technology-free transistor count
design -load quantpe_generic
dfflegalize -cell $_DFF_P_ 01 -cell $_DFF_PP0_ 01 -cell $_DFF_PP1_ 01
abc -script {ABC_SCRIPT} -g cmos2
opt_clean
tee -q -o stat_cmos.json stat -json -tech cmos
tee -q -o stat_cmos.txt stat -tech cmos
"""


def _load_stat_json(path: Path, top: str) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise QuantpeError(f"cannot read Yosys statistics {path.name}: {exc}") from None
    mods = data.get("modules", {})
    for key in (f"\\{top}", top):
        if key in mods:
            return mods[key]
    if len(mods) == 1:
        return next(iter(mods.values()))
    raise QuantpeError(f"Yosys statistics have no module {top!r}")


def _chip_area(path: Path, top: str) -> float | None:
    """Chip area of `top` from the text of `stat -liberty` (Yosys 0.23's JSON has no area)."""
    text = path.read_text()
    m = re.search(rf"Chip area for (?:top )?module\s+'\\?{re.escape(top)}':\s*([0-9.eE+-]+)", text)
    return float(m.group(1)) if m else None


def verilog_digest(files) -> str:
    """SHA-256 of the Verilog sources (contents in order, names and the leading `//` comment
    header excluded: the generator's header names the git revision, which does not change the
    logic): what a cached area.json was made from."""
    h = hashlib.sha256()
    for f in files:
        lines = Path(f).read_bytes().splitlines(keepends=True)
        n = next((i for i, ln in enumerate(lines) if not ln.startswith(b"//")), len(lines))
        h.update(b"".join(lines[n:]) + b"\0")
    return h.hexdigest()


def synthesize(verilog: list[Path] | Path, top: str, out_dir: Path, liberty: Path | None = None,
               yosys: str = "yosys", *, timeout: float = 1800.0) -> dict:
    """Synthesise `top` from `verilog` with Yosys and write out_dir/area.json; return its dict.

    Fields of the result:
      schema, top, verilog (absolute paths), liberty (absolute path of the library as given),
      liberty_sha256 (SHA-256 of the liberty file's bytes as stored on disk, i.e. of the
      compressed bytes for a .gz; `liberty_sha256_of` says so), excluded_cells ({name: reason}
      of the cells dropped before mapping), area_um2 (Yosys `stat -liberty` chip area),
      nand2_cell / nand2_area_um2 (smallest usable 2-input NAND of the library; None if it has
      none), gate_equivalents (area_um2 / nand2_area_um2; None without a NAND2), cells ({cell
      type: count}), cell_area_um2 ({cell type: area of one cell}), total_cells, flip_flops
      (mapped cells with an ff group), latches, transistors (Yosys `stat -tech cmos` estimate
      after dfflegalize and abc -g cmos2; None if Yosys could count only part of the cells,
      i.e. async set/reset flops), transistors_lower_bound (that count), cmos_cells
      ({$_NAND_/$_NOR_/$_NOT_/$_DFF_P_: count}
      of that pass), yosys_version (`yosys -V`), abc_script, yosys_script, files ({"netlist":
      "netlist.v", "log": "yosys.log"}, inside out_dir), wall_time_s (the whole call).
    `timeout` (seconds) bounds the Yosys run; the process group is killed when it expires.
    Raises QuantpeError (one line) if a Verilog file or the liberty is missing or unreadable,
    yosys is not on PATH, or Yosys fails (the message names out_dir/yosys-failed.log) or times out.
    Long: one Yosys run, its two passes parsed and the outputs replaced atomically."""
    t0 = time.monotonic()
    files = [verilog] if isinstance(verilog, (str, Path)) else list(verilog)
    if not files:
        raise QuantpeError("no Verilog files given")
    files = [Path(f).expanduser().resolve() for f in files]
    for f in files:
        if not f.is_file():
            raise QuantpeError(f"Verilog file not found: {f}")
    if not _TOP_NAME.match(top or ""):
        raise QuantpeError(f"bad top module name: {top!r}")
    version = yosys_version(yosys)
    out_dir = Path(out_dir).expanduser().resolve()
    if liberty is not None and not Path(liberty).expanduser().exists():
        raise QuantpeError(f"liberty file not found: {liberty}")
    created = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise QuantpeError(f"cannot create output directory {out_dir}: {exc.strerror or exc}") from None
    final_json = out_dir / AREA_JSON
    # Earlier results stay until this run has succeeded; then all three are replaced. A failed
    # run leaves its log as yosys-failed.log.
    log_final = out_dir / "yosys.log"
    work = Path(tempfile.mkdtemp(prefix=".synth-", dir=out_dir))
    try:
        lib = prepare_liberty(liberty, work)
        script = _script(files, top)
        (work / "flow.ys").write_text(script)
        log = work / "yosys.log"
        try:
            run_yosys(work / "flow.ys", work, log, timeout, yosys, on=top)
        except ToolError as exc:
            log_final = out_dir / "yosys-failed.log"
            if log.exists():
                os.replace(log, log_final)
            raise ToolError(str(exc).replace(str(log), str(log_final))) from None

        stat = _load_stat_json(work / "stat_lib.json", top)
        cmos = _load_stat_json(work / "stat_cmos.json", top)
        counts = {k: int(v) for k, v in stat.get("num_cells_by_type", {}).items()}
        unknown = sorted(k for k in counts if k not in lib["cells"])
        if unknown:
            raise QuantpeError(f"mapped netlist of {top} has cells not in the usable liberty cells: "
                               f"{', '.join(unknown[:5])} (log: {log_final})")
        cell_area = {k: lib["cells"][k].area or 0.0 for k in counts}
        area = stat.get("area")
        if area is None:
            area = _chip_area(work / "stat_lib.txt", top)
        if area is None:
            area = sum(cell_area[k] * n for k, n in counts.items())
        area = float(area)
        nand2 = lib["nand2"]
        t_text = str(cmos.get("estimated_num_transistors", "")).strip()
        t_match = re.fullmatch(r"(\d+)(\+?)", t_text)
        if t_match is None:
            raise QuantpeError(f"no transistor estimate in the Yosys statistics of {top} (log: {log_final})")
        t_count, t_partial = int(t_match.group(1)), bool(t_match.group(2))
        result = {
            "schema": SCHEMA_VERSION,
            "top": top,
            "verilog": [str(f) for f in files],
            "liberty": str(lib["path"]),
            "liberty_sha256": lib["sha256"],
            "liberty_sha256_of": LIBERTY_SHA256_OF,
            "excluded_cells": lib["excluded"],
            "area_um2": area,
            "nand2_cell": nand2.name if nand2 else None,
            "nand2_area_um2": nand2.area if nand2 else None,
            "gate_equivalents": area / nand2.area if nand2 else None,
            "cells": dict(sorted(counts.items())),
            "cell_area_um2": dict(sorted(cell_area.items())),
            "total_cells": sum(counts.values()),
            "flip_flops": sum(n for k, n in counts.items() if lib["cells"][k].seq_kind == "ff"),
            "latches": sum(n for k, n in counts.items() if lib["cells"][k].seq_kind == "latch"),
            "transistors": None if t_partial else t_count,
            "transistors_lower_bound": t_count,
            "cmos_cells": {k: int(v) for k, v in sorted(cmos.get("num_cells_by_type", {}).items())},
            "yosys_version": version,
            "abc_script": ABC_SCRIPT[1:].replace(",", " "),
            "yosys_script": script,
            "files": {"netlist": "netlist.v", "log": "yosys.log"},
        }
        result["verilog_sha256"] = verilog_digest(files)
        result["wall_time_s"] = round(time.monotonic() - t0, 3)
        os.replace(work / "netlist.v", out_dir / "netlist.v")
        os.replace(log, log_final)
        write_text(final_json, json.dumps(result, indent=2, sort_keys=False) + "\n")
        (out_dir / "yosys-failed.log").unlink(missing_ok=True)
        return result
    except OSError as exc:                       # a full disk, a quota: exit 3, with the folder
        raise write_error(exc.filename or out_dir, exc) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if created and not any(out_dir.iterdir()):
            out_dir.rmdir()                      # nothing of a failed run is left behind


# ----------------------------------------------------------------------------------------------
# Delta tables
# ----------------------------------------------------------------------------------------------

_DELTA_METRICS = (("area_um2", "area_um2"), ("gate_equivalents", "ge"), ("transistors", "transistors"))


def _row_name(row: dict) -> str:
    return str(row.get("name", row.get("top")))


def delta_table(rows: list[dict], baseline_key) -> list[dict]:
    """Area deltas of every row against ONE baseline row.

    `rows` are area dicts (as returned by `synthesize`, optionally with a "name"; the name of a
    row is row["name"] if present, else row["top"]). `baseline_key` is the name of the baseline
    row (or its integer index in `rows`). All rows must come from the same liberty (same
    liberty_sha256 where present). Each output row: name, area_um2, gate_equivalents,
    transistors, flip_flops, and for each of area_um2 / ge / transistors the difference
    `d_<m>` = row - baseline and `d_<m>_pct` = 100 * (row - baseline) / baseline (None if a
    value is missing or the baseline value is 0). The baseline row's deltas are 0.
    """
    if not rows:
        raise QuantpeError("delta table needs at least one row")
    names = [_row_name(r) for r in rows]
    if isinstance(baseline_key, int) and not isinstance(baseline_key, bool):
        if not -len(rows) <= baseline_key < len(rows):
            raise QuantpeError(f"baseline index {baseline_key} out of range (0..{len(rows) - 1})")
        base = rows[baseline_key]
    else:
        hits = [r for r, n in zip(rows, names) if n == str(baseline_key)]
        if len(hits) != 1:
            what = "no row" if not hits else f"{len(hits)} rows"
            raise QuantpeError(f"baseline {baseline_key!r}: {what} with that name (rows: {', '.join(names)})")
        base = hits[0]
    shas = {r["liberty_sha256"] for r in rows if r.get("liberty_sha256")}
    if len(shas) > 1:
        raise QuantpeError("delta table mixes results from different liberty files")
    table = []
    for row, name in zip(rows, names):
        out = {"name": name, "baseline": row is base}
        for key, short in _DELTA_METRICS:
            v, b = row.get(key), base.get(key)
            out[key] = v
            d = None if v is None or b is None else v - b
            out[f"d_{short}"] = d
            out[f"d_{short}_pct"] = None if d is None or not b else 100.0 * d / b
        out["flip_flops"] = row.get("flip_flops")
        table.append(out)
    return table


def _fmt(v, digits: int) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, int):
        return str(v)
    return f"{v:.{digits}f}"


def format_delta_markdown(table: list[dict]) -> str:
    """A Markdown table of `delta_table` output (baseline row marked with '(baseline)')."""
    head = ["design", "area (µm²)", "Δ area", "Δ area %", "GE", "Δ GE %", "transistors",
            "Δ transistors %", "flip-flops"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for r in table:
        name = r["name"] + (" (baseline)" if r["baseline"] else "")
        cells = [name, _fmt(r["area_um2"], 1), signed(r["d_area_um2"], 1, missing="n/a"),
                 signed(r["d_area_um2_pct"], 1, "%", missing="n/a"), _fmt(r["gate_equivalents"], 1),
                 signed(r["d_ge_pct"], 1, "%", missing="n/a"), _fmt(r["transistors"], 0),
                 signed(r["d_transistors_pct"], 1, "%", missing="n/a"), _fmt(r["flip_flops"], 0)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


_CSV_FIELDS = ("name", "baseline", "area_um2", "d_area_um2", "d_area_um2_pct", "gate_equivalents", "d_ge",
               "d_ge_pct", "transistors", "d_transistors", "d_transistors_pct", "flip_flops")


def format_delta_csv(table: list[dict]) -> str:
    """CSV of `delta_table` output (full precision; empty cell for a missing value)."""
    return csv_rows([["" if r.get(k) is None else r.get(k) for k in _CSV_FIELDS] for r in table], _CSV_FIELDS)