"""The one way the project writes a file: all or nothing, never half-written.

Every writer puts the content into a temporary file in the target's folder and renames it over
the target (`os.replace`, atomic on one file system), creating missing parent folders; the
result has mode 0644 like a plain write. `staged_dir` does the same for a set of files: they are written into a hidden staging
folder and moved into place only when the whole block succeeded, so an earlier result is
replaced only by a complete new one; the folders it had to create go again on a failure.
Failures to write raise one line naming the path (`write_error`): exit 3 (ToolError) when the
environment refuses (full disk, quota, read-only or failing file system, no permission), exit 2
when the path cannot be one (a file where a folder should be, a name too long).
`check_output` validates an output path before any work starts, creating nothing.
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path

from quantpe.golden.errors import QuantpeError, ToolError

__all__ = ["write_text", "write_bytes", "save_figure", "staged_dir", "ensure_dir", "check_output",
           "write_error", "remove_empty", "first_missing"]

#: errors of a path that cannot be an output (bad input, exit 2); any other write error is the
#: environment's (exit 3)
_BAD_PATH = (errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG, errno.EINVAL, errno.ELOOP)


def write_error(path, exc: OSError, verb: str = "write") -> QuantpeError:
    """The one-line error of a failed write of `path` (module docstring)."""
    reason = exc.strerror or str(exc)
    if exc.errno == errno.EEXIST:
        reason = "a file is in the way of a folder"
    cls = QuantpeError if exc.errno in _BAD_PATH else ToolError
    return cls(f"cannot {verb} {path}: {reason}")


def first_missing(path: Path) -> Path | None:
    """The outermost folder of `path` that does not exist yet (None: `path` exists)."""
    missing = None
    for p in (path, *path.parents):
        if p.exists() or p.is_symlink():
            break
        missing = p
    return missing


def check_output(path, what: str = "output", folder: bool | None = None) -> None:
    """Refuse an output path that cannot be written, before any work and creating nothing:
    an ancestor that is a file ("Not a directory"), an existing file where a folder is wanted
    (`folder=True`) or a folder where a file is wanted (`folder=False`), a folder without write
    permission."""
    path = Path(path)
    base = path
    while not (base.exists() or base.is_symlink()) and base != base.parent:
        base = base.parent
    if base != path and not base.is_dir():
        raise QuantpeError(f"cannot write {what} {path}: {base} is not a directory")
    if base == path:
        if folder is True and not path.is_dir():
            raise QuantpeError(f"{what} {path} is a file, not a folder")
        if folder is False and path.is_dir():
            raise QuantpeError(f"{what} {path} is a folder, not a file")
    target = base if base.is_dir() else base.parent
    try:                                   # the one sure test: create (and remove) a file there
        fd, probe = tempfile.mkstemp(prefix=".quantpe-probe-", dir=target)
    except OSError as e:
        raise write_error(f"{what} {path}", e) from None
    os.close(fd)
    os.unlink(probe)


def ensure_dir(path: Path, what: str = "output folder") -> Path:
    """Create `path` (and parents) if needed and check it is writable."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise write_error(f"{what} {path}", e, "create") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ToolError(f"{what} {path} is not writable")
    return path


def _replace_with(path: Path, fill) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise write_error(path, e) from None
    try:
        with os.fdopen(fd, "wb") as f:
            fill(f, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise write_error(path, e) from None
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
    created = first_missing(out.absolute())
    ok = False
    try:
        out = ensure_dir(out)
        try:
            stage = Path(tempfile.mkdtemp(prefix=".stage-", dir=out))
        except OSError as e:
            raise write_error(out, e) from None
        try:
            try:
                yield stage
            except QuantpeError as e:            # name the file the user asked for, not the stage's
                if str(stage) not in str(e):
                    raise
                raise type(e)(str(e).replace(str(stage), str(out))) from None
            for src in sorted(stage.rglob("*")):
                if src.is_file():
                    dst = out / src.relative_to(stage)
                    try:
                        dst.parent.mkdir(parents=True, exist_ok=True)
                        os.replace(src, dst)
                    except OSError as e:
                        raise write_error(dst, e) from None
            ok = True
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    finally:
        if not ok and created is not None:
            remove_empty(out.absolute(), created)


def remove_empty(path: Path, upto: Path) -> None:
    """Remove `path` and its parents up to `upto` (included) while they are empty folders: the
    folders a failed run created."""
    for p in (path, *path.parents):
        try:
            p.rmdir()
        except OSError:
            return
        if p == upto:
            return
