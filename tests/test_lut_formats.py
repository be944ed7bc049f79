"""The emulator LUT layouts (TFApprox uint16 .bin, AdaPT int16 header), read back independently.

The references here do not use quantpe's readers: the .bin is decoded with `np.frombuffer`
by its stated layout, the header is turned into a Python literal by replacing C braces, and the
expected products are `a * b` of the operands themselves.
"""
import ast
import re

import numpy as np
import pytest

from quantpe.golden import lut_export, lut_read
from quantpe.golden.approx import ApproxMulConfig, exact_table, mul_table
from quantpe.golden.errors import QuantpeError


def _c_array(text: str) -> list:
    """The initializer of `lut` as nested Python lists (independent of read_adapt_header)."""
    body = text[text.index("=") + 1:text.rindex(";")]
    return ast.literal_eval(body.replace("{", "[").replace("}", "]"))


def test_tfapprox_layout_is_uint16_a_times_256_plus_b(tmp_path):
    p = lut_export.write_tfapprox_bin(tmp_path / "m.tfapprox.bin", exact_table(8, 8, False))
    raw = p.read_bytes()
    assert len(raw) == 65536 * 2
    flat = np.frombuffer(raw, dtype="<u2")
    for a, b in [(0, 0), (1, 255), (255, 1), (255, 255), (17, 200), (128, 3)]:
        assert flat[a * 256 + b] == a * b
    # little-endian: 255 * 255 = 0xFE01 -> bytes 01 FE
    i = 2 * (255 * 256 + 255)
    assert raw[i:i + 2] == bytes([0x01, 0xFE])


def test_adapt_header_layout_rows_are_twos_complement_patterns(tmp_path):
    p = lut_export.write_adapt_header(tmp_path / "m.adapt.h", exact_table(8, 8, True))
    text = p.read_text()
    assert text.startswith("#include <stdint.h>")
    assert re.search(r"const int16_t lut \[256\]\[256\] = \{", text)
    lut = _c_array(text)
    assert len(lut) == 256 and all(len(r) == 256 for r in lut)
    for a, b in [(0, 0), (-1, -1), (-128, -128), (-128, 127), (127, -128), (5, -3), (-77, 99)]:
        assert lut[a & 0xFF][b & 0xFF] == a * b


@pytest.mark.parametrize("method, kw", [("drum", {"k": 4}), ("truncated", {"t": 7, "compensate": True}),
                                        ("mitchell", {})])
def test_round_trip_and_lut_method_loads_them(tmp_path, method, kw):
    for signed, write, read in [(False, lut_export.write_tfapprox_bin, lut_read.read_tfapprox_bin),
                                (True, lut_export.write_adapt_header, lut_read.read_adapt_header)]:
        cfg = ApproxMulConfig(method=method, a_bits=8, b_bits=8, signed=signed, **kw)
        table = mul_table(cfg)
        suffix = ".adapt.h" if signed else ".tfapprox.bin"
        p = write(tmp_path / f"{method}{suffix}", table)
        assert np.array_equal(read(p), table)
        lut = ApproxMulConfig(method="lut", a_bits=8, b_bits=8, signed=signed, lut_path=str(p))
        assert np.array_equal(mul_table(lut), table)


def test_export_lut_writes_the_emulator_layout_only_at_8x8(tmp_path):
    paths = lut_export.export_lut(ApproxMulConfig(method="drum", k=3, signed=False), tmp_path / "u")
    assert set(paths) == {"npy", "bin", "h", "tfapprox"} and paths["tfapprox"].name.endswith(".tfapprox.bin")
    paths = lut_export.export_lut(ApproxMulConfig(method="drum", k=3, signed=True), tmp_path / "s")
    assert set(paths) == {"npy", "bin", "h", "adapt"} and paths["adapt"].name.endswith(".adapt.h")
    paths = lut_export.export_lut(ApproxMulConfig(method="exact", a_bits=8, b_bits=4), tmp_path / "n")
    assert set(paths) == {"npy", "bin", "h"}
    assert lut_export.emulator_formats(4, 4, False) == () and lut_export.emulator_formats(8, 8, True) == ("adapt",)


def test_bad_tables_and_files_are_one_line_errors(tmp_path):
    with pytest.raises(QuantpeError, match="8x8"):
        lut_export.write_tfapprox_bin(tmp_path / "x.bin", exact_table(4, 4, False))
    with pytest.raises(QuantpeError, match="0..65535"):
        lut_export.write_tfapprox_bin(tmp_path / "x.bin", exact_table(8, 8, True))
    with pytest.raises(QuantpeError, match="8x8"):
        lut_export.write_adapt_header(tmp_path / "x.h", exact_table(8, 4, True))
    assert not list(tmp_path.iterdir())          # nothing written by a refused call
    short = tmp_path / "short.bin"
    short.write_bytes(b"\0" * 100)
    with pytest.raises(QuantpeError, match="100 bytes"):
        lut_read.read_tfapprox_bin(short)
    h = tmp_path / "other.h"
    h.write_text("const int32_t table[4] = {1, 2, 3, 4};\n")
    with pytest.raises(QuantpeError, match="AdaPT"):
        lut_read.read_adapt_header(h)
    h.write_text("const int16_t lut [256][256] = {{1, 2}};\n")
    with pytest.raises(QuantpeError, match="256 rows"):
        lut_read.read_adapt_header(h)
