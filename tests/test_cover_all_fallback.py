"""propose when cover-all is impossible (issue 19): a max-cover plan is written (at the budget,
or at the cost of every candidate without one) whose notes say who cannot be sheltered and why;
the cover-all explanation reads as separate sentences."""

from __future__ import annotations

import json

import shapely
from conftest import box, write_station

from planner.cli import main


def _station(tmp_path):
    rooms = [{"room_id": "C", "kind": "corridor", "sector": "A", "deck": 0, "name": "Hall", "geometry": box(0, 4, 200, 6)},
             {"room_id": "Q1", "kind": "quarters", "sector": "A", "deck": 0, "name": "Cabin 1",
              "geometry": box(0, 0, 4, 4)},
             {"room_id": "S1", "kind": "storage", "sector": "A", "deck": 0, "name": "Store", "geometry": box(4, 0, 10, 4)},
             {"room_id": "Q9", "kind": "office", "sector": "A", "deck": 0, "name": "Far office",
              "geometry": box(190, 0, 200, 4)}]
    doors = [{"door_id": f"d{r['room_id']}", "width_m": 0.9,
              "geometry": shapely.LineString([(r["geometry"].bounds[0] + 1, 4), (r["geometry"].bounds[0] + 1.9, 4)])}
             for r in rooms[1:]]
    # 20 people in Cabin 1 can all leave through its door in time (20 / 0.78 p/s = 26 s; since issue 17
    # the exit queue counts, and 200 people would mostly be short of time instead) but cannot all fit
    # into the two rooms near it; nobody reaches the far office's people
    res = [{"room_id": "Q1", "night": 20, "day": 0}, {"room_id": "Q9", "night": 0, "day": 5},
           {"room_id": "S1", "night": 0, "day": 0}, {"room_id": "C", "night": 0, "day": 0}]
    return write_station(tmp_path / "st", rooms, doors, res)


def test_impossible_cover_all_without_budget_writes_a_max_cover_proposal(tmp_path, capsys):
    st = _station(tmp_path)
    assert main(["solve", str(st), "--out", str(tmp_path / "solve")]) == 3   # solve keeps refusing
    err = capsys.readouterr().err
    assert ". In scenario 'night'" in err and ". in scenario" not in err
    assert main(["propose", str(st), "--out", str(tmp_path / "rep"), "--whatif-budgets", "0"]) == 0
    plans = list((tmp_path / "rep").glob("*/plan.json"))
    assert len(plans) == 1
    plan = json.loads(plans[0].read_text())
    assert plan["objective"] == "max-cover" and plan["safe_rooms"]
    notes = " ".join(plan["notes"])
    assert "No budget was given" in notes
    assert "Cannot be sheltered in scenario 'night'" in notes and "Q1 (Cabin 1)" in notes and "full" in notes
    assert "Cannot be sheltered in scenario 'day'" in notes and "Q9 (Far office)" in notes and "within 60 s" in notes
    # the checker judges by the station's parameters: the fallback is checked as what it is (max-cover)
    assert main(["check", str(st), str(plans[0]), "--objective", "max-cover"]) == 0
