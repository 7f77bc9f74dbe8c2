"""The set-cover search (planner.model.coversearch.cover_all_search) on small random set covers against
brute force: the optimum, a valid bound and a cover, alone (one thread) and with its prover thread;
and HiGHS solves that a `stop` callable interrupts."""

from __future__ import annotations

import itertools
import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from planner.model.arrays import Arrays
from planner.model import coversearch
from planner.model.coversearch import _Best, _proof_seed, cover_all_arrays, cover_all_search
from planner.model.highs import highs_threads_reset, solve_highspy
from planner.model.options import COVER_HIGHS_OPTIONS, SolveOptions


def _set_cover(A: np.ndarray, cost: np.ndarray, req: np.ndarray, fixed: np.ndarray | None = None) -> Arrays:
    """The set cover min cost'x, A x >= req, x binary (sites = columns), as the pure cover model's arrays."""
    m, n = A.shape
    fixed = np.zeros(n, bool) if fixed is None else fixed
    return Arrays(c=cost.astype(float), lo=fixed.astype(float), hi=np.ones(n), integer=np.ones(n, bool),
                  A=sp.csc_matrix(A.astype(float)), row_lo=req.astype(float), row_hi=np.full(m, np.inf),
                  names=[f"x_{j}" for j in range(n)], row_names=[f"cover_{i}" for i in range(m)], nx=n, nz=0,
                  ny=0, ycol0=n, scol0=n, yq=np.zeros(0, np.int64), ys=np.zeros(0, np.int64),
                  z_groups=np.zeros(0, np.int64), rows_by_kind={"cover": m})


def _brute(A: np.ndarray, cost: np.ndarray, req: np.ndarray, fixed: np.ndarray) -> float:
    """The least cost of a cover, over every site subset (inf: none)."""
    n = A.shape[1]
    X = np.array(list(itertools.product([0, 1], repeat=n)), float)
    X = X[(X >= fixed).all(axis=1)]
    ok = (X @ A.T >= req).all(axis=1)
    return float((X[ok] @ cost).min()) if ok.any() else np.inf


def _instance(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(4, 16)), int(rng.integers(4, 12))
    A = (rng.random((m, n)) < rng.uniform(0.15, 0.5)).astype(float)
    A[np.arange(m), rng.integers(0, n, m)] = 1.0            # every row has a site
    req = np.where(rng.random(m) < 0.2, 2.0, 1.0) if seed % 3 == 2 else np.ones(m)
    req = np.minimum(req, A.sum(axis=1))
    cost = np.ones(n) if seed % 2 == 0 else rng.integers(1, 6, n).astype(float)
    fixed = rng.random(n) < 0.1 if seed % 5 == 4 else np.zeros(n, bool)
    return A, cost, req, fixed


@pytest.mark.parametrize("core", [True, False])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("seed", range(8))
def test_cover_all_search_finds_and_proves_the_brute_force_optimum(seed: int, threads: int, core: bool,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """With the core bound, and without it (no core rows: the proof attempts alone)."""
    if not core:
        monkeypatch.setattr(coversearch, "COVER_ALL_CORE_DUAL", np.inf)
    A, cost, req, fixed = _instance(seed)
    ar = _set_cover(A, cost, req, fixed)
    rows = cover_all_arrays(ar, A.shape[1])
    assert rows is not None
    o = SolveOptions(seed=seed, threads=threads, mip_gap=0.0, time_limit_s=20)
    stats: dict[str, Any] = {}
    with highs_threads_reset():        # HiGHS's thread count is fixed per thread at its first solve
        run, seconds = cover_all_search(o, SimpleNamespace(J=A.shape[1]), ar, rows, None, time.perf_counter(),
                                        dict(COVER_HIGHS_OPTIONS, random_seed=seed), stats)
    best = _brute(A, cost, req, fixed)
    assert run.status == "optimal" and run.values is not None
    x = run.values > 0.5
    assert (A @ x >= req).all() and x[fixed].all()         # a cover, with the fixed sites open
    assert float(cost @ x) == pytest.approx(best)
    assert run.bound <= best + 1e-6                          # a valid bound, and it proves the plan
    assert run.objective == pytest.approx(best)
    log = stats["cover_all_search"]
    assert log["workers"] == (2 if threads >= 2 else 1)
    assert all(r["merged"] >= best - 1e-6 and min(r["plans"]) >= best - 1e-6 for r in log["rounds"])
    assert log["proven_by"] in ("attempt", "core bound")
    if log["proven_by"] == "attempt":
        assert any(a["status"] == "optimal" for a in log["attempts"])
    assert log["core"].get("skipped") or log["core"]["bound"] <= best + 1e-6
    if not core:
        assert log["core"]["skipped"] and log["proven_by"] == "attempt"
    assert seconds > 0


def _instance_big(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Random set covers with more rows than sites (most rows then get no LP dual), backups, integer costs
    and fixed sites on some."""
    rng = np.random.default_rng(1000 + seed)
    m, n = int(rng.integers(20, 60)), int(rng.integers(8, 13))
    A = (rng.random((m, n)) < rng.uniform(0.15, 0.4)).astype(float)
    A[np.arange(m), rng.integers(0, n, m)] = 1.0
    req = np.minimum(np.where(rng.random(m) < 0.3, 2.0, 1.0) if seed % 3 == 1 else np.ones(m), A.sum(axis=1))
    cost = np.ones(n) if seed % 2 == 0 else rng.integers(1, 9, n).astype(float)
    fixed = rng.random(n) < 0.1 if seed % 4 == 3 else np.zeros(n, bool)
    return A, cost, req, fixed


def test_core_bound_is_a_valid_bound_and_proves_when_it_can() -> None:
    """The core bound (the MIP over the rows with a positive LP dual) never exceeds the brute-force optimum,
    is at least the LP bound, and ends the search as the proof where it reaches the plan."""
    proven = 0
    for seed in range(24):
        A, cost, req, fixed = _instance_big(seed)
        ar = _set_cover(A, cost, req, fixed)
        rows = cover_all_arrays(ar, A.shape[1])
        assert rows is not None
        stats: dict[str, Any] = {}
        with highs_threads_reset():
            run, _ = cover_all_search(SolveOptions(seed=seed, threads=1, mip_gap=0.0, time_limit_s=20),
                                      SimpleNamespace(J=A.shape[1]), ar, rows, None, time.perf_counter(),
                                      dict(COVER_HIGHS_OPTIONS, random_seed=seed), stats)
        best = _brute(A, cost, req, fixed)
        log = stats["cover_all_search"]
        assert run.status == "optimal" and float(cost @ (run.values > 0.5)) == pytest.approx(best)
        if not log["core"].get("skipped"):
            assert log["lp_bound"] - 1e-6 <= log["core"]["bound"] <= best + 1e-6
            assert log["core"]["rows"] < A.shape[0]
        proven += log["proven_by"] == "core bound"
    assert proven >= 12


def test_cover_all_search_returns_its_start_when_nothing_better_exists() -> None:
    """A start plan that is already optimal: the prover starts from it at once and proves it."""
    A, cost, req, fixed = _instance(6)
    ar = _set_cover(A, cost, req, fixed)
    rows = cover_all_arrays(ar, A.shape[1])
    assert rows is not None
    n = A.shape[1]
    X = np.array(list(itertools.product([0, 1], repeat=n)), float)
    ok = (X @ A.T >= req).all(axis=1) & (X >= fixed).all(axis=1)
    opt = X[ok][np.argmin(X[ok] @ cost)]
    stats: dict[str, Any] = {}
    with highs_threads_reset():
        run, _ = cover_all_search(SolveOptions(threads=2, mip_gap=0.0, time_limit_s=20), SimpleNamespace(J=n), ar,
                                  rows, opt, time.perf_counter(), dict(COVER_HIGHS_OPTIONS), stats)
    assert run.status == "optimal" and float(cost @ (run.values > 0.5)) == pytest.approx(float(cost @ opt))


def test_best_plan_keeps_the_cheapest_and_counts_improvements() -> None:
    best = _Best(np.array([1.0, 2.0, 3.0]), None)
    assert not best.found.is_set() and best.value == np.inf
    assert best.offer(np.array([True, True, True]))
    assert best.version == 1 and best.found.is_set() and best.value == 6.0
    assert not best.offer(np.array([False, True, True]) | np.array([True, True, True]))   # same cost: kept
    assert best.offer(np.array([True, False, False])) and best.version == 2 and best.value == 1.0
    assert not best.offer(np.array([False, True, False]))
    assert [_proof_seed(5, n) for n in range(3)] == [5, 5 + 7919, 5 + 2 * 7919]


def test_solve_highspy_stops_when_asked() -> None:
    """`stop` answering True at its first call interrupts the solve (status "interrupted") with a bound
    no better than the optimum; None lets the same solve run to the optimum."""
    rng = np.random.default_rng(3)
    m, n = 50, 40
    A = (rng.random((m, n)) < 0.08).astype(float)
    A[np.arange(m), rng.integers(0, n, m)] = 1.0
    ar = _set_cover(A, np.ones(n), np.ones(m))
    asked: list[int] = []

    def stop() -> bool:
        asked.append(1)
        return True

    with highs_threads_reset():
        run = solve_highspy(ar, 30.0, 0.0, 1, None, False, True, dict(COVER_HIGHS_OPTIONS), stop)
        full = solve_highspy(ar, 30.0, 0.0, 1, None, False, True, dict(COVER_HIGHS_OPTIONS))
    assert asked and run.status == "interrupted"
    assert full.status == "optimal"
    assert not np.isfinite(run.bound) or run.bound <= full.objective + 1e-6


def test_solve_highspy_stop_at_sees_the_bounds() -> None:
    """`stop_at` is asked with the MIP's primal and dual bound (the dual never above the optimum); True
    interrupts the solve."""
    rng = np.random.default_rng(3)
    m, n = 50, 40
    A = (rng.random((m, n)) < 0.08).astype(float)
    A[np.arange(m), rng.integers(0, n, m)] = 1.0
    ar = _set_cover(A, np.ones(n), np.ones(m))
    seen: list[tuple[float, float]] = []

    def stop_at(primal: float, dual: float) -> bool:
        seen.append((primal, dual))
        return True

    with highs_threads_reset():
        full = solve_highspy(ar, 30.0, 0.0, 1, None, False, True, dict(COVER_HIGHS_OPTIONS))
        run = solve_highspy(ar, 30.0, 0.0, 1, None, False, True, dict(COVER_HIGHS_OPTIONS), stop_at=stop_at)
    assert full.status == "optimal" and seen and run.status == "interrupted"
    assert all(d <= full.objective + 1e-6 for _, d in seen)
