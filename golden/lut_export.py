"""Export multiplier truth tables for DNN emulators: .npy, flat .bin and a C header.

Layout everywhere: entry [a_pattern, b_pattern] (flat index a_pattern * 2^b_bits + b_pattern,
row-major) holds the product of the operands whose bit patterns are a_pattern and b_pattern
(two's complement when signed). Formats:
  .npy  int32 array of shape (2^a_bits, 2^b_bits)
  .bin  flat little-endian, int32 by default (int16 on request when every value fits), no header
  .h    `static const int32_t NAME[2^(a_bits+b_bits)]` plus NAME_A_BITS, NAME_B_BITS,
        NAME_SIGNED, NAME_Y_BITS, NAME_SIZE and NAME_INDEX(a, b) macros
Emulator layouts, loaded by those tools as they are (8x8 only):
  .tfapprox.bin  unsigned 8x8: 65,536 little-endian uint16, entry a * 256 + b (a, b in 0..255),
                 the multiplication-table file TFApprox's approximate layers read (`mul_map_file`;
                 the layout of EvoApprox's mul8u_*.bin files)
  .adapt.h       signed 8x8: `const int16_t lut [256][256] = {{...}, ...};` after
                 `#include <stdint.h>`, lut[a_pattern][b_pattern] with patterns the operands'
                 two's-complement bytes (row 255 is a = -1), the header AdaPT's LUT conversion
                 tool writes and its approximate layers include
Every file is written atomically (temporary file in the same folder, then rename).
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
from quantpe.golden.atomic import write_bytes

from .approx import ApproxMulConfig, mul_table, table_widths, table_y_bits
from .errors import QuantpeError
from .lut_read import read_adapt_header, read_tfapprox_bin

__all__ = ["write_npy", "write_bin", "write_c_header", "read_npy", "read_bin", "export_lut",
           "default_c_name", "write_tfapprox_bin", "read_tfapprox_bin", "write_adapt_header",
           "read_adapt_header", "emulator_formats", "write_emulator_luts", "EMULATOR_SUFFIX"]

_BIN_DTYPES = {"int32": "<i4", "int16": "<i2"}
_C_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _table_bits(table) -> tuple[np.ndarray, int, int]:
    na, nb = table_widths(table)
    return np.asarray(table).astype(np.int64), na, nb


def _as_dtype(t: np.ndarray, dtype: str) -> np.ndarray:
    if dtype not in _BIN_DTYPES:
        raise QuantpeError(f"LUT dtype must be one of {', '.join(_BIN_DTYPES)}, got {dtype!r}")
    info = np.iinfo(np.dtype(_BIN_DTYPES[dtype]))
    if t.size and (t.min() < info.min or t.max() > info.max):
        raise QuantpeError(f"LUT values {t.min()}..{t.max()} do not fit {dtype}")
    return t.astype(_BIN_DTYPES[dtype])


def write_npy(path, table) -> Path:
    """Save `table` as an int32 .npy array of shape (2^a_bits, 2^b_bits)."""
    t, _, _ = _table_bits(table)
    buf = io.BytesIO()
    np.save(buf, _as_dtype(t, "int32"), allow_pickle=False)
    return write_bytes(path, buf.getvalue())


def write_bin(path, table, dtype: str = "int32") -> Path:
    """Save `table` flat, row-major (index a_pattern * 2^b_bits + b_pattern), little-endian
    `dtype` ("int32" default, or "int16"), no header."""
    t, _, _ = _table_bits(table)
    return write_bytes(path, _as_dtype(t, dtype).tobytes(order="C"))


def read_npy(path) -> np.ndarray:
    try:
        return np.load(Path(path), allow_pickle=False)
    except (OSError, ValueError) as e:
        raise QuantpeError(f"cannot read {path}: {e}") from None


def read_bin(path, a_bits: int, b_bits: int, dtype: str = "int32") -> np.ndarray:
    """Inverse of `write_bin`: (2^a_bits, 2^b_bits) int64 table."""
    if dtype not in _BIN_DTYPES:
        raise QuantpeError(f"LUT dtype must be one of {', '.join(_BIN_DTYPES)}, got {dtype!r}")
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise QuantpeError(f"cannot read {path}: {e.strerror or e}") from None
    dt = np.dtype(_BIN_DTYPES[dtype])
    n = 1 << (a_bits + b_bits)
    if len(raw) != n * dt.itemsize:
        raise QuantpeError(f"{path}: {len(raw)} bytes, a {a_bits}x{b_bits} {dtype} LUT has {n * dt.itemsize}")
    return np.frombuffer(raw, dtype=dt).astype(np.int64).reshape(1 << a_bits, 1 << b_bits)


def default_c_name(cfg: ApproxMulConfig) -> str:
    """C identifier for a config's table, e.g. APPROXMUL_DRUM_K4_U8X8."""
    return re.sub(r"[^A-Za-z0-9_]", "_", cfg.short_name()).upper()


def write_c_header(path, table, name: str, signed: bool, comment: str = "") -> Path:
    """Write a C header with `static const int32_t NAME[...]` and its layout macros."""
    if not isinstance(name, str) or not _C_NAME.match(name):
        raise QuantpeError(f"C array name must be a C identifier, got {name!r}")
    t, na, nb = _table_bits(table)
    vals = _as_dtype(t, "int32").reshape(-1)
    pattern = "two's-complement" if signed else "unsigned"
    ybits = table_y_bits(t, na, nb, signed)
    try:
        from importlib.metadata import version
        ver = version("quantpe")
    except Exception:  # pragma: no cover - not installed
        ver = "unknown"
    lines = [f"/* Generated by quantpe {ver}: multiplier truth table, {na}x{nb} bit "
             f"{'signed' if signed else 'unsigned'}."]
    for c in comment.splitlines():
        lines.append(" * " + c.replace("*/", "* /"))
    lines += [
        f" * {name}[{name}_INDEX(a, b)] = product of a and b, where the index is",
        f" * (a_pattern << {name}_B_BITS) | b_pattern and a pattern is the operand's {pattern} bit pattern.",
        " */",
        f"#ifndef QUANTPE_{name.upper()}_H",
        f"#define QUANTPE_{name.upper()}_H",
        "",
        "#include <stdint.h>",
        "",
        f"#define {name}_A_BITS {na}",
        f"#define {name}_B_BITS {nb}",
        f"#define {name}_SIGNED {1 if signed else 0}",
        f"#define {name}_Y_BITS {ybits}",
        f"#define {name}_SIZE {vals.size}",
        f"#define {name}_INDEX(a, b) ((((uint32_t)(a) & 0x{(1 << na) - 1:X}u) << {nb}) | "
        f"((uint32_t)(b) & 0x{(1 << nb) - 1:X}u))",
        "",
        f"static const int32_t {name}[{vals.size}] = {{",
    ]
    per_line = 16
    for i in range(0, vals.size, per_line):
        lines.append("    " + ", ".join(str(int(v)) for v in vals[i:i + per_line]) + ",")
    lines += ["};", "", f"#endif /* QUANTPE_{name.upper()}_H */", ""]
    return write_bytes(path, "\n".join(lines).encode())


def emulator_formats(a_bits: int, b_bits: int, signed: bool) -> tuple[str, ...]:
    """The emulator layouts a table of these widths can be written in: ("tfapprox",) for unsigned
    8x8, ("adapt",) for signed 8x8, () otherwise."""
    if (a_bits, b_bits) != (8, 8):
        return ()
    return ("adapt",) if signed else ("tfapprox",)


def _check_8x8(table, signed: bool, what: str) -> np.ndarray:
    t, na, nb = _table_bits(table)
    if (na, nb) != (8, 8):
        raise QuantpeError(f"{what} LUTs are 8x8, got {na}x{nb}")
    lo, hi = (-(1 << 15), (1 << 15) - 1) if signed else (0, (1 << 16) - 1)
    if t.min() < lo or t.max() > hi:
        raise QuantpeError(f"{what} LUT values must be in {lo}..{hi}, got {t.min()}..{t.max()}")
    return t


def write_tfapprox_bin(path, table) -> Path:
    """Save an unsigned 8x8 table as TFApprox reads it: 65,536 little-endian uint16, a * 256 + b."""
    t = _check_8x8(table, False, "TFApprox")
    return write_bytes(path, t.astype("<u2").tobytes(order="C"))


def write_adapt_header(path, table) -> Path:
    """Save a signed 8x8 table as AdaPT's header: `const int16_t lut [256][256]`, rows a_pattern."""
    t = _check_8x8(table, True, "AdaPT")
    rows = ["{" + ", ".join(str(int(v)) for v in row) + "}" for row in t]
    text = "#include <stdint.h>\n\nconst int16_t lut [256][256] = {" + ",\n".join(rows) + "};\n"
    return write_bytes(path, text.encode())


def export_lut(cfg: ApproxMulConfig, out_dir, name: str | None = None,
               bin_dtype: str = "int32", comment: str = "") -> dict[str, Path]:
    """Write <config_id>.npy, .bin and .h of a golden multiplier into out_dir, plus the emulator
    layouts its widths allow (`emulator_formats`); returns {format: path}."""
    table = mul_table(cfg)
    out = Path(out_dir)
    stem = cfg.config_id
    note = f"config {cfg.config_id}: {cfg.to_json()}" + (f"\n{comment}" if comment else "")
    return {
        "npy": write_npy(out / f"{stem}.npy", table),
        "bin": write_bin(out / f"{stem}.bin", table, bin_dtype),
        "h": write_c_header(out / f"{stem}.h", table, name or default_c_name(cfg), cfg.signed, note),
        **write_emulator_luts(out, stem, table, cfg.signed),
    }


EMULATOR_SUFFIX = {"tfapprox": ".tfapprox.bin", "adapt": ".adapt.h"}


def write_emulator_luts(out_dir, stem: str, table, signed: bool) -> dict[str, Path]:
    """Write <stem>.tfapprox.bin / <stem>.adapt.h as `emulator_formats` allows; {format: path}."""
    na, nb = table_widths(table)
    writers = {"tfapprox": write_tfapprox_bin, "adapt": write_adapt_header}
    return {f: writers[f](Path(out_dir) / f"{stem}{EMULATOR_SUFFIX[f]}", table)
            for f in emulator_formats(na, nb, signed)}
