"""The estimated last arrival (`planner.estimate`, plan.json `predicted_s`) worked out by hand: the order
statistics of random positions in a square room, a room of 20 behind a 0.9 m door, two spread streams
into one safe-room door, the corridor delays of two streams merging at an opening; never later than
the planned (conservative) time plus the corridor delays; monotone in the number of walkers and in the
walk (hypothesis)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import box, corridor_layout, write_station
from planner.estimate import (INGREDIENTS, PLACE_MARGIN_M, door_departures, estimated_arrivals, exit_departures,
                              order_statistic_means, room_distance_quantiles)
from planner.queues import predicted_arrivals
from planner.station import load_station

R09 = 1.3 * (0.9 - 0.3)   # a 0.9 m door passes 0.78 persons/s
CORNER = (math.sqrt(2.0) + math.log(1.0 + math.sqrt(2.0))) / 3.0
"""Mean distance of a uniform point in the unit square from a corner."""


def _square_station(tmp_path, residents: int = 1):
    """A 4 x 4 m room Q whose only door (5 cm wide) sits in its corner (4, 0), to a corridor C beside it."""
    rooms = [{"room_id": "Q", "kind": "quarters", "sector": "A", "deck": 0, "name": "Q", "geometry": box(0, 0, 4, 4)},
             {"room_id": "C", "kind": "corridor", "sector": "A", "deck": 0, "name": "C", "geometry": box(4, 0, 6, 4)}]
    import shapely
    doors = [{"door_id": "D", "width_m": 0.9, "geometry": shapely.LineString([(4, 0.0), (4, 0.05)])}]
    res = [{"room_id": "Q", "night": residents}, {"room_id": "C", "night": 0}]
    return load_station(write_station(tmp_path / "sq", rooms, doors, res))


def test_one_walker_in_a_square_room_is_on_average_0_765_sides_from_the_corner_door(tmp_path):
    station = _square_station(tmp_path)
    q, far = room_distance_quantiles(station, np.array([0]), station.params, clear_m=0.0)
    # the farthest point is the opposite corner, 4 x sqrt(2) from the door's midpoint (4, 0.025)
    assert far[0] == pytest.approx(math.hypot(4.0, 3.975), abs=1e-6)
    one = order_statistic_means(q, np.array([1]), np.array([1]))[0]
    assert one == pytest.approx(4.0 * CORNER, abs=0.03)          # 3.06 m by hand
    # n walkers: the last of them stands farther away, and tends to the farthest point
    last = order_statistic_means(np.repeat(q, 4, axis=0), np.array([2, 10, 100, 10_000]), np.array([2, 10, 100, 10_000]))
    assert one < last[0] < last[1] < last[2] < last[3]
    assert last[3] == pytest.approx(far[0], abs=0.15)             # the lattice's last point, half a cell in
    # placed as the simulator places agents: a wall's half and a radius away from the walls
    q_sim, _ = room_distance_quantiles(station, np.array([0]), station.params)
    clear = station.params.sim_wall_m / 2 + station.params.sim_radius_m + PLACE_MARGIN_M
    assert q_sim[0, 0] >= clear * math.sqrt(2) - 0.05 and q_sim[0, -1] <= math.hypot(4 - clear, 4 - clear) + 0.05


def test_walks_to_one_door_or_the_nearest(tmp_path):
    # the square room with a second corner door at (0, 0) onto a room L on its left: to the nearest of
    # the two the farthest point is the middle of the top wall, hypot(2, 3.975) m; to the door (4, 0)
    # alone it is the far corner as before (the door an assignment's walk leaves by, `paths`)
    import shapely

    rooms = [{"room_id": "Q", "kind": "quarters", "sector": "A", "deck": 0, "name": "Q", "geometry": box(0, 0, 4, 4)},
             {"room_id": "C", "kind": "corridor", "sector": "A", "deck": 0, "name": "C", "geometry": box(4, 0, 6, 4)},
             {"room_id": "L", "kind": "corridor", "sector": "A", "deck": 0, "name": "L", "geometry": box(-2, 0, 0, 4)}]
    doors = [{"door_id": "D", "width_m": 0.9, "geometry": shapely.LineString([(4, 0.0), (4, 0.05)])},
             {"door_id": "DL", "width_m": 0.9, "geometry": shapely.LineString([(0, 0.0), (0, 0.05)])}]
    res = [{"room_id": "Q", "night": 1}, {"room_id": "C", "night": 0}, {"room_id": "L", "night": 0}]
    station = load_station(write_station(tmp_path / "two", rooms, doors, res))
    q, far = room_distance_quantiles(station, np.array([0, 0, 0]), station.params, clear_m=0.0,
                                     door_ids=np.array(["", "D", "nope"], dtype=object))
    assert far[0] == pytest.approx(math.hypot(2.0, 3.975), abs=1e-6)
    assert far[1] == pytest.approx(math.hypot(4.0, 3.975), abs=1e-6)
    assert far[2] == far[0] and (q[2] == q[0]).all()            # not a door of the room: the nearest
    assert q[0, 0] < 0.15 and (q[0] <= q[1] + 1e-9).all()      # the nearest lattice point: 0.10 m


def test_order_statistics_of_a_uniform_distribution():
    # k-th of n uniform draws on [0, 1]: k / (n + 1)
    q = np.tile((np.arange(400) + 0.5) / 400, (4, 1))
    got = order_statistic_means(q, np.array([1, 3, 3, 9]), np.array([1, 1, 3, 5]))
    assert got == pytest.approx([1 / 2, 1 / 4, 3 / 4, 5 / 10], abs=2e-3)


def test_place_margin_is_the_simulators():
    settings_mod = pytest.importorskip("planner.simulate.settings")
    assert PLACE_MARGIN_M == pytest.approx(settings_mod._MARGIN_M + settings_mod._SIMPLIFY_M)


def test_twenty_at_a_09m_door_the_last_leaves_after_20_over_the_flow():
    # everyone at the door at once: the fluid queue (lag 1) lets the last out at 20 / 0.78 = 25.6 s,
    # the discrete one (lag 0) at 19 / 0.78 = 24.4 s, the first at once
    fluid = exit_departures(np.zeros(20), np.zeros(20, np.int64), np.full(20, R09), lag=1.0)
    assert fluid[-1] == pytest.approx(20 / R09) == pytest.approx(25.64, abs=0.01)
    disc = exit_departures(np.zeros(20), np.zeros(20, np.int64), np.full(20, R09), lag=0.0)
    assert disc[0] == 0.0 and disc[-1] == pytest.approx(19 / R09)
    # spread out, nobody waits: each leaves when she reaches the door
    spread = exit_departures(np.arange(5) * 2.0, np.zeros(5, np.int64), np.full(5, R09), lag=0.0)
    assert spread == pytest.approx(np.arange(5) * 2.0)


def test_a_room_of_20_behind_a_09m_door_in_the_estimate(tmp_path):
    rooms, doors, res = corridor_layout(["quarters", "storage"], room_w=6.0, residents={"R1": 20})
    station = load_station(write_station(tmp_path / "s", rooms, doors, res))
    rows = pd.DataFrame([{"room_id": "R1", "scenario": "night", "safe_room_id": "R2", "residents": 20,
                          "walk_s": 12.0, "door_id": "D2"}])
    est = estimated_arrivals(station, rows)[0]
    planned = predicted_arrivals(station, rows)[0]
    # the queue decides: the last of 20 is out no sooner than 19 / 0.78 s after the first reaches the door
    assert 19 / R09 < est < planned
    # the door's queue (lag 1: fluid) makes it later, never beyond the plan's time
    fluid = dataclasses.replace(station, params=station.params.replace(predict_queue_lag=1.0))
    assert est < estimated_arrivals(fluid, rows)[0] <= planned


def test_two_spread_streams_into_one_safe_room_door():
    # stream A at 0, 1, 2 s, stream B at 0.5, 1.5 s; the door passes one person per 2 s:
    # A0 at 0, B0.5 at 2, A1 at 4, B1.5 at 6, A2 at 8 (discrete, lag 0); as a fluid queue each 2 s later
    t = np.array([0.0, 1.0, 2.0, 0.5, 1.5])
    got = door_departures(np.zeros(5, np.int64), t, np.full(5, 0.5), lag=0.0)
    assert got == pytest.approx([0.0, 4.0, 8.0, 2.0, 6.0])
    assert door_departures(np.zeros(5, np.int64), t, np.full(5, 0.5), lag=1.0) == pytest.approx([2, 6, 10, 4, 8])
    # two doors (keys) do not share a queue: door 0 gets 0, 2, 1.5 s (through at 0, 4, 2), door 1 gets
    # 1, 0.5 s (through at 2.5, 0.5)
    got2 = door_departures(np.array([0, 1, 0, 1, 0]), t, np.full(5, 0.5), lag=0.0)
    assert got2 == pytest.approx([0.0, 2.5, 4.0, 0.5, 2.0])


def test_the_estimate_of_a_plan_is_never_later_than_planned(tmp_path):
    # (no corridor opening between these rooms and R2: the corridor delays are 0)
    rooms, doors, res = corridor_layout(["quarters", "storage", "quarters", "quarters"], room_w=6.0, room_d=5.0,
                                        residents={"R1": 14, "R3": 6, "R4": 1})
    station = load_station(write_station(tmp_path / "s", rooms, doors, res))
    rows = pd.DataFrame([{"room_id": r, "scenario": sc, "safe_room_id": "R2", "residents": n, "walk_s": w,
                          "door_id": "D2"}
                         for sc in ("night", "day") for r, n, w in (("R1", 14, 9.0), ("R3", 6, 8.5), ("R4", 1, 13.0))]
                        + [{"room_id": "R2", "scenario": "night", "safe_room_id": "R2", "residents": 0,
                            "walk_s": 0.0, "door_id": ""}])
    est = estimated_arrivals(station, rows)
    planned = predicted_arrivals(station, rows)
    assert (est <= planned + 1e-9).all() and (est[:-1] > 0).all() and est[-1] == 0.0
    # alone, R4's single walker is in before her planned walk (she stands on average nearer the door
    # than the room's farthest point); with R1 and R3 she queues behind those at D2 before her
    alone = estimated_arrivals(station, rows.iloc[[2]])[0]
    assert alone < 13.0 < est[2]
    # a delay the model does not know (the corridor hook) is added as given
    extra = np.zeros(len(rows))
    extra[0] = 7.5
    assert estimated_arrivals(station, rows, extra_s=extra)[0] == pytest.approx(est[0] + 7.5)


def test_corridor_delays_are_added_to_the_estimate(tmp_path):
    # tests/test_corridors.py's hand case: two rooms of 30 whose streams merge at a 1.0 m opening O
    # (1.3 persons/s); the opening adds 30 / 1.3 = 23.08 s to each room's last walker. The estimate
    # adds it on top of steps 1-4, which stay below the planned time (that has no corridor delay)
    from test_corridors import D1_O, FAR, O_E1, merge_station

    station = merge_station(tmp_path)
    walk = (FAR + D1_O + O_E1) / station.params.walk_speed_m_s
    a = pd.DataFrame({"room_id": ["R1", "R2"], "safe_room_id": ["S1", "S2"], "scenario": ["night", "night"],
                      "residents": [30, 30], "walk_s": [walk, walk]})
    full = estimated_arrivals(station, a)
    plain = estimated_arrivals(station, a, parts=INGREDIENTS - {"corridors"})
    planned = predicted_arrivals(station, a)
    assert full - plain == pytest.approx([30 / 1.3] * 2, abs=1e-6)
    assert (plain <= planned).all() and (full > planned).all()
    # the caller's delays replace the corridor model's
    assert estimated_arrivals(station, a, extra_s=np.array([1.0, 0.0])) == pytest.approx(plain + [1.0, 0.0])


@settings(max_examples=5, deadline=None)
@given(n=st.integers(1, 60), extra_n=st.integers(1, 20), walk=st.floats(5.0, 40.0), more=st.floats(0.1, 20.0))
def test_monotone_in_walkers_and_in_walk(tmp_path_factory, n, extra_n, walk, more):
    station = _MONO.get("station")
    if station is None:
        rooms, doors, res = corridor_layout(["quarters", "storage"], room_w=6.0, residents={"R1": 1})
        station = _MONO["station"] = load_station(write_station(tmp_path_factory.mktemp("mono"), rooms, doors, res))

    def est(persons: int, w: float) -> float:
        rows = pd.DataFrame([{"room_id": "R1", "scenario": "night", "safe_room_id": "R2", "residents": persons,
                              "walk_s": w, "door_id": "D2"}])
        return float(estimated_arrivals(station, rows)[0])

    base = est(n, walk)
    assert est(n + extra_n, walk) >= base - 1e-9
    assert est(n, walk + more) >= base - 1e-9


_MONO: dict = {}


def test_distance_quantiles_once_per_room_and_door_and_kept_in_the_cache(tmp_path, monkeypatch):
    """`known_distance_quantiles` (issue 21: 1.6 s of a Station Unity what-if, the same every run) equals
    `room_distance_quantiles` of all the rows at once, computes each (room, door) once for the station
    objects with the same rooms, doors and `DISTANCE_PARAMETERS` (which are all it reads), and
    `distance_cache` writes them for the next run, which computes nothing."""
    import planner.estimate as est

    rooms, doors, res = corridor_layout(["quarters", "storage", "quarters", "storage", "quarters"],
                                        residents={"R1": 2, "R3": 2, "R5": 2})
    folder = write_station(tmp_path / "s", rooms, doors, res)
    station = load_station(folder)
    idx = np.array([0, 2, 4, 0, 2, 1], dtype=np.int64)
    door = np.array(["", "", "", "nope", "", ""], dtype=object)
    seen: set[str] = set()

    class Spy:
        def __getattr__(self, name):
            seen.add(name)
            return getattr(station.params, name)

    want_q, want_far = room_distance_quantiles(dataclasses.replace(station, params=Spy()), idx, Spy(), door_ids=door)
    assert seen and seen <= set(est.DISTANCE_PARAMETERS)
    asked: list[int] = []
    real = est.room_distance_quantiles
    monkeypatch.setattr(est, "room_distance_quantiles", lambda st, i, p, **kw: asked.append(len(i)) or real(st, i, p, **kw))
    cache = tmp_path / "cache" / "reach"
    save = est.distance_cache(station, cache)
    q, far = est.known_distance_quantiles(station, idx[:3], door[:3])
    other = dataclasses.replace(station, params=station.params.replace(budget=5.0, walk_speed_m_s=0.9))
    q2, far2 = est.known_distance_quantiles(other, idx, door)
    assert asked == [3, 2]                                        # (1, "") and (0, "nope") the second time
    np.testing.assert_array_equal(q2, want_q)
    np.testing.assert_array_equal(far2, want_far)
    np.testing.assert_array_equal(q, want_q[:3])
    save()
    fresh = load_station(folder)                                  # the next run: read, nothing computed
    est.distance_cache(fresh, cache)
    q3, far3 = est.known_distance_quantiles(fresh, idx, door)
    assert asked == [3, 2]
    np.testing.assert_array_equal(q3, want_q)
    np.testing.assert_array_equal(far3, want_far)
    wider = load_station(folder)                                  # other parameters: another entry
    wider = dataclasses.replace(wider, params=wider.params.replace(sim_radius_m=0.3))
    est.distance_cache(wider, cache)
    est.known_distance_quantiles(wider, idx[:1], door[:1])
    assert asked == [3, 2, 1]
    for f in (cache.parent / "distance").iterdir():               # a damaged entry: computed anew
        f.write_bytes(b"not an npz")
    broken = load_station(folder)
    est.distance_cache(broken, cache)
    est.known_distance_quantiles(broken, idx[:1], door[:1])
    assert asked == [3, 2, 1, 1]
