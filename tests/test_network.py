"""Walking network and reach table: hand-made geometry with answers worked out by hand,
property tests on random polygons and shuffled inputs."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import box, corridor_layout, write_station
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

from planner.network import ReachTable, build_graph, default_cache_dir, polygon_distances, reach_summary, reach_table
from planner.station import load_station

V = 1.2  # default walking speed (m/s)


def vdoor(x: float, y: float, w: float = 0.9) -> shapely.LineString:
    """A door leaf on a vertical wall x, centred on y."""
    return shapely.LineString([(x, y - w / 2), (x, y + w / 2)])


def hdoor(x: float, y: float, w: float = 0.9) -> shapely.LineString:
    """A door leaf on a horizontal wall y, centred on x."""
    return shapely.LineString([(x - w / 2, y), (x + w / 2, y)])


def room(rid: str, kind: str, geom, deck: int = 0, **kw) -> dict:
    return {"room_id": rid, "kind": kind, "sector": "A", "deck": deck, "name": rid, "geometry": geom, **kw}


def residents_for(rooms: list[dict], counts: dict[str, int] | None = None) -> list[dict]:
    counts = counts or {}
    return [{"room_id": r["room_id"], "night": counts.get(r["room_id"], 0), "day": 0} for r in rooms]


def pair_time(rt: ReachTable, room_id: str, site_id: str) -> float:
    m = rt.pairs[(rt.pairs["room_id"] == room_id) & (rt.pairs["site_id"] == site_id)]
    assert len(m) == 1, f"no pair {room_id}->{site_id}"
    return float(m["walk_s"].iloc[0])


def reach(tmp_path: Path, rooms, doors, counts=None, toml=None, name="st") -> tuple:
    folder = write_station(tmp_path / name, rooms, doors, residents_for(rooms, counts), toml)
    station = load_station(folder)
    return station, reach_table(station, cache=False)


# ----------------------------------------------------------------------- hand-made
L_CORRIDOR = shapely.Polygon([(0, 0), (10, 0), (10, 2), (2, 2), (2, 10), (0, 10)])


def l_station() -> tuple[list[dict], list[dict]]:
    rooms = [room("C", "corridor", L_CORRIDOR),
             room("A", "storage", box(10, 0, 14, 2)),
             room("B", "quarters", box(0, 10, 2, 14))]
    doors = [{"door_id": "DA", "width_m": 0.9, "geometry": vdoor(10, 1)},
             {"door_id": "DB", "width_m": 0.9, "geometry": hdoor(1, 10)}]
    return rooms, doors


def test_l_corridor_walk_follows_the_corner(tmp_path):
    rooms, doors = l_station()
    station, rt = reach(tmp_path, rooms, doors, {"B": 2})
    # DB (1,10) -> corner (2,2) -> DA (10,1): two legs of sqrt(1 + 64) m
    corner = 2 * math.sqrt(65)
    straight = math.hypot(9, 9)
    farthest_b = math.hypot(1, 4)  # corner (0,14) or (2,14) of B to DB (1,10)
    expected = (farthest_b + corner) / V
    assert pair_time(rt, "B", "A") == pytest.approx(expected, rel=1e-6)
    assert pair_time(rt, "B", "A") > (farthest_b + straight) / V + 2.5
    # symmetric: A's farthest point (14,0)/(14,2) to DA is sqrt(16 + 1)
    assert pair_time(rt, "A", "B") == pytest.approx((math.hypot(4, 1) + corner) / V, rel=1e-6)
    d = polygon_distances(L_CORRIDOR, np.array([[1, 10]]), np.array([[10, 1]]))
    assert d[0, 0] == pytest.approx(corner)


def annulus_sector(r1: float, r2: float, theta: float, n: int) -> shapely.Polygon:
    a = np.linspace(0, theta, n + 1)
    outer = np.c_[r2 * np.cos(a), r2 * np.sin(a)]
    inner = np.c_[r1 * np.cos(a[::-1]), r1 * np.sin(a[::-1])]
    return shapely.Polygon(np.r_[outer, inner])


def ring_geodesic(r1: float, rho: float, theta: float) -> float:
    """Shortest walk between two points at radius rho, angle theta apart, around a circle r1."""
    alpha = math.acos(r1 / rho)
    if theta <= 2 * alpha:
        return 2 * rho * math.sin(theta / 2)
    return 2 * math.sqrt(rho * rho - r1 * r1) + r1 * (theta - 2 * alpha)


def test_curved_ring_corridor_hugs_the_inner_wall(tmp_path):
    r1, r2, theta = 20.0, 23.0, math.pi / 2
    ring = annulus_sector(r1, r2, theta, 180)
    rooms = [room("C", "corridor", ring),
             room("A", "storage", box(20, -3, 23, 0)),
             room("B", "quarters", box(-3, 20, 0, 23))]
    doors = [{"door_id": "DA", "width_m": 0.9, "geometry": hdoor(21.5, 0)},
             {"door_id": "DB", "width_m": 0.9, "geometry": vdoor(0, 21.5)}]
    station, rt = reach(tmp_path, rooms, doors, {"B": 1})
    arc = ring_geodesic(r1, 21.5, theta)
    straight = 21.5 * math.sqrt(2)
    d = polygon_distances(ring, np.array([[0, 21.5]]), np.array([[21.5, 0]]))[0, 0]
    # the inner wall is a polygon between the circles r1 cos(step/2) and r1: the walk lies
    # between the geodesics around those two circles, far from the straight line
    half_step = theta / 180 / 2
    assert ring_geodesic(r1 * math.cos(half_step), 21.5, theta) - 1e-9 <= d <= arc + 1e-9
    assert d == pytest.approx(arc, rel=1e-4)
    assert d > straight + 1.5
    farthest_b = math.hypot(3, 1.5)
    assert pair_time(rt, "B", "A") == pytest.approx((farthest_b + d) / V, rel=1e-9)


def test_room_with_two_doors_uses_the_better_door_per_point(tmp_path):
    rooms = [room("C", "corridor", box(0, -2, 20, 0)),
             room("R", "quarters", box(0, 0, 10, 3)),
             room("S", "storage", box(16, 0, 20, 3))]
    doors = [{"door_id": "D1", "width_m": 0.9, "geometry": hdoor(1, 0)},
             {"door_id": "D2", "width_m": 0.9, "geometry": hdoor(9, 0)},
             {"door_id": "DS", "width_m": 0.9, "geometry": hdoor(18, 0)}]
    station, rt = reach(tmp_path, rooms, doors, {"R": 3})
    # corner (0,3): via D1 sqrt(10) + 17, via D2 sqrt(90) + 9 -> 18.487 m (the worst point)
    expected = (math.sqrt(90) + 9) / V
    assert pair_time(rt, "R", "S") == pytest.approx(expected, rel=1e-6)
    assert pair_time(rt, "R", "S") > (5 + 9) / V  # "farthest point, then its nearest door" is too short
    # leg: the point farthest from its nearest door is (5,3), 5 m from both doors
    assert rt.rooms.loc["R", "leg_s"] == pytest.approx(5 / V)
    # the entry door is the site's own door
    row = rt.pairs[(rt.pairs.room_id == "R") & (rt.pairs.site_id == "S")].iloc[0]
    assert row["door_id"] == "DS"


def test_farthest_corner_sets_the_time(tmp_path):
    rooms, doors, res = corridor_layout(["storage", "quarters"], room_w=6.0, room_d=4.0)
    folder = write_station(tmp_path / "st", rooms, doors, res)
    station = load_station(folder)
    rt = reach_table(station, cache=False)
    # R2 spans x 6..12, y 2..6, door centred at (9,2): corner (6,6) or (12,6) is 5 m away
    assert rt.rooms.loc["R2", "leg_s"] == pytest.approx(5 / V)
    assert pair_time(rt, "R2", "R1") == pytest.approx((5 + 6) / V)
    # shelter in place
    assert pair_time(rt, "R2", "R2") == 0.0
    assert rt.pairs.set_index(["room_id", "site_id"]).loc[("R2", "R2"), "door_id"] == ""


def two_decks(traverse: float | None = 10.0) -> tuple[list[dict], list[dict]]:
    rooms = [room("A", "storage", box(0, 0, 4, 4), 0),
             room("C0", "corridor", box(4, 0, 14, 2), 0),
             room("S0", "stairs", box(14, 0, 17, 2), 0),
             room("Q", "quarters", box(0, 0, 4, 4), 1),
             room("C1", "corridor", box(4, 0, 14, 2), 1),
             room("S1", "stairs", box(14, 0, 17, 2), 1)]
    doors = [{"door_id": "DA", "deck": 0, "geometry": vdoor(4, 1)},
             {"door_id": "D0", "deck": 0, "geometry": vdoor(14, 1)},
             {"door_id": "DQ", "deck": 1, "geometry": vdoor(4, 1)},
             {"door_id": "D1", "deck": 1, "geometry": vdoor(14, 1)},
             {"door_id": "ST", "from_room": "S0", "to_room": "S1", "geometry": shapely.Point(15.5, 1),
              **({"traverse_s": traverse} if traverse is not None else {})}]
    return rooms, doors


def test_two_decks_joined_by_stairs(tmp_path):
    rooms, doors = two_decks(10.0)
    station, rt = reach(tmp_path, rooms, doors, {"Q": 2})
    assert bool(station.doors.set_index("door_id").loc["ST", "vertical"])
    # Q corner (0,4) -> DQ 5 m, -> D1 10 m, -> stairs 1.5 m, 10 s, -> D0 1.5 m, -> DA 10 m
    assert pair_time(rt, "Q", "A") == pytest.approx(28 / V + 10)
    assert pair_time(rt, "A", "Q") == pytest.approx(28 / V + 10)
    # no traverse time given: params.stairs_traverse_s (12 s)
    rooms, doors = two_decks(None)
    station, rt = reach(tmp_path, rooms, doors, {"Q": 2}, name="st2")
    assert pair_time(rt, "Q", "A") == pytest.approx(28 / V + station.params.stairs_traverse_s)


def test_reach_cut_off_reaction_and_unreachable_report(tmp_path):
    # a long corridor: R1 (storage) and R12 (quarters) are 44 m apart door to door
    kinds = ["storage"] + ["lab"] * 10 + ["quarters", "lab"]
    rooms, doors, res = corridor_layout(kinds, residents={"R13": 5, "R2": 1, "R7": 2})
    folder = write_station(tmp_path / "st", rooms, doors, res, "[walking]\nreach_s = 20.0\nreaction_s = 2.0\n")
    station = load_station(folder)
    rt = reach_table(station, cache=False)
    assert rt.pairs["walk_s"].max() <= 20.0
    # R2 -> R1: farthest point sqrt(4 + 9) m, 4 m door to door, plus the reaction time
    assert pair_time(rt, "R2", "R1") == pytest.approx((math.sqrt(13) + 4) / V + 2.0)
    # R13 reaches R12 only; R2 reaches R1 only (R12 is 40 m away)
    assert set(rt.pairs[rt.pairs.room_id == "R2"].site_id) == {"R1"}
    # the report names rooms beyond reach with their best time
    far = rt.rooms.loc["R7"]  # lab in the middle: 24 m from R1 and 20 m from R12
    assert far["best_walk_s"] == pytest.approx((math.sqrt(13) + 20) / V + 2.0)
    assert far["best_site_id"] == "R12"
    text = reach_summary(station, rt)
    assert "pairs" in text and "night" in text
    assert "R7 Room 7 (sector A, deck 0): 2 residents, best 21.7 s to R12" in text
    assert "night: 6 of 8 residents (75.0%)" in text
    assert rt.options_in_reach().loc["R13"] == 1


def test_cache_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("PLANNER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    rooms, doors = l_station()
    folder = write_station(tmp_path / "st", rooms, doors, residents_for(rooms, {"B": 1}))
    station = load_station(folder)
    # a library call writes nothing unless given a cache folder
    reach_table(station)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["st"]
    cache = default_cache_dir()
    assert cache == tmp_path / "cache" / "reach"
    a = reach_table(station, cache_dir=cache)
    files = list(cache.glob("*.npz"))
    assert len(files) == 1 and a.key in files[0].name
    b = reach_table(station, cache_dir=cache)
    pd.testing.assert_frame_equal(a.pairs, b.pairs)
    # other parameters -> another key
    c = reach_table(load_station(folder, params=station.params.replace(walk_speed_m_s=1.0)), cache_dir=cache)
    assert c.key != a.key
    assert pair_time(c, "B", "A") == pytest.approx(pair_time(a, "B", "A") * 1.2)


# ----------------------------------------------------------------------- properties
def star_polygon(radii: list[float]) -> shapely.Polygon:
    n = len(radii)
    a = np.arange(n) * 2 * np.pi / n
    return shapely.Polygon(np.c_[np.array(radii) * np.cos(a), np.array(radii) * np.sin(a)])


def fan_point(poly: shapely.Polygon, i: int, u: float, w: float) -> np.ndarray:
    """A point inside a star polygon: in the triangle (centre, vertex i, vertex i+1)."""
    c = np.asarray(poly.exterior.coords)[:-1]
    a, b = c[i % len(c)], c[(i + 1) % len(c)]
    if u + w > 1:
        u, w = 1 - u, 1 - w
    return u * a + w * b


def reference_geodesic(poly: shapely.Polygon, pts: np.ndarray) -> np.ndarray:
    """Full visibility graph over every vertex and the points (slow, obviously right)."""
    verts = np.asarray(poly.exterior.coords)[:-1]
    nodes = np.r_[pts, verts]
    bp = poly.buffer(1e-7)
    n = len(nodes)
    rows, cols, w = [], [], []
    for i in range(n):
        for j in range(i + 1, n):
            seg = shapely.LineString([nodes[i], nodes[j] + (1e-12 if np.allclose(nodes[i], nodes[j]) else 0)])
            if bp.covers(seg):
                rows.append(i), cols.append(j), w.append(max(float(np.hypot(*(nodes[i] - nodes[j]))), 1e-12))
    g = csr_matrix((w, (rows, cols)), shape=(n, n))
    return shortest_path(g, directed=False)[: len(pts), : len(pts)]


radii_st = st.lists(st.floats(1.0, 10.0), min_size=5, max_size=12)
point_st = st.tuples(st.integers(0, 11), st.floats(0.0, 1.0), st.floats(0.0, 1.0))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(radii=radii_st, points=st.lists(point_st, min_size=3, max_size=6))
def test_geodesic_properties(radii, points):
    poly = star_polygon(radii)
    assert poly.is_valid
    pts = np.array([fan_point(poly, i, u, w) for i, u, w in points])
    d = polygon_distances(poly, pts, pts)
    euclid = np.hypot(pts[:, None, 0] - pts[None, :, 0], pts[:, None, 1] - pts[None, :, 1])
    assert np.all(np.isfinite(d))
    # never shorter than the straight line
    assert np.all(d >= euclid - 1e-9)
    # symmetric, triangle inequality
    assert np.allclose(d, d.T, atol=1e-7)
    assert np.all(d[:, None, :] <= d[:, :, None] + d[None, :, :] + 1e-7)
    # equal to the full visibility graph
    assert np.allclose(d, reference_geodesic(poly, pts), atol=1e-6)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(["storage", "quarters", "lab", "office"]), min_size=2, max_size=7),
       room_w=st.floats(3.0, 8.0), corridor_w=st.floats(1.5, 3.0))
def test_station_times_triangle_and_straight_line(tmp_path_factory, kinds, room_w, corridor_w):
    rooms, doors, res = corridor_layout(kinds, room_w=room_w, corridor_w=corridor_w)
    station = load_station(write_station(tmp_path_factory.mktemp("st"), rooms, doors, res))
    rt = reach_table(station, cache=False)
    wg = build_graph(station, cutoff_m=1e9)
    dist = shortest_path(wg.graph, directed=False)
    n = dist.shape[0]
    assert np.all(dist[:, None, :] <= dist[:, :, None] + dist[None, :, :] + 1e-9) or n == 0
    # every pair at least the straight line from the farthest room corner to the site's door
    geo = station.rooms.set_index("room_id").geometry
    dpos = station.doors.set_index("door_id").geometry.centroid
    for r in rt.pairs.itertuples():
        if r.door_id == "":
            continue
        corners = np.asarray(geo[r.room_id].exterior.coords)
        far = np.max(np.hypot(*(corners - np.array(dpos[r.door_id].coords[0])).T))
        assert r.walk_s >= far / V - 1e-9


def shuffled(features: list[dict], seed: int) -> list[dict]:
    out = list(features)
    random.Random(seed).shuffle(out)
    return out


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000))
def test_results_do_not_depend_on_feature_order(tmp_path_factory, seed):
    rooms, doors = l_station()
    kinds = ["storage", "quarters", "quarters", "lab"]
    r2, d2, _ = corridor_layout(kinds, sector="B")
    r2 = [{**r, "room_id": "X" + r["room_id"], "geometry": shapely.affinity.translate(r["geometry"], 30, 0)}
          for r in r2]
    d2 = [{**d, "door_id": "X" + d["door_id"], "geometry": shapely.affinity.translate(d["geometry"], 30, 0)}
          for d in d2]
    # a two-door room joining the two parts
    rooms = rooms + r2
    doors = doors + d2 + [{"door_id": "J", "geometry": vdoor(30, 1)}]
    rooms.append(room("J1", "storage", box(14, 0, 30, 2)))
    doors.append({"door_id": "J0", "geometry": vdoor(14, 1)})
    base_dir = tmp_path_factory.mktemp("base")
    shuf_dir = tmp_path_factory.mktemp("shuf")
    res = residents_for(rooms, {"B": 2, "XR2": 3})
    a = reach_table(load_station(write_station(base_dir, rooms, doors, res)), cache=False)
    b = reach_table(load_station(write_station(shuf_dir, shuffled(rooms, seed), shuffled(doors, seed + 1),
                                               shuffled(res, seed + 2))), cache=False)
    key = ["room_id", "site_id"]
    pa = a.pairs.sort_values(key).reset_index(drop=True)
    pb = b.pairs.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(pa, pb, check_exact=False, atol=1e-9)
    pd.testing.assert_frame_equal(a.rooms.sort_index(), b.rooms.sort_index(), check_exact=False, atol=1e-9)
    assert pair_time(a, "XR2", "A") > 0


def brute_force_reach(station) -> pd.DataFrame:
    """Reference: all-pairs graph distances, every boundary sample, every door, no pruning."""
    p = station.params
    wg = build_graph(station, cutoff_m=np.inf)
    dist = shortest_path(wg.graph, directed=False)
    rooms = station.rooms.sort_values("room_id").reset_index(drop=True)
    mask = station.candidate_mask()
    sites = set(station.rooms["room_id"][mask.to_numpy()])
    site_rows = [i for i, rid in enumerate(wg.room_ids) if rid in sites]
    site_nodes = {i: wg.inc_node[wg.inc_room == i] for i in site_rows}
    rows = []
    for r, poly in enumerate(rooms.geometry):
        k = np.flatnonzero(wg.inc_room == r)
        if len(k) == 0:
            continue
        samples = shapely.get_coordinates(shapely.segmentize(poly.boundary, p.boundary_sample_m))
        W = polygon_distances(poly, samples, wg.inc_xy[k]) / p.walk_speed_m_s   # samples x doors
        for s in site_rows:
            g = dist[np.ix_(wg.inc_node[k], site_nodes[s])]                      # doors x site doors
            if len(site_nodes[s]) == 0:
                continue
            t = (W[:, :, None] + g[None, :, :]).min(axis=(1, 2)).max() + p.reaction_s
            if s == r and p.shelter_in_place:
                t = 0.0
            if t <= p.reach_s:
                rows.append((wg.room_ids[r], wg.room_ids[s], t))
    return pd.DataFrame(rows, columns=["room_id", "site_id", "walk_s"])


def test_generated_station_matches_brute_force(tmp_path):
    from planner.generate import generate_station

    folder = generate_station(150, 1, tmp_path / "g150")
    station = load_station(folder, params=load_station(folder).params.replace(reach_s=45.0))
    rt = reach_table(station, cache=False)
    assert not rt.pairs.duplicated(["room_id", "site_id"]).any()
    ref = brute_force_reach(station)
    m = rt.pairs.merge(ref, on=["room_id", "site_id"], how="outer", indicator=True)
    # a pair right at the reach limit may fall either side by rounding; nothing else may differ
    off = m[m["_merge"] != "both"]
    assert (off[["walk_s_x", "walk_s_y"]].max(axis=1) > 45.0 - 1e-6).all(), off
    both = m[m["_merge"] == "both"]
    assert np.allclose(both["walk_s_x"], both["walk_s_y"], atol=1e-9)
    assert len(both) > 1000


# ----------------------------------------------------------------------- worker processes
def test_worker_processes_give_the_same_table(tmp_path, monkeypatch):
    """The in-room walks and the tile Dijkstra in forked workers (thresholds lowered so that a
    small station uses them), a failing pool (fallback in this process) and no workers at all
    give identical tables."""
    import os

    import planner.network.graph as nw_graph
    import planner.network.parallel as nw_parallel
    import planner.network.reach as nw_reach
    from planner.generate import generate_station

    station = load_station(generate_station(150, 2, tmp_path / "g150"))
    monkeypatch.setenv("PLANNER_REACH_WORKERS", "1")
    seq = reach_table(station, cache=False)

    monkeypatch.setenv("PLANNER_REACH_WORKERS", "2")
    monkeypatch.setattr(nw_graph, "_PARALLEL_MIN_ROOMS", 1)
    monkeypatch.setattr(nw_reach, "_PARALLEL_MIN_TILE_CELLS", 1)
    pids = tmp_path / "pids.txt"
    room_walks = nw_graph._room_walks

    def logged(ctx, rooms):
        with open(pids, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\n")
        return room_walks(ctx, rooms)

    monkeypatch.setattr(nw_graph, "_room_walks", logged)
    par = reach_table(station, cache=False)
    workers = set(pids.read_text(encoding="utf-8").split()) - {str(os.getpid())}
    assert len(workers) >= 1, "the walks did not run in worker processes"
    assert nw_parallel._WORKER_FN is None, "the calling process keeps no worker state"
    pd.testing.assert_frame_equal(seq.pairs, par.pairs, check_exact=True)
    pd.testing.assert_frame_equal(seq.rooms, par.rooms, check_exact=True)
    assert len(seq.pairs) > 100

    def broken(*args, **kwargs):
        raise OSError("no fork today")

    monkeypatch.setattr(nw_parallel, "ProcessPoolExecutor", broken)
    fallback = reach_table(station, cache=False)
    pd.testing.assert_frame_equal(seq.pairs, fallback.pairs, check_exact=True)
    pd.testing.assert_frame_equal(seq.rooms, fallback.rooms, check_exact=True)


@settings(max_examples=30, deadline=None)
@given(keys=st.lists(st.integers(0, 6), min_size=1, max_size=40), data=st.data())
def test_first_min_is_the_head_of_lexsort(keys, data):
    from planner.network import _first_min

    key = np.array(keys, dtype=np.int64)
    val = np.array(data.draw(st.lists(st.sampled_from([0.0, 1.0, 1.5, np.inf]), min_size=len(keys),
                                      max_size=len(keys))))
    order = np.lexsort((val, key))
    heads = order[np.r_[True, key[order][1:] != key[order][:-1]]]
    assert np.array_equal(_first_min(key, val), heads)


def test_walk_graph_reads_only_its_parameters_and_is_shared_across_other_parameters(tmp_path):
    """`walk_graph` is built once for a station's rooms and doors and `GRAPH_PARAMETERS` (issue 21: a what-if
    built it four times, on station objects that differ in other parameters): `build_graph` reads no other
    parameter, a station differing in another one gets the same graph, one differing in the walking speed
    or the stairs' time its own."""
    import dataclasses

    from planner.network.paths import GRAPH_PARAMETERS, walk_cutoff_s, walk_graph

    rooms, doors = two_decks(None)
    station, _ = reach(tmp_path, rooms, doors, {"Q": 2})
    seen: set[str] = set()

    class Spy:
        def __init__(self, params):
            self._params = params

        def __getattr__(self, name):
            seen.add(name)
            return getattr(self._params, name)

    spy = dataclasses.replace(station, params=Spy(station.params))
    build_graph(spy, cutoff_m=walk_cutoff_s(spy.params) * spy.params.walk_speed_m_s)
    assert seen and seen <= set(GRAPH_PARAMETERS)
    wg = walk_graph(station)
    budget = dataclasses.replace(station, params=station.params.replace(budget=1.0, objective="max-cover"))
    assert walk_graph(budget) is wg and walk_graph(station) is wg
    for change in (dict(walk_speed_m_s=0.8), dict(stairs_traverse_s=30.0), dict(reach_s=30.0)):
        other = walk_graph(dataclasses.replace(station, params=station.params.replace(**change)))
        assert other is not wg
    slow = dataclasses.replace(station, params=station.params.replace(stairs_traverse_s=30.0))
    assert walk_graph(slow).graph.sum() > wg.graph.sum()          # the stairs' edge is longer: not a stale graph
    fresh = load_station(station.folder)                          # other tables (by identity): built anew
    assert walk_graph(fresh) is not wg
