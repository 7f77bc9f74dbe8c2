"""max-cover always reports a bound (issue 21): the sites' coverage knapsack (`cover_bound`) against brute
force over every site subset, and a solve whose LP relaxation stops without one.

- `cover_bound` is at least the brute-force optimum (persons sheltered summed over scenarios, every
  subset within the budget, an exact assignment LP each), with priority weights, fixed sites, identical
  scenarios and no budget;
- when the LP relaxation stops at its time limit without duals (HiGHS gives none; forced here), the solve
  keeps its start plan and reports that bound instead of none, and the bound holds.
"""

from __future__ import annotations

import numpy as np
import pytest

import planner.model.lppath as lppath
from planner.model import Problem, compile_problem, solve
from planner.model.bounds import cover_bound
from planner.model.highs import Run
from planner.progress import set_quiet
from test_model_bruteforce import brute_force, random_instance

set_quiet(True)


def _problem(inst, budget, **kw) -> Problem:
    return Problem.from_cost_matrix(inst["demand"], inst["times"], inst["capacity"], inst["cost"],
                                    door_flow_pps=inst["door_flow_pps"], room_ids=inst["room_ids"],
                                    site_ids=inst["site_ids"], door_queue=True, objective="max-cover",
                                    budget=budget, mip_gap=0.0, time_limit_s=30, **kw)


def _case(seed: int):
    inst = random_instance(seed, n_rooms=8 + seed % 4, n_sites=8 + seed % 3, n_scen=2 + seed % 2)
    if seed % 5 == 4:                      # identical scenarios (merged in the model, counted twice)
        inst["demand"][:, 1] = inst["demand"][:, 0]
    opts: dict = {}
    fixed: tuple = ()
    if seed % 4 == 1:                      # an existing safe room: free and fixed in
        existing = np.zeros(len(inst["site_ids"]), bool)
        existing[3] = True
        inst["cost"] = np.where(existing, 0.0, inst["cost"])
        opts = dict(existing=existing)
        fixed = (inst["site_ids"][3],)
    budget = None if seed % 7 == 6 else round(float(inst["cost"].sum()) * (0.2 + 0.1 * (seed % 4)))
    return inst, budget, opts, fixed


@pytest.mark.parametrize("seed", range(14))
def test_cover_bound_never_below_the_optimum(seed: int) -> None:
    inst, budget, opts, fixed = _case(seed)
    bf = brute_force(inst, "max-cover", budget, 1, fixed=fixed)
    best = -bf[0][0]
    b = cover_bound(compile_problem(_problem(inst, budget, **opts)))
    assert np.isfinite(b)
    assert b >= best - 1e-6


@pytest.mark.parametrize("seed", range(6))
def test_cover_bound_with_priority_weights(seed: int) -> None:
    """Weights 1 to 3 per room: the bound holds for the weighted optimum (brute force over the subsets with
    the model's own fixed-site solve, which is exact: its assignment is totally unimodular)."""
    inst, budget, opts, fixed = _case(seed)
    w = np.random.default_rng(seed).integers(1, 4, len(inst["room_ids"])).astype(float)
    p = _problem(inst, budget, weight=w, **opts)
    b = cover_bound(compile_problem(p))
    sol = solve(p, progress=False)          # gap 0: the weighted optimum
    assert sol.solver["status"] == "optimal"
    assert b >= float(sol.solver["objective"]) - 1e-6


@pytest.mark.parametrize("seed", range(8))
def test_a_solve_whose_lp_stops_without_duals_reports_the_knapsack_bound(seed: int, monkeypatch) -> None:
    inst, budget, opts, fixed = _case(seed)
    real = lppath.solve_highspy

    def stopped(ar, time_limit, gap, threads, start, msg, mip=True, options=None, stop=None):
        if mip:
            return real(ar, time_limit, gap, threads, start, msg, mip, options, stop)
        # an LP relaxation stopped by its time limit, no values and no duals
        return Run(None, "time limit", float("inf"), float("-inf"), float("inf"), 0.0, "HiGHS", "test")

    monkeypatch.setattr(lppath, "solve_highspy", stopped)
    bf = brute_force(inst, "max-cover", budget, 1, fixed=fixed)
    sol = solve(_problem(inst, budget, **opts), progress=False)
    bound = sol.solver["bound"]
    assert bound is not None, "a max-cover solve must report a bound"
    assert sol.stats.get("bound_from") == "coverage knapsack"
    assert bound >= -bf[0][0] - 1e-6 >= float(sol.solver["objective"]) - 1e-6
