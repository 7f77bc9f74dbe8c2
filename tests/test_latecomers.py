"""Residents no plan can bring in in time still get somewhere to go (issue 17, `planner.latecomers`):
worked out by hand on a room of 60 behind a 0.9 m door, checked by the independent checker, and
replayed by the simulator as walkers."""

from __future__ import annotations

import copy

import pytest

from conftest import corridor_layout, write_station
from planner.check import check_plan
from planner.pipeline import plan_station
from planner.station import load_station

R09 = 1.3 * (0.9 - 0.3)   # a 0.9 m door passes 0.78 persons/s


def _station(tmp_path):
    # R1: a mess of 60 on 12 m x 12 m behind one 0.9 m door: 60 / 0.78 = 77 s to empty, so only the
    # first ~ (60 - walk) x 0.78 can be in a safe room by 60 s. R2, R3: storage rooms to convert.
    rooms, doors, res = corridor_layout(["galley", "storage", "storage"], room_w=12.0, room_d=12.0,
                                        residents={"R1": 60})
    return load_station(write_station(tmp_path / "s", rooms, doors, res))


def test_short_of_time_residents_get_the_nearest_safe_room_with_places(tmp_path):
    station = _station(tmp_path)
    run = plan_station(station, phases=False)
    plan = run.plan
    assert not run.breaches
    late = [u for u in plan["unsheltered"] if u["scenario"] == "night"]
    assigned = sum(a["residents"] for a in plan["assignments"] if a["scenario"] == "night")
    n_late = sum(u["residents"] for u in late)
    assert n_late > 0 and assigned + n_late == 60
    # by hand: the last of 60 is out after 60 / 0.78 = 76.9 s; whoever is out after 60 s minus the walk
    # cannot be in time, so at least 60 - 0.78 x 60 = 13 are short
    assert n_late >= 60 - int(R09 * 60)
    safe = {s["room_id"]: s["capacity"] for s in plan["safe_rooms"]}
    for u in late:
        assert u["safe_room_id"] in safe
        assert u["predicted_s"] > station.params.reach_s          # they are late, and the plan says so
        assert u["predicted_s"] == pytest.approx(u["walk_s"] + 60 / R09, abs=0.05)
        assert "reason" in u and u["reason"]
    # they stay unsheltered in the totals
    assert plan["totals"]["scenarios"]["night"]["sheltered"] == assigned


def test_checker_counts_them_against_capacity_and_safe_rooms(tmp_path):
    station = _station(tmp_path)
    plan = plan_station(station, phases=False).plan
    assert not check_plan(station, plan)
    row = next(u for u in plan["unsheltered"] if u.get("safe_room_id"))
    cap = {s["room_id"]: s["capacity"] for s in plan["safe_rooms"]}[row["safe_room_id"]]
    over = copy.deepcopy(plan)
    r = next(u for u in over["unsheltered"] if u.get("safe_room_id") == row["safe_room_id"]
             and u["scenario"] == row["scenario"])
    r["residents"] += cap          # more than the room holds (coverage breaks too: both named)
    kinds = {b.kind for b in check_plan(station, over)}
    assert "capacity" in kinds
    elsewhere = copy.deepcopy(plan)
    next(u for u in elsewhere["unsheltered"] if u.get("safe_room_id"))["safe_room_id"] = "C"
    assert any(b.kind == "assignment" and "not among the plan's safe rooms" in b.message
               for b in check_plan(station, elsewhere))


def test_simulation_replays_them_as_walkers(tmp_path):
    pytest.importorskip("jupedsim", reason="JuPedSim is the optional extra 'sim' (see docs/verification.md)")
    from planner.simulate import simulate_plan

    station = _station(tmp_path)
    plan = plan_station(station, phases=False).plan
    late_n = sum(u["residents"] for u in plan["unsheltered"] if u["scenario"] == "night" and u.get("safe_room_id"))
    res = simulate_plan(station, plan, scenarios=["night"], seeds=1, workers=1)
    sc = res.scenarios["night"]
    assert sc["late_by_plan"] == late_n and sc["agents"] == 60 and sc["unsheltered"] == late_n
    rows = [a for a in res.assignments if a["late_by_plan"]]
    assert sum(a["residents"] for a in rows) == late_n
    assert all(a["sim_last_s"] is not None for a in rows)       # they arrive, later than the others
    planned_last = max(a["sim_last_s"] for a in res.assignments if not a["late_by_plan"])
    assert max(a["sim_last_s"] for a in rows) >= planned_last
    assert sc["prediction"]["assignments"] == len(res.assignments) - len(rows)


def test_the_summary_names_each_room_once():
    """A room whose unsheltered residents are sent to two safe rooms anyway is one room in the summary."""
    from types import SimpleNamespace

    import pandas as pd

    from planner.pipeline import unsheltered_summary

    st = SimpleNamespace(rooms=pd.DataFrame({"room_id": ["G", "H"], "name": ["Galley", "Hall"]}))
    why = "its door is too slow"
    rows = [{"room_id": "G", "scenario": "day", "residents": 3, "reason": why, "safe_room_id": "S1"},
            {"room_id": "G", "scenario": "day", "residents": 4, "reason": why, "safe_room_id": "S2"},
            {"room_id": "G", "scenario": "day", "residents": 5, "reason": why},
            {"room_id": "H", "scenario": "day", "residents": 1, "reason": why}]
    (line,) = unsheltered_summary(rows, st)   # type: ignore[arg-type]
    assert "13 resident(s) in 2 room(s)" in line and line.count("G (Galley)") == 1 and "H (Hall)" in line


@pytest.mark.parametrize("seed", range(5))
def test_options_per_room_are_each_rooms_pairs_nearest_first(seed):
    """`_options_by_room` (one sort, slices) equals each room's pairs sorted by walk with ties in the
    pairs' order, as the per-room `sort_values` it replaced gave them."""
    import numpy as np
    import pandas as pd

    from planner.latecomers import _options_by_room

    rng = np.random.default_rng(seed)
    n = 400
    pr = pd.DataFrame({"room_id": rng.choice([f"R{k}" for k in range(40)], n),
                       "site_id": [f"S{k}" for k in range(n)],
                       "walk_s": rng.integers(0, 12, n).astype(float)})          # many equal walks
    got = _options_by_room(pr)
    want = {rid: g.sort_values("walk_s", kind="stable") for rid, g in pr.groupby("room_id", sort=False)}
    assert set(got) == set(want)
    for rid, g in want.items():
        assert list(got[rid][0]) == list(g["site_id"]) and list(got[rid][1]) == list(g["walk_s"])
    assert _options_by_room(pr.iloc[:0]) == {}
