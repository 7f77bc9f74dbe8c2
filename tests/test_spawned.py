"""`planner.network.parallel.Spawned`: one function in a spawned worker process (issue 21: the displacement
trade-off's re-plan beside its bounds), its result, the fallbacks in this process, and stopping it."""

from __future__ import annotations

import os
import time

import planner.network.parallel as par


def _pid_and_sum(a: int, b: int) -> tuple[int, int]:
    return os.getpid(), a + b


def _die_in_worker(parent: int) -> str:
    if os.getpid() != parent:
        os._exit(3)
    return "here"


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def test_the_function_runs_in_another_process_and_returns_its_result() -> None:
    pid, total = par.Spawned(_pid_and_sum, (6, 36), "test").result()
    assert total == 42 and pid != os.getpid()


def test_a_worker_that_dies_or_cannot_start_leaves_the_work_to_this_process() -> None:
    assert par.Spawned(_die_in_worker, (os.getpid(),), "test").result() == "here"
    late = par.Spawned(lambda: os.getpid(), (), "test")          # a lambda cannot be pickled for the worker
    assert late.result() == os.getpid()


def test_cancel_and_dropping_unread_stop_the_worker() -> None:
    import gc

    for how in ("cancel", "drop"):
        h = par.Spawned(_sleep, (60.0,), "test")
        assert h.pool is not None
        deadline = time.time() + 30
        while not h.pool._processes and time.time() < deadline:   # the worker starts on submit
            time.sleep(0.05)
        procs = list(h.pool._processes.values())
        assert procs and procs[0].is_alive()
        if how == "cancel":
            h.cancel()
        else:
            del h
            gc.collect()
        procs[0].join(timeout=10)
        assert not procs[0].is_alive()
