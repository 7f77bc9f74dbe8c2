"""File helpers shared by every writer: atomic, never-overwriting outputs and their cleanup.

Every output of the planner goes through this module:

- `staged_folder`: a report folder (propose, sweep) written into a hidden
  ``.<name>.partial-*`` folder and renamed into place at the end; a failed or
  interrupted run removes only what it created itself, and stale partial folders
  of dead runs are removed by the next run (a live run holds a lock on its own).
- `write_atomic`: a single file (plan.json, reach tables, the cache) written to a
  temporary file beside it and moved into place; an existing file, folder or
  (dangling) symlink at the name is never replaced unless the caller asks for it.
- `write_npz` and `read_npz`: the one writer and the one reader of the caches' data-only
  ``.npz`` entries (reach table, run state, corridor openings, distance quantiles), each entry
  with its layout's format and its key.

`tempfile.mkstemp` creates files with mode 0600 and `mkdtemp` folders with 0700, which
would make every report and station file private to its writer once moved into place.
`umask_mode` gives them the modes an ordinary `open()`/`mkdir()` would have.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from planner.errors import OutputError

PARTIAL = ".partial-"
"""Marker in the names of folders being written (``.<name>.partial-XXXX``)."""
_NEW = ".new-"
"""Marker of a folder made but not yet locked (a run killed in that instant leaves one)."""
STALE_NEW_S = 3600.0
"""Age (s) after which an unlocked ``.new-`` folder is taken for a dead run's."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def umask_mode(path: str | Path) -> None:
    """Set `path` to 0666 (files) or 0777 (folders) minus the process umask."""
    base = 0o777 if os.path.isdir(path) else 0o666
    os.chmod(path, base & ~_umask())


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C so that every cleanup runs; `signum` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum)


def install_signal_handlers() -> dict[int, object]:
    """SIGTERM and SIGHUP interrupt the run like SIGINT does (cleanup runs, nothing is left behind).

    Returns the handlers replaced, for `restore_signal_handlers`."""
    old: dict[int, object] = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            old[sig] = signal.signal(sig, _raise_interrupted)
        except (ValueError, OSError):  # not the main thread, or no such signal here
            pass
    return old


def restore_signal_handlers(old: dict[int, object]) -> None:
    """Put back the handlers `install_signal_handlers` replaced."""
    for sig, handler in old.items():
        try:
            signal.signal(sig, handler)  # type: ignore[arg-type]
        except (ValueError, OSError, TypeError):
            pass


def _output_error(path: Path, exc: BaseException | str, fix: str) -> OutputError:
    return OutputError(f"{path}: cannot be written ({exc}); nothing was changed. Fix: {fix}")


def _make_dirs(folder: Path) -> list[Path]:
    """Create `folder` and its missing parents; the folders this call created, outermost first."""
    missing: list[Path] = []
    p = folder
    while not os.path.lexists(p):
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    made: list[Path] = []
    for d in reversed(missing):
        try:
            d.mkdir()
            made.append(d)
        except FileExistsError:  # made meanwhile by another run: not ours
            pass
    if not folder.is_dir():
        raise FileExistsError(f"{folder} exists and is not a folder")
    return made


def _remove_made(made: list[Path]) -> None:
    """Remove the folders a run created, innermost first, only while they are empty."""
    for d in reversed(made):
        try:
            os.rmdir(d)
        except OSError:  # not empty (another run wrote there) or gone: keep it
            return


def _locked_by_live_run(folder: Path) -> bool:
    """Does a live process hold the lock on `folder`? (False when it could be taken.)"""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return True  # cannot tell: leave it alone
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing releases a lock taken here
    return False


def remove_stale_partials(out_root: str | Path) -> list[Path]:
    """Remove the partial folders of dead runs in `out_root` (those of live runs are locked); returns them."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(out_root))
    except OSError:
        return removed
    now = time.time()
    for e in entries:
        if not e.name.startswith(".") or not e.is_dir(follow_symlinks=False):
            continue
        if PARTIAL in e.name:
            stale = not _locked_by_live_run(Path(e.path))
        elif _NEW in e.name:
            try:
                stale = now - e.stat(follow_symlinks=False).st_mtime > STALE_NEW_S
            except OSError:
                stale = False
        else:
            continue
        if stale:
            shutil.rmtree(e.path, ignore_errors=True)
            removed.append(Path(e.path))
    return removed


@dataclass
class StagedFolder:
    """A report folder being written: `path` while writing, `final` once moved into place."""

    path: Path
    final: Path | None = None


def _claim_name(out_root: Path, name: str) -> Path:
    """Create and return an empty folder `name` (or `name-2`, `name-3` ...): never an existing
    entry, a symlink (dangling or not) included."""
    n = 1
    while True:
        final = out_root / (name if n == 1 else f"{name}-{n}")
        try:
            os.mkdir(final)
            return final
        except FileExistsError:
            n += 1


@contextmanager
def staged_folder(out_root: str | Path, name: str) -> Iterator[StagedFolder]:
    """Write a new folder `out_root/name` atomically and without overwriting anything.

    The block writes into a hidden temporary folder inside `out_root`, locked by this
    process; when it ends normally the folder is renamed to `name` (or `name-2`,
    `name-3` ... when taken). When it fails or is interrupted, the temporary folder is
    removed, and so are the folders this call created (`out_root` and parents) if they
    are still empty: what other runs wrote is never touched. Partial folders of dead
    runs found in `out_root` are removed first. An `OSError` becomes an `OutputError`
    (exit code 5) that says so.
    """
    out_root = Path(out_root)
    made: list[Path] = []
    lock_fd = -1
    try:
        made = _make_dirs(out_root)
        remove_stale_partials(out_root)
        new = Path(tempfile.mkdtemp(prefix=f".{name}{_NEW}", dir=out_root))
        lock_fd = os.open(new, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        tmp = out_root / new.name.replace(_NEW, PARTIAL, 1)
        os.rename(new, tmp)
        umask_mode(tmp)
    except OSError as exc:
        if lock_fd >= 0:
            os.close(lock_fd)
        _remove_made(made)
        raise OutputError(f"{out_root}: cannot create the report folder ({exc}). "
                          "Fix: choose a writable --out folder") from None
    staged = StagedFolder(tmp)
    final: Path | None = None
    try:
        yield staged
        final = _claim_name(out_root, name)
        os.replace(tmp, final)  # onto the empty folder just claimed: atomic
        staged.final = final
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if final is not None and staged.final is None:
            try:
                os.rmdir(final)
            except OSError:
                pass
        _remove_made(made)
        if isinstance(exc, OSError):
            raise OutputError(f"{out_root}: the report could not be written ({exc}); nothing was changed. "
                              "Fix: free disk space or choose a writable --out") from exc
        raise
    finally:
        os.close(lock_fd)


def write_npz(path: str | Path, arrays: dict[str, Any]) -> OutputError | None:
    """Write `arrays` as a compressed, data-only ``.npz`` at `path` (numpy arrays only: read back with
    ``allow_pickle=False``), atomically, replacing an earlier entry (`write_atomic`; missing folders are
    made). For caches: returns the `OutputError` when it could not be written (a cache that cannot be written
    is not an error: the value is worked out again next time), else None."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
    try:
        write_atomic(path, write, overwrite=True, what="cache entry")
    except OutputError as exc:
        return exc
    return None


def read_npz(path: str | Path, format: str, key: str | None = None, *, need: tuple[str, ...] = (),
             only: Callable[[str], bool] | None = None, ignored: Callable[[str], object] | None = None
             ) -> dict[str, np.ndarray] | None:
    """The arrays of a data-only ``.npz`` cache entry (`write_npz`), read, or None: the file is missing,
    unreadable (truncated, not an npz, an object array: read with ``allow_pickle=False``, no code can run),
    of another `format` or `key`, or without one of the arrays named in `need`. Never raises for a bad file.

    The entry's format and key are its ``format`` and ``key`` arrays, or else the ``"format"`` and ``"key"``
    of the JSON object in its ``meta`` array (the run state's and the what-if sheet's layout); `key` None:
    not checked. `only`: read just the arrays whose names it accepts (and those three); else all.
    `ignored(reason)` is called for a file that is there but not returned (not for a missing one), e.g. to
    log it."""
    def no(reason: str) -> None:
        if ignored is not None:
            ignored(reason)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files
                      if only is None or name in ("format", "key", "meta") or only(name)}
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - truncated, not an npz, an object array, a folder: not an entry
        no(str(exc))
        return None
    try:
        if "format" in arrays:
            fmt, got = str(arrays["format"]), str(arrays["key"]) if "key" in arrays else None
        else:
            meta = json.loads(str(arrays["meta"]))
            fmt, got = str(meta["format"]), meta.get("key")
    except Exception:  # noqa: BLE001 - no format, a meta that is not a JSON object: not an entry
        no("not a cache entry (no format)")
        return None
    if fmt != format:
        no(f"another layout ({fmt!r}, not {format!r})")
        return None
    if key is not None and got != key:
        no("another key")
        return None
    if any(name not in arrays for name in need):
        no(f"no {', '.join(name for name in need if name not in arrays)}")
        return None
    return arrays


def write_atomic(path: str | Path, write: Callable[[Path], object], *, overwrite: bool = False,
                 what: str = "file") -> Path:
    """Write one file atomically: `write(tmp)` fills a temporary file beside `path`, which is then
    moved into place.

    Without `overwrite`, an existing entry at `path` (a file, a folder, a symlink even if
    dangling) is an `OutputError` and is left as it is; with it, only a regular file (or a
    symlink) is replaced, never a folder. Missing parent folders are created (and removed
    again if the write fails). Any `OSError` becomes an `OutputError` (exit code 5); the
    temporary file never stays behind, whatever is raised.
    """
    path = Path(path)
    if os.path.isdir(path) and not os.path.islink(path):
        raise _output_error(path, "it is a folder", f"give the name of a new {what}, e.g. {path / ('out' + (path.suffix or ''))}")
    if not overwrite and os.path.lexists(path):
        raise _output_error(path, "it exists and would be overwritten",
                            f"give the name of a new {what}, or move the old one away")
    made: list[Path] = []
    tmp: str | None = None
    try:
        made = _make_dirs(path.parent)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{PARTIAL}", suffix=path.suffix, dir=path.parent)
        os.close(fd)
        umask_mode(tmp)
        write(Path(tmp))
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if anything appeared at `path` meanwhile: never overwrites
            except FileExistsError:
                raise
            except OSError:  # no hard links on this file system: check, then rename
                if os.path.lexists(path):
                    raise FileExistsError(path) from None
                os.replace(tmp, path)
            else:
                os.unlink(tmp)
        tmp = None
    except FileExistsError as exc:
        raise _output_error(path, "it exists and would be overwritten" if os.path.lexists(path) else exc,
                            f"give the name of a new {what}, or move the old one away") from None
    except OSError as exc:
        raise _output_error(path, exc, "check that the folder exists and is writable, and free disk space") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            _remove_made(made)
    return path
