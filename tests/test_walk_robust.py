"""The in-room walk on awkward but valid outlines (issue 19): thin notches and wall stubs,
slivers, spikes, collinear and near-duplicate vertices, at projected coordinates of millions
of metres. Every walk from a boundary point is finite, never shorter than the straight line,
and agrees with an independent shortest path (a visibility graph over every vertex, built
with shapely `covers` in a local frame, and scipy's Dijkstra) within 0.5 s."""

from __future__ import annotations

import numpy as np
import shapely
from conftest import box, write_station
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra
from shapely import affinity

from planner.network import build_graph, polygon_distances, reach_table
from planner.params import Parameters
from planner.station import load_station

V = Parameters().walk_speed_m_s
TOL_S = 0.5

ORIGIN = (512_345.678, 6_543_210.123)  # a UTM-like position: coordinates rounded at ~1e-9 m


def notched(w: float, h: float, features: list[tuple[int, float, float, float, str]]) -> shapely.Polygon:
    """A w x h room whose walls carry features (wall, position 0..1, width, depth, kind):
    "in" a wall stub into the room, "out" a recess (column niche), "col" an extra collinear
    vertex, "dup" a near-duplicate vertex (1e-9 m away), "spike" a zero-width spike out."""
    corners = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)]
    pts: list[tuple[float, float]] = []
    for k in range(4):
        a = np.array(corners[k])
        b = np.array(corners[(k + 1) % 4])
        length = float(np.hypot(*(b - a)))
        u = (b - a) / length
        nrm = np.array([-u[1], u[0]])  # into the room (counter-clockwise ring)
        pts.append(tuple(a))
        pos = 0.3
        for _wall, at, fw, fd, kind in sorted(f for f in features if f[0] == k):
            s = max(pos, at * length)
            if s + fw > length - 0.3:
                break
            p0 = a + u * s
            p1 = a + u * (s + fw)
            if kind == "in":
                pts += [tuple(p0), tuple(p0 + nrm * fd), tuple(p1 + nrm * fd), tuple(p1)]
            elif kind == "out":
                pts += [tuple(p0), tuple(p0 - nrm * fd), tuple(p1 - nrm * fd), tuple(p1)]
            elif kind == "col":
                pts.append(tuple(p0))
            elif kind == "dup":
                pts += [tuple(p0), tuple(p0 + np.array([1e-9, -1e-9]))]
            elif kind == "spike":
                pts += [tuple(p0), tuple(p0 - nrm * fd), tuple(p0 + u * 1e-4)]
            pos = s + fw + 0.3
    return shapely.Polygon(pts)


def reference_walks(poly: shapely.Polygon, pts: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Shortest walks inside `poly` (metres): Dijkstra on the visibility graph of every vertex,
    point and target, an edge wherever the (1 um buffered) polygon covers the segment."""
    verts = shapely.get_coordinates(shapely.get_rings(poly))
    nodes = np.concatenate([pts, targets, verts])
    n = len(nodes)
    i, j = np.triu_indices(n, 1)
    segs = shapely.linestrings(np.stack([nodes[i], nodes[j]], axis=1))
    area = poly.buffer(1e-6, join_style="mitre")
    shapely.prepare(area)
    ok = shapely.covers(area, segs)
    w = np.hypot(*(nodes[i] - nodes[j]).T)[ok] + 1e-12
    g = coo_matrix((w, (i[ok], j[ok])), shape=(n, n)).tocsr()
    d = dijkstra(g, directed=False, indices=np.arange(len(pts), len(pts) + len(targets)))
    return d[:, : len(pts)].T


feature_st = st.tuples(st.integers(0, 3), st.floats(0.05, 0.95),
                       st.sampled_from([0.05, 0.07, 0.2, 0.5]), st.sampled_from([0.07, 0.2, 0.7, 1.2]),
                       st.sampled_from(["in", "out", "col", "dup", "spike"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(w=st.floats(3.0, 14.0), h=st.floats(2.5, 9.0), features=st.lists(feature_st, min_size=1, max_size=10),
       angle=st.floats(0, 360), door_at=st.floats(0, 1), where=st.sampled_from(["utm", "local"]))
def test_walk_from_every_boundary_point_is_finite_and_exact(w, h, features, angle, door_at, where):
    local = notched(w, h, features)
    if not local.is_valid:
        return
    # the planner sees the room rotated and moved to projected coordinates; the reference walks
    # the same room in its local frame
    moved = affinity.rotate(local, angle, origin=(0, 0))
    if where == "utm":
        moved = affinity.translate(moved, *ORIGIN)
    if not moved.is_valid:
        return
    samples_local = shapely.get_coordinates(shapely.segmentize(local.boundary, 0.5))
    door_local = shapely.get_coordinates(shapely.line_interpolate_point(local.exterior, door_at, normalized=True))
    to_moved = lambda xy: shapely.get_coordinates(  # noqa: E731
        affinity.translate(affinity.rotate(shapely.multipoints(xy), angle, origin=(0, 0)),
                           *(ORIGIN if where == "utm" else (0, 0))))
    d = polygon_distances(moved, to_moved(samples_local), to_moved(door_local))[:, 0]
    straight = np.hypot(*(samples_local - door_local[0]).T)
    assert np.isfinite(d).all(), f"{int((~np.isfinite(d)).sum())} infinite walks in {local.wkt}"
    assert (d >= straight - 1e-6).all()
    ref = reference_walks(local, samples_local, door_local)[:, 0]
    assert np.isfinite(ref).all()
    assert np.abs(d - ref).max() / V <= TOL_S, local.wkt


def test_notched_rooms_reach_the_corridor(tmp_path):
    """Rooms with 0.2 x 0.7 m wall stubs, a column recess and a 7 cm corner sliver, at projected
    coordinates: every room's leg is finite and each reaches the safe room across the corridor."""
    ox, oy = ORIGIN
    corridor = box(ox, oy + 6, ox + 30, oy + 8)
    rooms_geo = {
        "stub": notched(8, 6, [(0, 0.3, 0.2, 0.7, "in"), (2, 0.8, 0.2, 0.7, "in")]),
        "niche": notched(8, 6, [(1, 0.5, 0.5, 0.7, "out"), (0, 0.6, 0.05, 0.2, "out")]),
        "sliver": notched(8, 6, [(0, 0.1, 0.07, 1.2, "out"), (3, 0.4, 0.05, 0.07, "in")]),
    }
    rooms = [{"room_id": "C", "kind": "corridor", "sector": "A", "deck": 0, "name": "Corridor", "geometry": corridor}]
    doors = []
    for k, (rid, poly) in enumerate(rooms_geo.items()):
        assert poly.is_valid
        g = affinity.translate(poly, ox + 10 * k, oy)  # rooms below the corridor, top wall y=6
        rooms.append({"room_id": rid, "kind": "quarters", "sector": "A", "deck": 0, "name": rid, "geometry": g})
        x = ox + 10 * k + 4
        doors.append({"door_id": f"d{rid}", "width_m": 0.9,
                      "geometry": shapely.LineString([(x - 0.45, oy + 6), (x + 0.45, oy + 6)])})
    site = box(ox, oy + 8, ox + 6, oy + 12)
    rooms.append({"room_id": "S", "kind": "storage", "sector": "A", "deck": 0, "name": "Safe", "geometry": site})
    doors.append({"door_id": "dS", "width_m": 0.9,
                  "geometry": shapely.LineString([(ox + 3 - 0.45, oy + 8), (ox + 3 + 0.45, oy + 8)])})
    residents = [{"room_id": r["room_id"], "night": 1 if r["kind"] == "quarters" else 0, "day": 0} for r in rooms]
    station = load_station(write_station(tmp_path / "st", rooms, doors, residents))
    wg = build_graph(station, cutoff_m=500.0)
    assert np.isfinite(wg.room_leg_m).all()
    rt = reach_table(station, cache=False)
    assert np.isfinite(rt.rooms["leg_s"]).all()
    for rid in rooms_geo:
        assert ((rt.pairs["room_id"] == rid) & (rt.pairs["site_id"] == "S")).any(), rid


def _two_part_station(tmp_path):
    """Room Q is a 64 m hall with one door at its end: with a reach of 20 s its far end has no
    walk to the door within twice the reach (the in-room walks are cut off there)."""
    q = box(0, -60, 4, 4)
    rooms = [{"room_id": "C", "kind": "corridor", "sector": "A", "deck": 0, "name": "Hall", "geometry": box(0, 4, 20, 6)},
             {"room_id": "Q", "kind": "quarters", "sector": "A", "deck": 0, "name": "Cabin 7", "geometry": q},
             {"room_id": "S", "kind": "storage", "sector": "A", "deck": 0, "name": "Store", "geometry": box(6, 0, 12, 4)}]
    doors = [{"door_id": "dQ", "width_m": 0.9, "geometry": shapely.LineString([(1.5, 4), (2.5, 4)])},
             {"door_id": "dS", "width_m": 0.9, "geometry": shapely.LineString([(8.5, 4), (9.5, 4)])}]
    residents = [{"room_id": "Q", "night": 2, "day": 0}, {"room_id": "C", "night": 0, "day": 0},
                 {"room_id": "S", "night": 0, "day": 0}]
    return write_station(tmp_path / "two", rooms, doors, residents, "[walking]\nreach_s = 20\n")


def test_a_room_without_a_finite_walk_is_flagged_by_validate_reach_and_check(tmp_path, capsys):
    from planner.check import check_plan
    from planner.cli import main
    from planner.network import reach_summary, unwalkable_rooms

    folder = _two_part_station(tmp_path)
    station = load_station(folder)
    rt = reach_table(station, cache=False)
    stuck = unwalkable_rooms(station, rt)
    assert stuck["room_id"].tolist() == ["Q"] and stuck["name"].tolist() == ["Cabin 7"]
    assert "Q Cabin 7" in reach_summary(station, rt)
    # validate: an error naming the room by id and name, exit 2
    assert main(["validate", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "room Q (Cabin 7)" in err and "no walk inside its outline" in err, err
    # check: a plan that leaves the room's people unsheltered is not "no breaches"
    plan = {"parameters": {}, "safe_rooms": [], "assignments": [],
            "unsheltered": [{"room_id": "Q", "scenario": "night", "residents": 2, "reason": "no safe room in reach"}]}
    kinds = {b.kind for b in check_plan(station, plan, reach=rt)}
    assert "walk-infinite" in kinds
