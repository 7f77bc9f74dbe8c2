"""Corridor openings as flow limits (issue 17): the walks' paths (`planner.network.paths`) and the
fluid queues where streams merge (`planner.corridors`), worked out by hand on a two-section corridor,
against the reach table on generated stations, and against `planner.queues.fluid_queue_departures`."""

from __future__ import annotations

from math import hypot

import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import box, corridor_layout, door_leaf, write_station
from planner.corridors import _replay, corridor_queues, corridor_width_m, opening_flows
from planner.network import reach_table
from planner.network.paths import assignment_paths
from planner.queues import fluid_queue_departures, predicted_arrivals
from planner.station import load_station

V = 1.2
NO_LAYER = "[doors]\ndoor_boundary_layer_m = 0.0\n"   # flows 1.3 x width: round numbers


def vleaf(x: float, y0: float, y1: float) -> shapely.LineString:
    return shapely.LineString([(x, y0), (x, y1)])


def merge_station(tmp_path, kinds=("quarters", "quarters"), n=30, scenario=NO_LAYER, opening_m=1.0,
                  width_m=None):
    """Two corridor sections C1 (x 0-10) and C2 (x 10-30), 2 m wide, joined by the opening O (a 1.0 m
    leaf on x = 10). R1 (above C1) and R2 (its mirror image below) hold `n` people each behind 0.9 m
    doors D1, D2 centred at x = 5. Safe rooms S1 (above C2) and S2 (below) have 2.0 m doors E1, E2
    centred at x = 23; both take 44 people."""
    rooms = [
        {"room_id": "C1", "kind": "corridor", "geometry": box(0, 0, 10, 2)},
        {"room_id": "C2", "kind": "corridor", "geometry": box(10, 0, 30, 2)},
        {"room_id": "R1", "kind": kinds[0], "geometry": box(3, 2, 7, 5)},
        {"room_id": "R2", "kind": kinds[1], "geometry": box(3, -3, 7, 0)},
        {"room_id": "S1", "kind": "storage", "geometry": box(20, 2, 30, 12)},
        {"room_id": "S2", "kind": "storage", "geometry": box(20, -10, 30, 0)},
    ]
    for r in rooms:
        r.update(sector="A", deck=0, name=r["room_id"])
    doors = [
        {"door_id": "O", "width_m": width_m or opening_m, "geometry": vleaf(10, 1 - opening_m / 2, 1 + opening_m / 2)},
        {"door_id": "D1", "width_m": 0.9, "geometry": door_leaf(4.55, 2, 0.9)},
        {"door_id": "D2", "width_m": 0.9, "geometry": door_leaf(4.55, 0, 0.9)},
        {"door_id": "E1", "width_m": 2.0, "geometry": door_leaf(22, 2, 2.0)},
        {"door_id": "E2", "width_m": 2.0, "geometry": door_leaf(22, 0, 2.0)},
    ]
    res = [{"room_id": r["room_id"], "night": n if r["room_id"] in ("R1", "R2") else 0,
            "day": n if r["room_id"] in ("R1", "R2") else 0} for r in rooms]
    return load_station(write_station(tmp_path / "merge", rooms, doors, res, scenario))


# by hand: the farthest corner of R1, (3, 5), is 3.606 m from D1's middle (5, 2); D1 -> O's middle
# (10, 1) is 5.099 m and O -> E1's middle (23, 2) 13.038 m, all straight lines inside the corridors
FAR = hypot(2, 3)
D1_O = hypot(5, 1)
O_E1 = hypot(13, 1)


def test_path_of_a_walk_through_a_corridor_opening(tmp_path):
    station = merge_station(tmp_path)
    rows = pd.DataFrame({"room_id": ["R1", "R2", "S1", "R1"], "site_id": ["S1", "S2", "S1", "S2"]})
    p = assignment_paths(station, rows)
    s = p.steps[p.steps["row"] == 0]
    assert s["door_id"].tolist() == ["D1", "O", "E1"]
    assert s["t_s"].to_numpy() == pytest.approx([FAR / V, (FAR + D1_O) / V, (FAR + D1_O + O_E1) / V])
    assert p.walk_s[0] == pytest.approx((FAR + D1_O + O_E1) / V)
    assert p.steps[p.steps["row"] == 1]["door_id"].tolist() == ["D2", "O", "E2"]
    assert p.walk_s[2] == 0.0 and not (p.steps["row"] == 2).any()      # shelters in place: no path
    assert p.exit_door.tolist() == ["D1", "D2", "", "D1"] and p.entry_door.tolist() == ["E1", "E2", "", "E2"]
    rt = reach_table(station, cache=False).pairs.set_index(["room_id", "site_id"])["walk_s"]
    assert p.walk_s == pytest.approx(rt.reindex(pd.MultiIndex.from_frame(rows)).to_numpy())


def test_path_through_stairs_passes_the_vertical_link_once_with_its_traverse(tmp_path):
    from planner.generate import generate_station

    station = load_station(generate_station(150, 1, tmp_path / "g"))
    rt = reach_table(station, cache=False)
    p = assignment_paths(station, rt.pairs)
    vert = p.steps[p.steps["vertical"]]
    assert len(vert), "the generated station has stairs on some walk"
    # the two ends of a link follow each other, their times apart by the link's traverse time
    nxt = p.steps.shift(-1)
    pair = p.steps["vertical"] & nxt["vertical"] & (p.steps["door_id"] == nxt["door_id"]) & (
        p.steps["row"] == nxt["row"])
    trav = station.doors.set_index("door_id")["traverse_s"].fillna(station.params.stairs_traverse_s)
    gap = (nxt["t_s"] - p.steps["t_s"])[pair]
    assert len(gap) and np.allclose(gap.to_numpy(), trav.reindex(p.steps["door_id"][pair]).to_numpy())


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000))
def test_path_end_time_is_the_reach_tables_walk_on_generated_stations(tmp_path_factory, seed):
    from planner.generate import generate_station

    station = load_station(generate_station(60, seed, tmp_path_factory.mktemp("g")))
    rt = reach_table(station, cache=False)
    p = assignment_paths(station, rt.pairs)
    assert np.allclose(p.walk_s, rt.pairs["walk_s"].to_numpy(), atol=1e-9)
    assert (p.entry_door == rt.pairs["door_id"].fillna("").to_numpy()).all()
    # times increase along each path and the last step is the path's end
    s = p.steps
    same = s["row"].to_numpy()[1:] == s["row"].to_numpy()[:-1]
    assert (np.diff(s["t_s"].to_numpy())[same] >= -1e-9).all()
    last = s.groupby("row")["t_s"].last()
    assert np.allclose(last.to_numpy(), p.walk_s[last.index.to_numpy()])


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(["storage", "quarters", "office"]), min_size=2, max_size=6),
       room_w=st.floats(3.0, 8.0), corridor_w=st.floats(1.5, 3.0))
def test_path_end_time_on_corridor_layouts(tmp_path_factory, kinds, room_w, corridor_w):
    rooms, doors, res = corridor_layout(kinds, room_w=room_w, corridor_w=corridor_w)
    station = load_station(write_station(tmp_path_factory.mktemp("st"), rooms, doors, res))
    rt = reach_table(station, cache=False)
    p = assignment_paths(station, rt.pairs)
    assert np.allclose(p.walk_s, rt.pairs["walk_s"].to_numpy(), atol=1e-9)


def test_corridor_width_is_the_short_side_of_the_equivalent_rectangle():
    g = np.array([box(0, 0, 20, 2), box(0, 0, 3, 3), shapely.Polygon([(0, 0), (10, 0), (10, 2), (2, 2), (2, 10),
                                                                      (0, 10)])])
    w = corridor_width_m(g)
    assert w[0] == pytest.approx(2.0) and w[1] == pytest.approx(3.0)
    assert 1.9 < w[2] < 2.1          # an L of 2 m wide arms


def test_two_streams_of_30_merging_at_a_10m_opening_by_hand(tmp_path):
    """R1 and R2 (30 each behind 0.9 m doors, 1.17 p/s) reach the 1.0 m opening O (1.3 p/s) at the same
    time T = (3.606 + 5.099) / 1.2 = 7.254 s. Each stream would be through O by T + 30 / 1.17 = T + 25.64 s;
    as batches at T + 30 (1/1.17 - 1/1.3) = T + 2.56 s arriving together they leave together after
    60 / 1.3 = 46.15 s: at T + 48.72 s, 23.08 s (= 30 / 1.3) later than alone. (Exactly, the fluid queue
    of the two 1.17 p/s streams empties at T + 60 / 1.3 = T + 46.15 s: the batches are 2.56 s on the safe
    side.) The last walker of each room reaches its safe room at 18.12 + 25.64 + 23.08 = 66.84 s > 60 s:
    late; without the opening it was in by 43.8 s."""
    station = merge_station(tmp_path)
    flows = opening_flows(station)
    assert flows.at["O", "flow_pps"] == pytest.approx(1.3) and flows.at["O", "kind"] == "corridor"
    assert flows.at["D1", "flow_pps"] == pytest.approx(1.17) and flows.at["D1", "kind"] == "room"
    a = pd.DataFrame({"room_id": ["R1", "R2", "R1", "R2"], "safe_room_id": ["S1", "S2", "S1", "S2"],
                      "scenario": ["night", "night", "day", "day"], "residents": [30, 30, 30, 30]})
    cq = corridor_queues(station, a)
    T = (FAR + D1_O) / V
    assert cq.delay_s == pytest.approx([30 / 1.3] * 4)
    o = cq.openings.set_index(["door_id", "scenario"])
    assert o.at[("O", "night"), "finish_s"] == pytest.approx(T + 30 * (1 / 1.17 - 1 / 1.3) + 60 / 1.3)
    assert o.at[("O", "night"), "finish_s"] >= T + 60 / 1.3            # never before the exact fluid queue
    assert o.at[("O", "night"), "streams"] == 2 and o.at[("O", "night"), "persons"] == 60
    walk = (FAR + D1_O + O_E1) / V
    base = predicted_arrivals(station, a.assign(walk_s=walk))
    assert base == pytest.approx([walk + 30 / 1.17] * 4)                      # 43.8 s: in time
    late = predicted_arrivals(station, a.assign(walk_s=walk, margin_s=cq.delay_s))
    assert late == pytest.approx([walk + 30 / 1.17 + 30 / 1.3] * 4) and (late > 60).all()   # 66.84 s


def test_one_stream_alone_is_not_delayed_by_a_wider_opening_and_a_later_one_queues_behind(tmp_path):
    """Alone, R1's 30 people (1.17 p/s) pass the 1.3 p/s opening without delay. R2 with 10 people
    passes O at the same T: batches at T + 2.56 (R1) and T + 10 (1/1.17 - 1/1.3) = T + 0.85 (R2): R2's
    batch goes first and is through at T + 0.85 + 7.69 = T + 8.55 (its alone time T + 8.55: no delay),
    R1's at max(T + 8.55, T + 2.56) + 23.08 = T + 31.62, 5.98 s after T + 25.64."""
    station = merge_station(tmp_path)
    a = pd.DataFrame({"room_id": ["R1"], "safe_room_id": ["S1"], "scenario": ["night"], "residents": [30]})
    assert corridor_queues(station, a).delay_s == pytest.approx([0.0])
    a = pd.DataFrame({"room_id": ["R1", "R2"], "safe_room_id": ["S1", "S2"], "scenario": ["night", "night"],
                      "residents": [30, 10]})
    d = corridor_queues(station, a).delay_s
    assert d[1] == pytest.approx(0.0, abs=1e-9)
    assert d[0] == pytest.approx(10 * (1 / 1.17 - 1 / 1.3) + 10 / 1.3 + 30 / 1.3 - 30 / 1.17)   # 5.98 s


def test_narrow_corridor_limits_its_opening(tmp_path):
    """An opening said to be 3.0 m wide between two 2 m corridors passes what the corridor does,
    1.3 x 2.0 = 2.6 p/s, not 3.9."""
    station = merge_station(tmp_path, opening_m=2.0, width_m=3.0)
    f = opening_flows(station)
    assert f.at["O", "flow_pps"] == pytest.approx(2.6) and f.at["O", "corridor_m"] == pytest.approx(2.0)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_replay_of_one_opening_is_the_fluid_queue(data):
    """With one opening per stream the event replay gives `fluid_queue_departures`' departures."""
    m = data.draw(st.integers(1, 25))
    keys = np.array(data.draw(st.lists(st.integers(0, 3), min_size=m, max_size=m)), dtype=np.int64)
    t = np.array(data.draw(st.lists(st.sampled_from([0.0, 1.0, 2.5, 4.0, 7.0]), min_size=m, max_size=m)))
    n = np.array(data.draw(st.lists(st.integers(1, 20), min_size=m, max_size=m)), dtype=float)
    flow = np.array([0.5, 1.3, 0.91, 2.0])[keys]
    _, _, dep = _replay(np.arange(m), np.zeros(m, np.int64), keys, t, np.zeros(m), np.zeros(m), n, flow)
    assert dep == pytest.approx(fluid_queue_departures(keys, t, n, flow))


def test_checker_finds_the_opening_that_makes_both_rooms_late(tmp_path):
    """The hand case as a plan: `planner check`'s corridor findings name O in both scenarios, with the
    66.84 s of the hand calculation; with 10 people a room there is no finding (18.12 + 8.55 + 7.69 s
    < 60 s)."""
    from planner.checkqueue import corridor_findings, corridor_late

    station = merge_station(tmp_path)
    walk = (FAR + D1_O + O_E1) / V
    rows = [{"room_id": r, "scenario": sc, "safe_room_id": s, "residents": 30, "walk_s": walk}
            for sc in ("night", "day") for r, s in (("R1", "S1"), ("R2", "S2"))]
    late = corridor_late(station, {"assignments": rows})
    assert len(late) == 4 and set(late["door_id"]) == {"O"}
    assert late["late_s"].to_numpy() == pytest.approx(walk + 30 / 1.17 + 30 / 1.3)
    f = corridor_findings(station, {"assignments": rows})
    assert len(f) == 2 and f[0].startswith("corridor opening O (day): 60 persons in 2 streams") and "66.8 s" in f[0]
    few = [dict(r, residents=10) for r in rows]
    assert corridor_findings(station, {"assignments": few}) == []


def choice_station(tmp_path, r2: int = 30, o_width: float = 1.0, quarters: int = 0, toml: str = ""):
    """The merge layout with offices R1, R2 (30 people each, not candidates), C1 stretched to x = -10, and
    three store rooms: S1 (63 places) and S2 (44) beyond the opening O, S3 (35) before it. Without the
    opening, S1 alone shelters both rooms (predicted 55.3 s); through O both are late (66.8 s). `r2`,
    `o_width`: an edit of the folder (R2's residents, the width of O in m). `quarters`: residents of crew
    quarters Q1 off C1 (none: no Q1); `toml`: more scenario.toml text."""
    rooms = [
        {"room_id": "C1", "kind": "corridor", "geometry": box(-10, 0, 10, 2)},
        {"room_id": "C2", "kind": "corridor", "geometry": box(10, 0, 30, 2)},
        {"room_id": "R1", "kind": "office", "geometry": box(3, 2, 7, 5)},
        {"room_id": "R2", "kind": "office", "geometry": box(3, -3, 7, 0)},
        {"room_id": "S1", "kind": "storage", "geometry": box(20, 2, 30, 16)},
        {"room_id": "S2", "kind": "storage", "geometry": box(20, -10, 30, 0)},
        {"room_id": "S3", "kind": "storage", "geometry": box(-10, 2, -2, 12)},
    ] + ([{"room_id": "Q1", "kind": "quarters", "geometry": box(-10, -8, -2, 0)}] if quarters else [])
    for r in rooms:
        r.update(sector="A", deck=0, name=r["room_id"])
    doors = [
        {"door_id": "O", "width_m": o_width, "geometry": vleaf(10, 0.5, 1.5)},
        {"door_id": "D1", "width_m": 0.9, "geometry": door_leaf(4.55, 2, 0.9)},
        {"door_id": "D2", "width_m": 0.9, "geometry": door_leaf(4.55, 0, 0.9)},
        {"door_id": "E1", "width_m": 2.0, "geometry": door_leaf(22, 2, 2.0)},
        {"door_id": "E2", "width_m": 2.0, "geometry": door_leaf(22, 0, 2.0)},
        {"door_id": "E3", "width_m": 2.0, "geometry": door_leaf(-7, 2, 2.0)},
    ] + ([{"door_id": "E4", "width_m": 0.9, "geometry": door_leaf(-7, 0, 0.9)}] if quarters else [])
    people = {"R1": 30, "R2": r2, "Q1": quarters}
    res = [{"room_id": r["room_id"], "night": people.get(r["room_id"], 0), "day": people.get(r["room_id"], 0)}
           for r in rooms]
    return load_station(write_station(tmp_path / "choice", rooms, doors, res, NO_LAYER + toml))


def test_optimiser_with_corridor_rows_avoids_the_opening_as_brute_force_does(tmp_path):
    """Brute force over the subsets of {S1, S2, S3}, each room sent whole to one open safe room: the
    cheapest subset with an assignment in capacity whose predicted arrivals, corridor delays included,
    are all within 60 s. The optimiser with corridor rows finds a plan of that cost with nobody late;
    without them it converts S1 alone and both rooms are late behind O."""
    import dataclasses
    import itertools

    from planner.checkqueue import corridor_late
    from planner.costs import site_costs
    from planner.network.paths import walk_graph
    from planner.pipeline import plan_station
    from planner.sites import candidate_sites

    station = choice_station(tmp_path)
    sites = candidate_sites(station)
    cost = site_costs(sites, station)["total_cost"]
    graph = walk_graph(station)
    rt = reach_table(station, cache=False).pairs.set_index(["room_id", "site_id"])["walk_s"]
    best = np.inf
    for k in (1, 2, 3):
        for sub in itertools.combinations(["S1", "S2", "S3"], k):
            for to in itertools.product(sub, repeat=2):
                load = pd.Series(30, index=list(to)).groupby(level=0).sum()
                if (load > sites.loc[load.index, "capacity"]).any():
                    continue
                a = pd.DataFrame({"room_id": ["R1", "R2"], "safe_room_id": list(to), "scenario": "night",
                                  "residents": 30, "walk_s": [rt[("R1", to[0])], rt[("R2", to[1])]]})
                cq = corridor_queues(station, a, graph=graph)
                if (predicted_arrivals(station, a.assign(margin_s=cq.delay_s)) <= 60 + 1e-6).all():
                    best = min(best, float(cost[list(sub)].sum()))
    assert np.isfinite(best) and best > cost["S1"]
    assert station.params.corridor_rounds == 6                     # on by default (docs/model.md)
    off = plan_station(dataclasses.replace(station, params=station.params.replace(corridor_rounds=0)), check=False)
    assert off.solution.chosen == ["S1"] and "corridor" not in off.plan["solver"]
    assert len(corridor_late(station, off.plan)) == 2 * 2          # R1 and R2, night and day
    on = plan_station(dataclasses.replace(station, params=station.params.replace(corridor_rounds=3)))  # checked
    assert on.plan["totals"]["cost"] == pytest.approx(best)
    assert "S3" in on.solution.chosen and len(corridor_late(station, on.plan)) == 0
    rounds = on.plan["solver"]["corridor"]["rounds"]
    assert rounds[0]["late_residents"] == 120 and rounds[-1]["late_residents"] == 0 and rounds[-1]["rows"] >= 1


def test_corridor_cut_limit_by_hand(tmp_path):
    """The hand case's cut: 60 persons through O (1.3 p/s), the late rows 6.84 s late, the first at O at
    7.25 s: K = min(60 - ceil(1.3 x 6.84), floor(1.3 x (60 - 7.25))) = min(60 - 9, 68) = 51 persons per
    scenario; a limit known from an earlier round that is smaller is kept."""
    from planner.corridors import corridor_cuts, late_by_corridors

    station = merge_station(tmp_path)
    walk = (FAR + D1_O + O_E1) / V
    a = pd.DataFrame({"room_id": ["R1", "R2", "R1", "R2"], "safe_room_id": ["S1", "S2", "S1", "S2"],
                      "scenario": ["night", "night", "day", "day"], "residents": 30, "walk_s": walk})
    cq, _, _, over = late_by_corridors(station, a, lambda r: predicted_arrivals(station, r))
    assert over == pytest.approx([walk + 30 / 1.17 + 30 / 1.3 - 60] * 4)
    assert 1.3 * over[0] == pytest.approx(8.89, abs=0.01)
    assert corridor_cuts(cq, over, 60.0) == {("O", "day"): 51.0, ("O", "night"): 51.0}
    assert corridor_cuts(cq, over, 60.0, {("O", "day"): 40.0})[("O", "day")] == 40.0


def test_rows_known_before_the_first_solve(tmp_path):
    """Issue 21: the rows of a plan (plan.json `solver.corridor.limits`) given to the first solve
    (`plan_station(corridor_limits=...)`, or read from the corridor cache of the last run on the same
    inputs) give the plan the rounds found, in one solve: round 0 already has them and nobody is late."""
    import dataclasses

    from planner.checkqueue import corridor_late
    from planner.corridorrounds import limit_rows, limits_of
    from planner.pipeline import plan_station

    station = choice_station(tmp_path)
    cache = tmp_path / "cache" / "reach"
    first = plan_station(station, cache_dir=cache, check=False)
    cor = first.plan["solver"]["corridor"]
    assert [r["late_residents"] for r in cor["rounds"]] == [120, 0]
    assert cor["limits"] and limit_rows(limits_of(cor["limits"])) == cor["limits"]
    assert len(list((tmp_path / "cache" / "corridor").glob("*.json"))) == 2     # these inputs; the folder's last
    again = plan_station(station, cache_dir=cache, check=False)          # rows from the cache
    rounds = again.plan["solver"]["corridor"]["rounds"]
    assert len(rounds) == 1 and rounds[0]["rows"] == len(cor["limits"]) and rounds[0]["late_residents"] == 0
    assert again.solution.chosen == first.solution.chosen
    no_rounds = dataclasses.replace(station, params=station.params.replace(corridor_rounds=0))
    given = plan_station(no_rounds, corridor_limits=limits_of(cor["limits"]))    # checked
    assert given.plan["totals"]["cost"] == pytest.approx(first.plan["totals"]["cost"])
    assert len(given.plan["solver"]["corridor"]["rounds"]) == 1 and len(corridor_late(station, given.plan)) == 0
    assert "corridor" not in plan_station(no_rounds, check=False).plan["solver"]    # off without rows


def test_rows_of_unchanged_doors_carry_over_after_an_edit_of_the_folder(tmp_path):
    """Issue 21, warm starts after a small edit: the corridor rows of the folder's last run whose door is
    unchanged go into the first solve after an edit (2 residents fewer in R2): round 0 has them, nobody
    is late and the plan is the one cold rounds find, in fewer rounds. After the edit of the row's own door
    (O widened) its rows are dropped, and the rounds find them again."""
    from planner.pipeline import plan_station

    cache = tmp_path / "cache" / "reach"
    first = plan_station(choice_station(tmp_path), cache_dir=cache, check=False)
    rows = first.plan["solver"]["corridor"]["limits"]
    assert {r["door_id"] for r in rows} == {"O"} and "carried_over" not in first.plan["solver"]["corridor"]
    edited = choice_station(tmp_path, r2=28)
    cold = plan_station(edited, check=False)
    warm = plan_station(edited, cache_dir=cache, check=False)
    cor = warm.plan["solver"]["corridor"]
    assert cor["carried_over"]["rows"] == len(rows) and cor["carried_over"]["dropped"] == 0
    assert cor["rounds"][0]["rows"] == len(rows) and cor["rounds"][0]["late_residents"] == 0
    assert len(cor["rounds"]) < len(cold.plan["solver"]["corridor"]["rounds"])
    assert warm.plan["totals"]["cost"] == pytest.approx(cold.plan["totals"]["cost"])
    assert "carried_over" not in plan_station(edited, cache_dir=cache, check=False).plan["solver"]["corridor"]
    wider = plan_station(choice_station(tmp_path, r2=28, o_width=1.05), cache_dir=cache, check=False)
    cor = wider.plan["solver"]["corridor"]
    assert "carried_over" not in cor and cor["rounds"][0]["rows"] == 0     # O changed: its rows were dropped


def test_whatif_budgets_take_the_plans_rows_without_rounds(tmp_path):
    """The proposal's budget what-if (issue 21): each budget's plan is made with the given corridor rows
    in one solve (no rounds of its own) and without the estimated arrivals; the table says how many
    residents its corridor queues leave late."""
    from planner.pipeline import plan_station
    from planner.sweep import sweep

    station = choice_station(tmp_path)
    run = plan_station(station, check=False)
    limits = run.plan["solver"]["corridor"]["limits"]
    cost = float(run.plan["totals"]["cost"])
    known = {"budget": None, "objective": "cover-all", "start_from": None, "round": 0, "plan": run.plan,
             "chosen": sorted(run.solution.chosen), "seconds": 0.0, "error": None}
    table = sweep(station, [0.6 * cost, cost], workers=1, reach=run.reach, time_limit_s=10.0, full_cover=known,
                  corridor_limits=limits, corridor_rounds=0, estimate=False)
    assert list(table["late_by_corridors"]) == [0.0, 0.0] and table["cost"].iloc[0] < cost
    plan = table.attrs["plans"][0]                     # the budget below the full cost: solved here
    rounds = plan["solver"]["corridor"]["rounds"]
    assert len(rounds) == 1 and rounds[0]["rows"] == len(limits)
    assert plan["assignments"] and all("planned_s" in a and "predicted_s" not in a for a in plan["assignments"])


def test_estimate_takes_the_last_rounds_paths_with_the_same_figures(tmp_path, monkeypatch):
    """`finish_plan` hands the last corridor round's paths and delays to the estimate (issue 21: they were
    computed twice): the plan's `predicted_s` are those the estimate computes on its own."""
    import planner.estimate
    from planner.estimate import estimated_arrivals
    from planner.pipeline import plan_station

    station = choice_station(tmp_path)
    real = planner.estimate.assignment_paths

    def not_again(*args, **kwargs):
        raise AssertionError("the estimate computed the paths again")

    monkeypatch.setattr(planner.estimate, "assignment_paths", not_again)
    run = plan_station(station, check=False)
    monkeypatch.setattr(planner.estimate, "assignment_paths", real)
    a = pd.DataFrame(run.plan["assignments"])
    own = estimated_arrivals(station, a, conservative=predicted_arrivals(station, a))
    assert len(a) and [r["predicted_s"] for r in run.plan["assignments"]] == list(np.round(own, 2))


def test_rounds_stop_when_a_round_does_not_help_and_use_their_own_time_limit(tmp_path):
    """A round whose plan leaves as many residents late as the best before it ends the rounds (issue 21);
    each re-solve gets `corridor_round_time_limit_s`, the plan's problem keeps its own limit."""
    import dataclasses

    from planner.pipeline import corridor_rounds, plan_station

    station = choice_station(tmp_path)
    off = plan_station(dataclasses.replace(station, params=station.params.replace(corridor_rounds=0)), check=False)
    st3 = dataclasses.replace(station, params=station.params.replace(corridor_rounds=3, corridor_round_time_limit_s=7.0,
                                                                     corridor_patience=0))
    limits_seen = []

    def same_plan(problem, start=None, progress=True, warm=None, keep=None):   # a re-solve that finds the same plan again
        limits_seen.append((problem.time_limit_s, len(problem.corridor_rhs)))
        return off.solution

    problem, solution, record, replay = corridor_rounds(st3, off.problem, off.solution, same_plan, off.reach)
    rounds = record["corridor"]["rounds"]
    assert [r["late_residents"] for r in rounds] == [120, 120] and record["corridor"]["chosen_round"] == 0
    assert limits_seen == [(7.0, 2)] and problem.time_limit_s == off.problem.time_limit_s
    assert solution is off.solution and replay is not None and len(replay[0]) == len(replay[1].delay_s)


def test_rounds_go_on_for_corridor_patience_rounds_that_do_not_help(tmp_path):
    """`corridor_patience` (issue 21): that many rounds in a row may leave no fewer residents late than the best
    before the rounds stop; each such round's rows stay, and the best plan (the first) is returned."""
    import dataclasses

    from planner.pipeline import corridor_rounds, plan_station

    station = choice_station(tmp_path)
    off = plan_station(dataclasses.replace(station, params=station.params.replace(corridor_rounds=0)), check=False)
    calls = []

    def same_plan(problem, start=None, progress=True, warm=None, keep=None):
        calls.append(len(problem.corridor_rhs))
        return off.solution

    for patience, solves in ((0, 1), (1, 2), (2, 3), (9, 5)):      # 5: corridor_rounds ends them
        calls.clear()
        st = dataclasses.replace(station, params=station.params.replace(corridor_rounds=5, corridor_patience=patience))
        _, solution, record, _ = corridor_rounds(st, off.problem, off.solution, same_plan, off.reach)
        rounds = record["corridor"]["rounds"]
        assert len(calls) == solves and [r["late_residents"] for r in rounds] == [120] * (solves + 1)
        assert record["corridor"]["chosen_round"] == 0 and solution is off.solution and calls[0] == 2


def test_rounds_stop_when_their_total_time_is_used_up(tmp_path):
    """`corridor_total_time_limit_s` bounds all rounds together (issue 21): with less than half a round's
    limit left no round starts, and the record says why; the plan is the one the rounds began with."""
    import dataclasses

    from planner.pipeline import corridor_rounds, plan_station

    station = choice_station(tmp_path)
    off = plan_station(dataclasses.replace(station, params=station.params.replace(corridor_rounds=0)), check=False)
    short = dataclasses.replace(station, params=station.params.replace(corridor_round_time_limit_s=10.0,
                                                                       corridor_total_time_limit_s=4.0))
    calls = []

    def never(problem, start=None, progress=True, warm=None, keep=None):
        calls.append(problem)
        return off.solution

    _, solution, record, _ = corridor_rounds(short, off.problem, off.solution, never, off.reach)
    rounds = record["corridor"]["rounds"]
    assert not calls and len(rounds) == 1 and rounds[0]["late_residents"] == 120
    assert "corridor_total_time_limit_s" in rounds[0]["stopped"] and solution is off.solution


def test_a_round_without_a_plan_in_its_time_keeps_the_best_plan_so_far(tmp_path):
    """A re-solve that returns no plan in its time (`SolverError`, e.g. under heavy load) ends the rounds
    with the best plan so far instead of the whole proposal; the record says why."""
    import dataclasses

    from planner.errors import SolverError
    from planner.pipeline import corridor_rounds, plan_station

    station = choice_station(tmp_path)
    off = plan_station(dataclasses.replace(station, params=station.params.replace(corridor_rounds=0)), check=False)

    def no_plan(problem, start=None, progress=True, warm=None, keep=None):
        raise SolverError("the solver returned no plan (status: time limit)")

    problem, solution, record, replay = corridor_rounds(station, off.problem, off.solution, no_plan, off.reach)
    rounds = record["corridor"]["rounds"]
    assert [r.get("late_residents") for r in rounds] == [120, None] and "no plan" in rounds[1]["stopped"]
    assert solution is off.solution and record["corridor"]["chosen_round"] == 0 and replay is not None


def test_first_solve_drops_the_known_rows_when_it_finds_no_plan(tmp_path, monkeypatch):
    """Rows known before the first solve never cost the proposal: a first solve that returns no plan in
    its time limit with them (`SolverError`) is solved again without them, and the rounds go on."""
    import planner.pipeline
    from planner.errors import SolverError
    from planner.corridorrounds import limits_of
    from planner.pipeline import plan_station

    station = choice_station(tmp_path)
    limits = limits_of(plan_station(station, check=False).plan["solver"]["corridor"]["limits"])
    real = planner.pipeline.solve
    calls = []

    def no_plan_with_rows(problem, start=None, progress=True, options=None, warm=None, keep=None):
        calls.append(problem.corridor_cuts is not None)
        if len(calls) == 1:
            raise SolverError("the solver returned no plan (status: time limit)")
        return real(problem, start=start, progress=progress, options=options, warm=warm)

    monkeypatch.setattr(planner.pipeline, "solve", no_plan_with_rows)
    run = plan_station(station, corridor_limits=limits)              # checked
    rounds = run.plan["solver"]["corridor"]["rounds"]
    assert calls[:2] == [True, False] and rounds[-1]["late_residents"] == 0


def test_displacement_tradeoff_replans_keep_the_proposals_corridor_rows(tmp_path):
    """The trade-off re-plans the station with rooms that may be repurposed (Q1's quarters): with the proposal's
    corridor rows, as the proposal, no point is cheaper than the proposal while moving nobody. Without them the
    re-plan converted S1 alone (both offices late behind O) and the sheet showed a plan moving nobody at
    201,878 against the proposal's 304,558."""
    from planner import displacement as d
    from planner.corridorrounds import limits_of
    from planner.pipeline import plan_station

    station = choice_station(tmp_path, quarters=2, toml="[model]\ncorridor_rounds = 3\n")
    run = plan_station(station)
    cost = run.plan["totals"]["cost"]
    limits = limits_of(run.plan["solver"]["corridor"]["limits"])
    assert limits and "S1" not in run.solution.chosen
    table = d.displacement_tradeoff(run)
    assert (table.loc[table["displaced"] == 0, "cost"] >= cost - 1e-6).all(), table
    variant = d._variant(d.tradeoff_station(station)[0], 2)
    start = sorted(map(str, run.solution.chosen))
    free = d._replan(variant, run.reach, start, run.margins)["point"]            # the rows left out: cheaper
    kept = d._replan(variant, run.reach, start, run.margins, limits)["point"]
    assert free["cost"] < cost - 1e-6 and free["displaced"] == 0
    assert kept["cost"] >= cost - 1e-6


def test_pair_openings_kept_per_pairs_and_in_the_cache(tmp_path, monkeypatch):
    """Issue 21: `pair_openings` (0.8 s of a Station Unity what-if, whose model has the proposal's pairs) is
    worked out once per set of pairs for the station objects with the same rooms, doors and
    `EXIT_DOOR_PARAMETERS`, and read back from the cache folder by the next run; the same rows each time."""
    import dataclasses

    import planner.corridors as cor
    from planner.generate import generate_station

    folder = generate_station(120, 2, tmp_path / "g")
    station = load_station(folder)
    pairs = reach_table(station, cache=False).pairs
    made: list[int] = []
    real = cor._pair_openings
    monkeypatch.setattr(cor, "_pair_openings", lambda st, pr, g: made.append(len(pr)) or real(st, pr, g))
    want = real(station, pairs[["room_id", "site_id"]].astype(str).drop_duplicates().query("room_id != site_id")
                .reset_index(drop=True), None)
    assert len(want) > 10
    cache = tmp_path / "cache" / "reach"
    cor.openings_cache(station, cache)
    got = cor.pair_openings(station, pairs)
    pd.testing.assert_frame_equal(got, want)
    other = dataclasses.replace(station, params=station.params.replace(budget=1.0, slow_walker_speed_m_s=0.5))
    pd.testing.assert_frame_equal(cor.pair_openings(other, pairs), want)     # parameters the paths do not read
    assert len(made) == 1
    fresh = load_station(folder)                                   # the next run: from the cache folder
    cor.openings_cache(fresh, cache)
    pd.testing.assert_frame_equal(cor.pair_openings(fresh, pairs), want)
    assert len(made) == 1 and len(list((cache.parent / "openings").iterdir())) == 1
    cor.pair_openings(fresh, pairs.iloc[::2])                      # other pairs: worked out, kept beside
    slow = dataclasses.replace(fresh, params=fresh.params.replace(walk_speed_m_s=1.0))
    cor.openings_cache(slow, cache)
    cor.pair_openings(slow, pairs)                                 # another walking speed: its own
    assert len(made) == 3 and len(list((cache.parent / "openings").iterdir())) == 3
    for f in (cache.parent / "openings").iterdir():                # damaged: worked out again
        f.write_bytes(b"not an npz")
    broken = load_station(folder)
    cor.openings_cache(broken, cache)
    pd.testing.assert_frame_equal(cor.pair_openings(broken, pairs), want)
    assert len(made) == 4


def test_a_whatif_whose_corridor_rows_make_full_cover_dearer_than_its_budget_falls_back_to_max_cover(tmp_path):
    """At a budget of S1's cost + 1,000 the plan without corridor queues (S1 alone) fits, but it leaves all 120
    residents late behind O (round 0); under round 1's rows full cover costs 331,092 (S2 and S3), over the
    budget. The rounds then re-plan max-cover at the budget with the rows, as the first solve falls back when
    the budget cannot pay for cover-all: nobody is late, and it shelters between S3's 35 and the 52 that brute
    force brings in time through O to S1 (whole persons, one site within the budget). Before, the round stopped
    and the plan reported as cover-all was round 0's. A second run on the same inputs starts from the first's
    final state and gives the same plan and words."""
    import dataclasses

    from planner.checkqueue import corridor_late
    from planner.costs import site_costs
    from planner.pipeline import corridor_rounds, plan_station
    from planner.sites import candidate_sites

    station = choice_station(tmp_path)
    cost = site_costs(candidate_sites(station), station)["total_cost"]
    budget = float(cost["S1"]) + 1000.0
    st = dataclasses.replace(station, params=station.params.replace(budget=budget, corridor_rounds=3))
    cache = tmp_path / "cache" / "reach"
    runs = [plan_station(st, cache_dir=cache) for _ in range(2)]                 # checked
    for run in runs:
        plan = run.plan
        assert plan["objective"] == "max-cover" and plan["totals"]["cost"] <= budget
        assert plan["totals"]["full_cover_cost"] == pytest.approx(float(cost["S2"] + cost["S3"]))
        assert len(corridor_late(station, plan)) == 0
        assert all(35 <= s["sheltered"] <= 52 for s in plan["totals"]["scenarios"].values())
        assert any("with the queues at the corridor openings" in n for n in plan["notes"])
    rounds = runs[0].plan["solver"]["corridor"]["rounds"]
    assert rounds[0]["late_residents"] == 120 and rounds[1]["fell_back"] == "max-cover"
    assert rounds[1]["late_residents"] == 0 and runs[0].plan["solver"]["corridor"]["chosen_round"] == 1
    assert runs[1].plan["solver"]["corridor"].get("reused") and runs[1].solution.chosen == runs[0].solution.chosen
    # without the fallback the rounds stop at the budget and round 0's plan stands, everyone in it late
    off = plan_station(dataclasses.replace(st, params=st.params.replace(corridor_rounds=0)), check=False)
    problem, solution, record, _ = corridor_rounds(st, off.problem, off.solution, off_solver(), off.reach)
    assert problem.objective == "cover-all" and solution.chosen == ["S1"] and "stopped" in record["corridor"]["rounds"][-1]


def off_solver():
    """The optimiser's `solve` as `plan_station` hands it to the rounds."""
    from planner.model import solve

    return lambda problem, start=None, progress=True, warm=None, keep=None: solve(problem, start=start, warm=warm,
                                                                                  keep=keep, progress=progress)


def test_plan_states_the_residents_its_corridor_queues_make_late(tmp_path):
    """plan.json `totals.late_by_corridors` is the corridor replay of the plan returned, in all and per scenario:
    with the rounds' time used up after round 0 (S1 alone, every one of the 120 residents late behind O) it says
    120 (60 night, 60 day), as the independent check counts them; the terminal's lines, the Summary's
    recommendation and its key figure say so too. With the rounds done, 0 and "nobody arrives late"; with the
    rounds off, no figure (nothing was replayed)."""
    import dataclasses

    from openpyxl import load_workbook

    from planner.checkqueue import corridor_late
    from planner.pipeline import plan_station
    from planner.workbook import write_workbook

    def summary(run, name):
        path = write_workbook(tmp_path / f"{name}.xlsx", run.station, run.plan, run.costs, run.sites, reach=run.reach)
        return [str(c.value) for row in load_workbook(path)["Summary"].iter_rows() for c in row if c.value is not None]

    station = choice_station(tmp_path)
    cut = dataclasses.replace(station, params=station.params.replace(corridor_rounds=3, corridor_total_time_limit_s=0.01))
    run = plan_station(cut)
    late = run.plan["totals"]["late_by_corridors"]
    found = corridor_late(station, run.plan).drop_duplicates(["room_id", "safe_room_id", "scenario"])
    assert late == {"residents": 120, "by_scenario": {"night": 60, "day": 60}}
    assert int(found["residents"].sum()) == 120
    assert "120 resident(s) arrive late (60 / 60, night / day)" in run.describe()
    # the independent check replays the queues itself: plan_station's check passed; a figure changed is a breach
    from planner.check import check_plan
    cases = [({"residents": 119, "by_scenario": {"night": 60, "day": 60}}, ["totals.late_by_corridors.residents"]),
             ({"residents": 120, "by_scenario": {"night": 120, "day": 0}},
              ["totals.late_by_corridors.by_scenario.night", "totals.late_by_corridors.by_scenario.day"]),
             ("120", ["totals.late_by_corridors"])]
    for wrong, where in cases:
        bad = dict(run.plan, totals=dict(run.plan["totals"], late_by_corridors=wrong))
        assert [b.feature for b in check_plan(cut, bad)] == where
    cells = summary(run, "cut")
    assert any("120 residents arrive late (60 night, 60 day)" in c for c in cells)
    assert cells[cells.index("Residents late by the corridor queues") + 1] == "120"
    done = plan_station(dataclasses.replace(station, params=station.params.replace(corridor_rounds=3)))
    assert done.plan["totals"]["late_by_corridors"] == {"residents": 0, "by_scenario": {"night": 0, "day": 0}}
    assert "nobody arrives late" in done.describe() and not any("arrive late (" in c for c in summary(done, "done"))
    off = plan_station(dataclasses.replace(station, params=station.params.replace(corridor_rounds=0)), check=False)
    assert "late_by_corridors" not in off.plan["totals"] and "corridor queues replayed" not in off.describe()


def test_the_rounds_count_residents_left_without_a_safe_room_as_out(tmp_path):
    """The corridor rounds keep the round with the fewest residents out: late by the replay, or with no safe room
    in the plan. A round whose plan brings nobody late by leaving everyone without a safe room (a stand-in
    re-solve) does not beat round 0, whose plan shelters everyone with fewer of them late; before, only the
    late counted and it did. Each round's record says how many had no safe room. (With 25 residents in R2,
    S1 alone shelters all 110 and 60 of them are late through O.)"""
    import dataclasses

    from planner.pipeline import corridor_rounds, plan_station

    station = choice_station(tmp_path, r2=25)
    st = dataclasses.replace(station, params=station.params.replace(corridor_rounds=1))
    off = plan_station(dataclasses.replace(st, params=st.params.replace(corridor_rounds=0)), check=False)
    empty = dataclasses.replace(off.solution, assignments=off.solution.assignments.iloc[0:0])

    def nobody(problem, **kw):   # a re-solve that shelters nobody: no one late
        return empty

    problem, solution, record, _ = corridor_rounds(st, off.problem, off.solution, nobody, off.reach)
    rounds = record["corridor"]["rounds"]
    everyone = int(off.problem.demand.to_numpy().sum())
    assert rounds[0]["late_residents"] == 60 and everyone == 110 and rounds[0]["unsheltered_residents"] == 0
    assert rounds[1]["late_residents"] == 0 and rounds[1]["unsheltered_residents"] == everyone
    assert record["corridor"]["chosen_round"] == 0 and solution is off.solution
