"""max-cover's Lagrangian bound with the budget kept whole (`planner.model.budgetlag`): never above the
optimum (the bound is on the model's objective, a minimum: never below the exact MIP's optimum, whose
persons brute force confirms), at the LP's duals and at random multipliers; the sites it keeps closed cannot
lead to a better plan; `solve` agrees with brute force with it on and off; the knapsack is a relaxation."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from test_model_bruteforce import brute_force, max_cover_problem, random_instance, solves_like_brute_force

import planner.model as M
from planner.model import lppath
from planner.model.arrays import build_arrays
from planner.model.budgetlag import SiteLagrangian, budget_bound
from planner.model.compile import compile_problem
from planner.model.highs import solve_highspy
from planner.progress import set_quiet

set_quiet(True)


def _budget(inst, seed: int) -> float:
    return float(inst["cost"].sum()) * (0.2 + 0.05 * (seed % 5))


def _model(p: M.Problem, tighten: bool):
    c = compile_problem(p, p.solve_options(None))
    c.tighten = tighten
    return c, build_arrays(c)


@pytest.mark.parametrize("seed", range(16))
def test_bound_never_above_the_optimum(seed: int) -> None:
    inst = random_instance(seed, n_rooms=10 + seed % 4, n_sites=8 + seed % 4, n_scen=2 + seed % 2)
    budget = _budget(inst, seed)
    best = brute_force(inst, "max-cover", budget, 1) if seed < 6 else None
    rng = np.random.default_rng(seed)
    for tighten in (True, False):
        c, ar = _model(max_cover_problem(inst, budget), tighten)
        exact = solve_highspy(ar, 20, 0.0, 2, None, False)
        assert exact.status == "optimal"
        if best is not None:        # the exact MIP's persons are brute force's (the tie-breaks are under 1)
            assert exact.objective == pytest.approx(best[0][0], abs=0.5)
        lp = solve_highspy(ar, 20, 0.0, 2, None, False, mip=False)
        bb = budget_bound(c, ar, lp.row_dual)
        assert bb is not None
        tol = 1e-6 * max(1.0, abs(exact.objective))
        assert bb.bound <= exact.objective + tol, (seed, tighten, bb.bound, exact.objective)
        if tighten:                 # at the strong LP's duals the 0/1 knapsack is never weaker than the LP
            assert bb.bound >= lp.objective - 1e-6 * max(1.0, abs(lp.objective))
        lag = bb.lag
        for _ in range(4):          # any multipliers of the right sign give a bound
            y = lag.project(lp.row_dual[lag.relax] + rng.normal(0, 0.5, len(lag.relax)))
            val = lag.evaluate(y)
            assert val is not None and val.bound <= exact.objective + tol, (seed, tighten)


@pytest.mark.parametrize("seed", range(4))
def test_bound_never_above_the_optimum_with_backup_rows(seed: int) -> None:
    inst = random_instance(seed, n_rooms=10, n_sites=9)
    budget = _budget(inst, seed) * 1.5
    best = brute_force(inst, "max-cover", budget, 2)
    c, ar = _model(max_cover_problem(inst, budget, backup_k=2), True)
    assert ar.nz > 0                                    # the backup flags z and their rows
    exact = solve_highspy(ar, 20, 0.0, 2, None, False)
    assert exact.status == "optimal" and exact.objective == pytest.approx(best[0][0], abs=0.5)
    lp = solve_highspy(ar, 20, 0.0, 2, None, False, mip=False)
    bb = budget_bound(c, ar, lp.row_dual)
    assert bb is not None
    assert bb.bound <= exact.objective + 1e-6 * max(1.0, abs(exact.objective))
    rng = np.random.default_rng(seed)
    for _ in range(4):
        val = bb.lag.evaluate(bb.lag.project(lp.row_dual[bb.lag.relax] + rng.normal(0, 0.5, len(bb.lag.relax))))
        assert val is not None and val.bound <= exact.objective + 1e-6 * max(1.0, abs(exact.objective))


def test_bound_is_stronger_than_the_lp_somewhere() -> None:
    gains = 0
    for seed in range(16):
        inst = random_instance(seed, n_rooms=10 + seed % 4, n_sites=8 + seed % 4, n_scen=2 + seed % 2)
        c, ar = _model(max_cover_problem(inst, _budget(inst, seed)), True)
        lp = solve_highspy(ar, 20, 0.0, 2, None, False, mip=False)
        bb = budget_bound(c, ar, lp.row_dual)
        assert bb is not None
        gains += bb.bound > lp.objective + 1e-3
    assert gains >= 4


def test_knapsack_is_a_relaxation_of_the_budget() -> None:
    rng = np.random.default_rng(3)
    inst = random_instance(1, n_rooms=10, n_sites=10)
    c, ar = _model(max_cover_problem(inst, _budget(inst, 1)), True)
    lag = SiteLagrangian.make(c, ar)
    assert lag is not None
    J = c.J
    subsets = np.array(list(itertools.product([0, 1], repeat=J)), bool)
    for _ in range(20):
        profit = rng.normal(1.0, 1.0, J)
        value, table, x = lag.knapsack(profit)
        ok = (subsets @ c.cost <= float(c.budget) + 1e-9) & (subsets >= lag.force1).all(axis=1) & \
            ~(subsets & ~lag.allowed).any(axis=1)
        true = float((subsets[ok] @ profit).max())
        assert value >= true - 1e-9                            # never below the true knapsack (a relaxation)
        assert x @ c.cost <= float(c.budget) + J * lag.unit    # its choice fits the rounded budget
        assert value == pytest.approx(float(x @ profit), abs=1e-9)
        assert table[-1] == pytest.approx(value)


def test_knapsack_reaches_a_budget_spent_exactly() -> None:
    inst = random_instance(4, n_rooms=10, n_sites=10)
    inst["cost"] = inst["cost"] + np.arange(10) * 0.37          # costs not in whole units
    for k in range(2, 7):
        budget = float(inst["cost"][:k].sum())                   # the first k sites spend it to the cent
        c, ar = _model(max_cover_problem(inst, budget), True)
        lag = SiteLagrangian.make(c, ar)
        assert lag is not None
        profit = np.where(np.isin(c.site_ids, inst["site_ids"][:k]), 10.0, 0.1)
        value, _, _ = lag.knapsack(profit)
        assert value >= 10.0 * k - 1e-9


def test_closed_sites_cannot_lead_to_a_better_plan(monkeypatch) -> None:
    seen: list = []
    real = lppath._branch

    def spy(st, remaining):
        if st.lag is not None and st.start_vec is not None:
            seen.append((st.ar, st.start_vec.copy(), st.lag.closed_sites(st.start_vec)))
        return real(st, remaining)

    monkeypatch.setattr(lppath, "_branch", spy)
    fixed = 0
    for seed in range(14):
        inst = random_instance(seed, n_rooms=12, n_sites=9 + seed % 3)
        seen.clear()
        M.solve(max_cover_problem(inst, _budget(inst, seed)), progress=False,
                options=M.SolveOptions(reduced_cost_fixing=False, mc_swap=False))
        for ar, start, closed in seen:
            start_obj = float(ar.c @ start)
            for j in np.flatnonzero(closed):
                assert start[j] < 0.5
                lo = ar.lo.copy()
                lo[j] = 1.0                                                    # forced open
                other = solve_highspy(dataclasses.replace(ar, lo=lo), 10, 0.0, 2, None, False)
                assert other.status in ("optimal", "infeasible"), (seed, other.status)
                if other.status == "optimal":
                    assert other.objective >= start_obj - 1e-6 * max(1.0, abs(start_obj)), (seed, j)
            fixed += int(closed.sum())
    assert fixed >= 5


@pytest.mark.parametrize("seed", range(8))
def test_solve_agrees_with_brute_force_with_and_without_it(seed: int) -> None:
    inst = random_instance(seed, n_rooms=10, n_sites=8 + seed % 3)
    best, sols = solves_like_brute_force(inst, _budget(inst, seed), "budget_lagrangian")
    for sol in sols.values():
        assert sol.solver["bound"] >= -best[0][0] - 1e-6           # persons: never below the optimum


def test_only_max_cover_with_a_budget_below_its_size_threshold() -> None:
    inst = random_instance(2, n_rooms=10, n_sites=9)
    p = max_cover_problem(inst, _budget(inst, 2))
    assert "budget_lagrangian" not in M.solve(p, progress=False, options=M.SolveOptions(
        budget_lagrangian_below=1)).stats
    cover = dataclasses.replace(p, objective="cover-all", budget=None)
    assert "budget_lagrangian" not in M.solve(cover, progress=False).stats
