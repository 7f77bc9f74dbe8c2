"""Backup coverage as an objective (`backup_goal`, spopt's LSCP-B): brute force over every subset of
sites agrees with the optimiser; spopt's LSCPB agrees on its own problem; plan.json and the checker
report residents by the number of safe rooms within reach."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from planner.errors import InputError
from planner.model import Problem, solve
from planner.plan import options_in_reach
from planner.progress import set_quiet
from test_model_bruteforce import assignment_value, random_instance, solve_inst

set_quiet(True)


def brute_force_backup(inst: dict, objective: str, budget: float | None, k: int) -> tuple[float, float] | None:
    """(most residents with k or more open sites in reach, least cost among the plans that have them),
    over the plans that are optimal for the objective: cover-all the cheapest that shelter everyone,
    max-cover (within the budget) those that shelter the most. Residents of a room: its busiest
    scenario. None when cover-all is infeasible."""
    t, cost, dem = inst["times"], inst["cost"], inst["demand"]
    reach = np.isfinite(t)
    worth = dem.max(axis=1).astype(float)
    subsets = np.array(list(itertools.product([0, 1], repeat=t.shape[1])), bool)
    costs = subsets.astype(float) @ cost
    if budget is not None:
        keep = costs <= budget + 1e-6
        subsets, costs = subsets[keep], costs[keep]
    no_backup = np.zeros(t.shape[0], int)
    if objective == "cover-all":      # by increasing cost, up to the cheapest feasible cost
        order = np.argsort(costs, kind="stable")
        subsets, costs = subsets[order], costs[order]
        best_plans: list[int] = []
        for i, ch in enumerate(subsets):
            if best_plans and costs[i] > costs[best_plans[0]] + 1e-6:
                break
            if assignment_value(inst, ch, no_backup, True) is not None:
                best_plans.append(i)
        if not best_plans:
            return None
    else:
        values = [assignment_value(inst, ch, no_backup, False) for ch in subsets]
        most = max(values)
        best_plans = [i for i, v in enumerate(values) if v >= most - 1e-6]

    def backed(i: int) -> float:
        return float(worth @ ((reach & subsets[i][None, :]).sum(axis=1) >= k))

    top = max(backed(i) for i in best_plans)
    return top, float(min(costs[i] for i in best_plans if backed(i) >= top - 1e-9))


@pytest.mark.parametrize("seed,objective", [(s, o) for s in range(6) for o in ("cover-all", "max-cover")])
def test_backup_goal_matches_brute_force(seed: int, objective: str) -> None:
    inst = random_instance(seed, n_rooms=8 + seed % 4, n_sites=8 + seed % 3, n_scen=2)
    k = 2 + seed % 2
    budget = None if objective == "cover-all" else round(inst["cost"].sum() * 0.4)
    bf = brute_force_backup(inst, objective, budget, k)
    assert bf is not None
    sol = solve_inst(inst, objective=objective, budget=budget, backup_goal=k)
    got = sol.stats["backup_goal"]
    assert got["k"] == k
    assert got["residents"] == pytest.approx(bf[0], abs=1e-6)
    assert sol.stats["cost"] == pytest.approx(bf[1], abs=1e-6)
    assert got["residents"] >= got["residents_before"] - 1e-9
    # the first objective is not given up: the same cost (cover-all) or coverage (max-cover) as without
    plain = solve_inst(inst, objective=objective, budget=budget)
    if objective == "cover-all":
        assert sol.stats["cost"] == pytest.approx(plain.stats["cost"], abs=1e-6)
    else:
        assert sol.solver["objective"] == pytest.approx(plain.solver["objective"], abs=1e-6)
        assert sol.stats["cost"] <= budget + 1e-6


def test_backup_goal_worked_by_hand() -> None:
    """Two rooms of 10; sites a (reaches both), b (room 0), c (room 1), each 100 and big enough.
    Cover-all: {a} alone (100). Backup goal 2 at that cost: nobody can get a second room (any second
    site costs more), so 0 residents; with a budget of 200 for max-cover: {a, b} or {a, c}: 10."""
    times = np.array([[10.0, 10.0, np.inf], [10.0, np.inf, 10.0]])
    p = Problem.from_cost_matrix(np.array([10, 10]), times, capacity=[50, 50, 50], cost=[100.0, 100.0, 100.0],
                                 reach_s=60.0, mip_gap=0.0, backup_goal=2)
    sol = solve(p, progress=False)
    assert sol.chosen == ["j0"] and sol.stats["backup_goal"]["residents"] == 0
    sol2 = solve(p.replace(objective="max-cover", budget=200.0), progress=False)
    assert len(sol2.chosen) == 2 and "j0" in sol2.chosen
    assert sol2.stats["backup_goal"]["residents"] == 10
    assert sol2.stats["cost"] == 200.0


def test_backup_goal_range() -> None:
    with pytest.raises(InputError):
        Problem.from_cost_matrix(np.array([1]), np.array([[1.0]]), capacity=[5], cost=[1.0], backup_goal=-1)


def test_options_in_reach_counts_residents() -> None:
    demand = pd.DataFrame({"night": [3, 4, 5, 6], "day": [1, 0, 2, 0]}, index=["a", "b", "c", "d"])
    options = pd.Series({"a": 1, "b": 2, "c": 5})       # d has none
    got = options_in_reach(demand, options)
    assert got == {"night": {"0": 6, "1": 3, "2": 4, "3+": 5}, "day": {"0": 0, "1": 1, "2": 0, "3+": 2}}


def test_lscpb_same_as_spopt() -> None:
    """spopt's LSCP-B: unit costs, one resident per point, no capacity, k = 2. spopt's objective also
    counts the points with a single site in reach (their flag is free), ours only the backed ones."""
    spopt = pytest.importorskip("spopt.locate")
    import pulp

    for seed in range(3):
        rng = np.random.default_rng(seed)
        pts, sites = rng.uniform(0, 100, (40, 2)), rng.uniform(0, 100, (15, 2))
        dist = np.hypot(*(pts[:, None, :] - sites[None, :, :]).transpose(2, 0, 1))
        reach = dist <= 35.0
        keep = reach.any(axis=1)
        dist, reach = dist[keep], reach[keep]
        times = np.where(reach, dist, np.inf)
        p = Problem.from_cost_matrix(np.ones(len(dist), int), times, capacity=np.full(15, 10**6),
                                     cost=np.ones(15), reach_s=35.0, mip_gap=0.0, backup_goal=2, door_queue=False)
        sol = solve(p, progress=False)
        ref = spopt.LSCPB.from_cost_matrix(dist, 35.0, pulp.PULP_CBC_CMD(msg=False)).solve()
        single = int((reach.sum(axis=1) == 1).sum())
        assert len(sol.chosen) == pytest.approx(ref.lscp_obj_value)
        assert sol.stats["backup_goal"]["residents"] + single == pytest.approx(ref.problem.objective.value())
