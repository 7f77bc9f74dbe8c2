"""Queues worked out by hand (issue 17): the exit queue at a room's own door, streams merging at a
safe-room door, a two-door safe room fed from one side; the batch bound against an exact fluid
replay of streams; the checker catching a plan that ignores the exit queue and a walking model
that is too short; the optimiser under the new timing against brute force."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import box, corridor_layout, door_leaf, write_station
from planner.check import check_plan
from planner.checkqueue import check_arrivals
from planner.queues import (batch_offset_s, door_flows, exit_queue_s, fluid_queue_finish, model_pairs,
                            predicted_arrivals, promise_of_plan, room_bound, room_exit_flow, site_queue_flow)
from planner.station import load_station

R09 = 1.3 * (0.9 - 0.3)   # a 0.9 m door passes 0.78 persons/s


def _reach(walks: dict, doors: dict | None = None) -> SimpleNamespace:
    doors = doors or {}
    return SimpleNamespace(pairs=pd.DataFrame([{"room_id": r, "site_id": s, "walk_s": w,
                                                "door_id": doors.get((r, s), "")} for (r, s), w in walks.items()]))


def _plan(station, rows, safe, walks):
    """A plan.json dict as `planner.plan.build_plan` writes it (figures the checker recomputes)."""
    from planner.costs import site_costs
    from planner.sites import candidate_sites

    sites = candidate_sites(station)
    costs = site_costs(sites, station)
    dem = station.demand()
    asg = [{"room_id": r, "scenario": s, "safe_room_id": j, "residents": n, "walk_s": walks[(r, j)]}
           for (r, s, j, n) in rows]
    scen = {s: {"residents": int(dem[s].sum()), "sheltered": sum(a["residents"] for a in asg if a["scenario"] == s)}
            for s in station.scenarios}
    occupied = dem.index[(dem > 0).any(axis=1)]
    return {"station": station.name, "parameters": station.params.to_dict(),
            "safe_rooms": [{"room_id": j, "name": j, "sector": "A", "deck": 0, "kind": "storage",
                            "area_m2": float(sites.at[j, "area_m2"]), "capacity": int(sites.at[j, "capacity"]),
                            "door_flow_pps": round(float(sites.at[j, "door_flow_pps"]), 4),
                            "cost": round(float(costs.at[j, "total_cost"]), 2), "existing": False, "phase": 1}
                           for j in safe],
            "assignments": asg, "unsheltered": [],
            "totals": {"cost": round(float(costs.loc[list(safe), "total_cost"].sum()), 2), "budget": None,
                       "scenarios": scen, "max_walk_s": max(a["walk_s"] for a in asg),
                       "min_options_in_reach": min(sum(1 for j in safe if (r, j) in walks) for r in occupied),
                       "rooms_converted": len(safe), "existing_safe_rooms": 0},
            "solver": {"name": "hand", "status": "optimal"}}


# ------------------------------------------------------------------ by hand
def test_one_room_of_20_behind_a_09m_door_needs_25_6_s(tmp_path):
    rooms, doors, res = corridor_layout(["quarters", "storage"], room_w=6.0, residents={"R1": 20})
    station = load_station(write_station(tmp_path / "s", rooms, doors, res))
    r = room_exit_flow(station)
    assert r["R1"] == pytest.approx(R09)
    ex = exit_queue_s(station.demand(), r)
    assert ex.at["R1", "night"] == pytest.approx(20 / 0.78) == pytest.approx(25.64, abs=0.01)
    assert ex.at["R2", "night"] == 0.0


def test_checker_catches_a_plan_that_ignores_the_exit_queue(tmp_path):
    # R1 (20 people, 0.9 m door) walks 40 s to R2: its last resident is out at 25.6 s and at R2's door
    # at 40 + 25.6 = 65.6 s > 60 s; a plan timed by the walk alone (40 s) looked fine.
    rooms, doors, res = corridor_layout(["quarters", "storage"], room_w=8.0, room_d=6.0, residents={"R1": 20})
    station = load_station(write_station(tmp_path / "s", rooms, doors, res))
    walks = {("R1", "R2"): 40.0, ("R1", "R1"): 0.0, ("R2", "R2"): 0.0}
    plan = _plan(station, [("R1", "night", "R2", 20), ("R1", "day", "R2", 20)], ["R2"], walks)
    b = check_plan(station, plan, reach=_reach(walks, {("R1", "R2"): "D2"}))
    late = [x for x in b if x.kind == "arrival"]
    assert len(late) == 2 and "65.6 s" in late[0].message, b
    # the same plan with the exit queue switched off (the model before issue 17) passes
    import dataclasses

    station0 = dataclasses.replace(station, params=station.params.replace(exit_queue=False))
    plan["parameters"]["exit_queue"] = False
    assert not [x for x in check_plan(station0, plan, reach=_reach(walks, {("R1", "R2"): "D2"}))
                if x.kind == "arrival"]


def test_two_streams_merging_at_one_door(tmp_path):
    # R1 (20) and R3 (17) both go to R2 (one 0.9 m door). Their streams leave at 0.78 p/s each from
    # 5 s and 8 s; R2's door, busy from 5 s on, passes all 37 by 5 + 37 / 0.78 = 52.4 s.
    rooms, doors, res = corridor_layout(["quarters", "storage", "quarters"], room_w=8.0, room_d=6.0,
                                        residents={"R1": 20, "R3": 17})
    station = load_station(write_station(tmp_path / "s", rooms, doors, res))
    walks = {("R1", "R2"): 5.0, ("R3", "R2"): 8.0, ("R1", "R1"): 0.0, ("R2", "R2"): 0.0, ("R3", "R3"): 0.0}
    door = {("R1", "R2"): "D2", ("R3", "R2"): "D2"}
    off = batch_offset_s(np.array([20, 17]), np.array([R09, R09]), np.array([R09, R09]))
    assert off == pytest.approx([0.0, 0.0])
    _, fin, _ = fluid_queue_finish(np.zeros(2, np.int64), np.array([5.0, 8.0]) + off, np.array([20, 17]),
                                   np.full(2, R09))
    assert fin[0] == pytest.approx(5 + 37 / R09) == pytest.approx(52.44, abs=0.01)
    plan = _plan(station, [("R1", s, "R2", 20) for s in ("night", "day")]
                 + [("R3", s, "R2", 17) for s in ("night", "day")], ["R2"], walks)
    # each room's last person inside: R1 at 5 + 20 / 0.78 = 30.6 s, R3 behind it at 52.4 s
    rows = pd.DataFrame(plan["assignments"]).assign(door_id="D2")
    assert predicted_arrivals(station, rows) == pytest.approx([30.64, 30.64, 52.44, 52.44], abs=0.01)
    # capacity of 48 m2: (48 - 2) x 0.85 / 1.86 = 21 < 37: only the queue is looked at here
    b = [x for x in check_plan(station, plan, reach=_reach(walks, door)) if x.kind in ("door-queue", "arrival")]
    assert b == []
    # push both 10 s later: the door is through at 15 + 37 / 0.78 = 62.4 s, late
    walks2 = {k: (v + 10.0 if v else v) for k, v in walks.items()}
    plan2 = _plan(station, [("R1", s, "R2", 20) for s in ("night", "day")]
                  + [("R3", s, "R2", 17) for s in ("night", "day")], ["R2"], walks2)
    q = [x for x in check_plan(station, plan2, reach=_reach(walks2, door)) if x.kind == "door-queue"]
    assert len(q) == 2 and "62.4 s" in q[0].message and "door D2" in q[0].feature, q


def test_two_door_safe_room_fed_from_one_side(tmp_path):
    # Safe room S (8 m x 6 m) with door DA to the corridor and door DB to store B behind it, which
    # nobody uses: 40 people arriving at 10 s through DA (0.78 p/s) are in at 10 + 40 / 0.78 = 61.3 s.
    # The summed flow (1.56 p/s) would have said 35.6 s.
    rooms = [{"room_id": "C", "kind": "corridor", "sector": "A", "deck": 0, "name": "C", "geometry": box(0, 0, 24, 2)},
             {"room_id": "Q", "kind": "quarters", "sector": "A", "deck": 0, "name": "Q", "geometry": box(0, 2, 8, 8)},
             {"room_id": "S", "kind": "storage", "sector": "A", "deck": 0, "name": "S", "geometry": box(8, 2, 16, 8)},
             {"room_id": "B", "kind": "storage", "sector": "A", "deck": 0, "name": "B", "geometry": box(8, 8, 16, 12)}]
    doors = [{"door_id": "DQ", "width_m": 1.5, "geometry": door_leaf(3, 2, 1.5)},
             {"door_id": "DA", "width_m": 0.9, "geometry": door_leaf(11, 2, 0.9)},
             {"door_id": "DB", "width_m": 0.9, "geometry": door_leaf(11, 8, 0.9)}]
    res = [{"room_id": r["room_id"], "night": 40 if r["room_id"] == "Q" else 0} for r in rooms]
    station = load_station(write_station(tmp_path / "s", rooms, doors, res))
    sides = door_flows(station)
    walks = {("Q", "S"): 10.0, ("Q", "Q"): 0.0, ("S", "S"): 0.0, ("B", "B"): 0.0}
    pairs = pd.DataFrame([{"room_id": "Q", "site_id": "S", "walk_s": 10.0, "door_id": "DA"}])
    assert site_queue_flow(pairs, sides, pd.Index(["S"]))["S"] == pytest.approx(R09)
    plan = _plan(station, [("Q", "night", "S", 40)], ["S"], walks)
    plan["safe_rooms"][0]["capacity"] = int(plan["safe_rooms"][0]["capacity"])
    b = check_plan(station, plan, reach=_reach(walks, {("Q", "S"): "DA"}))
    q = [x for x in b if x.kind == "door-queue"]
    assert len(q) == 1 and "61.3 s" in q[0].message and "door DA" in q[0].feature, b
    # the Q stream (1.5 m door: 1.56 p/s) is faster than DA: its batch stays at the first walker (10 s)
    assert batch_offset_s(np.array([40]), np.array([1.3 * 1.2]), np.array([R09]))[0] == 0.0


# ------------------------------------------------------------- the batch bound
def _stream_finish(starts, persons, rates, door):
    """Exact finish of a fluid queue fed by uniform streams (start, persons, rate): the last person is
    through at max over t of t + (persons arriving after t) / door; the maximum is at a stream's
    start or end (arrivals are piecewise linear)."""
    starts, persons, rates = map(np.asarray, (starts, persons, rates))
    ends = starts + persons / rates
    ts = np.r_[starts, ends]
    after = np.array([np.sum(np.clip(persons - np.clip((t - starts) * rates, 0, None), 0, persons)) for t in ts])
    return float(np.max(ts + after / door))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 40), st.integers(1, 60), st.floats(0.3, 2.5)), min_size=1, max_size=6),
       st.floats(0.3, 2.5))
def test_batches_never_finish_before_the_streams(streams, door):
    s, n, r = (np.array(x, dtype=float) for x in zip(*streams))
    exact = _stream_finish(s, n, r, door)
    t = s + batch_offset_s(n, r, np.full(len(s), door))
    _, fin, _ = fluid_queue_finish(np.zeros(len(s), np.int64), t, n, np.full(len(s), door))
    last_out = float(np.max(s + n / r))
    bound = max(float(fin[0]), last_out)
    assert bound >= exact - 1e-6
    if len(s) == 1:      # alone at its door the batch is exact
        assert bound == pytest.approx(exact)


# -------------------------------------------------------- optimiser and checker
def test_model_pairs_time_the_stream_and_cap_late_rooms(tmp_path):
    rooms, doors, res = corridor_layout(["quarters", "storage", "quarters"], room_w=8.0, room_d=6.0,
                                        residents={"R1": 20, "R3": 60})
    station = load_station(write_station(tmp_path / "s", rooms, doors, res))
    pairs = pd.DataFrame({"room_id": ["R1", "R3", "R2"], "site_id": ["R2", "R2", "R2"],
                          "walk_s": [10.0, 10.0, 0.0], "door_id": ["D2", "D2", ""]})
    t = model_pairs(pairs, station.demand(), door_flows(station), station.params).set_index("room_id")
    assert t.at["R1", "out_s"] == pytest.approx(10 + 20 / R09)     # 35.6 s: kept
    assert t.at["R1", "walk_s"] == pytest.approx(10.0)             # same door flow: batch at the first walker
    assert t.at["R1", "exit_cap"] == np.inf                         # all 20 are out in time
    # R3: 10 + 60 / 0.78 = 86.9 s for all 60; only the first floor(0.78 x (60 - 10)) = 39 can be in time:
    # the pair is kept for them, timed with 39 leaving (10 + 39 / 0.78 = 60.0 s)
    assert t.at["R3", "exit_cap"] == 39
    assert t.at["R3", "out_s"] == pytest.approx(10 + 39 / R09) and t.at["R3", "out_s"] <= 60 + 1e-7
    assert t.at["R2", "walk_s"] == 0.0                              # shelter in place
    # a farther site with room for more: the cap follows the walk limit (floor(0.78 x 30) = 23 within 30 s)
    far = pd.DataFrame({"room_id": ["R3", "R3"], "site_id": ["R2", "R1"], "walk_s": [10.0, 30.0],
                        "door_id": ["D2", "D1"]})
    cap = pd.Series({"R2": 20, "R1": 60})
    t2 = model_pairs(far, station.demand(), door_flows(station), station.params, capacity=cap)
    # within 10 s: min(39, 20 places) = 20; within 30 s: min(23, 80 places) = 23 -> the 30 s limit wins
    assert set(t2["exit_cap"]) == {23} and set(t2["site_id"]) == {"R1", "R2"}
    bound = room_bound(t2, cap, pd.Series({"R1": 10.0, "R2": 10.0}), 60.0)
    assert bound["R3"] == 23                                       # never more than the exit cap


def test_independent_walks_catch_a_walking_model_that_is_too_short(tmp_path):
    # R1 to R4 along a 16 m corridor: about 12 m or more on foot (10 s at 1.2 m/s). A reach table that
    # says 2 s (e.g. a walk through the walls) is caught by the checker's raster walk.
    rooms, doors, res = corridor_layout(["quarters", "storage", "storage", "storage"], residents={"R1": 3})
    station = load_station(write_station(tmp_path / "s", rooms, doors, res))
    walks = {("R1", "R4"): 2.0, ("R1", "R1"): 0.0, ("R2", "R2"): 0.0, ("R3", "R3"): 0.0, ("R4", "R4"): 0.0}
    plan = _plan(station, [("R1", s, "R4", 3) for s in station.scenarios], ["R4"], walks)
    b = check_plan(station, plan, reach=_reach(walks, {("R1", "R4"): "D4"}))
    w = [x for x in b if x.kind == "walk-independent"]
    assert len(w) == 1 and "R1 -> R4" in w[0].feature, b
    from planner.walkgrid import grid_walks

    g = grid_walks(station, pd.DataFrame({"room_id": ["R1"], "site_id": ["R4"]}))
    assert 10.0 <= g["walk_s"].iat[0] <= 15.0 and g["door_id"].iat[0] == "D4"


def test_raster_walks_agree_with_the_network(tmp_path):
    from planner.network import reach_table
    from planner.walkgrid import LATTICE_STRETCH, grid_walks

    rooms, doors, res = corridor_layout(["quarters", "storage", "quarters", "storage", "quarters"],
                                        residents={"R1": 2, "R3": 2, "R5": 2})
    station = load_station(write_station(tmp_path / "s", rooms, doors, res))
    pr = reach_table(station, cache=False).pairs
    pr = pr[pr["walk_s"] > 0]
    g = grid_walks(station, pr).set_index(["room_id", "site_id"])
    got = g["walk_s"].reindex(pd.MultiIndex.from_frame(pr[["room_id", "site_id"]])).to_numpy()
    net = pr["walk_s"].to_numpy()
    assert np.all(got >= net / 1.0 - 0.5) and np.all(got <= net * LATTICE_STRETCH + 0.8)
    assert (g["door_id"].reindex(pd.MultiIndex.from_frame(pr[["room_id", "site_id"]])).to_numpy()
            == pr["door_id"].to_numpy()).all()


def test_raster_walks_in_worker_processes_equal_one_process(tmp_path, monkeypatch):
    """The safe rooms' grid searches split over forked workers give the walks and doors of one process."""
    import planner.walkgrid as wg
    from planner.network import reach_table

    rooms, doors, res = corridor_layout(["quarters", "storage", "quarters", "storage", "quarters", "storage"],
                                        residents={"R1": 2, "R3": 2, "R5": 2})
    station = load_station(write_station(tmp_path / "s", rooms, doors, res))
    pr = reach_table(station, cache=False).pairs
    pr = pd.concat([pr, pd.DataFrame({"room_id": ["nowhere"], "site_id": ["R2"]})])   # a room not on the grid
    grid = wg.build_grid(station, 0.5)
    monkeypatch.setenv("PLANNER_REACH_WORKERS", "1")
    one = wg.grid_walks(station, pr, grid=grid)
    monkeypatch.setenv("PLANNER_REACH_WORKERS", "2")
    monkeypatch.setattr(wg, "PARALLEL_MIN_SITES", 1)
    calls = []
    real = wg._fork_map
    monkeypatch.setattr(wg, "_fork_map", lambda fn, items, workers, what: calls.append((len(items), workers))
                        or real(fn, items, workers, what))
    two = wg.grid_walks(station, pr, grid=grid)
    assert calls and calls[0][0] > 1 and calls[0][1] == 2
    pd.testing.assert_frame_equal(one, two)
    assert np.isinf(one.loc[one["room_id"] == "nowhere", "walk_s"]).all()


@pytest.mark.slow
def test_optimiser_against_brute_force_under_the_queue_model(tmp_path):
    # 6 candidate rooms (3 of them occupied: 14, 9, 15 people, so the exit queue matters); one scenario,
    # one door per room (so the optimiser's timing is the checker's). Brute force: the cheapest set of
    # rooms with a whole-room assignment the checker accepts, converted rooms keeping their own
    # residents; the optimiser (which may also split rooms) is never dearer and its plan passes the
    # checker.
    from planner.pipeline import plan_station

    rooms, doors, res = corridor_layout(["quarters", "storage", "quarters", "storage", "quarters", "storage"],
                                        room_w=7.0, room_d=5.0, residents={"R1": 14, "R3": 9, "R5": 15})
    for r in res:
        r.pop("day", None)
    station = load_station(write_station(tmp_path / "s", rooms, doors, res))
    run = plan_station(station, check=True, phases=False)
    from planner.network import reach_table

    reach = reach_table(station, cache=False)
    walk = {(r.room_id, r.site_id): r.walk_s for r in reach.pairs.itertuples()}
    dmap = {(r.room_id, r.site_id): r.door_id for r in reach.pairs.itertuples()}
    cands = ["R2", "R4", "R6", "R1", "R3", "R5"]
    occ = {"R1": 14, "R3": 9, "R5": 15}
    from planner.costs import site_costs
    from planner.sites import candidate_sites

    sites = candidate_sites(station)
    cost = site_costs(sites, station)["total_cost"]
    cap = sites["capacity"]
    best = np.inf
    for k in range(1, 4):
        for subset in itertools.combinations(cands, k):
            c = float(cost.reindex(list(subset)).sum())
            if c >= best:
                continue
            # no swaps: a converted room keeps its own residents (capacity 15 >= each room's count)
            options = [[i] if i in subset else [j for j in subset if (i, j) in walk] for i in occ]
            for choice in itertools.product(*options):
                a = pd.DataFrame({"room_id": list(occ), "safe_room_id": list(choice), "scenario": "night",
                                  "n": [float(v) for v in occ.values()],
                                  "walk": [walk[(i, j)] for i, j in zip(occ, choice)],
                                  "door": [dmap[(i, j)] for i, j in zip(occ, choice)]})
                a["walk_plan"] = a["walk"]
                load = a.groupby("safe_room_id")["n"].sum()
                if (load > cap.reindex(load.index)).any() or check_arrivals(station, a, station.params):
                    continue
                best = c
                break
    assert run.plan["totals"]["cost"] <= best + 0.01
    assert run.breaches == []
    pm = run.plan["totals"]["promise"]
    assert 0 < pm["slowest_speed_m_s"] <= station.params.walk_speed_m_s + 1e-9
    assert pm == promise_of_plan(station, pd.DataFrame(run.plan["assignments"]))


@pytest.mark.parametrize("no_swap", [False, True])
def test_no_needless_swaps(no_swap):
    # Sites A (the room A itself, 3 residents) and B, capacity 5 each; rooms C (2) and E (3) walk 5 s to A
    # and 50 s to B, A walks 5 s to B. 8 people need both rooms. The shortest walks swap: A's 3 go to B
    # while C and E fill A. With the rule A keeps its own 3 (C joins them, E walks to B).
    from planner.model import Problem, solve

    times = pd.DataFrame([{"room_id": "A", "site_id": "A", "walk_s": 0.0}, {"room_id": "A", "site_id": "B", "walk_s": 5.0},
                          {"room_id": "C", "site_id": "A", "walk_s": 5.0}, {"room_id": "C", "site_id": "B", "walk_s": 50.0},
                          {"room_id": "E", "site_id": "A", "walk_s": 5.0}, {"room_id": "E", "site_id": "B", "walk_s": 50.0}])
    demand = pd.DataFrame({"night": [3, 2, 3]}, index=["A", "C", "E"])
    prob = Problem.from_cost_matrix(demand, times, capacity=pd.Series({"A": 5, "B": 5}),
                                    cost=pd.Series({"A": 1.0, "B": 1.0}), no_swap=no_swap)
    sol = solve(prob, progress=False)
    assert sol.cost == pytest.approx(2.0)
    a = sol.assignments
    own = int(a[(a["room_id"] == "A") & (a["site_id"] == "A")]["residents"].sum())
    assert own == (3 if no_swap else 0)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 50), st.integers(1, 30)), min_size=1, max_size=8))
def test_departures_end_when_the_queue_ends(batches):
    from planner.queues import fluid_queue_departures

    k, t, n = (np.array(x) for x in zip(*batches))
    r = np.array([0.5, 0.78, 1.3])[k]
    dep = fluid_queue_departures(k, t.astype(float), n.astype(float), r)
    keys, fin, _ = fluid_queue_finish(k, t.astype(float), n.astype(float), r)
    for kk, f in zip(keys, fin):
        assert dep[k == kk].max() == pytest.approx(f)
    assert (dep >= t + n / r - 1e-9).all()     # a batch is never through faster than its own size allows


def _critical_speeds_one_speed_at_a_time(w, e, o, n, key, flow, p):
    """The speed scan `critical_speeds` replaced: one door-queue replay per speed, fast to slow."""
    from planner.queues import fluid_queue_departures

    v0, r0 = float(p.walk_speed_m_s), float(p.reaction_s)
    moving = np.maximum(0.0, w - r0)
    crit = np.full(len(w), np.inf)
    for v in np.arange(2.0 * v0, 0.2, -0.02):
        t = r0 + moving * v0 / v
        last = t + e if p.exit_queue else t
        dep = fluid_queue_departures(key, t + o if p.exit_queue else t, n, flow) if p.door_queue else t
        ok = np.maximum(last, dep) <= p.reach_s + 1e-9
        crit = np.where(ok, v, crit)
        if not ok.any():
            break
    return crit


@pytest.mark.parametrize("door_queue,exit_queue", list(itertools.product((True, False), (True, False))))
def test_critical_speeds_all_at_once_equal_the_scan(door_queue, exit_queue):
    """`critical_speeds` replays every speed's door queues in one call: the same speeds as the scan,
    one replay per speed, that it replaced (queues and exit queues on and off; ties, empty batches,
    rows nobody makes in time, and a scan that stops early because at some speed nobody is in time)."""
    from planner.params import Parameters
    from planner.queues import critical_speeds

    rng = np.random.default_rng(int(door_queue) * 2 + int(exit_queue))
    m = 200
    w = rng.uniform(1, 150, m).round(1)      # beyond 120 s nobody is in time even at twice the speed
    e, o = rng.uniform(0, 20, m).round(1), rng.uniform(0, 10, m).round(1)
    n, key = rng.integers(0, 30, m), rng.integers(0, 25, m)
    flow = rng.choice([0.5, 0.78, 1.5, 3.0], m)
    p = Parameters().replace(door_queue=door_queue, exit_queue=exit_queue)
    got = critical_speeds(w, e, o, n, key, flow, p)
    np.testing.assert_array_equal(got, _critical_speeds_one_speed_at_a_time(w, e, o, n, key, flow, p))
    assert np.isfinite(got).any() and np.isinf(got).any()
    slow = w[:60] + 60.0                     # every row late at some speed: the scan stops there
    args = (e[:60], o[:60], n[:60], key[:60], flow[:60], p)
    np.testing.assert_array_equal(critical_speeds(slow, *args), _critical_speeds_one_speed_at_a_time(slow, *args))


# ------------------------------------------------------------------ slower walkers
@pytest.mark.parametrize("walk, short", [(40.0, 20), (10.0, 0)])
def test_guaranteeing_995_of_spread_walkers_needs_0685_m_s(tmp_path, walk, short):
    """99.5 % of N(1.2, 0.2) m/s walkers walk at least 1.2 - 2.5758 x 0.2 = 0.685 m/s. A 40 s walk at
    1.2 m/s takes 40 x 1.2 / 0.685 = 70 s at that speed: none of R1's 20 can be guaranteed, whatever
    the budget. A 10 s walk takes 17.5 s, plus 20 / 0.78 = 25.6 s through R1's 0.9 m door: 43 s, all in."""
    from planner.pipeline import add_target_speed
    from planner.plan import population_words

    rooms, doors, res = corridor_layout(["quarters", "storage"], room_w=6.0, residents={"R1": 20})
    station = load_station(write_station(tmp_path / "s", rooms, doors, res))
    plan = {"totals": {"promise": {"mean_speed_m_s": 1.2, "speed_sd_m_s": 0.2, "expected_share": {"night": 0.9}}}}
    add_target_speed(plan, station, _reach({("R1", "R2"): walk}))
    pm = plan["totals"]["promise"]
    assert pm["target_share"] == 0.995
    assert pm["target_speed_m_s"] == pytest.approx(0.685, abs=5e-4)
    assert pm["short_at_target_speed"] == {sc: short for sc in station.scenarios}
    words = population_words(plan, 60.0)
    assert "0.685 m/s" in words and "90.0 %" in words
    assert ("no budget buys that" in words) == (short > 0)
