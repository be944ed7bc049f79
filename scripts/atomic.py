"""The one way the project writes a file: all or nothing, never half-written.

Every writer puts the content into a temporary file in the target's folder and renames it over
the target (`os.replace`, atomic on one file system), creating missing parent folders; the
result has mode 0644 like a plain write. `staged_dir` does the same for a set of files: they are written into a hidden staging
folder and moved into place only when the whole block succeeded, so an earlier result is
replaced only by a complete new one. Failures to write raise `QuantpeError` (one line).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from quantpe.golden.errors import QuantpeError

__all__ = ["write_text", "write_bytes", "save_figure", "staged_dir", "ensure_dir"]


def ensure_dir(path: Path, what: str = "output folder") -> Path:
    """Create `path` (and parents) if needed and check it is writable."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise QuantpeError(f"cannot create {what} {path}: {e.strerror or e}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise QuantpeError(f"{what} {path} is not writable")
    return path


def _replace_with(path: Path, fill) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise QuantpeError(f"cannot write {path}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            fill(f, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise QuantpeError(f"cannot write {path}: {e.strerror or e}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    return _replace_with(path, lambda f, _tmp: f.write(data))


def write_text(path: Path, text: str) -> Path:
    return write_bytes(path, text.encode())


def save_figure(fig, path: Path, **savefig_kw) -> Path:
    """`fig.savefig(path)` through a temporary file (the format follows `path`'s suffix)."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    return _replace_with(path, lambda f, _tmp: fig.savefig(f, format=fmt, **savefig_kw))


@contextlib.contextmanager
def staged_dir(out: Path):
    """Yield a hidden staging folder inside `out`; on success move every file written into it
    to `out` (replacing earlier ones), on any failure or interrupt delete it and keep `out` as
    it was (a folder `out` this call created is removed again when it stayed empty)."""
    out = Path(out)
    created = not out.exists()
    out = ensure_dir(out)
    try:
        stage = Path(tempfile.mkdtemp(prefix=".stage-", dir=out))
    except OSError as e:
        raise QuantpeError(f"cannot write to {out}: {e.strerror or e}") from None
    ok = False
    try:
        yield stage
        for src in sorted(stage.rglob("*")):
            if src.is_file():
                dst = out / src.relative_to(stage)
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
        ok = True
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if not ok and created:
            with contextlib.suppress(OSError):
                out.rmdir()                  # only when empty: a folder this run made
