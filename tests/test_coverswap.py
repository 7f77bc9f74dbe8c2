"""The swap local search of the pure max-cover model (planner.model.coverswap) on small random models built
by the planner's own `build_cover_model`: a feasible plan never worse than its start and with no improving
swap or addition left (checked move by move); and the two-run race of `cover_search`
(planner.model.coversearch.race) against brute force."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from planner.model import Problem, compile_problem
from planner.model.arrays import Arrays
from planner.model.cover import build_cover_model, cover_start
from planner.model.coversearch import race
from planner.model.coverswap import max_cover_parts, swap_search
from planner.model.highs import highs_threads_reset
from planner.model.options import COVER_ALL_PROOF_OPTIONS, COVER_HIGHS_OPTIONS, SolveOptions

BIG = 10**9


def _model(seed: int, budget_sites: int = 3, n_rooms: int = 14, n_sites: int = 9, unit: bool = True) -> tuple:
    """A random max-cover problem's compiled form and pure cover model (budget: `budget_sites` sites of
    unit cost, or the cheapest `budget_sites` of random costs)."""
    rng = np.random.default_rng(seed)
    times = np.where(rng.random((n_rooms, n_sites)) < 0.3, rng.uniform(5, 50, (n_rooms, n_sites)), 500.0)
    people = rng.integers(1, 30, n_rooms)
    cost = np.ones(n_sites) if unit else rng.integers(1, 5, n_sites).astype(float)
    budget = float(np.sort(cost)[:budget_sites].sum())
    p = Problem.from_cost_matrix(people, times, np.full(n_sites, BIG), cost, reach_s=60.0, objective="max-cover",
                                 budget=budget, mip_gap=0.0, time_limit_s=20)
    c = compile_problem(p)
    return c, build_cover_model(c, reduce=True)


def _objective(ar: Arrays, J: int, x: np.ndarray) -> float:
    parts = max_cover_parts(ar, J)
    assert parts is not None
    C, w, _, _ = parts
    return float(ar.c[:J] @ x) - float(w @ np.minimum(C @ x, 1.0))


def _feasible(ar: Arrays, J: int, x: np.ndarray) -> bool:
    parts = max_cover_parts(ar, J)
    assert parts is not None
    _, _, bcost, budget = parts
    return bool(bcost @ x <= budget + 1e-9 and (x >= ar.lo[:J] - 1e-9).all() and (x <= ar.hi[:J] + 1e-9).all())


@pytest.mark.parametrize("seed", range(12))
def test_swap_search_improves_to_a_swap_local_optimum(seed: int) -> None:
    c, cm = _model(seed, budget_sites=2 + seed % 3, unit=seed % 2 == 0)
    ar, J = cm.ar, c.J
    rng = np.random.default_rng(seed)
    x0 = np.zeros(J)
    parts = max_cover_parts(ar, J)
    assert parts is not None
    _, _, bcost, budget = parts
    for j in rng.permutation(np.flatnonzero(ar.hi[:J] > 0.5)):      # a random feasible start
        if bcost @ x0 + bcost[j] <= budget:
            x0[j] = 1.0
    start = cover_start(c, cm, x0)
    v = swap_search(ar, J, start)
    assert v is not None
    x = v[:J]
    assert _feasible(ar, J, x)
    assert np.allclose(v, cover_start(c, cm, x))                       # u filled in as the model's
    assert float(ar.c @ v) == pytest.approx(_objective(ar, J, x))
    assert _objective(ar, J, x) <= _objective(ar, J, x0[:J]) + 1e-9
    now = _objective(ar, J, x)
    open_, shut = np.flatnonzero(x > 0.5), np.flatnonzero((x < 0.5) & (ar.hi[:J] > 0.5))
    moves = [(None, b) for b in shut] + [(a, b) for a in open_ for b in shut]
    for a, b in moves:                                                   # no improving move is left
        y = x.copy()
        if a is not None:
            y[a] = 0.0
        y[b] = 1.0
        if _feasible(ar, J, y):
            assert _objective(ar, J, y) >= now - 1e-9


def test_max_cover_parts_refuses_other_models() -> None:
    c, cm = _model(1)
    assert max_cover_parts(cm.ar, c.J) is not None
    rng = np.random.default_rng(0)
    times = np.where(rng.random((6, 4)) < 0.5, 20.0, 500.0)
    times[:, 0] = 20.0
    p = Problem.from_cost_matrix(np.ones(6), times, np.full(4, BIG), np.ones(4), reach_s=60.0, objective="cover-all")
    c2 = compile_problem(p)
    cm2 = build_cover_model(c2, reduce=True)
    assert max_cover_parts(cm2.ar, c2.J) is None
    assert swap_search(cm2.ar, c2.J, np.zeros(cm2.ar.A.shape[1])) is None


def _brute_max_cover(ar: Arrays, J: int) -> float:
    parts = max_cover_parts(ar, J)
    assert parts is not None
    best = np.inf
    for bits in itertools.product([0.0, 1.0], repeat=J):
        x = np.array(bits)
        if _feasible(ar, J, x):
            best = min(best, _objective(ar, J, x))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_race_proves_the_brute_force_optimum(seed: int) -> None:
    c, cm = _model(100 + seed, budget_sites=2 + seed % 2, n_sites=8)
    ar, J = cm.ar, c.J
    best = _brute_max_cover(ar, J)
    o = SolveOptions(seed=seed, threads=2, mip_gap=0.0, time_limit_s=20)
    with highs_threads_reset():
        run = race(o.with_defaults(20, 0.0, 2, "highs"), ar, 20.0, None,
                   dict(COVER_HIGHS_OPTIONS, random_seed=seed), COVER_ALL_PROOF_OPTIONS)
    assert run.status == "optimal" and run.values is not None
    assert run.objective == pytest.approx(best, abs=1e-6)
    assert _objective(ar, J, run.values[:J] > 0.5) == pytest.approx(best, abs=1e-6)
    assert run.bound <= best + 1e-6


def test_race_one_thread_is_a_single_solve() -> None:
    c, cm = _model(7)
    o = SolveOptions(seed=0, threads=1, mip_gap=0.0, time_limit_s=20).with_defaults(20, 0.0, 1, "highs")
    t = time.perf_counter()
    with highs_threads_reset():
        run = race(o, cm.ar, 20.0, None, dict(COVER_HIGHS_OPTIONS))
    assert run.status == "optimal" and time.perf_counter() - t < 20
    assert run.objective == pytest.approx(_brute_max_cover(cm.ar, c.J), abs=1e-6)
