"""Small file helpers shared by the writers: permissions of files written atomically.

`tempfile.mkstemp` creates files with mode 0600 and `mkdtemp` folders with 0700, which
would make every report and station file private to its writer once moved into place.
`umask_mode` gives them the modes an ordinary `open()`/`mkdir()` would have.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from planner.errors import OutputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def umask_mode(path: str | Path) -> None:
    """Set `path` to 0666 (files) or 0777 (folders) minus the process umask."""
    base = 0o777 if os.path.isdir(path) else 0o666
    os.chmod(path, base & ~_umask())


@dataclass
class StagedFolder:
    """A report folder being written: `path` while writing, `final` once moved into place."""

    path: Path
    final: Path | None = None


@contextmanager
def staged_folder(out_root: str | Path, name: str) -> Iterator[StagedFolder]:
    """Write a new folder `out_root/name` atomically and without overwriting anything.

    The block writes into a hidden temporary folder inside `out_root`; when it ends
    normally the folder is renamed to `name` (or `name-2`, `name-3` ... when taken).
    When it fails, the temporary folder (and `out_root`, if this call created it) is
    removed, so `out_root` is left exactly as it was; an `OSError` becomes an
    `OutputError` (exit code 5) that says so.
    """
    out_root = Path(out_root)
    created_root = not out_root.exists()
    try:
        out_root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.partial-", dir=out_root))
        umask_mode(tmp)
    except OSError as exc:
        raise OutputError(f"{out_root}: cannot create the report folder ({exc}). Fix: choose a writable --out") from None
    staged = StagedFolder(tmp)
    try:
        yield staged
        final = out_root / name
        n = 2
        while final.exists():  # never overwrite an earlier report
            final = out_root / f"{name}-{n}"
            n += 1
        os.replace(tmp, final)
        staged.final = final
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if created_root:
            shutil.rmtree(out_root, ignore_errors=True)
        if isinstance(exc, OSError):
            raise OutputError(f"{out_root}: the report could not be written ({exc}); nothing was changed. "
                              "Fix: free disk space or choose a writable --out") from exc
        raise


def write_atomic(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Write a file by `write(temporary path)` beside `path`, then move it into place: `path` is either
    the old file or the whole new one. An `OSError` (folder missing or not writable) becomes an
    `OutputError` (exit code 5); the temporary file is removed on any failure."""
    path = Path(path)
    tmp: Path | None = None
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        write(tmp)
        umask_mode(tmp)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise OutputError(f"{path}: cannot be written ({exc}). Fix: choose an existing, writable folder") from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return path
