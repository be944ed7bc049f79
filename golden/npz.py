"""Byte-stable .npz files: the same arrays give the same bytes (fixed zip timestamps, order and
permissions, no pickles), written through the one atomic writer (`quantpe.golden.atomic`)."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from quantpe.golden.atomic import write_bytes

__all__ = ["npz_bytes", "write_npz"]


def npz_bytes(arrays: dict) -> bytes:
    """The .npz archive of `arrays` ({name: array}, in that order) as bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())
    return out.getvalue()


def write_npz(path, arrays: dict) -> Path:
    return write_bytes(Path(path), npz_bytes(arrays))
