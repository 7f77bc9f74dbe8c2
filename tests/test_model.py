"""Hand-made optimiser cases whose answers can be worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planner.errors import InfeasibleError
from planner.model.heuristic import greedy_plan
from planner.model import BudgetInfeasibleError, Problem, SolveOptions, explain_infeasible, solve, verify
from planner.progress import set_quiet

set_quiet(True)
INF = np.inf


def P(demand, times, capacity, cost, flow=None, **kw) -> Problem:
    kw.setdefault("mip_gap", 0.0)
    kw.setdefault("time_limit_s", 20)
    return Problem.from_cost_matrix(np.array(demand), np.array(times, float), np.array(capacity),
                                    np.array(cost, float), door_flow_pps=None if flow is None else np.array(flow, float),
                                    **kw)


def test_site_too_small_for_its_neighbours() -> None:
    # 10 people; the near cheap site holds 6, the far one 20: the far one alone is cheapest (30 < 10 + 30)
    p = P([[10]], [[10, 40]], [6, 20], [10, 30])
    s = solve(p, progress=False)
    assert s.chosen == ["j1"]
    assert s.assignments["residents"].sum() == 10
    assert s.solver["status"] == "optimal" and s.solver["gap"] <= 1e-9


def test_door_too_narrow_to_admit_them_in_time() -> None:
    # 10 people arrive at 50 s; a 0.5 p/s door admits floor(0.5 * 10) = 5 by 60 s
    times = [[50, 20]]
    p = P([[10]], times, [100, 100], [10, 30], flow=[0.5, 1.0])
    s = solve(p, progress=False)
    assert s.chosen == ["j1"]
    # both doors, if cheap enough, split the people: 5 through the narrow door, 5 through the other
    s2 = solve(P([[10]], times, [100, 5], [10, 30], flow=[0.5, 1.0]), progress=False)
    assert s2.chosen == ["j0", "j1"]
    by_site = s2.assignments.groupby("site_id")["residents"].sum().to_dict()
    assert by_site == {"j0": 5, "j1": 5}
    # without the queue the narrow door is fine
    s3 = solve(P([[10]], times, [100, 100], [10, 30], flow=[0.5, 1.0], door_queue=False), progress=False)
    assert s3.chosen == ["j0"]


def test_queue_binds_across_rooms() -> None:
    # two rooms at 30 s and 50 s to one door of 1 p/s: at most 10 arrive in the last 10 s, 30 in total
    p = P([[8], [15]], [[30], [50]], [100], [10], flow=[1.0], objective="max-cover")
    s = solve(p, progress=False)
    got = s.assignments.set_index("room_id")["residents"].to_dict()
    assert got["r1"] == 10 and got["r0"] == 8
    assert s.unsheltered.set_index("room_id")["residents"].to_dict() == {"r1": 5}
    assert s.unsheltered["reason"].iloc[0] == "capacity"


def test_budget_affords_exactly_one_of_two() -> None:
    # each site 20; budget 25 -> one; the one sheltering 12 beats the one sheltering 8
    p = P([[8], [12]], [[10, INF], [INF, 10]], [50, 50], [20, 20], objective="max-cover", budget=25)
    s = solve(p, progress=False)
    assert s.chosen == ["j1"]
    assert s.solver["objective"] == 12
    assert set(s.unsheltered["reason"]) == {"over budget"}
    s2 = solve(p.replace(budget=45), progress=False)
    assert s2.chosen == ["j0", "j1"] and s2.solver["objective"] == 20


def test_max_cover_ties_go_to_least_cost_then_least_displacement() -> None:
    p = P([[5]], [[10, 10, 10]], [10, 10, 10], [30, 20, 20], objective="max-cover", budget=100,
          displaced=np.array([0, 4, 1]))
    s = solve(p, progress=False)
    assert s.chosen == ["j2"]
    assert s.stats["cost"] == 20


def test_protected_room_is_never_converted() -> None:
    p = P([[5]], [[10, 20]], [10, 10], [10, 30], protected={"j0"})
    s = solve(p, progress=False)
    assert s.chosen == ["j1"]


def test_existing_safe_room_fixed_in_at_zero_cost() -> None:
    p = P([[5], [5]], [[10, INF], [INF, 10]], [10, 10], [50, 30], existing=np.array([True, False]))
    s = solve(p, progress=False)
    assert s.chosen == ["j0", "j1"]
    assert s.stats["cost"] == 30
    # an existing room enough for everyone: nothing to build
    s2 = solve(P([[5], [5]], [[10, 10], [10, 10]], [20, 20], [50, 30], existing=np.array([True, False])),
               progress=False)
    assert s2.chosen == ["j0"] and s2.stats["cost"] == 0


def test_required_room_is_converted_and_paid() -> None:
    p = P([[5]], [[10, 10]], [10, 10], [10, 30], required=np.array([False, True]))
    s = solve(p, progress=False)
    assert s.chosen == ["j1"] and s.stats["cost"] == 30


def test_backup_two_options_in_reach() -> None:
    # r1 reaches only j2, so it needs just j2; r0 needs two of three: j2 (bought anyway) + j0
    p = P([[5], [3]], [[10, 20, 30], [INF, INF, 15]], [10, 10, 10], [10, 20, 30], backup_k=2)
    s = solve(p, progress=False)
    assert s.chosen == ["j0", "j2"] and s.stats["cost"] == 40
    p2 = P([[5]], [[10, 20, 30]], [10, 10, 10], [10, 20, 30], backup_k=2)
    assert solve(p2, progress=False).chosen == ["j0", "j1"]
    # max-cover with a budget for one site only: nobody counts as sheltered without a backup
    p3 = P([[5]], [[10, 20, 30]], [10, 10, 10], [10, 20, 30], backup_k=2, objective="max-cover", budget=15)
    s3 = solve(p3, progress=False)
    assert s3.solver["objective"] == 0
    s4 = solve(p3.replace(budget=35), progress=False)
    assert s4.solver["objective"] == 5 and s4.chosen == ["j0", "j1"]


def test_unreachable_room_is_reported_not_infeasible() -> None:
    p = P([[5], [7]], [[10], [INF]], [10], [10])
    s = solve(p, progress=False)
    assert s.chosen == ["j0"]
    u = s.unsheltered
    assert u.to_dict("records") == [{"room_id": "r1", "scenario": "s0", "residents": 7, "reason": "unreachable"}]


def test_shelter_in_place_does_not_queue() -> None:
    # the site is a room itself; its 6 people stay (0 s); a zero-width door admits nobody else
    dem = pd.DataFrame({"night": [6, 4]}, index=["q1", "r2"])
    pairs = pd.DataFrame({"room_id": ["q1", "r2", "r2"], "site_id": ["q1", "q1", "s9"], "walk_s": [0.0, 20.0, 30.0]})
    sites = pd.DataFrame({"capacity": [10, 10], "door_flow_pps": [0.0, 1.0], "cost": [10.0, 50.0]},
                         index=["q1", "s9"])
    p = Problem(demand=dem, pairs=pairs, sites=sites, mip_gap=0.0)
    s = solve(p, progress=False)
    assert s.chosen == ["q1", "s9"]
    a = s.assignments.set_index("room_id")
    assert a.loc["q1", "site_id"] == "q1" and a.loc["q1", "walk_s"] == 0
    assert a.loc["r2", "site_id"] == "s9"


def test_scenarios_all_hold_and_groups_split_to_whole_rooms() -> None:
    # two interchangeable rooms (same reach set and times) aggregate; assignments come back per room
    dem = [[3, 0], [4, 9], [0, 2]]
    times = [[12, 30], [12, 30], [40, 5]]
    p = P(dem, times, [7, 8], [10, 12], flow=[2.0, 2.0])
    s = solve(p, progress=False)
    assert s.stats["groups"] == 3 or s.stats["groups"] == 2
    got = s.assignments.groupby(["room_id", "scenario"])["residents"].sum().to_dict()
    assert got == {("r0", "s0"): 3, ("r1", "s0"): 4, ("r1", "s1"): 9, ("r2", "s1"): 2}
    assert verify(p, s) == []


def test_cover_all_over_budget_explains_the_cheapest_full_plan() -> None:
    p = P([[10], [10]], [[10, INF], [INF, 10]], [20, 20], [100, 200], budget=150)
    with pytest.raises(BudgetInfeasibleError) as exc:
        solve(p, progress=False)
    msg = str(exc.value)
    assert "300" in msg and "max-cover" in msg
    assert isinstance(exc.value, InfeasibleError)
    assert exc.value.full_cover.cost == 300 and exc.value.full_cover.solution.chosen == ["j0", "j1"]
    assert "300" in explain_infeasible(p)


def test_cover_all_lacking_capacity_names_the_rooms() -> None:
    p = P([[30]], [[10, 20]], [10, 10], [10, 10])
    msg = explain_infeasible(p)
    assert "r0" in msg and "max-cover" in msg
    with pytest.raises(InfeasibleError):
        solve(p, progress=False)


def test_greedy_plan_is_feasible_and_backends_agree() -> None:
    rng = np.random.default_rng(3)
    n, m = 30, 9
    t = np.round(np.abs(rng.uniform(0, 100, n)[:, None] - rng.uniform(0, 100, m)[None, :]) / 1.2 + 3)
    t[t > 60] = INF
    dem = rng.integers(0, 6, (n, 2))
    cap = rng.integers(20, 40, m)
    cost = np.round(rng.uniform(10, 30, m)) * 1000
    flow = rng.uniform(0.5, 1.0, m)
    p = P(dem, t, cap, cost, flow=flow)
    plan = greedy_plan(p)
    assert plan
    s_start = solve(p, start=plan, progress=False)
    s_h = solve(p, progress=False)
    s_pulp = solve(p, progress=False, options=SolveOptions(backend="pulp"))
    s_cbc = solve(p, progress=False, options=SolveOptions(solver="cbc"))
    costs = {s.stats["cost"] for s in (s_start, s_h, s_pulp, s_cbc)}
    assert len(costs) == 1
    assert s_cbc.solver["name"] == "CBC"
    assert s_h.stats["heuristic_cost"] >= s_h.stats["cost"]
    for s in (s_h, s_cbc):
        assert verify(p, s) == []


def test_time_limit_returns_labelled_plan() -> None:
    # a larger ring: with a tiny limit the plan still comes back, labelled with its gap
    rng = np.random.default_rng(2)
    n, m = 300, 90
    rp, sp_ = np.sort(rng.uniform(0, 1200, n)), rng.uniform(0, 1200, m)
    t = np.abs(rp[:, None] - sp_[None, :]) / 1.2 + 4
    t[t > 60] = INF
    p = P(rng.integers(0, 6, (n, 3)), t, rng.integers(8, 30, m), rng.uniform(5e4, 9e4, m),
          flow=rng.choice([0.78, 1.17, 1.95], m), time_limit_s=1.0)
    s = solve(p, progress=False)
    assert s.chosen
    assert s.solver["status"] in ("optimal", "time limit: feasible")
    assert s.solver["bound"] <= s.solver["objective"] + 1e-6
    assert s.solver["gap"] >= 0
    assert verify(p, s) == []


@pytest.mark.slow
def test_generated_station_end_to_end_passes_the_independent_checker(tmp_path) -> None:
    from planner.check import check_plan
    from planner.costs import site_costs
    from planner.generate import generate_station
    from planner.network import reach_table
    from planner.pipeline import finish_plan, model_problem
    from planner.plan import build_plan
    from planner.sites import candidate_sites
    from planner.station import load_station

    folder = generate_station(120, 3, tmp_path / "st")
    st0 = load_station(folder)
    sites = candidate_sites(st0)
    reach = reach_table(st0, sites, cache=False)
    costs = site_costs(sites, st0)
    for changes in ({}, {"objective": "max-cover", "budget": 300000.0, "backup_k": 2}):
        st = load_station(folder, params=st0.params.replace(**changes))
        p, timed, short = model_problem(st, reach, sites, costs)     # the pipeline's timing (issue 17)
        s = solve(p, progress=False)
        assert verify(p, s) == []
        assert s.solver["gap"] <= p.mip_gap + 1e-9
        plan = finish_plan(build_plan(station=st, sites=sites, costs=costs, reach=reach, solution=s,
                                      timed_pairs=timed), st, short)
        assert check_plan(st, plan) == []


def test_last_second_arrivals_use_the_real_walk_not_the_bin_edge() -> None:
    # 3 people arrive at 58.5 s at a 0.78 p/s door: floor(0.78 * 1.5) = 1 gets in (the 59 s bin edge would give 0)
    p = P([[3]], [[58.5]], [10], [10], flow=[0.78], objective="max-cover")
    s = solve(p, progress=False)
    assert s.assignments["residents"].sum() == 1
    assert verify(p, s) == []
