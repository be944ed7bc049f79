"""The multiplier library's product tables, kept in the build cache between processes.

`BuildTableStore`: a store for `quantpe.golden.approx.mul_table` (`use_build_table_store`).
A table is <build root>/tables/<key>.npy, a (2^a_bits, 2^b_bits) int64 array; key = SHA-256
(24 hex) of the config id (its content: method, widths, parameters, LUT hash) and the source
digest of `quantpe.golden` (any change to the golden model is a new key, so no stale table is
read). Written atomically (a temporary file renamed into place); a file that does not read back
is ignored (the table is made again and rewritten). Every model's plans share one library.
"""
from __future__ import annotations

import hashlib
import io

import numpy as np

from quantpe.core.build import build_root, source_digest
from quantpe.golden.approx import use_table_store
from quantpe.golden.atomic import write_bytes
from quantpe.golden.errors import QuantpeError

__all__ = ["BuildTableStore", "use_build_table_store"]


class BuildTableStore:
    """load(cfg) -> the stored table or None; save(cfg, table); `reads` / `writes` count them."""

    def __init__(self):
        self._golden = source_digest("quantpe.golden")
        self.reads = self.writes = 0
        self.previous = None

    def restore(self) -> None:
        """Give `mul_table` back the store it had before `use_build_table_store`."""
        use_table_store(self.previous)

    def path(self, cfg):
        key = hashlib.sha256(f"{cfg.config_id}\0{self._golden}".encode()).hexdigest()[:24]
        return build_root() / "tables" / f"{key}.npy"

    def load(self, cfg):
        try:
            t = np.load(self.path(cfg), allow_pickle=False)
        except (OSError, ValueError, EOFError, QuantpeError):   # none yet, broken, or no build folder
            return None
        self.reads += 1
        return t

    def save(self, cfg, table) -> None:
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(table, dtype=np.int64), allow_pickle=False)
        try:
            write_bytes(self.path(cfg), buf.getvalue())
        except QuantpeError:                # a read-only cache only costs the next run the table
            return
        self.writes += 1


def use_build_table_store() -> BuildTableStore:
    """Make a new `BuildTableStore` the table store of `mul_table`; returns it (`restore` ends it)."""
    store = BuildTableStore()
    store.previous = use_table_store(store)
    return store
