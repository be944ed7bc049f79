"""Per-cycle input port streams of a golden schedule: one port's values, checked for presence and
shape (int64, one row per cycle)."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .errors import QuantpeError

__all__ = ["port_stream"]


def port_stream(inputs: Mapping, name: str, shape: tuple, who: str) -> np.ndarray:
    """inputs[name] as an int64 array of `shape`; QuantpeError naming `who` (the design kind's
    name in messages) when the port is missing or has another shape."""
    if name not in inputs:
        raise QuantpeError(f"{who} stimulus is missing port {name!r}")
    v = np.asarray(inputs[name], dtype=np.int64)
    if v.shape != shape:
        raise QuantpeError(f"{who} port {name!r} must have shape {shape}, got {v.shape}")
    return v
