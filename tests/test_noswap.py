"""No swaps (issue 17): a converted room's own residents shelter in it whenever others come in.

Hand-made problems whose answers can be worked out by hand, a brute force over every site subset
against the optimiser's objective including the swap penalty, the plan's swap report against the
checker's recount, and the penalty 0 giving the plans of before."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from conftest import corridor_layout
from planner.check import check_plan
from planner.checkswap import recount_swaps, swap_findings
from planner.model import Problem, solve
from planner.plan import swap_list, swap_totals


def _abc(with_k: bool = True, **kw) -> Problem:
    """Room A (a candidate, 3 residents, 5 places) reaches A (in place) and B (3 places, cost 1); room C
    (4 residents) reaches A (5 s) and, `with_k`, K (4 places, cost 10). A costs 1."""
    pairs = [("A", "A", 0.0), ("A", "B", 5.0), ("C", "A", 5.0)] + ([("C", "K", 10.0)] if with_k else [])
    times = pd.DataFrame(pairs, columns=["room_id", "site_id", "walk_s"])
    demand = pd.DataFrame({"night": [3, 4]}, index=["A", "C"])
    sites = ["A", "B", "K"] if with_k else ["A", "B"]
    return Problem.from_cost_matrix(demand, times, capacity=pd.Series({"A": 5, "B": 3, "K": 4})[sites],
                                    cost=pd.Series({"A": 1.0, "B": 1.0, "K": 10.0})[sites], no_swap=True, **kw)


def _swaps(sol, p: Problem) -> list[dict]:
    a = sol.assignments[["room_id", "scenario", "site_id", "residents"]]
    return swap_list(a, p.demand, p.sites["capacity"].reindex(sol.chosen))


def test_swap_free_plan_at_its_extra_cost():
    # {A, B}: C's 4 fill A, so 2 of A's own 3 must leave for B: cost 2 with a swap of 2 persons.
    # Swap-free: convert K too (C's 2 beside A's 3 in A, 2 in K) or B and K: cost 11. At 10 per
    # swapping person (40 > 11 - 2) the plan is the swap-free one and costs exactly 11.
    p = _abc(swap_penalty=10.0)
    sol = solve(p, progress=False)
    assert sol.cost == pytest.approx(11.0)
    assert _swaps(sol, p) == []
    assert sol.solver["objective"] == pytest.approx(11.0)
    assert sol.solver["swap_penalty"] == pytest.approx(0.0)
    assert sol.solver["bound"] == pytest.approx(11.0)


def test_penalty_zero_gives_the_plan_of_before():
    # (c) with penalty 0 the rule is off: the cheap swapping plan, and the same plan as a problem
    # without the field at all
    p0 = _abc(swap_penalty=0.0)
    sol = solve(p0, progress=False)
    old = solve(_abc(), progress=False)
    assert sol.cost == old.cost == pytest.approx(2.0)
    assert sol.chosen == old.chosen == ["A", "B"]
    pd.testing.assert_frame_equal(sol.assignments, old.assignments)
    assert "swap_penalty" not in sol.solver
    sw = _swaps(sol, p0)
    assert [(r["safe_room_id"], r["leaving"], r["incoming"]) for r in sw] == [("A", 2, 4)]


def test_forced_swap_still_solves_and_is_reported():
    # (b) without K, C reaches only A: no swap-free plan exists. The plan still solves ({A, B}, cost 2),
    # the swap is reported (2 of A's own residents leave for B while C's 4 come in) and the
    # penalty it pays is separate from the cost: 2 persons x 10.
    p = _abc(with_k=False, swap_penalty=10.0)
    sol = solve(p, progress=False)
    assert sol.chosen == ["A", "B"] and sol.cost == pytest.approx(2.0)
    assert sol.solver["objective"] == pytest.approx(2.0)
    assert sol.solver["swap_penalty"] == pytest.approx(20.0)
    sw = _swaps(sol, p)
    assert sw == [{"safe_room_id": "A", "scenario": "night", "own_residents": 3, "leaving": 2, "incoming": 4,
                   "capacity": 5, "sent_to": ["B"], "forced_by_capacity": True}]
    assert swap_totals(sw, ["night"]) == {"night": {"sites": 1, "residents_leaving": 2, "residents_incoming": 4}}


def test_max_cover_prefers_another_room_to_a_swap():
    # max-cover within a budget of 11: sheltering all 7 is possible with or without the swap; at
    # 0.5 persons per swapping person the plan converts K instead of swapping
    p = _abc(objective="max-cover", budget=11.0, swap_penalty_persons=0.5)
    sol = solve(p, progress=False)
    assert int(sol.assignments["residents"].sum()) == 7
    assert _swaps(sol, p) == []
    # with a budget of 2 only the swap shelters everyone: it is made (a swap still shelters)
    p2 = _abc(objective="max-cover", budget=2.0, swap_penalty_persons=0.5)
    sol2 = solve(p2, progress=False)
    assert int(sol2.assignments["residents"].sum()) == 7
    assert [(r["leaving"], r["incoming"]) for r in _swaps(sol2, p2)] == [(2, 4)]


# ------------------------------------------------------------------ brute force
def _brute(demand: np.ndarray, walk: np.ndarray, cap: np.ndarray, cost: np.ndarray, pen: float) -> float:
    """Least cost + swap penalty over every site subset (cover-all, no door queue), each subset's
    assignment an LP of its own (scipy): y_ij, v_j; sum_j y_ij = d_i; sum_i y_ij <= cap_j;
    sum_{i != j} y_ij - v_j <= max(cap_j - d_j, 0). Room i = site i for i < number of sites."""
    n, m = walk.shape
    best = np.inf
    for k in range(1, m + 1):
        for sub in itertools.combinations(range(m), k):
            cs = float(cost[list(sub)].sum())
            if cs >= best:
                continue
            pairs = [(i, j) for i in range(n) for j in sub if np.isfinite(walk[i, j])]
            nv = len(pairs) + m
            A_eq = np.zeros((n, nv))
            for c_, (i, _j) in enumerate(pairs):
                A_eq[i, c_] = 1.0
            A_ub = np.zeros((2 * m, nv))
            b_ub = np.zeros(2 * m)
            for c_, (i, j) in enumerate(pairs):
                A_ub[j, c_] = 1.0
                if i != j:
                    A_ub[m + j, c_] = 1.0
            for j in range(m):
                b_ub[j] = cap[j] if j in sub else 0.0
                own = demand[j] if j < n and np.isfinite(walk[j, j]) else 0.0
                A_ub[m + j, len(pairs) + j] = -1.0
                b_ub[m + j] = max(cap[j] - own, 0.0) if j in sub else 0.0
            obj = np.r_[np.zeros(len(pairs)), np.full(m, pen)]
            r = linprog(obj, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=demand.astype(float), bounds=(0, None),
                        method="highs")
            if r.status == 0:
                best = min(best, cs + float(r.fun))
    return best


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_brute_force_agrees_with_the_optimiser(seed):
    rng = np.random.default_rng(seed)
    m, n = 5, 7                                   # rooms 0..4 are the candidate sites, 5..6 not
    demand = rng.integers(1, 6, n)
    walk = np.where(rng.random((n, m)) < 0.55, rng.uniform(1, 50, (n, m)), np.inf)
    for i in range(n):                             # everyone reaches at least two sites
        if np.isfinite(walk[i]).sum() < 2:
            walk[i, rng.choice(m, 2, replace=False)] = 10.0
    for j in range(m):
        walk[j, j] = 0.0                           # a candidate room shelters its own residents in place
    cap = rng.integers(3, 10, m)
    cost = rng.integers(1, 8, m).astype(float)
    pen = 3.0
    ids = [f"R{i}" for i in range(n)]
    sids = ids[:m]
    times = pd.DataFrame([(ids[i], sids[j], walk[i, j]) for i in range(n) for j in range(m) if np.isfinite(walk[i, j])],
                         columns=["room_id", "site_id", "walk_s"])
    p = Problem.from_cost_matrix(pd.DataFrame({"night": demand}, index=ids), times,
                                 capacity=pd.Series(cap, index=sids), cost=pd.Series(cost, index=sids),
                                 no_swap=True, swap_penalty=pen, mip_gap=0.0)
    want = _brute(demand, walk, cap, cost, pen)
    if not np.isfinite(want):
        return                                      # no plan shelters everyone: nothing to compare
    sol = solve(p, progress=False)
    got = sol.cost + sol.solver["swap_penalty"]
    assert got == pytest.approx(want, abs=1e-6)
    # the penalty paid is the least the chosen sites allow: persons who must leave = v
    sw = _swaps(sol, p)
    assert sum(r["leaving"] for r in sw) * pen >= sol.solver["swap_penalty"] - 1e-6


# ------------------------------------------------------------------ recount
_row = st.tuples(st.sampled_from(["A", "B", "C", "D"]), st.sampled_from(["night", "day"]),
                 st.sampled_from(["A", "B", "C"]), st.integers(0, 9))


@settings(max_examples=60, deadline=None)
@given(st.lists(_row, max_size=14))
def test_checker_recount_equals_a_direct_count(rows):
    chosen = {"A", "B", "C"}
    got = recount_swaps(rows, chosen)
    a = pd.DataFrame(rows, columns=["room_id", "scenario", "site_id", "residents"])
    a = a.groupby(["room_id", "scenario", "site_id"], as_index=False)["residents"].sum()
    demand = pd.DataFrame({"night": [9, 9, 9, 9], "day": [9, 9, 9, 9]}, index=["A", "B", "C", "D"])
    listed = swap_list(a, demand, pd.Series({"A": 20, "B": 20, "C": 20}))
    # direct count: per site and scenario, persons out of its own room elsewhere and persons of other rooms in
    for sid in sorted(chosen):
        for sc in ("night", "day"):
            out = sum(n for r, s, j, n in rows if r == sid and s == sc and j != sid)
            inc = sum(n for r, s, j, n in rows if j == sid and s == sc and r != sid)
            key = (sid, sc)
            if out > 0 and inc > 0:
                assert got[key]["leaving"] == out and got[key]["incoming"] == inc
                assert any(x["safe_room_id"] == sid and x["scenario"] == sc and x["leaving"] == out
                           and x["incoming"] == inc for x in listed)
            else:
                assert key not in got
    assert len(listed) == len(got)


# ------------------------------------------------------------------ a station
def _forced_station(make_station, scenario_toml: str | None = None):
    # a 76 m corridor: the lab (2 residents) at the west end reaches only the quarters in the middle
    # (4 places, 3 residents) within 60 s; the quarters reach the store at the east end. The lab's 2
    # must come into the quarters, so 1 of its own 3 leaves for the store: a swap no plan avoids.
    kinds = ["lab"] + ["office"] * 8 + ["quarters"] + ["office"] * 8 + ["storage"]
    rooms, doors, res = corridor_layout(kinds, residents={"R1": 2, "R10": 3}, scenarios=("night",))
    return make_station(rooms, doors, res, scenario_toml)


def test_station_forced_swap_is_reported_and_checked(make_station, tmp_path):
    import openpyxl

    import planner
    from planner.workbook import write_workbook

    folder = _forced_station(make_station)
    station = planner.load_station(folder)
    run = planner.plan_station(station)
    plan = run.plan
    assert sorted(r["room_id"] for r in plan["safe_rooms"]) == ["R10", "R19"]
    assert plan["swaps"] == [{"safe_room_id": "R10", "scenario": "night", "own_residents": 3, "leaving": 1,
                              "incoming": 2, "capacity": 4, "sent_to": ["R19"], "forced_by_capacity": True}]
    assert plan["totals"]["swaps"] == {"night": {"sites": 1, "residents_leaving": 1, "residents_incoming": 2}}
    assert run.breaches == []
    assert swap_findings(plan) == ["swap at safe room R10 (night): 1 of its own residents are sent to R19 while 2 "
                                   "from other rooms come in"]
    assert "swaps (a safe room's own residents sent away while others come in): night 1 safe rooms (1 residents leave)" \
        in run.describe()
    # a plan whose swap report was changed fails the check
    bad = dict(plan, swaps=[dict(plan["swaps"][0], leaving=2)])
    assert [b.kind for b in check_plan(station, bad)] == ["swaps"]
    bad = dict(plan, totals=dict(plan["totals"], swaps={"night": {"sites": 0, "residents_leaving": 0,
                                                                  "residents_incoming": 0}}))
    assert [b.kind for b in check_plan(station, bad)] == ["swaps"]
    # the Summary sheet: how many, and why they remain
    xlsx = write_workbook(tmp_path / "p.xlsx", station, plan, run.costs, run.sites)
    ws = openpyxl.load_workbook(xlsx)["Summary"]
    cells = [[c.value for c in row] for row in ws.iter_rows()]
    head = next(i for i, row in enumerate(cells) if str(row[0]).startswith("Swaps:"))
    assert cells[head + 2][:4] == ["night", 1, 1, 2]
    assert cells[head + 3][0].startswith("Why they remain: 1 of 1 remain because the safe room cannot hold")


def test_pure_cover_path_cannot_swap():
    # every site holds everyone in its reach (own residents included): the pure set-cover path is
    # taken, everyone goes to the nearest chosen site, a converted room's own residents to itself
    from planner.model.compile import compile_problem

    pairs = [("A", "A", 0.0), ("A", "B", 5.0), ("C", "A", 5.0), ("C", "B", 4.0), ("B", "B", 0.0), ("B", "A", 3.0)]
    times = pd.DataFrame(pairs, columns=["room_id", "site_id", "walk_s"])
    demand = pd.DataFrame({"night": [3, 4, 2]}, index=["A", "C", "B"])
    p = Problem.from_cost_matrix(demand, times, capacity=pd.Series({"A": 20, "B": 20}),
                                 cost=pd.Series({"A": 1.0, "B": 1.0}), no_swap=True, swap_penalty=10.0, backup_k=1)
    assert compile_problem(p).uncapacitated
    sol = solve(p, progress=False)
    assert _swaps(sol, p) == []
    a = sol.assignments
    for site in sol.chosen:
        own = a[(a["room_id"] == site)]
        assert (own["site_id"] == site).all()


def test_station_penalty_zero_switches_the_rows_off(make_station):
    # the parameter: default 1 x the most expensive candidate's cost per person; 0 builds no swap row
    # (and no slack column): the model of before, exactly
    import dataclasses

    import planner
    from planner.model.arrays import build_arrays
    from planner.model.compile import compile_problem
    from planner.pipeline import prepare

    station = planner.load_station(_forced_station(make_station))
    sites, reach, costs = prepare(station)
    on = Problem.from_station(station, reach, sites, costs)
    assert on.swap_penalty == pytest.approx(costs["total_cost"].reindex(sites.index[~sites["existing"]]).max())
    assert build_arrays(compile_problem(on)).rows_by_kind.get("swap", 0) == 1
    off_station = dataclasses.replace(station, params=station.params.replace(swap_penalty_rooms=0.0))
    off = Problem.from_station(off_station, reach, sites, costs)
    assert off.swap_penalty == 0.0
    ar_off = build_arrays(compile_problem(off))
    assert "swap" not in ar_off.rows_by_kind and ar_off.nv == 0
    assert ar_off.A.shape[1] == build_arrays(compile_problem(on)).A.shape[1] - 1   # the one slack column


def _rounding_with(values: dict[int, float], guide: np.ndarray):
    """`lppath._swap_rounding` on a stand-in path whose assignment of a plan with n sites has the model
    objective values[n] (inf: no assignment); returns (sites of the plan kept, thresholds tried)."""
    import time
    import types

    import planner.model.lppath as lp

    calls: list[int] = []

    def assign(c, o, x, time_limit=None, warm=None):
        n = int(x.sum())
        calls.append(n)
        ok = np.isfinite(values[n])
        return (np.array([values[n]]) if ok else None), None, types.SimpleNamespace(seconds=0.0)

    st = types.SimpleNamespace(c=types.SimpleNamespace(fixed1=np.zeros(len(guide))),
                               o=types.SimpleNamespace(limit_s=1e6), t_all=time.perf_counter(),
                               ar=types.SimpleNamespace(c=np.array([1.0])), highs_s=0.0, stats={},
                               assign_limit=lambda: 1.0, assigning=None)
    real = (lp.assign_fixed, lp.full_vector)
    lp.assign_fixed, lp.full_vector = assign, lambda c, ar, ar0, v: v
    try:
        x, _ = lp._swap_rounding(st, guide, (guide > 1e-6).astype(float))
    finally:
        lp.assign_fixed, lp.full_vector = real
    return int(x.sum()), calls


def test_swap_rounding_walks_to_the_best_threshold_when_there_is_one_minimum():
    """The thresholds are searched as a line from 0.3 and 0.2 (`lppath._swap_rounding`): over every objective
    with one minimum along the thresholds (and any value for the LP's support), the plan kept is the one
    trying every threshold keeps, with fewer assignments; a rounding without an assignment (and every higher
    threshold's, a subset of its sites) counts as worst."""
    guide = np.array([0.05, 0.15, 0.25, 0.35, 0.45, 0.55])   # threshold 0.1 opens 5 sites, ..., 0.5 one
    counts = {0.1: 5, 0.2: 4, 0.3: 3, 0.4: 2, 0.5: 1}
    rng = np.random.default_rng(7)
    for _ in range(300):
        low = int(rng.integers(0, 5))                         # where the minimum along the thresholds is
        inc = rng.uniform(0.1, 5.0, 5)
        values = {counts[t]: 100.0 + float(inc[min(i, low):max(i, low)].sum()) for i, t in enumerate(sorted(counts))}
        values[6] = float(rng.uniform(95.0, 110.0))           # the support
        if rng.random() < 0.2:                                # fewer sites than some threshold opens: no plan
            for t in sorted(counts)[int(rng.integers(3, 5)):]:
                values[counts[t]] = np.inf
        kept, calls = _rounding_with(values, guide)
        finite = {n: v for n, v in values.items() if np.isfinite(v)}
        assert kept == min(finite, key=lambda n: (finite[n], n != 6)), (values, calls)
        assert len(calls) <= 5 and len(calls) == len(set(calls))
