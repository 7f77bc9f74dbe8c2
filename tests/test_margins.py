"""Measured margins (`planner.margins`): the same seconds in the optimiser and the checker, on a
small station whose answer can be worked out by hand (`tests/test_verify.py` runs the simulation
loop that measures them on the same station).

The bottleneck station: lab R (30 people, 1.8 m door) opens onto corridor C1. To the right, C1
narrows to a 0.8 m opening into C2, which leads to storage S (72 m2, 1.8 m door); to the left a
1.8 m opening leads through C0 to storage S3 (120 m2, dearer). Both are about 16.5 s away. The
queue model knows R's own door (30 / 1.95 = 15.4 s) and S's door, not the corridor opening, so it
predicts R -> S at about 32 s, within the 40 s reach, and the cheaper S is chosen. Through the
0.8 m opening (design flow 1.3 x 0.5 = 0.65 p/s, JuPedSim passes a little more) the last of the 30
needs about 50 s: the first plan fails in simulation, the loop puts a margin on (R, S) and the
second plan, R -> S3 through wide openings only, passes.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import box, write_station
from hypothesis import given, settings
from hypothesis import strategies as st_

from planner.check import check_plan
from planner.corridors import corridor_delays
from planner.margins import margin_table, pair_margin_s
from planner.pipeline import plan_station
from planner.plan import read_plan, write_json_atomic
from planner.station import load_station

REACH = 40.0


def room(rid: str, kind: str, geom: shapely.Polygon) -> dict:
    return {"room_id": rid, "kind": kind, "sector": "A", "deck": 0, "name": rid, "geometry": geom}


def leaf(x0: float, x1: float, y: float) -> shapely.LineString:
    return shapely.LineString([(x0, y), (x1, y)])


def vleaf(x: float, y0: float, y1: float) -> shapely.LineString:
    return shapely.LineString([(x, y0), (x, y1)])


def bottleneck(tmp_path, alternative: bool = True):
    """The station of the module docstring (without S3 and C0 when not `alternative`)."""
    rooms = [room("C1", "corridor", box(0, 0, 10, 2)), room("C2", "corridor", box(10, 0, 16, 2)),
             room("R", "lab", box(0, 2, 6, 8)), room("S", "storage", box(16, -3, 24, 6))]
    doors = [{"door_id": "D1", "width_m": 1.8, "geometry": leaf(2.1, 3.9, 2)},
             {"door_id": "O", "width_m": 0.8, "geometry": vleaf(10, 0.6, 1.4)},
             {"door_id": "DS", "width_m": 1.8, "geometry": vleaf(16, 0.1, 1.9)}]
    if alternative:
        rooms += [room("C0", "corridor", box(-10, 0, 0, 2)), room("S3", "storage", box(-20, -4, -10, 8))]
        doors += [{"door_id": "W", "width_m": 1.8, "geometry": vleaf(0, 0.1, 1.9)},
                  {"door_id": "DS3", "width_m": 1.8, "geometry": vleaf(-10, 0.1, 1.9)}]
    res = [{"room_id": r["room_id"], "night": 30 if r["room_id"] == "R" else 0} for r in rooms]
    name = "bottleneck" if alternative else "bottleneck-only-s"
    return load_station(write_station(tmp_path / name, rooms, doors, res,
                                      scenario_toml=f"[walking]\nreach_s = {REACH}\n"))


def only(plan: dict, rid: str = "R") -> dict:
    return next(a for a in plan["assignments"] if a["room_id"] == rid)


# ----------------------------------------------------------------------------- margins (no simulation)
def test_pair_margin_sums_the_rows_that_match():
    m = margin_table([{"room_id": "R", "site_id": "S", "extra_s": 5.0},
                      {"room_id": "R", "site_id": "", "extra_s": 2.0},      # room-wide
                      {"room_id": "", "site_id": "S", "extra_s": 1.0},      # safe-room-wide
                      {"room_id": "R", "site_id": "S", "extra_s": 0.5}])    # a second measurement
    got = pair_margin_s(m, ["R", "R", "Q", "Q"], ["S", "T", "S", "T"])
    assert got.tolist() == [8.5, 2.0, 1.0, 0.0]
    assert pair_margin_s(None, ["R"], ["S"]).tolist() == [0.0]


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "soon"])
def test_a_margin_only_adds_seconds(bad):
    from planner.errors import InputError

    with pytest.raises(InputError, match="zero or more seconds"):
        margin_table([{"room_id": "R", "site_id": "S", "extra_s": bad}], "plan.json margins")


def test_margins_go_through_the_normal_solve(tmp_path):
    """Without margins the cheaper S is chosen (planned arrival about 32 s of 40 s); a measured margin of
    10 s on (R, S) makes it 42 s, so the same solve chooses S3; a room-wide margin of 10 s leaves S3
    at about 42 s as well, so not all of R can be sheltered in time: only the first out (the exit cap,
    `queues.model_pairs`), and the plan lists the rest unsheltered."""
    st = bottleneck(tmp_path)
    plain = plan_station(st)
    a = only(plain.plan)
    assert a["safe_room_id"] == "S" and 28.0 <= a["planned_s"] <= 36.0 and "margins" not in plain.plan
    # the estimate (random positions) is never later than planned but for the corridor delays, which see
    # the bottleneck O here (30 people through 0.65 persons/s) that the planned time does not
    delay = corridor_delays(st, pd.DataFrame([a]))[0]
    assert delay > 20.0 and a["predicted_s"] <= a["planned_s"] + delay + 0.01
    m = margin_table([{"room_id": "R", "site_id": "S", "extra_s": 10.0}])
    tight = plan_station(st, margins=m)
    b = only(tight.plan)
    assert b["safe_room_id"] == "S3" and b["margin_s"] == 0.0
    assert tight.plan["margins"] == [{"room_id": "R", "site_id": "S", "extra_s": 10.0}]
    room_wide = plan_station(st, margins=margin_table([{"room_id": "R", "site_id": "", "extra_s": 10.0}]))
    got = sum(a["residents"] for a in room_wide.plan["assignments"])
    left = sum(u["residents"] for u in room_wide.plan["unsheltered"])
    assert got + left == 30 and left > 0 and got < 30
    assert all(a["planned_s"] <= 40.0 + 1e-6 for a in room_wide.plan["assignments"])


def test_margins_round_trip_and_check_enforces_them(tmp_path):
    """plan.json records the margins and reads back to the same table; the checker passes the plan
    with them, and rejects the first plan (R -> S, predicted about 32 s) once a 10 s margin on
    (R, S) is written into it (about 42 s > 40 s), a negative margin, and a plan that records less
    than the margins it is checked with. `planner check` exits 1 on the margin breach."""
    from planner.cli import main

    st = bottleneck(tmp_path)
    m = margin_table([{"room_id": "R", "site_id": "S", "extra_s": 10.0, "round": 1, "cause": "corridor",
                       "predicted_s": 31.9, "simulated_s": 40.0, "measured_s": 8.1, "safety_s": 2.0}])
    run = plan_station(st, margins=m)
    path = write_json_atomic(tmp_path / "out" / "plan.json", run.plan)
    back = read_plan(path)
    t = margin_table(back["margins"])
    pd.testing.assert_frame_equal(t[["room_id", "site_id", "extra_s"]], m[["room_id", "site_id", "extra_s"]])
    assert back["margins"][0]["cause"] == "corridor" and back["margins"][0]["round"] == 1
    assert check_plan(st, back) == []
    assert check_plan(st, back, margins=m) == []
    stricter = margin_table([{"room_id": "R", "site_id": "S", "extra_s": 12.0}])
    kinds = [b.kind for b in check_plan(st, back, margins=stricter)]
    assert kinds == ["margin"]

    first = plan_station(st).plan                       # R -> S, no margins
    assert check_plan(st, first) == []
    broken = json.loads(json.dumps(first))
    broken["margins"] = [{"room_id": "R", "site_id": "S", "extra_s": 10.0}]
    found = {b.kind: b for b in check_plan(st, broken)}
    assert {"walk", "arrival"} <= set(found), found
    assert "measured margin of 10.0 s" in found["walk"].message
    assert "measured margin 10.0 s" in found["arrival"].message
    negative = json.loads(json.dumps(first))
    negative["margins"] = [{"room_id": "R", "site_id": "S", "extra_s": -5.0}]
    assert [b.kind for b in check_plan(st, negative)] == ["margin"]

    bad = write_json_atomic(tmp_path / "broken" / "plan.json", broken)
    assert main(["check", str(st.folder), str(bad)]) == 1




def test_the_budget_what_if_plans_with_the_margins(tmp_path):
    """At a budget enough for S, not for S3 (between their costs: 150,000 when the wall rate was 420
    CR/m2) R is sheltered in S without margins; with the measured margin on (R, S) the what-if's plan
    at that budget cannot shelter R in time."""
    from planner.costs import site_costs
    from planner.sites import candidate_sites
    from planner.sweep import sweep

    st = bottleneck(tmp_path)
    c = site_costs(candidate_sites(st), st)["total_cost"]
    assert c["S"] < c["S3"]
    budget = float(c["S"] + c["S3"]) / 2
    rows = [{"room_id": "R", "site_id": "S", "extra_s": 10.0}]
    plain = sweep(st, [budget], workers=1, time_limit_s=5.0)
    tight = sweep(st, [budget], workers=1, time_limit_s=5.0, margins=rows)
    assert int(plain["sheltered_night"].iloc[0]) == 30
    assert int(tight["sheltered_night"].iloc[0]) == 0


@pytest.fixture(scope="module")
def reach_pairs(tmp_path_factory):
    from planner.network import reach_table
    from planner.queues import door_flows

    st = bottleneck(tmp_path_factory.mktemp("prop"))
    pairs = reach_table(st, cache=False).pairs
    return st, pairs, door_flows(st)


@settings(max_examples=40, deadline=None)
@given(extra=st_.lists(st_.tuples(st_.sampled_from(["R", ""]), st_.sampled_from(["S", "S3", ""]),
                                  st_.floats(0, 30, allow_nan=False)), max_size=4))
def test_margins_only_ever_tighten(reach_pairs, extra):
    """Any margins: every pair kept is in time with its margin, later than the same pair timed with
    the same number of leavers by exactly its margin (the sum of the rows matching it), both at the
    door and in the door's queue; and no room gets more residents in time than without margins
    (the exit cap, `queues.model_pairs`, can only shrink)."""
    from planner.queues import arrival_s, batch_offset_s, door_flows, model_pairs

    st, pairs, sides = reach_pairs
    p = st.params
    m = margin_table([{"room_id": r, "site_id": s, "extra_s": x} for r, s, x in extra])
    base = model_pairs(pairs, st.demand(), sides, p).set_index(["room_id", "site_id"])
    tight = model_pairs(pairs, st.demand(), sides, p, margins=m).set_index(["room_id", "site_id"])
    want = pair_margin_s(m, tight.index.get_level_values(0), tight.index.get_level_values(1))
    raw = tight["walk_raw_s"].to_numpy()
    sip = (tight.index.get_level_values(0) == tight.index.get_level_values(1)) & (raw <= 1e-9)
    want = np.where(sip, 0.0, want)
    assert (tight["out_s"].to_numpy() <= p.reach_s + 1e-6).all()
    assert np.allclose(tight["out_s"].to_numpy() - arrival_s(raw, tight["exit_s"].to_numpy(), p, shelter_in_place=sip),
                       want)
    assert np.allclose(tight["margin_s"].to_numpy(), want)
    # the same leavers without the margin: the batch time moves by exactly the margin
    n_max = st.demand().max(axis=1).reindex(tight.index.get_level_values(0)).fillna(0).to_numpy(dtype=float)
    r = door_flows(st).groupby("room_id")["flow_pps"].max().reindex(tight.index.get_level_values(0)).to_numpy()
    n_eff = np.minimum(n_max, tight["exit_cap"].to_numpy())
    flow = sides.drop_duplicates(["room_id", "door_id"]).set_index(["room_id", "door_id"])["flow_pps"]
    r_door = flow.reindex(pd.MultiIndex.from_arrays([tight.index.get_level_values(1), tight["door_id"]])).to_numpy()
    batch = arrival_s(raw, batch_offset_s(n_eff, r, r_door), p, shelter_in_place=sip)
    assert np.allclose(tight["walk_s"].to_numpy() - batch, want)
    # persons of each room who can be in time: never more with margins
    def persons(t: pd.DataFrame) -> pd.Series:
        walkers = t[t["walk_raw_s"] > 1e-9].reset_index()
        n = st.demand().max(axis=1)
        return walkers.groupby("room_id")["exit_cap"].min().clip(upper=n).reindex(n.index).fillna(0)
    assert (persons(tight) <= persons(base) + 1e-9).all()
