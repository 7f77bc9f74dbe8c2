"""A room empties through the doors its residents' routes use (issue 17): per-door exit caps in the
timing (`planner.queues.model_pairs`), hard rows per (room, exit door, scenario) in the optimiser, and
the checker's per-door exit queues recomputed from the plan (`planner.checkqueue`).

The hand case: a hall H (10 m x 6 m) of 40 residents with two 0.9 m doors on opposite walls, DW
(west) and DE (east), each opening on its own short corridor with a safe room of 20 places beyond
it (SW, SE). A door of 0.9 m passes 1.3 x (0.9 - 0.3) = 0.78 persons/s. The walk from H's farthest
corner to either safe room is (sqrt(10^2 + 3^2) + 2) / 1.2 = 10.37 s: 40 through one door need
51.3 s (out at 61.6 s, late), 20 through each need 25.6 s (out at 36 s). One door can pass
floor(0.78 x (60 - 10.37)) = 38 in time.
"""

from __future__ import annotations

import itertools
from math import floor, hypot

import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.optimize import linprog

from conftest import box, write_station
from planner.model import Problem, solve
from planner.network import reach_table
from planner.network.paths import exit_doors
from planner.progress import set_quiet
from planner.queues import door_flows, exit_streams, model_pairs, room_bound
from planner.sites import candidate_sites
from planner.station import load_station

set_quiet(True)
R09 = 1.3 * (0.9 - 0.3)
WALK = (hypot(10, 3) + 2.0) / 1.2


def vleaf(x: float, y0: float, y1: float) -> shapely.LineString:
    return shapely.LineString([(x, y0), (x, y1)])


def hall_station(tmp_path, n: int = 40):
    rooms = [
        {"room_id": "H", "kind": "galley", "geometry": box(0, 0, 10, 6)},
        {"room_id": "CW", "kind": "corridor", "geometry": box(-2, 0, 0, 6)},
        {"room_id": "CE", "kind": "corridor", "geometry": box(10, 0, 12, 6)},
        {"room_id": "SW", "kind": "storage", "geometry": box(-9.8, 0, -2, 6)},
        {"room_id": "SE", "kind": "storage", "geometry": box(12, 0, 19.8, 6)},
    ]
    for r in rooms:
        r.update(sector="A", deck=0, name=r["room_id"])
    doors = [
        {"door_id": "DW", "width_m": 0.9, "geometry": vleaf(0, 2.55, 3.45)},
        {"door_id": "DE", "width_m": 0.9, "geometry": vleaf(10, 2.55, 3.45)},
        {"door_id": "EW", "width_m": 0.9, "geometry": vleaf(-2, 2.55, 3.45)},
        {"door_id": "EE", "width_m": 0.9, "geometry": vleaf(12, 2.55, 3.45)},
    ]
    res = [{"room_id": r["room_id"], "night": n if r["room_id"] == "H" else 0,
            "day": n if r["room_id"] == "H" else 0} for r in rooms]
    return load_station(write_station(tmp_path / "hall", rooms, doors, res))


def test_hand_case_geometry(tmp_path):
    station = hall_station(tmp_path)
    sites = candidate_sites(station)
    assert sites.loc[["SW", "SE"], "capacity"].tolist() == [20, 20]
    pairs = reach_table(station, cache=False).pairs.set_index(["room_id", "site_id"])
    assert pairs.at[("H", "SW"), "walk_s"] == pytest.approx(WALK, abs=0.05)
    assert pairs.at[("H", "SE"), "walk_s"] == pytest.approx(WALK, abs=0.05)
    rows = pd.DataFrame({"room_id": ["H", "H"], "site_id": ["SW", "SE"]})
    assert exit_doors(station)(rows).tolist() == ["DW", "DE"]
    assert WALK + 40 / R09 > 60 and WALK + 20 / R09 < 60


def test_per_door_caps_by_hand(tmp_path):
    """Without exit doors (the model before): one cap of 38 for the whole room, 2 short of time. With
    them: 38 per door, 76 in all, nobody short; each pair timed with 38 through its own door."""
    station = hall_station(tmp_path)
    p = station.params
    pairs = reach_table(station, cache=False).pairs
    pairs = pairs[pairs["room_id"] == "H"]
    sides = door_flows(station)
    cap = candidate_sites(station)["capacity"]
    flow = pd.Series(R09, index=cap.index)
    k = floor(R09 * (60 - pairs["walk_s"].max()) + 1e-6)
    assert k == 38
    old = model_pairs(pairs, station.demand(), sides, p, capacity=cap)
    assert set(old["exit_cap"]) == {k} and set(old["exit_door_id"]) == {old["exit_door_id"].iat[0]}
    assert room_bound(old, cap, flow, 60.0)["H"] == k                      # 40 - 38 = 2 short
    new = model_pairs(pairs, station.demand(), sides, p, capacity=cap, exit_doors=exit_doors(station))
    t = new.set_index("site_id")
    assert t.at["SW", "exit_door_id"] == "DW" and t.at["SE", "exit_door_id"] == "DE"
    assert t.at["SW", "exit_cap"] == k and t.at["SE", "exit_cap"] == k
    assert t.at["SW", "out_s"] == pytest.approx(pairs.set_index("site_id").at["SW", "walk_s"] + k / R09)
    assert t.at["SW", "exit_flow_pps"] == pytest.approx(R09)
    assert room_bound(new, cap, flow, 60.0)["H"] == 40            # 38 per door, but 20 places beyond each


def test_exit_streams_take_the_sooner_of_widest_door_and_own_door():
    sides = pd.DataFrame({"room_id": ["H", "H", "Q"], "door_id": ["A", "B", "C"], "width_m": [0.9, 1.2, 0.9],
                          "flow_pps": [0.78, 1.17, 0.78], "vertical": False})
    room = np.array(["H", "H", "H", "Q"])
    n = np.array([10.0, 30.0, 5.0, 8.0])
    sip = np.array([False, False, True, False])
    n_q, r_q, ex, used = exit_streams(room, np.array(["s"] * 4), n, sip, sides, np.array(["A", "B", "", "C"]))
    # widest door: 40 / 1.17 = 34.2 s; by A: 10 / 0.78 = 12.8 s (sooner); by B: 30 / 1.17 = 25.6 s (sooner)
    assert ex == pytest.approx([10 / 0.78, 30 / 1.17, 0.0, 8 / 0.78])
    assert n_q.tolist() == [10, 30, 0, 8] and used.tolist() == ["A", "B", "", ""]   # Q: one door, same queue
    _, _, ex0, used0 = exit_streams(room, np.array(["s"] * 4), n, sip, sides)
    assert ex0 == pytest.approx([40 / 1.17, 40 / 1.17, 0.0, 8 / 0.78]) and set(used0) == {""}
    # 40 by A: 51.3 s, later than the widest door's 34.2 s: the widest door's queue stands
    _, _, ex1, _ = exit_streams(room[:2], np.array(["s"] * 2), n[:2], sip[:2], sides, np.array(["A", "A"]))
    assert ex1 == pytest.approx([40 / 1.17] * 2)


def test_plan_shelters_all_through_two_doors_and_checker_catches_one_door(tmp_path):
    """The optimiser sends 20 out through each door (all 40 sheltered, checked); the checker, counting the
    residents per door itself, reports a plan that sends all 40 through DW."""
    from planner.check import check_plan
    from planner.pipeline import plan_station

    station = hall_station(tmp_path)
    run = plan_station(station)                           # raises on a breach of the independent check
    plan = run.plan
    assert plan["unsheltered"] == []
    a = pd.DataFrame(plan["assignments"])
    assert a.groupby("scenario")["residents"].sum().tolist() == [40, 40]
    assert set(a["exit_door_id"]) == {"DW", "DE"}
    by = a.set_index(["scenario", "safe_room_id"])
    assert by.at[("night", "SW"), "exit_door_id"] == "DW" and by.at[("night", "SE"), "exit_door_id"] == "DE"
    assert (a["planned_s"] <= 60 + 1e-6).all()
    assert run.problem.exit_rows is not None and set(run.problem.exit_rows["exit_door_id"]) == {"DW", "DE"}
    # all 40 through DW (SW given SE's residents; its capacity is breached too)
    bad = {**plan, "assignments": [dict(r, safe_room_id="SW", exit_door_id="DE") if r["safe_room_id"] == "SE"
                                   else r for r in plan["assignments"]]}
    breaches = check_plan(station, bad)
    arr = [b for b in breaches if b.kind == "arrival"]
    assert arr and all("40 persons leaving" in b.message for b in arr)   # 51.3 s through a 0.78 persons/s door
    assert {b.kind for b in breaches} >= {"arrival", "capacity"}     # the plan itself passed plan_station's check


def _brute_force(dem, walk_ok, door, cap, cost, K):
    """Least cost over every subset of sites with a fractional assignment (the assignment polytope with
    these rows is integral) covering the demand within capacity and the per-(room, door) caps."""
    n, m = walk_ok.shape
    S = dem.shape[1]
    best = np.inf
    for k in range(m + 1):
        for sub in itertools.combinations(range(m), k):
            c = float(cost[list(sub)].sum())
            if c >= best:
                continue
            open_ = np.zeros(m, bool)
            open_[list(sub)] = True
            var = [(i, j, s) for s in range(S) for i in range(n) for j in range(m) if walk_ok[i, j] and open_[j]]
            if not var and dem.sum():
                continue
            A_eq = np.zeros((n * S, len(var)))
            rows_ub, b_ub = [], []
            for v, (i, _j, s) in enumerate(var):
                A_eq[s * n + i, v] = 1
            for j in range(m):
                for s in range(S):
                    rows_ub.append([1.0 if (vj == j and vs == s) else 0.0 for (_, vj, vs) in var])
                    b_ub.append(cap[j])
            for (i, d), kk in K.items():
                for s in range(S):
                    rows_ub.append([1.0 if (vi == i and vs == s and door[vi, vj] == d) else 0.0
                                    for (vi, vj, vs) in var])
                    b_ub.append(kk)
            res = linprog(np.zeros(len(var)), A_ub=np.array(rows_ub) if rows_ub else None,
                          b_ub=np.array(b_ub) if b_ub else None, A_eq=A_eq, b_eq=dem.T.ravel().astype(float),
                          bounds=(0, None), method="highs")
            if res.status == 0:
                best = c
    return best


def exit_instance(seed: int) -> tuple[Problem, dict]:
    """A random instance of 4 rooms and 5 sites in which two rooms leave by two doors, each door capped (demand
    within the total of the caps, as the pipeline's bound makes it): (problem, its data: dem, walk_ok, door,
    cap, cost, K, sid, exit_rows)."""
    rng = np.random.default_rng(seed)
    n, m = 4, 5
    dem = rng.integers(3, 12, (n, 2))
    walk_ok = rng.uniform(size=(n, m)) < 0.7
    walk_ok[np.arange(n), rng.integers(0, m, n)] = True
    door = np.where(rng.uniform(size=(n, m)) < 0.5, "a", "b").astype(object)
    cap = rng.integers(5, 16, m)
    cost = np.round(rng.uniform(10, 40, m)) * 1000
    K = {(i, d): int(rng.integers(2, 9)) for i in (0, 1) for d in ("a", "b")}
    for i in (0, 1):
        used = {door[i, j] for j in range(m) if walk_ok[i, j]}
        dem[i] = np.minimum(dem[i], sum(K[(i, d)] for d in used))
    rid = [f"r{i}" for i in range(n)]
    sid = [f"s{j}" for j in range(m)]
    pairs = pd.DataFrame([(rid[i], sid[j], 10.0 + j) for i in range(n) for j in range(m) if walk_ok[i, j]],
                         columns=["room_id", "site_id", "walk_s"])
    exit_rows = pd.DataFrame([(rid[i], sid[j], door[i, j], K[(i, door[i, j])]) for i in (0, 1) for j in range(m)
                              if walk_ok[i, j]], columns=["room_id", "site_id", "exit_door_id", "exit_cap"])
    sites = pd.DataFrame({"capacity": cap, "cost": cost}, index=pd.Index(sid, name="site_id"))
    demand = pd.DataFrame(dem, index=pd.Index(rid, name="room_id"), columns=["night", "day"])
    problem = Problem(demand=demand, pairs=pairs, sites=sites, door_queue=False, exit_rows=exit_rows, mip_gap=0.0)
    return problem, dict(dem=dem, walk_ok=walk_ok, door=door, cap=cap, cost=cost, K=K, sid=sid, exit_rows=exit_rows)


@pytest.mark.parametrize("seed", range(6))
def test_optimiser_with_exit_door_rows_matches_brute_force(seed):
    problem, data = exit_instance(seed)
    dem, walk_ok, door, cap, cost, K, exit_rows = (data[k] for k in ("dem", "walk_ok", "door", "cap", "cost", "K",
                                                                     "exit_rows"))
    best = _brute_force(dem, walk_ok, door, cap, cost, K)
    if not np.isfinite(best):
        from planner.errors import InfeasibleError
        with pytest.raises(InfeasibleError):
            solve(problem, progress=False)
        return
    sol = solve(problem, progress=False)
    assert sol.stats["cost"] == pytest.approx(best)
    a = sol.assignments
    a = a[a["residents"] > 0].merge(exit_rows, on=["room_id", "site_id"])
    per = a.groupby(["room_id", "exit_door_id", "scenario"])["residents"].sum()
    caps = exit_rows.groupby(["room_id", "exit_door_id"])["exit_cap"].first()
    for (r, d, _), v in per.items():
        assert v <= caps[(r, d)] + 1e-9
    # without the rows the optimum is never dearer
    free = solve(problem.replace(exit_rows=None), progress=False)
    assert free.stats["cost"] <= best + 1e-6


def test_unsheltered_reason_names_each_exit_door(tmp_path):
    """90 in the hall: 38 per door could leave in time but only 20 places lie beyond each, so 50 are
    short of time; the reason names both doors with their flows and caps."""
    from planner.pipeline import _add_short, model_problem, prepare

    station = hall_station(tmp_path, n=90)
    sites, reach, costs = prepare(station)
    problem, timed, short = model_problem(station, reach, sites, costs)
    assert short.loc["H"].tolist() == [50, 50]
    assert problem.demand.loc["H"].tolist() == [40, 40]
    plan: dict = {"unsheltered": []}
    _add_short(plan, short, station)
    why = plan["unsheltered"][0]["reason"]
    assert "DW passes 0.78 persons/s (at most 38 out in time)" in why
    assert "DE passes 0.78 persons/s (at most 38 out in time)" in why and "more than 40 of its 90" in why
