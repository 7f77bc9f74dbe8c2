"""Staged log lines and progress bars, on standard error, so a long run never looks like a hang."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

_QUIET = False


def set_quiet(quiet: bool) -> None:
    """Silence stage lines and bars (tests, library use)."""
    global _QUIET
    _QUIET = quiet


def log(msg: str) -> None:
    """One line on standard error."""
    if not _QUIET:
        print(msg, file=sys.stderr, flush=True)


@contextmanager
def stage(msg: str) -> Iterator[None]:
    """Print `msg ...` and, when done, how long it took (seconds)."""
    log(f"[planner] {msg} ...")
    t0 = time.perf_counter()
    try:
        yield
    finally:
        log(f"[planner] {msg}: done in {time.perf_counter() - t0:.1f} s")


def bar(iterable: Iterable[T], desc: str = "", total: int | None = None) -> Iterable[T]:
    """A tqdm progress bar on standard error (plain iteration when quiet)."""
    if _QUIET:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, total=total, file=sys.stderr, leave=False, mininterval=0.5)
