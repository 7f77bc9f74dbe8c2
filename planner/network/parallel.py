"""Worker processes for the reach table: forked pools with a fallback in this process (moved from `planner/network.py`)."""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import weakref
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Sequence, TypeVar

import numpy as np

from planner.progress import log


T = TypeVar("T")
R = TypeVar("R")

_REACH_WORKERS_MAX = 2
"""Worker processes for the reach table, at most (and at most the CPUs this process may use);
the environment variable PLANNER_REACH_WORKERS sets the number instead (1: no workers)."""
_PARALLEL_MIN_ROOMS = 300
"""Fewer rooms to walk (rooms other than convex ones with one door) than this: no workers
(starting them costs more than they save)."""
_PARALLEL_MIN_TILE_CELLS = 300_000
"""Less shortest-path work (source rows x tile nodes, summed over the tiles; about 0.3 us each)
than this: no workers."""
_CHUNKS_PER_WORKER = 4
"""Work is cut into this many runs per worker, each handed to the next free worker (so that
uneven runs even out)."""
_WORKER_FN: Callable[[Any], Any] | None = None
"""Inside a `_fork_map` worker process only: the function it maps (set by the pool's initializer,
inherited by fork, never pickled). The calling process never sets it."""


def _reach_workers() -> int:
    """Worker processes for the reach table (1: everything in this process)."""
    env = os.environ.get("PLANNER_REACH_WORKERS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"PLANNER_REACH_WORKERS must be a whole number, not {env!r}") from None
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(_REACH_WORKERS_MAX, cpus))


def _balanced_chunks(items: Sequence[T] | np.ndarray, weight: np.ndarray, workers: int) -> list:
    """`items` cut for `workers` processes: into consecutive, non-empty runs of about equal total
    `weight` (`_CHUNKS_PER_WORKER` per worker; one run for one worker)."""
    k = workers * _CHUNKS_PER_WORKER if workers > 1 else 1
    if k <= 1 or len(items) <= 1:
        return [items] if len(items) else []
    cum = np.cumsum(weight, dtype=float)
    cuts = np.unique(np.searchsorted(cum, cum[-1] * np.arange(1, k) / k, side="right"))
    bounds = [0, *(int(c) for c in cuts if 0 < c < len(items)), len(items)]
    return [items[a:b] for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def _adopt(fn: Callable[[Any], Any]) -> None:
    """Pool initializer, run in each forked worker: keep the function the worker maps."""
    global _WORKER_FN
    _WORKER_FN = fn


def _forked_call(item: Any) -> Any:
    """Run one item of a `_fork_map` in a worker, with the function it inherited."""
    assert _WORKER_FN is not None, "_forked_call runs only in a _fork_map worker"
    return _WORKER_FN(item)


def _worker_init(fn: Callable[[Any], Any], parent: int) -> None:
    """Pool initializer: keep the function the worker maps (`_adopt`) and die with the parent."""
    _adopt(fn)
    _die_with_parent(parent)


def _die_with_parent(parent: int) -> None:
    """The worker is killed when the process that forked it dies (Linux PR_SET_PDEATHSIG), even
    by SIGKILL; elsewhere it exits if its parent is already gone."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):  # not Linux: no death signal
        pass
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):  # the parent's handlers are inherited
        signal.signal(sig, signal.SIG_DFL)
    if os.getppid() != parent:  # the parent died before the death signal was set
        os._exit(1)


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """Kill a pool's worker processes and drop the pool without waiting for its queued work."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for proc in procs:
        try:
            proc.kill()
        except (OSError, AttributeError):
            pass
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.join(timeout=5)


def _fork_map(fn: Callable[[T], R], items: list[T], workers: int, what: str = "reach table") -> list[R]:
    """``[fn(x) for x in items]``, in order: in `workers` forked processes when more than one
    and the "fork" start method exists, else (or when the workers fail) in this process.

    `fn` may be any callable, closures included: the workers inherit it (and everything it
    reads) by fork; only the items and the results are pickled."""
    workers = min(workers, len(items))
    if workers > 1 and "fork" in mp.get_all_start_methods():
        try:
            # the initializer's argument reaches the workers by fork (a forked process is not
            # handed pickled arguments), so closures work; the calling process keeps no state.
            # The workers die with this process (_die_with_parent) and are killed when it is interrupted.
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork"),
                                       initializer=_worker_init, initargs=(fn, os.getpid()))
            try:
                result = list(pool.map(_forked_call, items))
            except BaseException:  # interrupted or failed: stop the workers now, don't wait for them
                _kill_workers(pool)
                raise
            pool.shutdown(wait=True)
            return result
        except Exception as exc:  # noqa: BLE001 - no fork, no memory, a worker killed: work here instead
            log(f"[planner] {what}: worker processes failed ({exc!r}); continuing in this process")
    return [fn(x) for x in items]



class _OneCall:
    """One call started at once in one worker process (`_Forked`, `Spawned`), its result collected by
    `result`; computed in this process instead (`_here`, at `result`) when the worker fails or could not
    start. `cancel` stops a worker whose result is no longer wanted, and so does dropping the object unread
    (e.g. its caller raised)."""

    what: str
    pool: ProcessPoolExecutor | None = None
    future: Any = None
    _stop: Any = None

    def _start(self, pool: Callable[[], ProcessPoolExecutor], submit: Callable[[ProcessPoolExecutor], Any]) -> None:
        """Make the pool and submit the call; on failure, log it and leave the work to this process."""
        try:
            self.pool = pool()
            self._stop = weakref.finalize(self, _kill_workers, self.pool)   # dropped unread: the worker stops
            self.future = submit(self.pool)
        except Exception as exc:  # noqa: BLE001 - no processes, no memory, unpicklable: work here, later
            log(f"[planner] {self.what}: worker process failed to start ({exc!r}); continuing in this process")
            self.cancel()

    def _here(self) -> Any:
        raise NotImplementedError

    def result(self) -> Any:
        """The call's result: the worker's, or computed here."""
        future, self.future = self.future, None
        if future is not None:
            try:
                out = future.result()
            except Exception as exc:  # noqa: BLE001 - a worker killed, out of memory: work here
                log(f"[planner] {self.what}: worker process failed ({exc!r}); continuing in this process")
                self.cancel()
            else:
                if self.pool is not None:
                    self._stop.detach()
                    self.pool.shutdown(wait=True)
                    self.pool = None
                return out
        return self._here()

    def cancel(self) -> None:
        """Stop the worker (killed if it is still working)."""
        if self._stop is not None:
            self._stop()
        self.pool = None
        self.future = None


class _Forked(_OneCall):
    """``fn()`` started at once in one forked worker process (`_OneCall`); in this process when there is no
    "fork". `fn` may be a closure: the worker inherits it by fork."""

    def __init__(self, fn: Callable[[], Any], what: str) -> None:
        self.fn, self.what = fn, what
        if "fork" not in mp.get_all_start_methods():
            return
        self._start(lambda: ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("fork"),
                                                initializer=_worker_init, initargs=(lambda _: fn(), os.getpid())),
                    lambda pool: pool.submit(_forked_call, None))

    def _here(self) -> Any:
        return self.fn()


class Spawned(_OneCall):
    """``fn(*args)`` started at once in one spawned worker process (`_OneCall`; a fresh interpreter: safe for
    a library with its own thread pool, such as HiGHS, where a fork of a process that used it is not). `fn`
    and `args` are pickled (`fn` a module-level function). The worker dies with this process."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], what: str) -> None:
        self.fn, self.args, self.what = fn, args, what
        self._start(lambda: ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"),
                                                initializer=_die_with_parent, initargs=(os.getpid(),)),
                    lambda pool: pool.submit(fn, *args))

    def _here(self) -> Any:
        return self.fn(*self.args)
