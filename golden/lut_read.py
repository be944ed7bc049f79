"""Readers of the emulator LUT layouts (8x8 only; `quantpe.golden.lut_export` writes them):
`read_tfapprox_bin` (65,536 little-endian uint16, entry a * 256 + b) and `read_adapt_header`
(AdaPT's `int16_t lut [256][256]`, rows a_pattern); both return a (256, 256) int64 table and
raise QuantpeError (one line) on anything else. Imports: numpy, `quantpe.golden.errors`.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .errors import QuantpeError

__all__ = ["read_tfapprox_bin", "read_adapt_header"]


def read_tfapprox_bin(path) -> np.ndarray:
    """Inverse of `write_tfapprox_bin`: (256, 256) int64 table."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise QuantpeError(f"cannot read {path}: {e.strerror or e}") from None
    if len(raw) != 2 << 16:
        raise QuantpeError(f"{path}: {len(raw)} bytes, a TFApprox 8x8 uint16 LUT has {2 << 16}")
    return np.frombuffer(raw, dtype="<u2").astype(np.int64).reshape(256, 256)


_ADAPT = re.compile(r"int16_t\s+lut\s*\[\s*256\s*\]\s*\[\s*256\s*\]\s*=\s*\{(.*)\}\s*;", re.S)


def read_adapt_header(path) -> np.ndarray:
    """Inverse of `write_adapt_header` (any spacing): (256, 256) int64 table."""
    try:
        text = Path(path).read_text(encoding="ascii", errors="strict")
    except (OSError, UnicodeDecodeError) as e:
        raise QuantpeError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    m = _ADAPT.search(text)
    if m is None:
        raise QuantpeError(f"{path}: no `int16_t lut [256][256] = {{...}};` array (AdaPT layout)")
    body = m.group(1)
    rows = re.findall(r"\{([^{}]*)\}", body)
    try:
        vals = [[int(v) for v in r.replace("\n", " ").split(",") if v.strip()] for r in rows]
    except ValueError:
        raise QuantpeError(f"{path}: the lut array holds something other than integers") from None
    if len(vals) != 256 or any(len(r) != 256 for r in vals):
        raise QuantpeError(f"{path}: the lut array is not 256 rows of 256 values")
    return np.array(vals, dtype=np.int64)
