"""The independent plan checker: hand-made station and plans, tampered plans, properties."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import corridor_layout, write_station
from planner.check import Breach, check_plan, format_breaches, recompute_capacity
from planner.station import load_station

# Station: corridor C, R1 storage, R2 quarters, R3 quarters, R4 storage; rooms 4 m x 3 m = 12 m2,
# doors 0.9 m. Capacity of 12 m2: usable (12 - 2) x 0.85 = 8.5 m2 -> floor(8.5 / 1.86) = 4
# (air: floor(8.5 x 2.4 / 1.84) = 11). Door flow 1.3 x (0.9 - 0.3) = 0.78 persons/s.
RESIDENTS = {"R2": (2, 1), "R3": (1, 3)}  # (night, day)
# Hand-set walking times (seconds) for the injected reach table.
WALKS = {("R1", "R1"): 0.0, ("R4", "R4"): 0.0, ("R2", "R2"): 0.0, ("R3", "R3"): 0.0,
         ("R2", "R1"): 20.0, ("R3", "R1"): 25.0, ("R2", "R4"): 30.0, ("R3", "R4"): 22.0,
         ("R1", "R4"): 28.0, ("R4", "R1"): 28.0, ("R2", "R3"): 9.0, ("R3", "R2"): 9.0,
         ("C", "R1"): 12.0, ("C", "R4"): 12.0}


def reach_of(walks=WALKS):
    pairs = pd.DataFrame([{"room_id": r, "site_id": s, "walk_s": w, "door_id": ""} for (r, s), w in walks.items()])
    return SimpleNamespace(pairs=pairs)


@pytest.fixture
def station(tmp_path):
    rooms, doors, _ = corridor_layout(["storage", "quarters", "quarters", "storage"])
    res = [{"room_id": r["room_id"], "night": RESIDENTS.get(r["room_id"], (0, 0))[0],
            "day": RESIDENTS.get(r["room_id"], (0, 0))[1]} for r in rooms]
    return load_station(write_station(tmp_path / "st", rooms, doors, res))


def site_cost(station, rid, params=None):
    from planner.costs import site_costs
    from planner.sites import candidate_sites

    s = station if params is None else _with(station, params)
    return round(float(site_costs(candidate_sites(s), s)["total_cost"][rid]), 2)


def _with(station, params):
    import dataclasses

    return dataclasses.replace(station, params=params)


def make_plan(station, assignments, safe=("R1",), params=None, unsheltered=(), walks=WALKS):
    """A plan.json dict with figures worked out from the inputs (capacity, flow, costs, totals)."""
    p = params or station.params
    safe_rooms = []
    for rid in safe:
        area = float(station.rooms.set_index("room_id").geometry[rid].area)
        flow = 1.3 * (0.9 - 0.3) * sum(1 for d in station.doors.itertuples() if rid in (d.from_room, d.to_room))
        safe_rooms.append({"room_id": rid, "name": rid, "sector": "A", "deck": 0, "kind": "storage",
                           "area_m2": area, "capacity": int(recompute_capacity([area], p)[0]),
                           "door_flow_pps": round(flow, 4), "cost": site_cost(station, rid, p),
                           "existing": False, "phase": 1})
    rows = [{"room_id": r, "scenario": s, "safe_room_id": j, "residents": n, "walk_s": walks[(r, j)]}
            for (r, s, j, n) in assignments]
    unsh = [{"room_id": r, "scenario": s, "residents": n, "reason": why} for (r, s, n, why) in unsheltered]
    dem = station.demand()
    scen = {s: {"residents": int(dem[s].sum()),
                "sheltered": sum(a["residents"] for a in rows if a["scenario"] == s)} for s in station.scenarios}
    occupied = dem.index[(dem > 0).any(axis=1)]
    opts = [sum(1 for j in safe if (r, j) in walks) for r in occupied]
    return {
        "station": station.name, "parameters": p.to_dict(),
        "safe_rooms": safe_rooms, "assignments": rows, "unsheltered": unsh,
        "totals": {"cost": round(sum(s["cost"] for s in safe_rooms), 2), "budget": p.budget,
                   "scenarios": scen, "max_walk_s": max((a["walk_s"] for a in rows), default=0.0),
                   "min_options_in_reach": min(opts) if opts else 0,
                   "rooms_converted": len(safe_rooms), "existing_safe_rooms": 0},
        "solver": {"name": "hand", "status": "optimal"},
    }


VALID = [("R2", "night", "R1", 2), ("R3", "night", "R1", 1), ("R2", "day", "R1", 1), ("R3", "day", "R1", 3)]


def kinds(breaches):
    return {b.kind for b in breaches}


# ---------------------------------------------------------------- valid plans
def test_hand_written_valid_plan_passes(station):
    plan = make_plan(station, VALID)
    assert plan["safe_rooms"][0]["capacity"] == 4
    assert check_plan(station, plan, reach=reach_of()) == []


def test_valid_plan_survives_json_round_trip(station):
    plan = json.loads(json.dumps(make_plan(station, VALID)))
    assert check_plan(station, plan, reach=reach_of()) == []


def test_shelter_in_place_does_not_queue_and_two_sites(station):
    # R2 shelters in place, R3 walks to R1; both quarters R2 and storage R1 converted
    a = [("R2", "night", "R2", 2), ("R3", "night", "R1", 1), ("R2", "day", "R2", 1), ("R3", "day", "R1", 3)]
    plan = make_plan(station, a, safe=("R1", "R2"))
    assert check_plan(station, plan, reach=reach_of()) == []


def test_unsheltered_with_reason_is_accounted(station):
    a = [("R2", "night", "R1", 2), ("R2", "day", "R1", 1), ("R3", "day", "R1", 3)]
    plan = make_plan(station, a, unsheltered=[("R3", "night", 1, "not sheltered within the budget")])
    plan["parameters"]["objective"] = "max-cover"
    mc = _with(station, station.params.replace(objective="max-cover"))
    assert check_plan(mc, plan, reach=reach_of()) == []
    # against the station's own objective (cover-all) the plan's objective is a breach
    assert kinds(check_plan(station, plan, reach=reach_of())) == {"parameters", "coverage"}
    plan["unsheltered"][0]["reason"] = ""
    assert "unsheltered" in kinds(check_plan(mc, plan, reach=reach_of()))


# ------------------------------------------------------------- tampered plans
def test_over_capacity_is_named(station):
    plan = make_plan(station, VALID)
    plan["safe_rooms"][0]["capacity"] = 10  # the plan lies about the room's size
    plan["assignments"][3]["residents"] = 4  # 5 people in a room for 4 on day
    b = check_plan(station, plan, reach=reach_of())
    cap = [x for x in b if x.kind == "capacity"]
    assert cap and "R1" in cap[0].feature and "over capacity" in cap[0].message and "5" in cap[0].message
    assert any(x.kind == "safe-room-figures" and "capacity" in x.message for x in b)
    assert "over-assigned" in kinds(b)


def test_capacity_follows_the_station_parameters(station):
    # the station asks 3.7 m2 per occupant: capacity floor(8.5 / 3.7) = 2 < 4 on day
    p = station.params.replace(area_per_occupant_m2=3.7)
    plan = make_plan(station, VALID, params=p)
    assert plan["safe_rooms"][0]["capacity"] == 2
    b = check_plan(_with(station, p), plan, reach=reach_of())
    assert kinds(b) == {"capacity"}
    # a plan made with 1.86 m2 is judged by the station's 3.7 m2, not by its own word
    b = check_plan(_with(station, p), make_plan(station, VALID), reach=reach_of())
    assert {"parameters", "capacity", "safe-room-figures"} <= kinds(b)
    assert any(x.feature == "parameter area_per_occupant_m2" for x in b)


def test_walk_over_reach_time_is_named(station):
    plan = make_plan(station, VALID)
    plan["assignments"][1]["walk_s"] = 75.0
    b = check_plan(station, plan, reach=reach_of())
    assert any(x.kind == "walk" and "R3" in x.feature and "over the reach time" in x.message for x in b)


def test_safe_room_out_of_reach_is_named(station):
    walks = {k: v for k, v in WALKS.items() if k != ("R3", "R4")}
    plan = make_plan(station, [("R2", "night", "R1", 2), ("R3", "night", "R4", 1), ("R2", "day", "R1", 1),
                               ("R3", "day", "R1", 3)], safe=("R1", "R4"), walks=WALKS)
    b = check_plan(station, plan, reach=reach_of(walks))
    assert any(x.kind == "walk" and "R3 -> R4" in x.feature and "not within reach" in x.message for x in b)


def test_walk_mismatch_is_named(station):
    plan = make_plan(station, VALID)
    plan["assignments"][0]["walk_s"] = 12.0  # recomputed 20 s
    assert "walk-mismatch" in kinds(check_plan(station, plan, reach=reach_of()))


def test_over_budget_is_named(station):
    cost = site_cost(station, "R1")
    p = station.params.replace(budget=cost - 100.0)
    plan = make_plan(station, VALID, params=p)
    b = check_plan(_with(station, p), plan, reach=reach_of())
    assert [x.kind for x in b] == ["budget"], b
    assert "over the budget" in b[0].message


def test_budget_override_must_be_given_to_check(station):
    # the station's scenario has no budget; the plan was made with one that fits: it holds when
    # check is given the same override, and the difference is named when it is not
    p = station.params.replace(budget=site_cost(station, "R1") + 1.0)
    plan = make_plan(station, VALID, params=p)
    assert check_plan(_with(station, p), plan, reach=reach_of()) == []
    b = check_plan(station, plan, reach=reach_of())
    assert [(x.kind, x.feature) for x in b] == [("parameters", "parameter budget")]


def test_cost_tampering_is_named(station):
    plan = make_plan(station, VALID)
    plan["safe_rooms"][0]["cost"] = 10.0
    plan["totals"]["cost"] = 10.0
    b = check_plan(station, plan, reach=reach_of())
    assert "cost" in kinds(b)


def test_missing_residents_are_named(station):
    plan = make_plan(station, VALID)
    plan["assignments"][3]["residents"] = 2  # R3 day: 3 live there
    b = check_plan(station, plan, reach=reach_of())
    cov = [x for x in b if x.kind == "coverage"]
    assert cov and cov[0].feature == "room R3 (day)" and "missing residents" in cov[0].message
    assert "1 are unaccounted" in cov[0].message


def test_missing_scenario_assignments_are_named(station):
    plan = make_plan(station, [a for a in VALID if a[1] == "night"])
    b = check_plan(station, plan, reach=reach_of())
    assert {x.feature for x in b if x.kind == "coverage"} == {"room R2 (day)", "room R3 (day)"}


def test_fractional_persons_are_named(station):
    plan = make_plan(station, VALID)
    plan["assignments"][0]["residents"] = 1.5
    assert "whole-persons" in kinds(check_plan(station, plan, reach=reach_of()))


def test_door_queue_breach_is_named(tmp_path):
    # rooms 8 m x 3 m = 24 m2 -> capacity floor((22 x 0.85) / 1.86) = 10; R1's door 0.4 m passes 0.13 p/s:
    # 8 people arriving at 20 s are in at 20 + 8 / 0.13 = 81.5 s > 60 s.
    rooms, doors, res = corridor_layout(["storage", "quarters"], room_w=8.0, residents={"R2": 8})
    doors[0]["width_m"] = 0.4
    station = load_station(write_station(tmp_path / "q", rooms, doors, res))
    walks = {("R2", "R1"): 20.0, ("R1", "R1"): 0.0, ("R2", "R2"): 0.0}
    plan = make_plan(station, [("R2", "night", "R1", 8), ("R2", "day", "R1", 8)], walks=walks)
    plan["safe_rooms"][0]["door_flow_pps"] = 0.13
    b = check_plan(station, plan, reach=reach_of(walks))
    q = [x for x in b if x.kind == "door-queue"]
    assert len(q) == 2 and "R1" in q[0].feature and "81.5 s" in q[0].message, b
    # 4 people make it: 20 + 4 / 0.13 = 50.8 s; the other 4 shelter in place in R2
    plan2 = make_plan(station, [("R2", "night", "R1", 4), ("R2", "night", "R2", 4),
                                ("R2", "day", "R1", 4), ("R2", "day", "R2", 4)], safe=("R1", "R2"), walks=walks)
    plan2["safe_rooms"][0]["door_flow_pps"] = 0.13
    assert check_plan(station, plan2, reach=reach_of(walks)) == []
    # the same plan, made without door queues (a what-if), is not judged on queues
    p = station.params.replace(door_queue=False)
    plan3 = make_plan(station, [("R2", "night", "R1", 8), ("R2", "day", "R1", 8)], walks=walks, params=p)
    plan3["safe_rooms"][0]["door_flow_pps"] = 0.13
    assert check_plan(_with(station, p), plan3, reach=reach_of(walks)) == []
    # ... but a plan that merely says "no door queue" is judged with the station's queues
    b = check_plan(station, plan3, reach=reach_of(walks))
    assert kinds(b) == {"parameters", "door-queue"}


def test_non_candidate_safe_room_is_named(station):
    plan = make_plan(station, VALID)
    plan["safe_rooms"][0]["room_id"] = "C"  # the corridor
    for a in plan["assignments"]:
        a["safe_room_id"] = "C"
    b = check_plan(station, plan, reach=reach_of({**WALKS, ("R2", "C"): 20.0, ("R3", "C"): 25.0}))
    nc = [x for x in b if x.kind == "not-candidate"]
    assert nc and nc[0].feature == "safe room C" and "corridor" in nc[0].message


def test_protected_safe_room_is_named(station):
    p = station.params.replace(protect=["R1"])
    plan = make_plan(station, VALID)
    plan["parameters"]["protect"] = ["R1"]
    b = check_plan(_with(station, p), plan, reach=reach_of())
    assert any(x.kind == "not-candidate" and "protected" in x.message for x in b)
    # a plan that drops the station's protection is named for it too
    plan["parameters"]["protect"] = []
    b = check_plan(_with(station, p), plan, reach=reach_of())
    assert any(x.kind == "parameters" and x.feature == "parameter protect" for x in b)


def test_unknown_safe_room_and_totals(station):
    plan = make_plan(station, VALID)
    plan["safe_rooms"].append(dict(plan["safe_rooms"][0], room_id="NOPE"))
    plan["totals"]["scenarios"]["night"]["residents"] = 99
    b = check_plan(station, plan, reach=reach_of())
    assert "unknown-room" in kinds(b) and "totals" in kinds(b)


def test_backup_k2_is_checked(station):
    p = station.params.replace(backup_k=2)
    plan = make_plan(station, VALID, params=p)
    b = check_plan(_with(station, p), plan, reach=reach_of())
    assert {x.feature for x in b if x.kind == "backup"} == {"room R2", "room R3"}
    plan2 = make_plan(station, VALID, safe=("R1", "R4"), params=p)
    assert check_plan(_with(station, p), plan2, reach=reach_of()) == []


def test_existing_room_must_be_in_plan(tmp_path):
    rooms, doors, res = corridor_layout(["storage", "quarters", "storage"], residents={"R2": 1})
    rooms[3]["existing"] = True
    station = load_station(write_station(tmp_path / "e", rooms, doors, res))
    plan = make_plan(station, [("R2", "night", "R1", 1), ("R2", "day", "R1", 1)])
    b = check_plan(station, plan, reach=reach_of({("R2", "R1"): 20.0, ("R2", "R3"): 20.0}))
    assert any(x.kind == "missing-required" and x.feature == "room R3" for x in b)


def test_format_breaches_names_every_breach():
    text = format_breaches([Breach("capacity", "safe room S1 (night)", "over capacity: 5 > 4"),
                            Breach("walk", "room R2 -> S1 (day)", "too far")])
    assert "2 breach(es)" in text and "S1 (night)" in text and "R2 -> S1" in text
    assert format_breaches([]) == "no breaches"


def test_check_never_imports_the_model():
    code = ("import sys, planner.check, planner.costs, planner.sites\n"
            "try:\n    import planner.network\nexcept ImportError:\n    pass\n"
            "bad = [m for m in sys.modules if m == 'planner.model' or m.startswith('planner.model.')]\n"
            "assert not bad, bad\nprint('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr


# -------------------------------------------------------------- with the network
def test_plan_from_real_reach_table_passes_and_tampering_fails(station, tmp_path, monkeypatch):
    network = pytest.importorskip("planner.network")
    monkeypatch.setenv("PLANNER_CACHE_DIR", str(tmp_path / "cache"))
    reach = network.reach_table(station, cache=False)
    walks = {(r.room_id, r.site_id): float(r.walk_s) for r in reach.pairs.itertuples()}
    assert ("R2", "R1") in walks and walks[("R2", "R2")] == 0.0
    plan = make_plan(station, VALID, walks=walks)
    assert check_plan(station, plan) == []
    plan["assignments"][0]["walk_s"] = walks[("R2", "R1")] + 5
    assert "walk-mismatch" in kinds(check_plan(station, plan))


# ------------------------------------------------------------------ properties
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_property_reduced_counts_always_missing_residents(station, data):
    plan = make_plan(station, VALID)
    i = data.draw(st.integers(0, len(VALID) - 1))
    cut = data.draw(st.integers(1, VALID[i][3]))
    plan["assignments"][i]["residents"] -= cut
    b = check_plan(station, plan, reach=reach_of())
    r, s = VALID[i][0], VALID[i][1]
    assert any(x.kind == "coverage" and x.feature == f"room {r} ({s})" and "missing residents" in x.message
               and f"{cut} are unaccounted" in x.message for x in b), b


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_property_over_assignment_beyond_capacity_always_caught(station, data):
    plan = make_plan(station, VALID)
    scen = data.draw(st.sampled_from(["night", "day"]))
    extra = data.draw(st.integers(1, 20))
    rows = [a for a in plan["assignments"] if a["scenario"] == scen]
    load = sum(a["residents"] for a in rows)
    a = data.draw(st.sampled_from(rows))
    a["residents"] += extra
    b = check_plan(station, plan, reach=reach_of())
    if load + extra > 4:
        assert any(x.kind == "capacity" and x.feature == f"safe room R1 ({scen})" for x in b), b
    assert "over-assigned" in kinds(b)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(walk=st.floats(0.0, 200.0, allow_nan=False))
def test_property_any_walk_over_reach_is_caught(station, walk):
    plan = make_plan(station, VALID)
    plan["assignments"][2]["walk_s"] = walk
    b = check_plan(station, plan, reach=reach_of())
    if walk > 60.0:
        assert any(x.kind == "walk" for x in b)
    elif abs(walk - 20.0) <= 0.5:
        assert "walk" not in kinds(b) and "walk-mismatch" not in kinds(b)
    else:
        assert "walk-mismatch" in kinds(b)


def test_cover_all_may_not_leave_reachable_residents(station):
    a = [("R2", "night", "R1", 2), ("R2", "day", "R1", 1), ("R3", "day", "R1", 3)]
    plan = make_plan(station, a, unsheltered=[("R3", "night", 1, "not sheltered")])
    b = check_plan(station, plan, reach=reach_of())  # parameters say cover-all
    assert any(x.kind == "coverage" and "cover-all" in x.message and "R3" in x.feature for x in b)
    walks = {k: v for k, v in WALKS.items() if k[0] != "R3"}  # now nothing reaches R3
    plan = make_plan(station, a, unsheltered=[("R3", "night", 1, "no candidate within 60 s")], walks=WALKS)
    plan["assignments"] = [x for x in plan["assignments"] if x["room_id"] != "R3"]
    plan["unsheltered"].append({"room_id": "R3", "scenario": "day", "residents": 3, "reason": "unreachable"})
    plan["totals"]["scenarios"]["day"]["sheltered"] = 1
    plan["totals"]["max_walk_s"] = 20.0
    plan["totals"]["min_options_in_reach"] = 0
    assert check_plan(station, plan, reach=reach_of(walks)) == []


def test_cli_check_exit_codes(station, tmp_path, monkeypatch, capsys):
    network = pytest.importorskip("planner.network")
    from planner.cli import main

    monkeypatch.setenv("PLANNER_CACHE_DIR", str(tmp_path / "cache"))
    reach = network.reach_table(station, cache=False)
    walks = {(r.room_id, r.site_id): float(r.walk_s) for r in reach.pairs.itertuples()}
    plan = make_plan(station, VALID, walks=walks)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    assert main(["--quiet", "check", str(station.folder), str(path)]) == 0
    plan["assignments"][3]["residents"] = 2
    plan["parameters"]["budget"] = 1.0
    path.write_text(json.dumps(plan))
    assert main(["--quiet", "check", str(station.folder), str(path)]) == 1
    out = capsys.readouterr().out
    assert "[coverage] room R3 (day)" in out and "missing residents" in out
    # the station has no budget: the plan's budget is itself a breach (the station's rules are used)
    assert "[parameters] parameter budget: the plan was made with 1.0, the station's is None" in out
    assert "[budget]" not in out


def test_phase_limits_are_checked(station):
    from planner.params import Phase

    cost1 = site_cost(station, "R1")
    p = station.params.replace(phases=[Phase(name="Phase 1", max_rooms=1, budget=cost1 + 1.0)])
    plan = make_plan(station, VALID, safe=("R1", "R4"), params=p)
    plan["safe_rooms"][1]["phase"] = 2  # the rest: no limits
    assert check_plan(_with(station, p), plan, reach=reach_of()) == []
    plan["safe_rooms"][1]["phase"] = 1
    plan["phases"] = [{"name": "Phase 1"}]  # a phased plan: its phase 1 must hold both limits
    b = check_plan(_with(station, p), plan, reach=reach_of())
    assert any(x.kind == "phase" and "max_rooms 1" in x.message for x in b)
    assert any(x.kind == "phase-budget" and x.feature == "Phase 1" for x in b)
    p2 = station.params.replace(phases=[Phase(name="Quick", max_days=0.01)])
    plan2 = make_plan(station, VALID, params=p2)
    assert check_plan(_with(station, p2), plan2, reach=reach_of()) == []  # not phased: the whole programme
    plan2["phases"] = [{"name": "Quick"}]
    b2 = check_plan(_with(station, p2), plan2, reach=reach_of())
    assert any(x.kind == "phase" and "crew" in x.message for x in b2), b2


def test_candidate_flag_false_is_named(tmp_path):
    rooms, doors, res = corridor_layout(["storage", "quarters"], residents={"R2": 1})
    rooms[1]["candidate"] = False
    station = load_station(write_station(tmp_path / "f", rooms, doors, res))
    plan = make_plan(station, [("R2", "night", "R1", 1), ("R2", "day", "R1", 1)], safe=())
    plan["safe_rooms"] = [{"room_id": "R1", "capacity": 4, "door_flow_pps": 0.78, "cost": 0.0, "phase": 1}]
    b = check_plan(station, plan, reach=reach_of({("R2", "R1"): 20.0, ("R2", "R2"): 0.0}))
    assert any(x.kind == "not-candidate" and "candidate flag is false" in x.message for x in b), b
