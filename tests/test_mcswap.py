"""max-cover start plans by the swap search (`planner.model.mcswap`): the solve's optimum with the search on
and off is brute force's; the search's plan is never worse than the greedy's it starts from, keeps the budget
and the fixed sites; plans are whole persons."""

from __future__ import annotations

import time

import numpy as np
import pytest
from test_model_bruteforce import brute_force, max_cover_problem, random_instance, solves_like_brute_force

import planner.model as M
from planner.errors import InfeasibleError
from planner.model import lppath
from planner.model.assign import assign_fixed
from planner.model.result import coverage
from planner.progress import set_quiet

set_quiet(True)


def _budget(inst, seed: int) -> float:
    return float(inst["cost"].sum()) * (0.25 + 0.05 * (seed % 4))


@pytest.mark.parametrize("seed", range(8))
def test_solve_agrees_with_brute_force_with_and_without_the_search(seed: int) -> None:
    inst = random_instance(seed, n_rooms=10, n_sites=8 + seed % 3)
    for sol in solves_like_brute_force(inst, _budget(inst, seed), "mc_swap")[1].values():
        res = sol.assignments["residents"].to_numpy(dtype=float)
        assert np.array_equal(res, np.rint(res))                           # whole persons


def test_search_never_worse_than_the_greedy_and_within_the_budget(monkeypatch) -> None:
    seen: list = []
    real = lppath.swap_search

    def spy(c, o, ar, lp, x0, guide, deadline, bound=None):
        x, info = real(c, o, ar, lp, x0, guide, deadline, bound)
        seen.append((c, o, x0.copy(), x.copy(), info))
        return x, info

    monkeypatch.setattr(lppath, "swap_search", spy)
    kept = 0
    for seed in range(16):
        inst = random_instance(seed, n_rooms=12, n_sites=10)
        seen.clear()
        # no MIP start and a greedy without the LP's guide: starts the search can improve on
        M.solve(max_cover_problem(inst, _budget(inst, seed)), progress=False,
                options=M.SolveOptions(mc_swap_share=5.0, mip_start=False))
        assert len(seen) == 1
        for c, o, x0, x, info in seen:
            v0, ar0, _ = assign_fixed(c, o, x0)
            v1, ar1, _ = assign_fixed(c, o, x)
            assert v0 is not None and v1 is not None
            assert float(ar1.c @ v1) <= float(ar0.c @ v0) + 1e-6 * max(1.0, abs(float(ar0.c @ v0)))
            assert float(c.cost @ x) <= float(c.budget) + 1e-6
            assert np.all(x[c.fixed1.astype(bool)] > 0.5)
            assert set(np.unique(x)) <= {0.0, 1.0}
            kept += info["kept"]
    print("kept moves", kept)


def test_search_improves_a_poor_start(monkeypatch) -> None:
    """From the cheapest sites alone (within the budget; the solve's own model and LP), with every site a
    candidate and time enough, the search's coverage is never above brute force's optimum nor below the
    start's, and reaches the optimum on most small instances (moves of up to 4 for 4 sites, valued exactly)."""
    seen: list = []
    real = lppath.swap_search

    def poor(c, o, ar, lp, x0, guide, deadline, bound=None):
        x0 = np.zeros(c.J)
        for j in np.argsort(c.cost, kind="stable"):
            if c.cost @ x0 + c.cost[j] <= c.budget:
                x0[j] = 1.0
        x, info = real(c, o, ar, lp, x0, guide, time.perf_counter() + 20, None)
        seen.append((c, o, x0, x))
        return x, info

    monkeypatch.setattr(lppath, "swap_search", poor)
    reached = improved = 0
    for seed in range(8):
        inst = random_instance(seed, n_rooms=10, n_sites=8)
        budget = _budget(inst, seed)
        seen.clear()
        M.solve(max_cover_problem(inst, budget), progress=False, options=M.SolveOptions(mc_swap_candidates=100))
        assert len(seen) == 1
        c, o, x0, x = seen[0]
        v0, ar0, _ = assign_fixed(c, o, x0)
        v, ar1, _ = assign_fixed(c, o, x)
        start, got = coverage(c, ar0, v0), coverage(c, ar1, v)
        opt = -brute_force(inst, "max-cover", budget, 1)[0][0]
        assert start - 1e-6 <= got <= opt + 1e-6
        assert float(c.cost @ x) <= budget + 1e-6
        reached += int(got >= opt - 1e-6)
        improved += int(got > start + 1e-6)
    assert improved >= 3 and reached >= 6, (improved, reached)


def test_search_only_below_its_size_threshold() -> None:
    """Models with `mc_swap_below` assignment columns or more (Station Unity's solves: 270,000 and more, above
    the default 100,000) keep the greedy's start; cover-all never runs the search."""
    inst = random_instance(3, n_rooms=10, n_sites=9)
    p = max_cover_problem(inst, _budget(inst, 3))
    assert "mc_swap" in M.solve(p, progress=False).stats
    assert "mc_swap" not in M.solve(p, progress=False, options=M.SolveOptions(mc_swap_below=1)).stats
    cover = M.Problem.from_cost_matrix(inst["demand"], inst["times"], inst["capacity"], inst["cost"],
                                       door_flow_pps=inst["door_flow_pps"], room_ids=inst["room_ids"],
                                       site_ids=inst["site_ids"], door_queue=True, objective="cover-all",
                                       budget=None, mip_gap=0.0, time_limit_s=30)
    try:
        assert "mc_swap" not in M.solve(cover, progress=False).stats
    except InfeasibleError:
        pass
