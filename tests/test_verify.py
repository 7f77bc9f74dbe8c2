"""Simulation in the loop (`planner.verify`, `planner propose --verify`) on the bottleneck station
of `tests/test_margins.py` (its docstring works the station out by hand) and two stations where the
target cannot be reached. Each simulated test has at most 40 agents (a few seconds each).
"""

from __future__ import annotations

import json

import pytest
from conftest import box, write_station
from test_margins import REACH, bottleneck, leaf, only, room

from planner.check import check_plan
from planner.station import load_station

jupedsim = pytest.importorskip(
    "jupedsim", reason="JuPedSim is not installed: make venv installs it (pip install --no-deps jupedsim deprecated)")

from planner.verify import late_margins, verify_plan  # noqa: E402


def test_loop_tightens_where_the_simulation_is_late_and_the_second_plan_passes(tmp_path):
    st = bottleneck(tmp_path)
    v = verify_plan(st, seeds=2, workers=1, rounds=3)
    r1, r2 = v.rounds[0], v.rounds[1]
    # the premise: the first plan is R -> S, predicted in time, and the simulation finds it late
    assert r1["simulated"] and r1["shares"]["night"] < 0.995 and r1["late"] == 1, v.rounds
    assert r1["new_margins"] == 1 and r1["safe_rooms"] == 1
    mg = v.margins.iloc[0]
    assert (mg["room_id"], mg["site_id"], mg["door_id"], mg["cause"]) == ("R", "S", "DS", "corridor")
    assert mg["predicted_s"] <= REACH < mg["simulated_s"]
    assert mg["extra_s"] == pytest.approx(mg["simulated_s"] - mg["predicted_s"] + 2.0)
    # the second plan avoids the opening and passes
    assert v.met and v.chosen == 2 and len(v.rounds) == 2
    assert r2["shares"]["night"] >= 0.995 and r2["cost"] > r1["cost"]
    assert only(v.run.plan)["safe_room_id"] == "S3"
    assert v.simulation.scenarios["night"]["last_arrival_s"] <= REACH
    plan = v.run.plan
    assert plan["margins"][0]["room_id"] == "R" and plan["margins"][0]["site_id"] == "S"
    assert plan["verification"]["met"] is True and plan["verification"]["chosen_round"] == 2
    assert check_plan(st, plan, margins=v.run.margins) == []
    text = "\n".join(v.summary_lines())
    assert "Met after 2 simulated round(s)" in text and "tightened 1 (room, safe room) pair(s)" in text
    assert "1 safe room(s) (1 safe-room door(s))" in text
    assert "night 100.0%" in text


def narrow(tmp_path):
    """Lab U (30 behind a 0.6 m door), lab V (10 behind a 1.8 m door), storage S; reach 40 s."""
    rooms = [room("C", "corridor", box(-6, 0, 12, 2)), room("U", "lab", box(0, 2, 6, 8)),
             room("V", "lab", box(-6, 2, 0, 8)), room("S", "storage", box(6, 2, 14, 11))]
    doors = [{"door_id": "DU", "width_m": 0.6, "geometry": leaf(2.7, 3.3, 2)},
             {"door_id": "DV", "width_m": 1.8, "geometry": leaf(-4.0, -2.2, 2)},
             {"door_id": "DS", "width_m": 1.8, "geometry": leaf(8.1, 9.9, 2)}]
    res = [{"room_id": r["room_id"], "night": {"U": 30, "V": 10}.get(r["room_id"], 0)} for r in rooms]
    return load_station(write_station(tmp_path / "narrow", rooms, doors, res,
                                      scenario_toml=f"[walking]\nreach_s = {REACH}\n"))


def test_unreachable_target_stops_at_once_with_the_reason(tmp_path):
    """Lab U: 30 people behind a 0.6 m door (0.39 p/s: 77 s to empty) with a 40 s reach. No plan can
    shelter them all (the first out, at most 0.39 x 40 = 15, can be: the exit cap): the loop simulates
    the plan once, stops, says why and does not claim success."""
    st = narrow(tmp_path)
    v = verify_plan(st, seeds=1, workers=1, rounds=5)
    assert not v.met and len(v.rounds) == 1 and v.rounds[0]["simulated"]
    assert "cannot be reached" in v.reason and "Rooms: U" in v.reason and "0.39 persons/s" in v.reason
    assert 10 / 40 < v.rounds[0]["shares"]["night"] <= (10 + 15) / 40 + 1e-9
    assert v.run.plan["verification"]["met"] is False
    assert "NOT met" in "\n".join(v.summary_lines())


def test_margins_that_leave_no_safe_room_stop_the_loop(tmp_path):
    """Without S3 the only safe room is behind the opening: after round 1 the margin on (R, S)
    leaves R nowhere to go in time; the loop stops before simulating that plan, proposes round 1's
    (the better simulated one) and says the margins are why."""
    st = bottleneck(tmp_path, alternative=False)
    v = verify_plan(st, seeds=1, workers=1, rounds=3)
    assert not v.met and [r["simulated"] for r in v.rounds] == [True, False]
    assert v.chosen == 1 and only(v.run.plan)["safe_room_id"] == "S"
    assert "made with the margins measured so far" in v.reason and "Rooms: R" in v.reason
    assert "margins on their rooms, which leave them no safe room in time: R -> S" in v.reason


def test_rounds_run_out(tmp_path):
    st = bottleneck(tmp_path)
    v = verify_plan(st, seeds=1, workers=1, rounds=1)
    assert not v.met and len(v.rounds) == 1 and "rounds ran out (1)" in v.reason
    assert len(v.margins) == 1 and "margins" not in v.run.plan   # measured, not planned with


def test_late_margins_of_a_deadlocked_pair_forbid_it():
    sim = {"assignments": [
        {"room_id": "A", "scenario": "night", "safe_room_id": "S", "predicted_s": 30.0, "sim_last_s": 45.0,
         "deadlocked": 0},
        {"room_id": "A", "scenario": "day", "safe_room_id": "S", "predicted_s": 30.0, "sim_last_s": 50.0,
         "deadlocked": 0},
        {"room_id": "B", "scenario": "night", "safe_room_id": "S", "predicted_s": 20.0, "sim_last_s": None,
         "deadlocked": 2},
        {"room_id": "C", "scenario": "night", "safe_room_id": "S", "predicted_s": 20.0, "sim_last_s": 39.0,
         "deadlocked": 0}],
        "late_rooms": [{"room_id": "A", "scenario": "day", "safe_room_id": "S", "cause": "own door"}]}
    m = late_margins(sim, 40.0, 2.0, 1).set_index("room_id")
    assert sorted(m.index) == ["A", "B"]                       # C arrived in time
    assert m.at["A", "extra_s"] == pytest.approx(22.0) and m.at["A", "cause"] == "own door"   # the later scenario
    assert m.at["B", "extra_s"] == 40.0 and m.at["B", "cause"] == "stall"


@pytest.mark.slow
def test_propose_verify_writes_the_verification_sheet(tmp_path):
    """`planner propose --verify` on the bottleneck station: the proposal folder has simulation.json,
    the workbook a Verification sheet and a Summary saying how many rounds it took; exit 0."""
    import openpyxl

    from planner.cli import main

    st = bottleneck(tmp_path)
    out = tmp_path / "reports"
    code = main(["propose", str(st.folder), "--verify", "--verify-seeds", "1", "--workers", "1",
                 "--whatif-budgets", "0", "--out", str(out)])
    assert code == 0
    folder = next(out.iterdir())
    assert (folder / "simulation.json").exists()
    plan = json.loads((folder / "plan.json").read_text())
    assert plan["verification"]["met"] and plan["margins"][0]["site_id"] == "S"
    wb = openpyxl.load_workbook(next(folder.glob("proposal-*.xlsx")))
    assert "Verification" in wb.sheetnames
    cells = [str(c.value) for row in wb["Summary"].iter_rows() for c in row if c.value is not None]
    assert any("Met after 2 simulated round(s)" in c for c in cells)
    assert main(["check", str(st.folder), str(folder / "plan.json")]) == 0


@pytest.mark.slow
def test_propose_verify_exits_3_when_the_target_is_out_of_reach(tmp_path, capsys):
    """The proposal is still written (nothing claims success): plan.json says not met and why, the
    command exits 3 and says so on stderr."""
    from planner.cli import main

    st = narrow(tmp_path)
    out = tmp_path / "reports"
    code = main(["propose", str(st.folder), "--verify", "--verify-seeds", "1", "--workers", "1",
                 "--whatif-budgets", "0", "--out", str(out)])
    assert code == 3
    assert "the simulated target was not met" in capsys.readouterr().err
    plan = json.loads((next(out.iterdir()) / "plan.json").read_text())
    assert plan["verification"]["met"] is False and "Rooms: U" in plan["verification"]["stop_reason"]


def test_residents_stuck_in_their_own_room_are_not_margins():
    """A resident who never arrived and waited only inside their own room is stuck there whatever the
    safe room: the pair gets no margin (its late arrivals still count), and when such residents alone
    keep a scenario below the target the loop says so instead of tightening."""
    import numpy as np
    import pandas as pd

    from planner.simulate import SimulationResult
    from planner.verify import _stuck_beyond_target, own_room_stalls

    inf = np.inf
    agents = pd.DataFrame({
        "scenario": "night", "seed": [0, 0, 0, 0, 1],
        "room_id": ["A", "A", "B", "B", "A"], "safe_room_id": ["S", "S", "S", "S", "S"],
        "arrival_s": [inf, 30.0, inf, 45.0, inf],
        "wait_own_door_s": [290.0, 0.0, 100.0, 0.0, 280.0], "wait_corridor_s": [0.0, 0.0, 50.0, 0.0, 0.0],
        "wait_safe_door_s": 0.0, "wait_stairs_s": 0.0})
    sim = SimulationResult(
        scenarios={"night": {"residents": 100, "worst_seed": 0, "share_within_reach": 0.97}},
        assignments=[{"room_id": "A", "scenario": "night", "safe_room_id": "S", "predicted_s": 30.0,
                      "sim_last_s": 30.0, "deadlocked": 2},
                     {"room_id": "B", "scenario": "night", "safe_room_id": "S", "predicted_s": 30.0,
                      "sim_last_s": 45.0, "deadlocked": 1}],
        late_rooms=[], parameters={"reach_s": 40.0}, agents=agents)
    st = own_room_stalls(sim).set_index("room_id")
    assert list(st.index) == ["A"] and st.at["A", "agents"] == 2 and st.at["A", "worst_seed_agents"] == 1
    m = late_margins(sim, 40.0, 2.0, 1)
    assert list(m["room_id"]) == ["B"] and m["extra_s"].iloc[0] == 40.0     # B's stuck agent was in the corridor
    assert _stuck_beyond_target(sim, 0.99) == ""                           # 1 of 100 stuck: 99.0 % possible
    why = _stuck_beyond_target(sim, 0.995)
    assert "1 of 100 residents never got out of their own room" in why and "rooms A" in why


def test_margins_that_cost_coverage_are_dropped_and_the_rest_planned(monkeypatch):
    """The loop's logic on a worked example, with the planner and the simulator replaced by fakes.

    Rooms A and B (10 residents each) both go to safe room S in round 1 and the simulation finds both
    late (reach 40 s). A has an alternative T; B has none. With both margins, B would be left without
    a safe room, so the loop drops B's margin, plans with A's alone (A -> T, B -> S), simulates that
    (A in time, B still late: 50 %), and stops because B's late pair is the one whose margin was dropped.
    The proposal is round 2's plan, the better simulated one."""
    import types

    import planner.verify as verify_mod
    from planner.params import Parameters

    reach = 40.0

    def fake_plan(station, reach=None, cache_dir=None, options=None, margins=None):
        pairs = set() if margins is None else set(zip(margins["room_id"], margins["site_id"]))
        asg, unsh = [], []
        asg.append({"room_id": "A", "scenario": "night", "safe_room_id": "T" if ("A", "S") in pairs else "S",
                    "residents": 10, "walk_s": 20.0, "predicted_s": 30.0})
        if ("B", "S") in pairs:
            unsh.append({"room_id": "B", "scenario": "night", "residents": 10, "reason": "no safe room in time"})
        else:
            asg.append({"room_id": "B", "scenario": "night", "safe_room_id": "S", "residents": 10,
                        "walk_s": 20.0, "predicted_s": 30.0})
        sites = sorted({a["safe_room_id"] for a in asg})
        plan = {"assignments": asg, "unsheltered": unsh, "safe_rooms": [{"room_id": s} for s in sites],
                "margins": [] if margins is None else margin_rows(margins),
                "totals": {"cost": 100.0 * len(sites) + (50.0 if "T" in sites else 0.0),
                           "scenarios": {"night": {"residents": 20, "sheltered": 10 * len(asg)}}}}
        return types.SimpleNamespace(plan=plan, reach=None, margins=margins)

    def fake_sim(station, plan, **kw):
        late = {("A", "S"): 45.0, ("B", "S"): 50.0, ("A", "T"): 30.0}
        asg = [{"room_id": a["room_id"], "scenario": "night", "safe_room_id": a["safe_room_id"],
                "residents": 10, "predicted_s": a["predicted_s"], "walk_s": a["walk_s"],
                "sim_last_s": late[(a["room_id"], a["safe_room_id"])], "deadlocked": 0}
               for a in plan["assignments"]]
        ok = sum(10 for a in asg if a["sim_last_s"] <= reach)
        return SimulationResult(scenarios={"night": {"residents": 20, "share_within_reach": ok / 20,
                                                     "last_arrival_s": max(a["sim_last_s"] for a in asg)}},
                                assignments=asg, late_rooms=[], parameters={"reach_s": reach})

    from planner.margins import margin_rows
    from planner.simulate import SimulationResult

    monkeypatch.setattr(verify_mod, "plan_station", fake_plan)
    monkeypatch.setattr(verify_mod, "simulate_plan", fake_sim)
    st = types.SimpleNamespace(params=Parameters().replace(reach_s=reach))
    v = verify_plan(st, rounds=4, seeds=1, workers=1, target=0.995, safety_s=2.0)
    r1, r2 = v.rounds
    assert r1["shares"] == {"night": 0.0} and r1["new_margins"] == 2
    assert r1["dropped_margins"] == 1 and r1["dropped_rooms"] == 1
    assert r2["simulated"] and r2["shares"] == {"night": 0.5}
    assert v.chosen == 2 and not v.met
    assert [(a["room_id"], a["safe_room_id"]) for a in v.run.plan["assignments"]] == [("A", "T"), ("B", "S")]
    assert list(zip(v.margins["room_id"], v.margins["site_id"])) == [("A", "S")]   # B's margin never planned with
    assert v.margins["extra_s"].iloc[0] == pytest.approx(45.0 - 30.0 + 2.0)
    assert "dropped in an earlier round" in v.reason and "night 50.0%" in v.reason
    text = "\n".join(v.summary_lines())
    assert "1 measured margin(s) of 1 room(s) were not planned with" in text
