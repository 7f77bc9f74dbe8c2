"""Stage lines and progress bars through the standard `logging` module (logger ``"planner"``).

Library calls are quiet: the logger has no handler of its own and, unless the caller configures
logging, INFO messages go nowhere. The command line turns progress on with `enable_progress`
(stage lines on standard error, and tqdm bars), so a long run never looks like a hang; a notebook
can do the same, or route the messages elsewhere with ordinary logging configuration
(``logging.getLogger("planner").setLevel(logging.INFO)`` plus a handler).
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager
from typing import IO, Iterable, Iterator, TypeVar

T = TypeVar("T")

logger = logging.getLogger("planner")
"""The package's logger; every module logs through it."""

_HANDLER_NAME = "planner-progress"


def enable_progress(stream: IO[str] | None = None) -> logging.Handler:
    """Show stage lines (and progress bars) on `stream` (standard error by default).

    Adds one plain-message handler to the ``"planner"`` logger (replacing an earlier one added
    here), sets the logger to INFO and stops propagation to the root logger so lines are not
    printed twice. Returns the handler.
    """
    disable_progress()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return handler


def disable_progress() -> None:
    """Remove the handler `enable_progress` added and restore the logger's defaults."""
    for h in list(logger.handlers):
        if h.get_name() == _HANDLER_NAME:
            logger.removeHandler(h)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True


def set_quiet(quiet: bool) -> None:
    """Silence stage lines and bars (`quiet`), or let them through at INFO level again."""
    logger.setLevel(logging.WARNING if quiet else logging.INFO)


def showing_progress() -> bool:
    """True when INFO messages of the ``"planner"`` logger reach a handler (then bars are drawn)."""
    return logger.isEnabledFor(logging.INFO)


def log(msg: str) -> None:
    """One INFO line on the ``"planner"`` logger."""
    logger.info(msg)


@contextmanager
def stage(msg: str) -> Iterator[None]:
    """Log `msg ...` and, when done, how long it took (seconds)."""
    logger.info("[planner] %s ...", msg)
    t0 = time.perf_counter()
    try:
        yield
    finally:
        logger.info("[planner] %s: done in %.1f s", msg, time.perf_counter() - t0)


def bar(iterable: Iterable[T], desc: str = "", total: int | None = None) -> Iterable[T]:
    """A tqdm progress bar on standard error when progress is shown (plain iteration otherwise)."""
    if not showing_progress():
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, total=total, file=sys.stderr, leave=False, mininterval=0.5)
