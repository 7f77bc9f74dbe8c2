"""Reduced-cost fixing before HiGHS branches (`planner.model.lppath._fix_by_reduced_cost`): every site it
fixes is fixed as in the start plan, and no plan with that site the other way has a better objective than
the start (checked by the whole MIP with the site forced the other way, at gap 0), on small random
max-cover and cover-all instances; `solve` with and without it agrees with brute force."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_model_bruteforce import brute_force, random_instance

import planner.model as M
from planner.errors import InfeasibleError
from planner.model import lppath
from planner.model.highs import solve_highspy
from planner.progress import set_quiet

set_quiet(True)


def _problem(inst, objective: str, budget: float | None) -> M.Problem:
    return M.Problem.from_cost_matrix(inst["demand"], inst["times"], inst["capacity"], inst["cost"],
                                      door_flow_pps=inst["door_flow_pps"], room_ids=inst["room_ids"],
                                      site_ids=inst["site_ids"], door_queue=True, objective=objective,
                                      budget=budget, mip_gap=0.0, time_limit_s=30)


def _cases():
    for seed in range(12):
        inst = random_instance(seed, n_rooms=12, n_sites=9)
        yield seed, inst, "max-cover", float(inst["cost"].sum()) * (0.25 + 0.05 * (seed % 4))
        yield seed, inst, "cover-all", None


def test_fixed_sites_cannot_lead_to_a_better_plan(monkeypatch) -> None:
    seen: list = []
    real = lppath._fix_by_reduced_cost

    def spy(st, ar, lp):
        out = real(st, ar, lp)
        seen.append((st.start_vec.copy() if st.start_vec is not None else None, ar, out))
        return out

    monkeypatch.setattr(lppath, "_fix_by_reduced_cost", spy)
    fixed_any = 0
    for seed, inst, objective, budget in _cases():
        seen.clear()
        try:
            M.solve(_problem(inst, objective, budget), progress=False,
                    options=M.SolveOptions(capacity_cuts=False, flow_start=False, lazy_tighten=False))
        except InfeasibleError:
            continue
        for start, ar, ar2 in seen:
            J = int(ar.nx)
            changed = np.flatnonzero((ar2.lo[:J] != ar.lo[:J]) | (ar2.hi[:J] != ar.hi[:J]))
            start_obj = float(ar.c @ start)
            for j in changed:
                was_open = start[j] > 0.5
                assert ar2.lo[j] == ar2.hi[j] == float(was_open)          # fixed as in the start plan
                lo, hi = ar.lo.copy(), ar.hi.copy()
                lo[j] = hi[j] = 0.0 if was_open else 1.0                  # the other way
                other = solve_highspy(dataclasses.replace(ar, lo=lo, hi=hi), 10, 0.0, 2, None, False)
                assert other.status in ("optimal", "infeasible"), (seed, objective, other.status)
                if other.status == "optimal":
                    assert other.objective >= start_obj - 1e-6 * max(1.0, abs(start_obj)), (seed, objective, j)
            fixed_any += len(changed)
    assert fixed_any >= 5


@pytest.mark.parametrize("seed", range(6))
def test_solve_agrees_with_brute_force_with_and_without_fixing(seed: int) -> None:
    inst = random_instance(seed, n_rooms=10, n_sites=8)
    budget = float(inst["cost"].sum()) * 0.35
    best = brute_force(inst, "max-cover", budget, 1)
    p = _problem(inst, "max-cover", budget)
    for on in (True, False):
        sol = M.solve(p, progress=False, options=M.SolveOptions(reduced_cost_fixing=on))
        assert sol.solver["objective"] == pytest.approx(-best[0][0], abs=1e-6)
        assert sol.stats["cost"] == pytest.approx(best[0][1], abs=1e-6)
