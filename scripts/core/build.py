"""The build cache's folders and keys: where a design's files go, the lock that guards them, and
the digest of the sources an entry was made from.

Layout under the build root (``--build DIR``, ``$QUANTPE_BUILD`` or ``./build``):
``<kind>/<config-id>/`` for each design (see `quantpe.sim.runner` and `quantpe.synth.flow` for
what goes inside). Imports: `quantpe.golden` only.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import os
from pathlib import Path

from quantpe.golden.config import DesignConfig
from quantpe.golden.errors import QuantpeError

__all__ = ["build_root", "design_dir", "locked", "source_digest"]


def build_root() -> Path:
    """The build cache: $QUANTPE_BUILD (the CLI's --build) or ./build."""
    root = Path(os.environ.get("QUANTPE_BUILD", "build")).resolve()
    if any(c in str(root) for c in '"\n'):
        raise QuantpeError(f"build folder {str(root)!r} contains a double quote or a newline "
                           f"(simulator and Yosys scripts cannot name it): choose another with --build")
    return root


def design_dir(cfg: DesignConfig) -> Path:
    """``<build root>/<kind>/<config id>``: the cache folder of one design."""
    return build_root() / cfg.kind / cfg.config_id


@contextlib.contextmanager
def locked(path: Path):
    """Hold an exclusive file lock on ``path/.lock`` (the folder is created) for the block.
    QuantpeError (one line) when the folder cannot be written."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        f = open(path / ".lock", "w")
    except OSError as e:
        raise QuantpeError(f"cannot write to the build folder {path}: {e.strerror or e} "
                           f"(choose another with --build or $QUANTPE_BUILD)") from None
    with f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def source_digest(*modules: str) -> str:
    """SHA-256 (16 hex) of the sources of quantpe modules and packages, by relative name and
    content: a package ("quantpe.rtl") is every .py below its folder, sub-packages included; a
    module ("quantpe.core.kinds") is its file."""
    h = hashlib.sha256()
    for name in modules:
        mod = importlib.import_module(name)
        path = Path(mod.__file__).resolve()
        if path.name == "__init__.py":
            files = [(f.relative_to(path.parent).as_posix(), f) for f in sorted(path.parent.rglob("*.py"))]
        else:
            files = [(path.name, path)]
        for rel, f in files:
            h.update(f"{name}/{rel}".encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]
